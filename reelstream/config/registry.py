"""The settings registry: every REELSTREAM_* variable, declared once (name = REELSTREAM_ + the field's name
in upper case), with its type, default, unit, one-line doc, the services that read it, and whether it is a
secret. Values come from the environment and an optional .env file (reelstream.config.loading); the
per-service settings dataclasses (reelstream.settings) are built from a parsed registry and passed down."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from reelstream.config import formats
from reelstream.config.declare import (
    ADMISSION,
    CLI,
    DEV,
    INGEST,
    NOTIFIER,
    PIPELINE,
    PREFIX,
    SCHEDULER,
    WORKER,
    setting,
)
from reelstream.config.ingest_fields import IngestFields
from reelstream.config.worker_fields import WorkerFields
from reelstream.models import DEFAULT_MODEL

SERVICES_AND_CLI = (*PIPELINE, CLI, DEV)


class Registry(BaseSettings, IngestFields, WorkerFields):
    """Every REELSTREAM_* setting. Build one with reelstream.config.load_config (never from os.environ
    directly): that records where each value came from and turns a refused value into ConfigurationError."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, frozen=True, extra="forbid", allow_inf_nan=False, validate_default=False
    )

    config_file: str | None = setting(
        None,
        "A .env file (NAME=value lines) read under the environment; the environment wins.",
        (*PIPELINE, CLI),
    )

    # where the infrastructure is
    kafka_bootstrap: str = setting(
        "127.0.0.1:9092", "Kafka bootstrap servers (host:port,...).", SERVICES_AND_CLI
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = setting(
        "PLAINTEXT",
        "How clients reach the broker: PLAINTEXT, or SASL SCRAM-SHA-512 over TLS.",
        SERVICES_AND_CLI,
    )
    kafka_username: str | None = setting(
        None, "The SCRAM user (Kafka principal) of this service (SASL_SSL).", SERVICES_AND_CLI
    )
    kafka_password: SecretStr | None = setting(
        None, "The SCRAM user's password (SASL_SSL).", SERVICES_AND_CLI
    )
    kafka_ca_file: str | None = setting(
        None, "PEM file of the CA that signed the broker's certificate (SASL_SSL).", SERVICES_AND_CLI
    )
    schema_registry_url: str = setting(
        "http://127.0.0.1:8081/apis/ccompat/v7",
        "The schema registry's Confluent API base URL.",
        SERVICES_AND_CLI,
    )
    schema_registry_username: str | None = setting(
        None,
        "The schema registry user of this service (HTTP basic over HTTPS); empty: an open registry.",
        SERVICES_AND_CLI,
    )
    schema_registry_password: SecretStr | None = setting(
        None, "The schema registry user's password.", SERVICES_AND_CLI
    )
    schema_registry_ca_file: str | None = setting(
        None,
        "PEM file of the CA that signed an https schema registry's certificate; empty: the system's CAs.",
        SERVICES_AND_CLI,
        form="path",
    )
    s3_endpoint: str = setting("http://127.0.0.1:9000", "The S3 (MinIO) endpoint URL.", (INGEST, WORKER, DEV))
    s3_access_key: SecretStr | None = setting(
        None, "S3 access key (required by the services).", (*PIPELINE, DEV)
    )
    s3_secret_key: SecretStr | None = setting(
        None, "S3 secret key (required by the services).", (*PIPELINE, DEV)
    )
    s3_bucket: str = setting(
        "reelstream-artifacts", "The bucket rendered artifacts are stored in.", (INGEST, WORKER)
    )

    # secrets at rest (reelstream.crypto)
    key_dir: str | None = setting(
        None,
        "Directory of the key-encryption keys (a mounted Kubernetes Secret): one <id>.key file each "
        "(32 random bytes, base64) and a `current` file naming the one that wraps new data keys "
        "(required by ingest, admission, the notifier and the workers: they open jobs' sealed prompts and "
        "webhook URLs, reelstream.crypto.job_fields).",
        (INGEST, ADMISSION, NOTIFIER, WORKER),
        form="path",
    )

    # what every pipeline service shares
    pools: str = setting(
        "default",
        "GPU pools, one scheduler inbox partition each.",
        (ADMISSION, SCHEDULER),
        form="comma-separated pool ids",
    )
    pool: str | None = setting(
        None, "The pool this worker (or admission) serves; default: the first of POOLS.", (ADMISSION, WORKER)
    )
    default_model: str = setting(
        DEFAULT_MODEL, "The model a job renders when its client names none.", (INGEST, ADMISSION)
    )
    extra_models: str = setting(
        "",
        "Modules that register more models (each defines MODELS, a tuple of ModelSpec).",
        PIPELINE,
        form="comma-separated Python module names",
    )
    app_prefix: str = setting(
        "reelstream",
        "Faust app ids and consumer groups are <prefix>-<service>.",
        (ADMISSION, SCHEDULER, NOTIFIER, WORKER),
    )
    replication_factor: int = setting(
        1,
        "Replicas of the topics the services create themselves (changelogs, retry tiers).",
        (ADMISSION, SCHEDULER, NOTIFIER),
        ge=1,
    )
    pool_models: str = setting(
        "",
        "Models the pool's slots serve (others are refused at submit); empty: every model.",
        (INGEST, ADMISSION),
        form="comma-separated model ids",
    )
    pool_max_work_units: int | None = setting(
        None,
        "Largest render a slot of the pool holds; larger jobs are refused (workload-too-large); empty: none.",
        (INGEST, ADMISSION, WORKER),
        unit="frames×px",
        ge=1,
    )
    long_job_seconds: float = setting(
        120.0,
        "A render longer than this is a long job (what the long-job estimator predicts).",
        (ADMISSION,),
        unit="s",
        gt=0,
    )
    long_job_probability: float = setting(
        0.5, "The estimator predicts long from this probability on.", (ADMISSION,), gt=0, lt=1
    )
    tenant_limits: str = setting(
        "",
        "Per-tenant rate, burst, queued and running caps (`*`: everyone else).",
        (ADMISSION, INGEST),
        form="tenant-a=rate:0.5,burst:5,queued:100,running:2;*=rate:1",
    )
    tenant_gpu_seconds_per_window: float | None = setting(
        14400.0,
        "Expected GPU seconds (the cost model's) one tenant's jobs may take per window; empty: no budget.",
        (ADMISSION, INGEST),
        unit="s",
        ge=1,
    )
    tenant_budget_window_seconds: float = setting(
        3600.0, "The window of the tenants' GPU-seconds budget.", (ADMISSION, INGEST), unit="s", gt=0
    )
    metrics_port: int = setting(0, "Port of the process's /metrics; 0: not served.", PIPELINE, ge=0, le=65535)
    metrics_host: str = setting("127.0.0.1", "Address /metrics binds to.", PIPELINE)
    tenant_classes: str = setting(
        "",
        "Tenant to label class in metrics (tenants are labelled only by class).",
        PIPELINE,
        form="tenant-a=premium,tenant-b=free",
    )
    lag_interval_seconds: float = setting(
        15.0, "How often the scheduler's lag exporter reads offsets.", (SCHEDULER,), unit="s", gt=0
    )
    log_format: Literal["json", "text"] | None = setting(
        None, "Log lines as json (services' default) or text (the CLI's default).", (*PIPELINE, CLI)
    )
    log_level: str = setting("INFO", "Logging level.", (*PIPELINE, CLI), form="DEBUG, INFO, WARNING, ERROR")
    shutdown_grace_seconds: float = setting(
        25.0,
        "How long a stream app (admission, scheduler, notifier) may take to stop after SIGTERM before it "
        "logs the tasks still running and exits anyway (its uncommitted records are read again: at least "
        "once); keep it under the pod's terminationGracePeriodSeconds.",
        (ADMISSION, SCHEDULER, NOTIFIER),
        unit="s",
        gt=0,
    )

    # scheduler
    tenant_weights: str = setting(
        "", "Fair-share weight per tenant (default 1).", (SCHEDULER,), form="tenant-a=2,tenant-b=0.5"
    )
    lease_seconds: float = setting(
        30.0, "How long a dispatched attempt is leased to its slot.", (SCHEDULER,), unit="s", gt=0
    )
    max_attempts: int = setting(3, "Attempts of a job before it fails.", (SCHEDULER,), ge=1)
    aging_factor: float = setting(2.0, "How fast waiting raises a job's priority.", (SCHEDULER,), ge=0)
    long_aging_factor: float = setting(
        3.0, "The aging of jobs predicted long: their bound, in FIFO waits.", (SCHEDULER,), ge=0
    )
    long_retry_deadline_multiple: float = setting(
        2.0,
        "A job predicted long that failed is retried once, on another slot, with its render deadline "
        "stretched this many times; failing again, it fails (LongTaskFailedTwice).",
        (SCHEDULER,),
        ge=1,
    )
    tick_seconds: float = setting(
        1.0, "Interval of the scheduler's timer (leases, retries).", (SCHEDULER,), unit="s", gt=0
    )
    pool_snapshot_min_interval_seconds: float = setting(
        1.0,
        "Least time between two snapshots of a pool the scheduler publishes to reelstream.pools.state "
        "(GET /v1/admin/pool); a change within it is published when it has passed.",
        (SCHEDULER,),
        unit="s",
        ge=0,
    )
    retry_backoff_seconds: float = setting(
        2.0,
        "Delay before retrying a failed attempt; doubles per attempt, jittered.",
        (SCHEDULER,),
        unit="s",
        ge=0,
    )
    retry_backoff_max_seconds: float = setting(120.0, "Cap of the retry delay.", (SCHEDULER,), unit="s", ge=0)
    render_deadline_multiple: float = setting(
        3.0, "A render's deadline: this many times its predicted seconds, plus the margin.", (WORKER,), gt=0
    )
    render_deadline_margin_seconds: float = setting(
        60.0, "Added to every render's deadline.", (WORKER,), unit="s", ge=0
    )
    render_deadline_max_seconds: float = setting(
        7200.0, "Ceiling of a render's deadline.", (WORKER,), unit="s", gt=0
    )
    render_stop_grace_seconds: float = setting(
        30.0,
        "How long a render past its deadline has to stop before the worker process is ended and restarted.",
        (WORKER,),
        unit="s",
        gt=0,
    )
    tenant_max_slot_share: float = setting(
        0.5,
        "Most of the pool's live slots one tenant holds while another tenant's job waits (at least 1; "
        "1: no bound).",
        (SCHEDULER,),
        gt=0,
        le=1,
    )
    gang_max_slots: int = setting(
        8,
        "Most slots one job renders on at once (a gang: a power of two; 1: no gangs). Spare idle slots and "
        "low-latency tenants' jobs take gangs (streams.gang).",
        (SCHEDULER,),
        ge=1,
        le=64,
    )
    scheduler_instance_id: str | None = setting(
        None, "Kafka static group membership id of this scheduler replica (the pod name).", (SCHEDULER,)
    )

    # notifier
    webhook_timeout_seconds: float = setting(
        15.0,
        "Overall deadline of one webhook attempt (connect, TLS, request, response headers).",
        (NOTIFIER,),
        unit="s",
        gt=0,
    )
    webhook_max_in_flight: int = setting(
        32, "Webhook first attempts in flight at once, all endpoints together.", (NOTIFIER,), ge=1
    )
    webhook_endpoint_max_in_flight: int = setting(
        4, "Webhook attempts in flight at once to one endpoint (a tenant's origin).", (NOTIFIER,), ge=1
    )
    webhook_retry_after_max_seconds: float = setting(
        3600.0, "A receiver's Retry-After is honoured up to this long.", (NOTIFIER,), unit="s", ge=0
    )
    webhook_disable_after_seconds: float = setting(
        5 * 24 * 3600.0,
        "An endpoint failing this long with no success is disabled (endpoint.disabled).",
        (NOTIFIER,),
        unit="s",
        gt=0,
    )
    webhook_allow_http: bool = setting(
        False,
        "Accept http:// webhook targets (dev and tests); otherwise https only (at submit and at admission).",
        (INGEST, ADMISSION),
    )
    webhook_allow_networks: str = setting(
        "",
        "CIDRs webhooks may reach although not public (dev: loopback).",
        (INGEST, ADMISSION, NOTIFIER),
        form="127.0.0.0/8,::1/128",
    )
    webhook_retry_schedule: str | None = setting(
        None,
        "Delay before each delivery attempt (the first is 0); default: the declared tiers.",
        (NOTIFIER,),
        unit="s",
        form="comma-separated seconds, e.g. 0,5,300",
    )
    webhook_max_age_seconds: float = setting(
        24 * 3600.0, "A delivery this late is dead-lettered as expired.", (NOTIFIER,), unit="s", gt=0
    )
    webhook_progress_min_interval_seconds: float = setting(
        10.0,
        "A registered endpoint that opted in to job.progress gets at most one per job per this interval.",
        (NOTIFIER,),
        unit="s",
        ge=0,
    )
    webhook_deleted_key_grace_seconds: float = setting(
        300.0,
        "A deleted job's key stays in the notifier's memory this long after its tombstone is read live, so "
        "its job.deleted webhook still reaches the job's own URL; a retry later than this cannot.",
        (NOTIFIER,),
        unit="s",
        ge=0,
    )

    # the reelstream command and the local stack. The client commands' three are read by the SDK
    # (clients/python, which imports nothing of the server); declared here: one namespace with the rest
    api_url: str = setting("http://127.0.0.1:8000", "The API the `reelstream` client commands call.", (CLI,))
    api_key: SecretStr | None = setting(None, "The API key the `reelstream` client commands send.", (CLI,))
    profile: str | None = setting(
        None, "The profile of ~/.config/reelstream/config.toml the client commands use.", (CLI,)
    )
    dev_kafka_auth: bool = setting(
        True,
        "The local stack's broker takes only SASL SCRAM-SHA-512 over TLS, with ACLs, and its schema registry "
        "only HTTPS with a user per service (off: both open, PLAINTEXT and plain HTTP).",
        (DEV,),
    )
    prometheus_port: int = setting(9090, "Port of `reelstream dev`'s Prometheus.", (DEV,), ge=0, le=65535)
    dev_oidc: bool = setting(
        False,
        "`reelstream dev` starts the development OIDC provider (devstack/oidc_provider, Node 20; users "
        "`dev` and `operator`, any password) and the console offers sign-in through it.",
        (DEV,),
    )
    dev_oidc_port: int = setting(9400, "Port of `reelstream dev`'s OIDC provider.", (DEV,), ge=0, le=65535)
    prometheus_bin: str | None = setting(
        None, "Prometheus binary for `reelstream dev`; default: PATH.", (DEV,)
    )
    minio_bin: str | None = setting(None, "MinIO binary of the local stack; default: PATH or built.", (DEV,))
    java_home: str | None = setting(None, "JDK of the local stack's Kafka (before JAVA_HOME).", (DEV,))
    jvm_dirs: str | None = setting(
        None,
        "Folders searched for JDKs, replacing the defaults.",
        (DEV,),
        form="os.pathsep-separated folders",
        keep_empty=True,
    )
    cache_dir: str | None = setting(
        None, "Cache of downloaded binaries; default ~/.cache/reelstream.", (DEV,)
    )
    helm_bin: str | None = setting(None, "helm binary; default: PATH, else built into the cache.", (DEV,))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        *args: Any,
        **kw: Any,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what load_config passes in: it reads the environment and the file (and records sources)."""
        return (init_settings,)

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"{level!r} is not a logging level")
        return level

    @field_validator("pools")
    @classmethod
    def _pools(cls, value: str) -> str:
        if not formats.parse_names(value):
            raise ValueError("names no pool")
        return value

    @field_validator("gang_max_slots")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError(f"{value} is not a power of two")
        return value

    @field_validator("scheduler_instance_id", "pool")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        return (value or "").strip() or None

    @field_validator(
        "tenant_limits", "tenant_classes", "tenant_weights", "api_keys", "webhook_retry_schedule"
    )
    @classmethod
    def _compact(cls, value: Any, info: Any) -> Any:
        """The compact forms keep their parsers (reelstream.config.formats); a refusal names the form."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is not None:
            _PARSERS[info.field_name](raw)
        return value


_PARSERS: dict[str, Any] = {
    "tenant_limits": formats.parse_tenant_limits,
    "tenant_classes": formats.parse_tenant_classes,
    "tenant_weights": formats.parse_weights,
    "api_keys": formats.parse_api_keys,
    "webhook_retry_schedule": lambda s: formats.parse_seconds_list(s, "REELSTREAM_WEBHOOK_RETRY_SCHEDULE"),
}
