"""Every API call but submit and the streams, as a `Call` and the model its answer is read into: both
clients send these, so they cannot drift apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reelstream_client._core import Call, cleaned
from reelstream_client.models import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRotated,
    Job,
    JobList,
    Limits,
    PoolState,
    RenderLoad,
    Tenant,
    TenantLimits,
    TenantList,
    TenantUsageTotals,
    Usage,
    WebhookDeliveryList,
    WebhookEndpoint,
    WebhookEndpointEnabled,
    WebhookEndpointList,
    WebhookPing,
    WebhookResend,
    WebhookResendBatch,
    WebhookSecret,
    WebhookSecretList,
    WebhookSecretRotated,
)

ADMIN = "/v1/admin"


def get_job(job_id: str) -> tuple[Call, type[Job]]:
    return Call("GET", f"/v1/jobs/{job_id}", idempotent=True), Job


@dataclass(frozen=True)
class JobFilters:
    """What `GET /v1/jobs` lists: jobs in any of `status`, of `model`, created at or after `created_after`
    and before `created_before` (timezone-aware datetimes, or RFC 3339 text). None: no bound."""

    status: str | Sequence[str] | None = None
    model: str | None = None
    created_after: dt.datetime | str | None = None
    created_before: dt.datetime | str | None = None

    def params(self) -> dict[str, Any]:
        status = [self.status] if isinstance(self.status, str) else list(self.status or ())
        return cleaned(
            {
                "status": ",".join(status) or None,
                "model": self.model,
                "created_after": _instant(self.created_after, "created_after"),
                "created_before": _instant(self.created_before, "created_before"),
            }
        )


def _instant(value: dt.datetime | str | None, name: str) -> str | None:
    if not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(timezone.utc))")
    return value.isoformat()


def list_page(
    limit: int | None, after: str | None, filters: JobFilters = JobFilters()
) -> tuple[Call, type[JobList]]:
    params = {**cleaned({"limit": limit, "after": after}), **filters.params()}
    return Call("GET", "/v1/jobs", idempotent=True, params=params), JobList


def cancel(job_id: str, reason: str | None) -> tuple[Call, type[Job]]:
    # cancelling twice has the effect of cancelling once: safe to retry
    body = cleaned({"reason": reason})
    return Call("POST", f"/v1/jobs/{job_id}/cancel", idempotent=True, body=body), Job


def delete(job_id: str) -> tuple[Call, type[None]]:
    # deleting is idempotent in effect; a retry after a lost answer reads 404 (see delete's missing_ok)
    return Call("DELETE", f"/v1/jobs/{job_id}", idempotent=True), type(None)


def content(job_id: str, variant: str) -> Call:
    return Call("GET", f"/v1/jobs/{job_id}/content", idempotent=True, params={"variant": variant})


def create_key(
    tenant: str, roles: Sequence[str] | None, expires_at: dt.datetime | str | None, name: str | None
) -> tuple[Call, type[ApiKeyCreated]]:
    body = cleaned({"tenant": tenant, "roles": list(roles) if roles else None, "expires_at": expires_at})
    body.update(cleaned({"name": name}))
    return Call("POST", f"{ADMIN}/keys", idempotent=False, body=body), ApiKeyCreated


def list_keys(tenant: str | None) -> tuple[Call, type[ApiKeyList]]:
    return Call("GET", f"{ADMIN}/keys", idempotent=True, params=cleaned({"tenant": tenant})), ApiKeyList


def revoke_key(key_id: str) -> tuple[Call, type[ApiKey]]:
    return Call("DELETE", f"{ADMIN}/keys/{key_id}", idempotent=True), ApiKey


def rotate_key(key_id: str, overlap_seconds: int | None) -> tuple[Call, type[ApiKeyRotated]]:
    body = cleaned({"overlap_seconds": overlap_seconds})
    return Call("POST", f"{ADMIN}/keys/{key_id}/rotate", idempotent=False, body=body), ApiKeyRotated


def _tenant(tenant: str) -> str:
    return f"{ADMIN}/tenants/{tenant}"


def list_webhook_endpoints(tenant: str) -> tuple[Call, type[WebhookEndpointList]]:
    return Call("GET", f"{_tenant(tenant)}/webhook-endpoints", idempotent=True), WebhookEndpointList


def create_webhook_endpoint(
    tenant: str, url: str, event_types: Sequence[str] | None, description: str | None
) -> tuple[Call, type[WebhookEndpoint]]:
    body = cleaned(
        {"url": url, "event_types": list(event_types) if event_types else None, "description": description}
    )
    path = f"{_tenant(tenant)}/webhook-endpoints"
    return Call("POST", path, idempotent=False, body=body), WebhookEndpoint


def delete_webhook_endpoint(tenant: str, endpoint_id: str) -> tuple[Call, type[None]]:
    path = f"{_tenant(tenant)}/webhook-endpoints/{endpoint_id}"
    return Call("DELETE", path, idempotent=True), type(None)


def ping_webhook_endpoint(tenant: str, endpoint_id: str) -> tuple[Call, type[WebhookPing]]:
    path = f"{_tenant(tenant)}/webhook-endpoints/{endpoint_id}/ping"
    return Call("POST", path, idempotent=False), WebhookPing


def enable_webhook_url(
    url: str | None, endpoint_sha256: str | None
) -> tuple[Call, type[WebhookEndpointEnabled]]:
    body = cleaned({"url": url, "endpoint_sha256": endpoint_sha256})
    return Call("POST", f"{ADMIN}/webhooks/enable", idempotent=True, body=body), WebhookEndpointEnabled


def list_webhook_secrets(tenant: str) -> tuple[Call, type[WebhookSecretList]]:
    return Call("GET", f"{_tenant(tenant)}/webhook-secrets", idempotent=True), WebhookSecretList


def create_webhook_secret(
    tenant: str, expires_at: dt.datetime | str | None
) -> tuple[Call, type[WebhookSecret]]:
    body = cleaned({"expires_at": expires_at})
    path = f"{_tenant(tenant)}/webhook-secrets"
    return Call("POST", path, idempotent=False, body=body), WebhookSecret


def retire_webhook_secret(tenant: str, secret_id: str) -> tuple[Call, type[None]]:
    path = f"{_tenant(tenant)}/webhook-secrets/{secret_id}"
    return Call("DELETE", path, idempotent=True), type(None)


def update_webhook_endpoint(
    tenant: str,
    endpoint_id: str,
    url: str | None,
    event_types: Sequence[str] | None,
    description: str | None,
    enabled: bool | None,
) -> tuple[Call, type[WebhookEndpoint]]:
    types = list(event_types) if event_types is not None else None
    body = cleaned({"url": url, "event_types": types, "description": description, "enabled": enabled})
    path = f"{_tenant(tenant)}/webhook-endpoints/{endpoint_id}"
    return Call("PATCH", path, idempotent=True, body=body), WebhookEndpoint


def rotate_webhook_secret(
    tenant: str, secret_id: str, overlap_seconds: int | None
) -> tuple[Call, type[WebhookSecretRotated]]:
    body = cleaned({"overlap_seconds": overlap_seconds})
    path = f"{_tenant(tenant)}/webhook-secrets/{secret_id}/rotate"
    return Call("POST", path, idempotent=False, body=body), WebhookSecretRotated


def list_webhook_deliveries(
    tenant: str, endpoint_id: str, status: str | None, cursor: str | None, limit: int | None
) -> tuple[Call, type[WebhookDeliveryList]]:
    params = cleaned({"status": status, "cursor": cursor, "limit": limit})
    path = f"{_tenant(tenant)}/webhook-endpoints/{endpoint_id}/deliveries"
    return Call("GET", path, idempotent=True, params=params), WebhookDeliveryList


def resend_webhook_delivery(
    tenant: str, endpoint_id: str, delivery_id: str
) -> tuple[Call, type[WebhookResend]]:
    path = f"{_tenant(tenant)}/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend"
    return Call("POST", path, idempotent=True), WebhookResend  # receivers dedupe on the webhook-id


def resend_failed_webhooks(
    tenant: str, endpoint_id: str, since: dt.datetime | str
) -> tuple[Call, type[WebhookResendBatch]]:
    path = f"{_tenant(tenant)}/webhook-endpoints/{endpoint_id}/resend-failed"
    return Call("POST", path, idempotent=True, params=cleaned({"since": since})), WebhookResendBatch


def put_tenant_limits(
    tenant: str, rate: float, burst: float, queued: int | None, running: int | None, gang: int | None = None
) -> tuple[Call, type[TenantLimits]]:
    body = cleaned({"rate": rate, "burst": burst, "queued": queued, "running": running, "gang": gang})
    return Call("PUT", f"{_tenant(tenant)}/limits", idempotent=True, body=body), TenantLimits


def _window(
    start: dt.datetime | dt.date | str | None, end: dt.datetime | dt.date | str | None
) -> dict[str, str]:
    def text(value: dt.datetime | dt.date | str) -> str:
        return value if isinstance(value, str) else value.isoformat()

    return {k: text(v) for k, v in (("from", start), ("to", end)) if v is not None}


def usage(
    start: dt.datetime | dt.date | str | None, end: dt.datetime | dt.date | str | None, group_by: str | None
) -> tuple[Call, type[Usage]]:
    params = {**_window(start, end), **cleaned({"group_by": group_by})}
    return Call("GET", "/v1/usage", idempotent=True, params=params), Usage


def tenant_usage_totals(
    start: dt.datetime | dt.date | str | None, end: dt.datetime | dt.date | str | None
) -> tuple[Call, type[TenantUsageTotals]]:
    return Call("GET", f"{ADMIN}/usage", idempotent=True, params=_window(start, end)), TenantUsageTotals


def pool() -> tuple[Call, type[PoolState]]:
    return Call("GET", f"{ADMIN}/pool", idempotent=True), PoolState


def limits() -> tuple[Call, type[Limits]]:
    return Call("GET", "/v1/limits", idempotent=True), Limits


def render_load(
    start: dt.datetime | dt.date | str | None,
    end: dt.datetime | dt.date | str | None,
    limit: int | None,
    tenant: str | None = None,
) -> tuple[Call, type[RenderLoad]]:
    params = {
        **_window(start, end),
        **({} if limit is None else {"limit": str(limit)}),
        **({} if tenant is None else {"tenant": tenant}),
    }
    return Call("GET", "/v1/stats/render-load", idempotent=True, params=params), RenderLoad


def create_tenant(
    tenant: str, name: str | None, limits: dict[str, Any] | None, retention: tuple[int | None, int | None]
) -> tuple[Call, type[Tenant]]:
    """`retention`: (retention_days, video_retention_days), each None: the platform's setting."""
    body = cleaned({"id": tenant, "name": name, "limits": limits, **_retention(retention)})
    return Call("POST", f"{ADMIN}/tenants", idempotent=False, body=body), Tenant


