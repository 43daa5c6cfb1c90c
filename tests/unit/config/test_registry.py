"""The registry declares every REELSTREAM_* variable the code mentions, each with a doc line and readers."""

from __future__ import annotations

import re
from pathlib import Path

from reelstream.config import settings_info
from reelstream.config.declare import SERVICES
from reelstream.config.docs import README, with_table

ROOT = Path(__file__).resolve().parents[3]
# the server's packages, its tools, and the SDK (whose `reelstream` command shares the variables' namespace)
PACKAGES = ("reelstream", "ingest", "streams", "gpu_consumers", "schemas", "devstack", "clients/python/src")
NAME = re.compile(r"\bREELSTREAM_[A-Z0-9_]*[A-Z0-9]\b")


def _mentioned() -> set[str]:
    """Every full REELSTREAM_* name in the services' and tools' code (docstrings and messages included)."""
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            names |= set(NAME.findall(path.read_text()))
    return names


def test_every_variable_the_code_mentions_is_declared() -> None:
    declared = {info.env for info in settings_info()}
    assert _mentioned() - declared == set()


def test_every_setting_has_a_doc_line_readers_and_a_form() -> None:
    infos = settings_info()
    assert len({info.env for info in infos}) == len(infos)
    for info in infos:
        assert info.doc.endswith("."), info.env
        assert "\n" not in info.doc, info.env
        assert info.services, info.env
        assert set(info.services) <= set(SERVICES), info.env
        assert info.form, info.env


def test_credentials_are_secrets() -> None:
    secrets = {info.env for info in settings_info() if info.secret}
    assert secrets == {
        "REELSTREAM_S3_ACCESS_KEY",
        "REELSTREAM_KAFKA_PASSWORD",
        "REELSTREAM_SCHEMA_REGISTRY_PASSWORD",
        "REELSTREAM_S3_SECRET_KEY",
        "REELSTREAM_API_KEYS",
        "REELSTREAM_API_KEY",
    }


def test_the_readme_settings_table_is_generated_from_the_registry() -> None:
    """Stale when a setting was added, removed or changed: run `python -m reelstream.config.docs`."""
    text = README.read_text()
    assert with_table(text) == text
    for info in settings_info():
        assert f"| `{info.env}` |" in text
