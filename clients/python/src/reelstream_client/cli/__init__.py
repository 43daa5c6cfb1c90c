"""The `reelstream` command, on the SDK (`pip install 'reelstream-client[cli]'`)."""

from __future__ import annotations

import sys


def run() -> None:
    """The console script: says what to install when the `cli` extra (click) is missing."""
    try:
        from reelstream_client.cli.main import main
    except ModuleNotFoundError as exc:
        if exc.name != "click":
            raise
        print("reelstream: the command needs click: pip install 'reelstream-client[cli]'", file=sys.stderr)
        sys.exit(2)
    sys.exit(main())
