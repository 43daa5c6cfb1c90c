"""`reelstream config`: every declared setting with its value and source, secrets masked; `--json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from reelstream.config import settings_info

ROOT = Path(__file__).resolve().parents[3]


def _config(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack.cli", "config", *args],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_config_json_lists_every_setting_with_value_and_source(tmp_path: Path) -> None:
    file = tmp_path / "settings.env"
    file.write_text("REELSTREAM_LEASE_SECONDS=45\nREELSTREAM_S3_SECRET_KEY=from-the-file-secret\n")
    result = _config(
        "--json",
        REELSTREAM_CONFIG_FILE=str(file),
        REELSTREAM_REPLICATION_FACTOR="3",
        REELSTREAM_API_KEYS="rs_live_sekrit=tenant-a",
    )
    assert result.returncode == 0, result.stderr
    assert "sekrit" not in result.stdout
    assert "from-the-file-secret" not in result.stdout
    rows = {row["name"]: row for row in json.loads(result.stdout)["settings"]}
    assert set(rows) == {info.env for info in settings_info()}
    assert rows["REELSTREAM_REPLICATION_FACTOR"] == {
        "name": "REELSTREAM_REPLICATION_FACTOR",
        "value": "3",
        "source": "env",
    }
    assert (rows["REELSTREAM_LEASE_SECONDS"]["value"], rows["REELSTREAM_LEASE_SECONDS"]["source"]) == (
        "45.0",
        "file",
    )
    assert rows["REELSTREAM_S3_SECRET_KEY"] == {
        "name": "REELSTREAM_S3_SECRET_KEY",
        "value": "***",
        "source": "file",
    }
    assert rows["REELSTREAM_API_KEYS"]["value"] == "***"
    assert rows["REELSTREAM_TICK_SECONDS"]["source"] == "default"


def test_config_with_a_bad_value_exits_2_naming_it() -> None:
    result = _config(REELSTREAM_TICK_SECONDS="soon")
    assert result.returncode == 2
    assert "REELSTREAM_TICK_SECONDS='soon'" in result.stderr
    assert "Traceback" not in result.stderr
