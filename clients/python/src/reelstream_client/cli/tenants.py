"""The platform operator's commands: tenants are created before anything of theirs may exist."""

from __future__ import annotations

import click

from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import OK, emit_json
from reelstream_client.models import Tenant


def _line(tenant: Tenant) -> str:
    limits = tenant.limits
    running = "-" if limits.running is None else str(limits.running)
    ceiling = f"rate {limits.rate:g}/s burst {limits.burst:g} queued {limits.queued} running {running}"
    return "\t".join((tenant.id, tenant.status, tenant.name, ceiling, f"{tenant.retention_days}d"))


@cli.group()
def tenants() -> None:
    """Create, list or show tenants (needs an operator key; a tenant admin may show its own)."""


@tenants.command(name="create")
@click.argument("tenant")
@click.option("--name", help="a display name (default: the id)")
@click.option("--rate", type=float, help="ceiling: submissions a second")
@click.option("--burst", type=float, help="ceiling: submissions at once")
@click.option("--queued", type=int, help="ceiling: jobs admitted and not finished")
@click.option("--running", type=int, help="ceiling: jobs rendering at once")
@click.option("--retention-days", type=int, help="how long its jobs are kept")
@json_option
def tenants_create(
    tenant: str,
    name: str | None,
    rate: float | None,
    burst: float | None,
    queued: int | None,
    running: int | None,
    retention_days: int | None,
) -> int:
    """Create TENANT; without --rate/--burst its limits are the configured ones."""
    if (rate is None) != (burst is None):
        raise click.UsageError("--rate and --burst go together")
    limits = None
    if rate is not None:
        given = {"rate": rate, "burst": burst, "queued": queued, "running": running}
        limits = {k: v for k, v in given.items() if v is not None}
    obj = state()
    created = obj.client().create_tenant(tenant, name=name, limits=limits, retention_days=retention_days)
    emit_json(created) if obj.as_json else click.echo(_line(created))
    return OK


@tenants.command(name="list")
@json_option
def tenants_list() -> int:
    obj = state()
    found = obj.client().list_tenants()
    if obj.as_json:
        emit_json(found)
        return OK
    click.echo("id\tstatus\tname\tlimits\tretention")
    for tenant in found:
        click.echo(_line(tenant))
    return OK


@tenants.command(name="show")
@click.argument("tenant")
@json_option
def tenants_show(tenant: str) -> int:
    obj = state()
    found = obj.client().get_tenant(tenant)
    emit_json(found) if obj.as_json else click.echo(_line(found))
    return OK
