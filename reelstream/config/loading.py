"""Reading the registry: the environment over an optional .env file over the declared defaults, strictly.

The file is named by REELSTREAM_CONFIG_FILE (in the environment) and holds `REELSTREAM_<NAME>=value` lines
(the .env format: `#` comments, optional quotes). A value that does not parse raises one ConfigurationError
naming every refused variable, its problem and the expected form; secrets are never echoed."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from dotenv import dotenv_values
from pydantic import SecretStr, ValidationError

from reelstream.config.declare import PREFIX, SettingInfo, describe
from reelstream.config.registry import Registry
from reelstream.errors import ConfigurationError

Source = Literal["default", "env", "file"]
T = TypeVar("T")
EXIT_CONFIGURATION = 2  # EX_USAGE-like: the process was started wrong; restarting it will not help


class Config:
    """A parsed registry and where each value came from."""

    def __init__(
        self, values: Registry, sources: Mapping[str, Source], unknown: tuple[str, ...] = ()
    ) -> None:
        self.values = values
        self.sources = dict(sources)
        self.unknown = unknown  # REELSTREAM_* names given that no setting declares (typos, retired names)

    def source_of(self, field: str) -> Source:
        return self.sources.get(field, "default")

    def given(self, field: str) -> str | None:
        """The value as text (a secret's too) when it was given in the environment or the file, else None."""
        if self.source_of(field) == "default":
            return None
        value = getattr(self.values, field)
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


@functools.cache
def settings_info() -> tuple[SettingInfo, ...]:
    """Every declared setting, in declaration order (read once: the declarations never change)."""
    return tuple(describe(Registry.model_fields))


def load_config(env: Mapping[str, str]) -> Config:
    """The registry parsed from `env` (and the file REELSTREAM_CONFIG_FILE names, when set)."""
    infos = {info.env: info for info in settings_info()}
    from_env = _declared(env, infos)
    path = from_env.get("config_file")
    from_file = _declared(_read_file(path), infos) if path else {}
    raw = {**from_file, **from_env}
    sources: dict[str, Source] = {f: "file" for f in from_file}
    sources.update({f: "env" for f in from_env})
    unknown = tuple(sorted(k for k in env if k.startswith(PREFIX) and k not in infos))
    try:
        values = Registry(**cast(dict[str, Any], raw))
    except ValidationError as exc:
        raise ConfigurationError(_explain(exc, sources)) from None
    return Config(values, sources, unknown)


def _declared(values: Mapping[str, str | None], infos: Mapping[str, SettingInfo]) -> dict[str, str]:
    """{field: value} of the declared variables that are set; an empty value counts as unset (unless its
    setting keeps empty values)."""
    return {
        infos[k].field: v
        for k, v in values.items()
        if k in infos and v is not None and (v.strip() or infos[k].keep_empty)
    }


def _read_file(path: str) -> dict[str, str | None]:
    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"{PREFIX}CONFIG_FILE={path!r}: no such file (expected a .env file)")
    return dotenv_values(file)


def _explain(exc: ValidationError, sources: Mapping[str, Source]) -> str:
    """One line per refused variable: name, value (masked when secret), problem, expected form."""
    infos = {info.field: info for info in settings_info()}
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        info = infos.get(field)
        if info is None:
            lines.append(error["msg"])
            continue
        shown = "'***'" if info.secret else repr(error.get("input"))
        problem = str(error["msg"]).removeprefix("Value error, ")
        where = " (from the file)" if sources.get(field) == "file" else ""
        lines.append(f"{info.env}={shown}{where}: {problem}; expected {info.form}")
    return "invalid settings: " + "; ".join(lines) if len(lines) > 1 else "invalid setting: " + lines[0]


def or_exit(prog: str, build: Callable[[], T]) -> T:
    """`build()`, or exit with status 2 and the ConfigurationError's message (no traceback) when it raises.

    Each service's `main` builds its settings this way before it touches Kafka."""
    try:
        return build()
    except ConfigurationError as exc:
        print(f"{prog}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIGURATION) from None