def update_tenant(tenant: str, retention: tuple[int | None, int | None]) -> tuple[Call, type[Tenant]]:
    """Replace both retention overrides (a None one: back to the platform's setting)."""
    body = cleaned(_retention(retention))
    return Call("PUT", f"{_tenant(tenant)}/retention", idempotent=True, body=body), Tenant


def _retention(retention: tuple[int | None, int | None]) -> dict[str, int | None]:
    return {"retention_days": retention[0], "video_retention_days": retention[1]}


def list_tenants() -> tuple[Call, type[TenantList]]:
    return Call("GET", f"{ADMIN}/tenants", idempotent=True), TenantList


def get_tenant(tenant: str) -> tuple[Call, type[Tenant]]:
    return Call("GET", _tenant(tenant), idempotent=True), Tenant


def set_tenant_status(tenant: str, action: str, reason: str | None) -> tuple[Call, type[Tenant]]:
    """`action`: suspend or resume (both idempotent: a second call changes nothing)."""
    body = cleaned({"reason": reason}) or None
    return Call("POST", f"{_tenant(tenant)}/{action}", idempotent=True, body=body), Tenant


def delete_tenant(tenant: str) -> tuple[Call, type[None]]:
    params = {"confirm": tenant}  # the server asks for the id again: deletion cannot be undone
    return Call("DELETE", _tenant(tenant), idempotent=True, params=params), type(None)
