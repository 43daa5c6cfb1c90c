"""`reelstream` (console script) and `python -m reelstream_client`: run the command group, turn every SDK
error into a one-line message, a hint and a documented exit code; never a traceback for an API's answer."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import click
import stamina

from reelstream_client import errors
from reelstream_client.cli import (  # noqa: F401  (they register commands)
    admin,
    jobs,
    limits,
    load,
    local,
    pool,
    tenants,
    usage,
    webhook_portal,
)
from reelstream_client.cli.app import cli, new_state
from reelstream_client.cli.output import INTERRUPTED, OK, USAGE, report_error


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    obj = new_state(env)
    stamina.instrumentation.set_on_retry_hooks([])  # no log line per retry on a person's terminal
    try:
        result = cli.main(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="reelstream",
            standalone_mode=False,
            obj=obj,
        )
    except errors.ReelstreamError as exc:
        try:
            url = obj.profile().api_url
        except errors.ReelstreamError:
            url = "the configured URL"
        return report_error(exc, url)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return USAGE if exc.exit_code == 2 else exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return INTERRUPTED
    return result if isinstance(result, int) else OK


if __name__ == "__main__":
    sys.exit(main())
