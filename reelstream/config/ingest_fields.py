"""Ingest's part of the settings registry (the HTTP API: keys and tokens, the server's bounds, event streams,
the console): fields that reelstream.config.registry.Registry inherits, declared like the rest."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from reelstream.config.declare import (
    DEV,
    INGEST,
    setting,
)


class IngestFields(BaseModel):
    """The REELSTREAM_* settings only ingest reads (see Registry for how values are loaded)."""

    api_keys: SecretStr | None = setting(
        None,
        "API keys and their tenants and roles (required by ingest).",
        (INGEST,),
        form="key1=tenant-a,key2=tenant-b:viewer,key3=ops:admin",
    )
    http_host: str = setting("127.0.0.1", "Address the HTTP API binds to.", (INGEST, DEV))
    http_port: int = setting(8000, "Port of the HTTP API.", (INGEST, DEV), ge=0, le=65535)
    access_log: bool = setting(False, "A log line per HTTP request.", (INGEST,))
    presign_ttl_seconds: int = setting(600, "Lifetime of presigned download URLs.", (INGEST,), unit="s", ge=1)
    console_dir: str | None = setting(
        None,
        "Folder of the built web console (`npm run build` in console/), served at /console/ and /docs; "
        "unset: the checkout's console/dist when it exists.",
        (INGEST,),
    )
    cors_origins: str = setting(
        "",
        "Origins allowed to call the API from a browser page of another origin (comma-separated); "
        "empty: none.",
        (INGEST,),
        form="https://app.example.com,http://localhost:5173",
    )
    idempotency_ttl_seconds: int = setting(
        24 * 3600, "How long an Idempotency-Key is remembered.", (INGEST,), unit="s", ge=1
    )
    key_grace_seconds: float = setting(
        7 * 24 * 3600.0,
        "A revoked or expired API key's record is deleted after this.",
        (INGEST,),
        unit="s",
        ge=0,
    )
    job_retention_seconds: float = setting(
        30 * 24 * 3600.0,
        "A finished job (its record, events feed entry and video) is deleted this long after it finished.",
        (INGEST,),
        unit="s",
        gt=0,
    )
    video_retention_seconds: float = setting(
        7 * 24 * 3600.0,
        "A succeeded job's video and poster are deleted this long after it finished (the record stays "
        "until REELSTREAM_JOB_RETENTION_SECONDS); the object store's lifecycle rule is the second line.",
        (INGEST, DEV),
        unit="s",
        gt=0,
    )
    retention_sweep_interval_seconds: float = setting(
        60.0,
        "How often each ingest replica deletes the jobs and videos that expired.",
        (INGEST,),
        unit="s",
        gt=0,
    )
    state_dir: str | None = setting(
        None,
        "Directory of ingest's local store (RocksDB: the status view with its checkpointed offsets); a "
        "restart over the same directory resumes from the checkpoint. Unset: a temporary directory, removed "
        "at exit (every start replays the topic).",
        (INGEST,),
        form="/var/lib/reelstream/state",
    )
    state_cache_mib: int = setting(
        64,
        "Block cache of ingest's local store; with its two 16 MiB memtables, the store's memory bound.",
        (INGEST,),
        unit="MiB",
        ge=8,
    )
    state_max_age_seconds: float = setting(
        24 * 3600.0,
        "A local store checkpointed longer ago than this is replayed from scratch (a tombstone it missed "
        "may have been compacted away: keep it at most the topics' delete.retention.ms).",
        (INGEST,),
        unit="s",
        gt=0,
    )
    state_snapshot_enabled: bool = setting(
        True,
        "Ingest replicas publish snapshots of their local store to object storage (under _state/ingest/), "
        "and a replica starting with an empty state directory restores the newest one, then reads only "
        "the topics' tails. Off: every empty disk replays the topics from the beginning.",
        (INGEST,),
    )
    state_snapshot_interval_seconds: float = setting(
        600.0,
        "How often the local store's snapshot is refreshed: each replica publishes when the one in object "
        "storage is older than this (about one upload per interval for all replicas together).",
        (INGEST,),
        unit="s",
        gt=0,
    )
    key_store_max_lag_seconds: float = setting(
        10.0,
        "Bound on how long a revoked API key may still be accepted by a replica: /readyz fails when the "
        "key store's view has not heard from the broker for longer.",
        (INGEST,),
        unit="s",
        gt=0,
    )
    webhook_delivery_log_per_endpoint: int = setting(
        500,
        "Delivery attempts the delivery log keeps per registered endpoint (the newest); older ones, and "
        "any past the deliveries topic's retention, are gone.",
        (INGEST,),
        ge=1,
        le=100_000,
    )
    http_header_timeout_seconds: float = setting(
        10.0, "A request's headers must arrive within this (slow-loris guard).", (INGEST,), unit="s", gt=0
    )
    http_body_timeout_seconds: float = setting(
        30.0, "A request's body must arrive within this once its headers did.", (INGEST,), unit="s", gt=0
    )
    http_keep_alive_seconds: int = setting(
        5, "An idle keep-alive connection is closed after this.", (INGEST,), unit="s", ge=1
    )
    http_max_connections: int = setting(
        1000, "Connections and requests one ingest process serves at once; beyond: 503.", (INGEST,), ge=1
    )
    http_max_header_bytes: int = setting(
        32 * 1024, "Size of a request's header block; beyond: 431.", (INGEST,), unit="bytes", ge=1024
    )
    http_max_headers: int = setting(100, "Header fields of one request; beyond: 431.", (INGEST,), ge=8)
    sse_max_streams_per_tenant: int = setting(
        16, "Event streams one tenant may hold open on one ingest process; beyond: 429.", (INGEST,), ge=1
    )
    sse_heartbeat_seconds: float = setting(
        15.0, "An idle event stream gets a comment line this often.", (INGEST,), unit="s", gt=0
    )
    sse_max_stream_seconds: float = setting(
        3600.0, "An event stream is ended after this; the client reconnects.", (INGEST,), unit="s", gt=0
    )
    sse_retry_ms: int = setting(
        3000, "The `retry:` reconnection delay an event stream announces.", (INGEST,), unit="ms", ge=0
    )
    oidc_issuer: str | None = setting(
        None, "OIDC issuer of accepted bearer JWTs; empty: API keys only.", (INGEST,)
    )
    oidc_audience: str | None = setting(
        None, "Audience the JWTs must name (required with an issuer).", (INGEST,)
    )
    oidc_jwks_url: str | None = setting(
        None, "The provider's JWKS URL, https (required with an issuer).", (INGEST,)
    )
    oidc_console_client_id: str | None = setting(
        None,
        "OIDC client id the web console signs in with (a public client: authorization code + PKCE S256, "
        "redirect URI <api>/console/); unset: the console offers API keys only.",
        (INGEST,),
    )
    oidc_console_scope: str = setting(
        "openid", "Scopes the console asks the OIDC provider for (space-separated).", (INGEST,)
    )
    oidc_tenant_claim: str = setting("tenant", "JWT claim holding the tenant id.", (INGEST,))
    oidc_roles_claim: str = setting("roles", "JWT claim holding the roles.", (INGEST,))
    oidc_algorithms: str = setting(
        "RS256,ES256", "JWT algorithms accepted.", (INGEST,), form="RS256,ES256 (a subset)"
    )
    oidc_leeway_seconds: float = setting(
        30.0, "Clock skew allowed on exp, nbf, iat.", (INGEST,), unit="s", ge=0, le=300
    )
    oidc_max_token_lifetime_seconds: float = setting(
        3600.0, "Longest lifetime (exp - iat) of an accepted JWT.", (INGEST,), unit="s", gt=0
    )
    oidc_jwks_refresh_seconds: float = setting(
        30.0, "At most one JWKS refresh for an unknown kid per this interval.", (INGEST,), unit="s", ge=0
    )
