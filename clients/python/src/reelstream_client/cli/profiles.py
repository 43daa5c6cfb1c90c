"""Where the CLI finds its API: profiles in ~/.config/reelstream/config.toml, then the environment
(REELSTREAM_API_URL, REELSTREAM_API_KEY, REELSTREAM_PROFILE), then the command line, each overriding the last.

    default_profile = "dev"
    [profiles.dev]
    api_url = "http://127.0.0.1:8000"
    api_key = "rs_live_…"
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelstream_client.errors import ReelstreamError

DEFAULT_URL = "http://127.0.0.1:8000"
FIELDS = ("api_url", "api_key", "timeout")


class ConfigError(ReelstreamError):
    """The CLI's own configuration is missing or unreadable."""


def config_path(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "reelstream" / "config.toml"


def read_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


@dataclass(frozen=True)
class Profile:
    name: str
    api_url: str
    api_key: str | None
    timeout: float
    sources: Mapping[str, str]  # field -> where its value came from (default, file, env, flag)

    def redacted(self) -> dict[str, Any]:
        key = None if self.api_key is None else self.api_key[:16] + "…"
        return {
            "profile": self.name,
            "api_url": self.api_url,
            "api_key": key,
            "timeout": self.timeout,
            "sources": dict(self.sources),
        }


def resolve(env: Mapping[str, str], flags: Mapping[str, Any]) -> Profile:
    """The profile in effect: file < environment < flags."""
    document = read_config(config_path(env))
    name = (
        flags.get("profile") or env.get("REELSTREAM_PROFILE") or document.get("default_profile") or "default"
    )
    profiles = document.get("profiles", {})
    if flags.get("profile") and name not in profiles:
        raise ConfigError(f"no profile {name!r} in {config_path(env)} (`reelstream profile set` makes one)")
    values: dict[str, Any] = {"api_url": DEFAULT_URL, "api_key": None, "timeout": 30.0}
    sources = dict.fromkeys(values, "default")
    for field, value in profiles.get(name, {}).items():
        if field in values:
            values[field], sources[field] = value, f"file:{name}"
    for field in ("api_url", "api_key"):
        if env.get(f"REELSTREAM_{field.upper()}"):
            values[field], sources[field] = env[f"REELSTREAM_{field.upper()}"], "env"
    for field in FIELDS:
        if flags.get(field) is not None:
            values[field], sources[field] = flags[field], "flag"
    return Profile(name, str(values["api_url"]), values["api_key"], float(values["timeout"]), sources)


def _toml_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def write_profile(env: Mapping[str, str], name: str, updates: Mapping[str, Any]) -> Path:
    """Set fields of one profile (creating it), keeping the others; the file is readable by its owner only."""
    path = config_path(env)
    document = read_config(path)
    profiles: dict[str, dict[str, Any]] = document.setdefault("profiles", {})
    profiles.setdefault(name, {}).update(updates)
    lines = [f"default_profile = {_toml_value(document.get('default_profile', name))}", ""]
    for profile, fields in profiles.items():
        lines.append(f"[profiles.{json.dumps(profile)}]")
        lines += [f"{field} = {_toml_value(value)}" for field, value in fields.items()]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    return path
