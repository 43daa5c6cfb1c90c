"""`reelstream load [--tenant T]`: render seconds of the caller's (the operator: T's) succeeded jobs by
frames class and by prompt words class (count, mean, p50, p95), the load visualization's figures."""

from __future__ import annotations

import click

from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import OK, emit_json
from reelstream_client.cli.usage import WINDOW_HELP
from reelstream_client.models import RenderLoadClass, RenderLoadStats


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _line(key: str, stats: RenderLoadStats) -> str:
    figures = (stats.mean_seconds, stats.p50_seconds, stats.p95_seconds)
    return "\t".join((key, str(stats.count), *(_seconds(v) for v in figures)))


def _table(first: str, rows: list[RenderLoadClass]) -> None:
    click.echo(f"{first}\tjobs\tmean_s\tp50_s\tp95_s")
    for row in rows:
        click.echo(_line(row.class_, row))


@cli.command(name="load")
@click.option("--from", "start", help=f"only jobs created at or after: {WINDOW_HELP}")
@click.option("--to", "end", help=f"only jobs created before: {WINDOW_HELP}")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=None,
    help="the newest succeeded jobs to aggregate (default 1000)",
)
@click.option("--tenant", default=None, help="another tenant's jobs (the platform operator only)")
@json_option
def load(start: str | None, end: str | None, limit: int | None, tenant: str | None) -> int:
    """Render seconds of succeeded jobs by frame count and by prompt length."""
    obj = state()
    report = obj.client().render_load(start=start, end=end, limit=limit, tenant=tenant)
    if obj.as_json:
        emit_json(report)
        return OK
    window = f"{report.from_ or 'the start'} to {report.to or 'now'}"
    note = "" if report.complete else " (the newest only: older jobs were not read)"
    click.echo(f"tenant {report.tenant}, jobs created {window}{note}", err=True)
    _table("frames", report.by_frames)
    click.echo()
    _table("prompt_words", report.by_prompt_words)
    click.echo(_line("total", report.total))
    return OK
