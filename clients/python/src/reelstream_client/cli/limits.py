"""`reelstream limits`: the caller's limits and its use of them (submissions, queue, GPU-seconds budget)."""

from __future__ import annotations

import click

from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import OK, emit_json


@cli.command(name="limits")
@json_option
def limits() -> int:
    """Your tenant's limits, and how much of them is used (GPU-seconds budget included)."""
    obj = state()
    shown = obj.client().limits()
    if obj.as_json:
        emit_json(shown)
        return OK
    since = shown.as_of or "nothing submitted yet: the configured limits"
    click.echo(f"tenant {shown.tenant} ({since})", err=True)
    click.echo(f"submissions\t{shown.tokens:g} of {shown.burst:g} now, {shown.rate:g}/s")
    running = "no cap" if shown.running_cap is None else str(shown.running_cap)
    click.echo(f"queued\t{shown.queued} of {shown.queued_cap} (running at once: {running})")
    gpu = shown.gpu_seconds
    if gpu is None:
        click.echo("gpu_seconds\tno budget")
    else:
        window = f"{gpu.window_seconds:g} s"
        click.echo(
            f"gpu_seconds\t{gpu.used:g} used, {gpu.remaining:g} remaining of {gpu.budget:g} per {window}"
        )
    if shown.over:
        until = f" until {shown.throttled_until}" if shown.throttled_until else ""
        click.echo(f"over\t{shown.over}{until}")
    return OK
