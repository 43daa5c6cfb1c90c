"""`reelstream webhooks update | deliveries | resend | resend-failed` and `webhooks secrets rotate`: a
tenant admin's endpoint changes, delivery log and resends (the rest of `webhooks` is in cli.admin)."""

from __future__ import annotations

import datetime as dt

import click

from reelstream_client.cli.admin import _duration, secrets, webhooks
from reelstream_client.cli.app import json_option, state
from reelstream_client.cli.output import OK, emit_json


@webhooks.command(name="update")
@click.argument("endpoint_id")
@click.option("--tenant", required=True)
@click.option("--url")
@click.option("--event", "event_types", multiple=True, help="the new filter (repeatable)")
@click.option("--default-events", is_flag=True, help="back to the default event types")
@click.option("--description")
@click.option("--enable/--disable", "enabled", default=None)
@json_option
def webhooks_update(
    endpoint_id: str,
    tenant: str,
    url: str | None,
    event_types: tuple[str, ...],
    default_events: bool,
    description: str | None,
    enabled: bool | None,
) -> int:
    """Change an endpoint's URL, event types, description or enabled flag."""
    if default_events and event_types:
        raise click.UsageError("--default-events and --event exclude each other")
    obj = state()
    types = [] if default_events else (list(event_types) or None)
    endpoint = obj.client().update_webhook_endpoint(
        tenant, endpoint_id, url=url, event_types=types, description=description, enabled=enabled
    )
    if obj.as_json:
        emit_json(endpoint)
        return OK
    kinds = ",".join(endpoint.event_types) or "default"
    click.echo(f"{endpoint.id}\t{'enabled' if endpoint.enabled else 'disabled'}\t{kinds}")
    return OK


@secrets.command(name="rotate")
@click.argument("secret_id")
@click.option("--tenant", required=True)
@click.option("--overlap", callback=_duration, help="how long the old secret also signs (default 1d)")
@json_option
def secrets_rotate(secret_id: str, tenant: str, overlap: dt.timedelta | None) -> int:
    """A new secret, printed once on stdout; the old one keeps signing for the overlap."""
    obj = state()
    seconds = None if overlap is None else int(overlap.total_seconds())
    made = obj.client().rotate_webhook_secret(tenant, secret_id, overlap_seconds=seconds)
    if obj.as_json:
        emit_json(made)
        return OK
    click.echo(made.secret)
    until = made.rotated.expires_at if made.rotated is not None else "-"
    click.echo(f"secret {made.id} replaces {secret_id} (signing until {until}); store it now", err=True)
    return OK


@webhooks.command(name="deliveries")
@click.argument("endpoint_id")
@click.option("--tenant", required=True)
@click.option("--status", type=click.Choice(["failed", "delivered"]))
@click.option("--cursor")
@click.option("--limit", type=click.IntRange(1, 200))
@json_option
def webhooks_deliveries(
    endpoint_id: str, tenant: str, status: str | None, cursor: str | None, limit: int | None
) -> int:
    """The endpoint's delivery attempts, newest first."""
    obj = state()
    page = obj.client().list_webhook_deliveries(
        tenant,
        endpoint_id,
        status="failed" if status == "failed" else "delivered" if status else None,
        cursor=cursor,
        limit=limit,
    )
    if obj.as_json:
        emit_json(page)
        return OK
    for d in page.data:
        outcome = d.status_code if d.status_code is not None else d.error_class
        click.echo(f"{d.id}\t{d.attempted_at}\t{d.event_type or '-'}\t{d.status}\t{outcome}\t{d.webhook_id}")
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}", err=True)
    return OK


@webhooks.command(name="resend")
@click.argument("endpoint_id")
@click.argument("delivery_id")
@click.option("--tenant", required=True)
@json_option
def webhooks_resend(endpoint_id: str, delivery_id: str, tenant: str) -> int:
    """Send a logged delivery again (the same webhook-id: receivers dedupe)."""
    obj = state()
    resend = obj.client().resend_webhook_delivery(tenant, endpoint_id, delivery_id)
    emit_json(resend) if obj.as_json else click.echo(f"resend of {resend.webhook_id} queued")
    return OK


@webhooks.command(name="resend-failed")
@click.argument("endpoint_id")
@click.option("--tenant", required=True)
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]))
@json_option
def webhooks_resend_failed(endpoint_id: str, tenant: str, since: dt.datetime) -> int:
    """Send again each message the endpoint never received since a time (UTC unless it has an offset)."""
    obj = state()
    stamp = since if since.tzinfo is not None else since.replace(tzinfo=dt.UTC)
    batch = obj.client().resend_failed_webhooks(tenant, endpoint_id, since=stamp)
    if obj.as_json:
        emit_json(batch)
        return OK
    click.echo(f"{batch.count} resends queued ({batch.skipped} not resendable)")
    return OK
