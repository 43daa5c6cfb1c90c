"""`reelstream config`: every setting with its value and where the value came from; secrets masked."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from reelstream.config.declare import SettingInfo
from reelstream.config.loading import Config, settings_info

MASK = "***"


def shown_value(config: Config, info: SettingInfo) -> str:
    """The value as text: `***` for a set secret, "" for an unset optional, on/off for flags."""
    value: Any = getattr(config.values, info.field)
    if value is None:
        return ""
    if info.secret or isinstance(value, SecretStr):
        return MASK
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def rows(config: Config) -> list[dict[str, str]]:
    return [
        {"name": info.env, "value": shown_value(config, info), "source": config.source_of(info.field)}
        for info in settings_info()
    ]


def render(config: Config, as_json: bool = False) -> str:
    table = rows(config)
    if as_json:
        return json.dumps({"settings": table, "unknown": list(config.unknown)}, indent=2)
    width = max(len(row["name"]) for row in table)
    lines = [f"{'NAME':<{width}}  {'SOURCE':<7}  VALUE"]
    lines += [f"{r['name']:<{width}}  {r['source']:<7}  {r['value']}" for r in table]
    lines += [f"warning: {name} is set but no setting declares it" for name in config.unknown]
    return "\n".join(lines)
