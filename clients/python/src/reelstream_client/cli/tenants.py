"""The platform operator's commands: tenants are created before anything of theirs may exist."""

from __future__ import annotations

import click

from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import OK, emit_json
from reelstream_client.models import Tenant


def _line(tenant: Tenant) -> str:
    limits = tenant.limits
    running = "-" if limits.running is None else str(limits.running)
    gang = "-" if limits.gang is None else str(limits.gang)
    ceiling = (
        f"rate {limits.rate:g}/s burst {limits.burst:g} queued {limits.queued} running {running} gang {gang}"
    )
    retention = f"jobs {_days(tenant.retention_days)} videos {_days(tenant.video_retention_days)}"
    return "\t".join((tenant.id, tenant.status, tenant.name, ceiling, retention))


def _days(days: int | None) -> str:
    return DEFAULT if days is None else f"{days}d"


DEFAULT = "default"  # the platform's retention setting
GANG_HELP = "low latency: slots one job may render on at once (a power of two; default: spare slots only)"


def _override(given: int | str | None, current: int | None) -> int | None:
    """An option's override: left out, the current one; `default`, none (the platform's setting)."""
    if given is None:
        return current
    return None if given == DEFAULT else int(given)


class Days(click.ParamType):
    """A retention override: a number of days, or `default` (the platform's setting)."""

    name = "DAYS|default"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        if value == DEFAULT or isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            self.fail(f"{value!r} is neither a number of days nor {DEFAULT!r}", param, ctx)


@cli.group()
def tenants() -> None:
    """Create, list, show, update, suspend, resume or delete tenants (needs an operator key; a tenant admin
    may show its own)."""


@tenants.command(name="create")
@click.argument("tenant")
@click.option("--name", help="a display name (default: the id)")
@click.option("--rate", type=float, help="ceiling: submissions a second")
@click.option("--burst", type=float, help="ceiling: submissions at once")
@click.option("--queued", type=int, help="ceiling: jobs admitted and not finished")
@click.option("--running", type=int, help="ceiling: jobs rendering at once")
@click.option("--gang", type=int, help=GANG_HELP)
@click.option("--retention-days", type=int, help="days its finished jobs are kept (default: the platform's)")
@click.option("--video-retention-days", type=int, help="days its videos are kept (default: the platform's)")
@json_option
def tenants_create(
    tenant: str,
    name: str | None,
    rate: float | None,
    burst: float | None,
    queued: int | None,
    running: int | None,
    gang: int | None,
    retention_days: int | None,
    video_retention_days: int | None,
) -> int:
    """Create TENANT; without --rate/--burst its limits are the configured ones."""
    if (rate is None) != (burst is None):
        raise click.UsageError("--rate and --burst go together")
    limits = None
    if rate is not None:
        given = {"rate": rate, "burst": burst, "queued": queued, "running": running, "gang": gang}
        limits = {k: v for k, v in given.items() if v is not None}
    obj = state()
    created = obj.client().create_tenant(
        tenant,
        name=name,
        limits=limits,
        retention_days=retention_days,
        video_retention_days=video_retention_days,
    )
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


@tenants.command(name="update")
@click.argument("tenant")
@click.option("--retention-days", type=Days(), help="days its finished jobs are kept, or `default`")
@click.option("--video-retention-days", type=Days(), help="days its videos are kept, or `default`")
@json_option
def tenants_update(
    tenant: str, retention_days: int | str | None, video_retention_days: int | str | None
) -> int:
    """Set TENANT's retention overrides (an option left out keeps its value); its jobs, finished ones
    included, follow at the next sweep."""
    if retention_days is None and video_retention_days is None:
        raise click.UsageError("give --retention-days and/or --video-retention-days")
    client = state().client()
    current = client.get_tenant(tenant)
    found = client.update_tenant(
        tenant,
        retention_days=_override(retention_days, current.retention_days),
        video_retention_days=_override(video_retention_days, current.video_retention_days),
    )
    emit_json(found) if state().as_json else click.echo(_line(found))
    return OK


@tenants.command(name="limits")
@click.argument("tenant")
@click.option("--rate", type=float, required=True, help="submissions a second")
@click.option("--burst", type=float, required=True, help="submissions at once")
@click.option("--queued", type=int, help="jobs admitted and not finished (default: the configured one)")
@click.option("--running", type=int, help="jobs rendering at once (default: no cap)")
@click.option("--gang", type=int, help=GANG_HELP)
@json_option
def tenants_limits(
    tenant: str, rate: float, burst: float, queued: int | None, running: int | None, gang: int | None
) -> int:
    """Set TENANT's limits: an operator's become its ceiling; a tenant admin may only lower its own."""
    obj = state()
    limits = obj.client().put_tenant_limits(
        tenant, rate=rate, burst=burst, queued=queued, running=running, gang=gang
    )
    if obj.as_json:
        emit_json(limits)
        return OK
    running_text = "-" if limits.running is None else str(limits.running)
    gang_text = "-" if limits.gang is None else str(limits.gang)
    click.echo(
        f"{limits.tenant}\trate {limits.rate:g}/s burst {limits.burst:g} queued {limits.queued} "
        f"running {running_text} gang {gang_text}"
    )
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
