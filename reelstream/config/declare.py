"""How a setting is declared: `setting(default, doc, services, ...)` on a field of the registry, and
`describe()` reading the declarations back (for `reelstream config`, the README table and the chart test)."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import Field, SecretStr
from pydantic.config import JsonDict
from pydantic.fields import FieldInfo

PREFIX = "REELSTREAM_"

# who reads a setting
INGEST, ADMISSION, SCHEDULER, NOTIFIER, WORKER = "ingest", "admission", "scheduler", "notifier", "worker"
CLI, DEV = "cli", "dev"  # the `reelstream` command; the local stack and `reelstream dev`
PIPELINE = (INGEST, ADMISSION, SCHEDULER, NOTIFIER, WORKER)
SERVICES = (*PIPELINE, CLI, DEV)


def setting(
    default: Any,
    doc: str,
    services: tuple[str, ...],
    *,
    unit: str = "",
    form: str = "",
    keep_empty: bool = False,
    **constraints: Any,
) -> Any:
    """A declared setting: its default, a one-line doc, the services that read it, its unit, and the
    expected form of its value (shown when a value is refused; derived from the type when empty). An empty
    variable counts as unset, unless `keep_empty` (then "" is a value of its own, e.g. an empty list)."""
    unknown = set(services) - set(SERVICES)
    if unknown or not services or not doc:
        raise ValueError(f"a setting needs a doc line and services among {SERVICES}, got {services}")
    extra: JsonDict = {"services": list(services), "unit": unit, "form": form, "keep_empty": keep_empty}
    return Field(default, description=doc, json_schema_extra=extra, **constraints)


@dataclass(frozen=True)
class SettingInfo:
    """One declared setting, as people read it."""

    field: str
    default: Any
    type: str
    doc: str
    services: tuple[str, ...]
    unit: str
    form: str
    secret: bool
    keep_empty: bool = False

    @property
    def env(self) -> str:
        return PREFIX + self.field.upper()

    def default_text(self) -> str:
        if self.default is None or self.default == "":
            return ""
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        return str(self.default)


def describe(fields: dict[str, FieldInfo]) -> list[SettingInfo]:
    """Every declared field of a registry class (its `model_fields`), in declaration order."""
    infos = []
    for name, info in fields.items():
        extra = info.json_schema_extra
        if not isinstance(extra, dict):
            raise TypeError(f"{PREFIX}{name.upper()} is not declared with setting()")
        services = extra.get("services") or ()
        unit, form = str(extra.get("unit") or ""), str(extra.get("form") or "")
        kind = type_text(info.annotation)
        infos.append(
            SettingInfo(
                field=name,
                default=info.default,
                type=kind,
                doc=info.description or "",
                services=tuple(str(s) for s in services) if isinstance(services, list) else (),
                unit=unit,
                form=form or expected_form(kind, info),
                secret=_is_secret(info.annotation),
                keep_empty=bool(extra.get("keep_empty")),
            )
        )
    return infos


def type_text(annotation: Any) -> str:
    """`int`, `float`, `on/off`, `text`, `secret`, `a|b` (choices); optional types read as their base."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
        return type_text(args[0])
    if get_origin(annotation) is Literal:
        return "|".join(str(a) for a in args)
    names = {int: "int", float: "float", bool: "on/off", str: "text", SecretStr: "secret"}
    return names.get(annotation, str(annotation))


def expected_form(kind: str, info: FieldInfo) -> str:
    base = {
        "int": "an integer",
        "float": "a number",
        "on/off": "on or off (also true/false, yes/no, 1/0)",
        "text": "text",
        "secret": "text (a secret)",
    }.get(kind, f"one of {kind.replace('|', ', ')}")
    bounds = []
    for item in info.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                bounds.append(f"{sign} {getattr(item, attr)}")
    return f"{base} {' and '.join(bounds)}".strip()


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)
