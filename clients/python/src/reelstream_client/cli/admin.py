"""The admin commands (an admin key): keys and webhooks."""

from __future__ import annotations

import datetime as dt

import click

from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import OK, emit_json

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(_ctx: click.Context, _param: click.Parameter, text: str | None) -> dt.timedelta | None:
    """`90d`, `12h`, `30m`, `45s` (or plain seconds)."""
    if text is None:
        return None
    unit = text[-1:] if text[-1:] in _UNITS else "s"
    number = text[:-1] if text[-1:] in _UNITS else text
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration like 90d, 12h, 30m or 45s") from None
    if seconds <= 0:
        raise click.BadParameter("the duration must be positive")
    return dt.timedelta(seconds=seconds)


def _expiry(delta: dt.timedelta | None) -> dt.datetime | None:
    return None if delta is None else dt.datetime.now(dt.UTC) + delta


@cli.group()
def keys() -> None:
    """Create, list or revoke API keys (needs an admin key)."""


@keys.command(name="create")
@click.option("--tenant", required=True)
@click.option(
    "--role", "roles", multiple=True, type=click.Choice(["submitter", "viewer", "admin", "operator"])
)
@click.option("--expires-in", callback=_duration, help="e.g. 90d, 12h")
@click.option("--name", help="a label for people")
@json_option
def keys_create(
    tenant: str, roles: tuple[str, ...], expires_in: dt.timedelta | None, name: str | None
) -> int:
    """Mint a key; it is printed once, on stdout."""
    obj = state()
    created = obj.client().create_key(tenant, roles=roles or None, expires_at=_expiry(expires_in), name=name)
    if obj.as_json:
        emit_json(created)
        return OK
    click.echo(created.key)  # stdout: the key alone, so it can be captured
    click.echo(
        f"key {created.id} for tenant {created.tenant} ({', '.join(created.roles)}); "
        "store it now: it cannot be shown again",
        err=True,
    )
    return OK


@keys.command(name="list")
@click.option("--tenant")
@json_option
def keys_list(tenant: str | None) -> int:
    """Keys' metadata (never a secret)."""
    obj = state()
    found = obj.client().list_keys(tenant)
    if obj.as_json:
        emit_json(found)
        return OK
    click.echo("id\ttenant\troles\tstatus\tcreated\texpires\tlast used\tname")
    for key in found:
        fields = (key.id, key.tenant, "+".join(key.roles), key.status, key.created_at)
        click.echo("\t".join((*fields, key.expires_at or "-", key.last_used_at or "-", key.name or "")))
    return OK


@keys.command(name="revoke")
@click.argument("key_id")
@json_option
def keys_revoke(key_id: str) -> int:
    """Revoke a key by its id (final)."""
    obj = state()
    revoked = obj.client().revoke_key(key_id)
    if obj.as_json:
        emit_json(revoked)
    else:
        click.echo(f"key {revoked.id} of tenant {revoked.tenant}: {revoked.status}")
    return OK


@keys.command(name="rotate")
@click.argument("key_id")
@click.option("--overlap", callback=_duration, help="how long the old key keeps working, e.g. 1d (default)")
@json_option
def keys_rotate(key_id: str, overlap: dt.timedelta | None) -> int:
    """A successor key, printed once on stdout; the old one keeps working for the overlap."""
    obj = state()
    seconds = None if overlap is None else int(overlap.total_seconds())
    rotated = obj.client().rotate_key(key_id, overlap_seconds=seconds)
    if obj.as_json:
        emit_json(rotated)
        return OK
    click.echo(rotated.key)
    until = rotated.replaces.expires_at if rotated.replaces is not None else None
    click.echo(f"key {rotated.id} replaces {key_id} (valid until {until}); store it now", err=True)
    return OK


@cli.group()
def webhooks() -> None:
    """A tenant's webhook endpoints and signing secrets (needs an admin key)."""


