"""The hashed locks (requirements/*.txt) stay true to pyproject.toml: regenerate them with `make lock`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from devstack.lockfile import (
    LOCKS,
    LockError,
    Pin,
    direct_requirements,
    disagreements,
    lock_path,
    read_lock,
    unmet,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The files the locks are checked against, in a scratch tree a test may edit."""
    for relative in ("pyproject.toml", "clients/python/pyproject.toml", "requirements"):
        source, target = REPO / relative, tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return tmp_path


def test_the_locks_agree_with_pyproject_and_with_each_other() -> None:
    assert disagreements(REPO) == [], "run `make lock`"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_carries_sha256_hashes_and_the_build_backend_is_locked(lock: str) -> None:
    pins = read_lock(lock_path(REPO, lock))
    assert all(pin.hashes and all(len(h) == 64 for h in pin.hashes) for pin in pins.values())
    # installed with --no-build-isolation: the backend of both pyprojects comes from the lock
    assert {"pip", "setuptools"} <= set(pins)


def test_the_image_locks_hold_only_what_their_image_installs() -> None:
    dev, gpu, cpu = (set(read_lock(lock_path(REPO, lock))) for lock in ("dev", "gpu", "cpu"))
    assert cpu < gpu < dev
    assert "torch" in gpu
    assert "torch" not in cpu
    assert {"pytest", "mypy", "ruff"} & gpu == set()
    # the GPU image's CUDA libraries are PyPI wheels that torch requires on Linux (docs/supply-chain.md)
    assert any(name.startswith("nvidia-") for name in gpu)


def test_a_dependency_missing_from_the_lock_is_named(repo_copy: Path) -> None:
    pyproject = repo_copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"numpy>=1.26,<3",', '"numpy>=1.26,<3",\n    "left-pad>=1",')
    )
    problems = disagreements(repo_copy)
    assert {p.split(":")[0] for p in problems} == {"dev.txt", "gpu.txt", "cpu.txt"}
    assert all("left-pad>=1 is not in the lock" in p for p in problems)


def test_a_specifier_the_pin_falls_outside_is_named(repo_copy: Path) -> None:
    sdk = repo_copy / "clients/python/pyproject.toml"
    sdk.write_text(sdk.read_text().replace('"httpx>=0.27,<1"', '"httpx>=99"'))
    problems = disagreements(repo_copy)
    assert len(problems) == 3
    assert all("httpx>=99 but the lock pins httpx==" in p for p in problems)


def test_an_extra_counts_only_for_the_locks_that_install_it(repo_copy: Path) -> None:
    pyproject = repo_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"ruff>=0.6,<1",', '"ruff>=99",'))
    assert [p.split(":")[0] for p in disagreements(repo_copy)] == ["dev.txt"]


def test_an_image_lock_that_drifts_from_the_dev_lock_is_named(repo_copy: Path) -> None:
    cpu = lock_path(repo_copy, "cpu")
    pin = read_lock(cpu)["orjson"]
    cpu.write_text(cpu.read_text().replace(f"orjson=={pin.version}", "orjson==3.9.0"))
    assert disagreements(repo_copy) == ["cpu.txt: orjson==3.9.0 is not the dev lock's pin"]


def test_a_pin_without_a_hash_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "dev.txt"
    lock.write_text("# header\nsix==1.16.0 \\\n    --hash=sha256:" + "a" * 64 + "\nidna==3.7\n")
    with pytest.raises(LockError, match=r"idna==3\.7 has no --hash"):
        read_lock(lock)


def test_markers_of_the_lock_and_of_requirements_are_read(tmp_path: Path) -> None:
    lock = tmp_path / "dev.txt"
    lock.write_text("triton==3.9.0 ; sys_platform == 'linux' \\\n    --hash=sha256:" + "b" * 64 + "\n")
    pins = read_lock(lock)
    assert pins == {"triton": Pin("triton", "3.9.0", "sys_platform == 'linux'", ("b" * 64,))}
    # a requirement for another Python than any we run is not required of the lock
    assert unmet([Requirement("tomli>=2; python_version < '3.0'")], pins) == []
    assert unmet([Requirement("Triton>=4")], pins) == ["Triton>=4 but the lock pins triton==3.9.0"]


def test_the_requirements_of_the_dev_lock_include_the_build_backend_and_both_pyprojects() -> None:
    names = {r.name for r in direct_requirements(REPO, "dev")}
    assert {"setuptools", "pip", "torch", "pytest", "httpx-sse", "standardwebhooks"} <= names
