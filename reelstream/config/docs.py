"""The README's settings table, generated from the registry between its marker comments.

`python -m reelstream.config.docs` rewrites the table in README.md; `--check` exits 1 when it is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reelstream.config.declare import SettingInfo
from reelstream.config.loading import settings_info

START, END = "<!-- settings:start -->", "<!-- settings:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(info: SettingInfo) -> str:
    default = f"`{_cell(info.default_text())}`" if info.default_text() else ""
    kind = info.type + (f" ({info.unit})" if info.unit else "")
    doc = info.doc + (" Secret: never shown." if info.secret else "")
    return f"| `{info.env}` | {_cell(kind)} | {default} | {', '.join(info.services)} | {_cell(doc)} |"


def table(infos: tuple[SettingInfo, ...] | None = None) -> str:
    """The markdown table of every declared setting, in declaration order."""
    lines = [
        "| Variable | Type (unit) | Default | Read by | What it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [_row(info) for info in (settings_info() if infos is None else infos)]
    return "\n".join(lines)


def with_table(text: str) -> str:
    """`text` with the table between the markers replaced by the current one."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the README has no {START} ... {END} section")
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reelstream.config.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the README's table is stale")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    fresh = with_table(text)
    if args.check:
        if fresh != text:
            print(f"{args.readme}: the settings table is stale; run python -m reelstream.config.docs")
            return 1
        return 0
    args.readme.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