@webhooks.command(name="list")
@click.option("--tenant", required=True)
@json_option
def webhooks_list(tenant: str) -> int:
    """The tenant's webhook endpoints."""
    obj = state()
    endpoints = obj.client().list_webhook_endpoints(tenant)
    if obj.as_json:
        emit_json(endpoints)
        return OK
    for endpoint in endpoints:
        kinds = ",".join(endpoint.event_types) or "default"
        on = "enabled" if endpoint.enabled else "disabled"
        click.echo(f"{endpoint.id}\t{endpoint.url}\t{kinds}\t{on}\t{endpoint.description or ''}")
    return OK


@webhooks.command(name="add")
@click.argument("url")
@click.option("--tenant", required=True)
@click.option(
    "--event", "event_types", multiple=True, help="e.g. job.progress (repeatable; default: terminal)"
)
@click.option("--description")
@json_option
def webhooks_add(url: str, tenant: str, event_types: tuple[str, ...], description: str | None) -> int:
    """Register a URL to receive the tenant's job events."""
    obj = state()
    made = obj.client().create_webhook_endpoint(tenant, url, event_types=event_types, description=description)
    emit_json(made) if obj.as_json else click.echo(made.id)
    if made.secret and not obj.as_json:  # the tenant's first: its first signing secret, shown this once
        click.echo(f"signing secret {made.secret_id} (store it now, it cannot be shown again):", err=True)
        click.echo(made.secret)
    return OK


@webhooks.command(name="remove")
@click.argument("endpoint_id")
@click.option("--tenant", required=True)
@json_option
def webhooks_remove(endpoint_id: str, tenant: str) -> int:
    """Remove an endpoint."""
    obj = state()
    obj.client().delete_webhook_endpoint(tenant, endpoint_id)
    emit_json({"removed": endpoint_id}) if obj.as_json else click.echo(f"removed {endpoint_id}")
    return OK


@webhooks.command(name="ping")
@click.argument("endpoint_id")
@click.option("--tenant", required=True)
@json_option
def webhooks_ping(endpoint_id: str, tenant: str) -> int:
    """Send a test event to an endpoint."""
    obj = state()
    ping = obj.client().ping_webhook_endpoint(tenant, endpoint_id)
    emit_json(ping) if obj.as_json else click.echo(f"ping {ping.id} requested for {ping.endpoint_id}")
    return OK


@webhooks.command(name="enable")
@click.argument("url")
@json_option
def webhooks_enable(url: str) -> int:
    """Re-enable a URL disabled after it answered 410 Gone."""
    obj = state()
    enabled = obj.client().enable_webhook_url(url)
    emit_json(enabled) if obj.as_json else click.echo(f"enabled at {enabled.enabled_at}")
    return OK


@webhooks.group(name="secrets")
def secrets() -> None:
    """Signing secrets (rotation: `rotate` creates the new one; the old one signs too for an overlap)."""


@secrets.command(name="list")
@click.option("--tenant", required=True)
@json_option
def secrets_list(tenant: str) -> int:
    obj = state()
    found = obj.client().list_webhook_secrets(tenant)
    if obj.as_json:
        emit_json(found)
        return OK
    for secret in found:
        click.echo(f"{secret.id}\t{secret.created_at}\t{secret.expires_at or '-'}")
    return OK


@secrets.command(name="create")
@click.option("--tenant", required=True)
@click.option("--expires-in", callback=_duration, help="e.g. 30d")
@json_option
def secrets_create(tenant: str, expires_in: dt.timedelta | None) -> int:
    """A new signing secret; printed once, on stdout."""
    obj = state()
    made = obj.client().create_webhook_secret(tenant, expires_at=_expiry(expires_in))
    if obj.as_json:
        emit_json(made)
        return OK
    click.echo(made.secret)
    click.echo(f"secret {made.id} of tenant {made.tenant}: store it now, it cannot be shown again", err=True)
    return OK


@secrets.command(name="retire")
@click.argument("secret_id")
@click.option("--tenant", required=True)
@json_option
def secrets_retire(secret_id: str, tenant: str) -> int:
    obj = state()
    obj.client().retire_webhook_secret(tenant, secret_id)
    emit_json({"retired": secret_id}) if obj.as_json else click.echo(f"retired {secret_id}")
    return OK
