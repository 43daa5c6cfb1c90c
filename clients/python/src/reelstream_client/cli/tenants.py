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
    """Create, list, show, suspend, resume or delete tenants (needs an operator key; a tenant admin may show
    its own)."""


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


@tenants.command(name="suspend")
@click.argument("tenant")
@click.option("--reason", help="why (kept in the server's log)")
@json_option
def tenants_suspend(tenant: str, reason: str | None) -> int:
    """Suspend TENANT: its keys and tokens are refused (403) until it is resumed."""
    obj = state()
    found = obj.client().suspend_tenant(tenant, reason=reason)
    emit_json(found) if obj.as_json else click.echo(_line(found))
    return OK


@tenants.command(name="resume")
@click.argument("tenant")
@click.option("--reason", help="why (kept in the server's log)")
@json_option
def tenants_resume(tenant: str, reason: str | None) -> int:
    """Resume TENANT: its keys and tokens work again."""
    obj = state()
    found = obj.client().resume_tenant(tenant, reason=reason)
    emit_json(found) if obj.as_json else click.echo(_line(found))
    return OK


@tenants.command(name="delete")
@click.argument("tenant")
@click.option("--yes", is_flag=True, help="do not ask (deletion cannot be undone)")
def tenants_delete(tenant: str, yes: bool) -> int:
    """Delete TENANT: revoke its keys, remove its webhooks, shred its data keys. Cannot be undone."""
    if not yes:
        click.confirm(f"delete tenant {tenant} for good?", abort=True)
    state().client().delete_tenant(tenant)
    click.echo(f"{tenant}\tdeleted")
    return OK
