"""`reelstream usage`: the caller's GPU usage per day or model, or (`--all-tenants`, an admin key) every
tenant's totals."""

from __future__ import annotations

import click

from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import OK, emit_json
from reelstream_client.models import UsageRow, UsageTotals

WINDOW_HELP = "an RFC 3339 timestamp (2026-12-06T10:00:00Z) or a date (2026-12-06, midnight UTC)"


def _line(key: str, totals: UsageTotals) -> str:
    outcomes = totals.gpu_seconds_by_outcome
    return "\t".join(
        (
            key,
            str(totals.attempts),
            f"{totals.gpu_seconds:.3f}",
            str(totals.frames),
            *(f"{outcomes.get(o, 0.0):.3f}" for o in ("succeeded", "failed", "canceled", "timed_out")),
        )
    )


def _table(first: str, rows: list[UsageRow], total: UsageTotals) -> None:
    click.echo(f"{first}\tattempts\tgpu_seconds\tframes\tsucceeded_s\tfailed_s\tcanceled_s\ttimed_out_s")
    for row in rows:
        click.echo(_line(row.key, row))
    click.echo(_line("total", total))


@cli.command(name="usage")
@click.option("--from", "start", help=f"start of the window, inclusive: {WINDOW_HELP} (default 30 days ago)")
@click.option("--to", "end", help=f"end of the window, exclusive: {WINDOW_HELP} (default now)")
@click.option(
    "--group-by", type=click.Choice(["day", "model"]), default=None, help="one row per (default day)"
)
@click.option("--all-tenants", is_flag=True, help="every tenant's totals (needs an admin key)")
@json_option
def usage(start: str | None, end: str | None, group_by: str | None, all_tenants: bool) -> int:
    """GPU-seconds used: every render attempt that held a GPU, canceled and failed ones too."""
    obj = state()
    if all_tenants:
        if group_by is not None:
            raise click.BadParameter("--group-by does not apply to --all-tenants", param_hint="--group-by")
        totals = obj.client().tenant_usage_totals(start=start, end=end)
        if obj.as_json:
            emit_json(totals)
        else:
            _table("tenant", totals.data, totals.total)
        return OK
    report = obj.client().usage(start=start, end=end, group_by=group_by)  # type: ignore[arg-type]
    if obj.as_json:
        emit_json(report)
    else:
        click.echo(f"tenant {report.tenant}, {report.from_} to {report.to}", err=True)
        _table(report.group_by, report.data, report.total)
    return OK
