"""The layer order of docs/architecture.md: every package we ship sits in one layer of the import-linter
contracts, and the contracts hold (the same check `make lint` runs as `lint-imports`)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_shipped_package_is_in_exactly_one_layer(pyproject: dict[str, Any]) -> None:
    shipped = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    linter = pyproject["tool"]["importlinter"]
    (layers,) = [c for c in linter["contracts"] if c["type"] == "layers"]
    in_layers = [name.strip() for layer in layers["layers"] for name in layer.split("|")]
    assert sorted(in_layers) == sorted(set(in_layers)), "a package is named in two layers"
    assert set(in_layers) == shipped == set(linter["root_packages"])
    assert set(pyproject["tool"]["mypy"]["packages"]) == shipped


def test_the_import_contracts_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True, no_logo=True) == 0, "lint-imports names the import that breaks a layer"
