"""Settings: one frozen object per service, built in that service's `__main__` from the settings registry
(reelstream.config: every REELSTREAM_* variable declared and parsed there), then passed down. Nothing below an
entry point reads os.environ; `from_env(env)` is `from_config(load_config(env))`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import SecretStr

from reelstream.config import Config, load_config
from reelstream.config.formats import (
    ROLES,
    TenantLimit,
    TenantLimits,
    parse_api_key_roles,
    parse_api_keys,
    parse_names,
    parse_seconds_list,
    parse_tenant_classes,
    parse_tenant_limits,
    parse_weights,
)
from reelstream.cost_model import RenderDeadline
from reelstream.endpoints import Endpoints
from reelstream.errors import ConfigurationError
from reelstream.http_settings import EventStreamSettings, HttpServerSettings, WebhookTargetPolicy
from reelstream.kafka.security import KafkaSecurity
from reelstream.logs import LogSettings
from reelstream.models import BUILTIN_MODELS, DEFAULT_MODEL, DEV_MODEL, ModelRegistry, load_registry
from reelstream.registry_auth import RegistryAuth
from schemas.topics import DEFAULT_WEBHOOK_RETRY_SCHEDULE

__all__ = [
    "ROLES",
    "Endpoints",
    "IngestSettings",
    "MetricsSettings",
    "NotifierSettings",
    "OidcSettings",
    "PipelineSettings",
    "RenderSettings",
    "SchedulerSettings",
    "TenantLimit",
    "TenantLimits",
    "WorkerSettings",
    "endpoints_from_config",
    "parse_api_key_roles",
    "parse_api_keys",
    "parse_seconds_list",
    "parse_tenant_classes",
    "parse_tenant_limits",
    "parse_weights",
]


def _require(config: Config, field: str) -> str:
    value = getattr(config.values, field)
    if value is None:
        raise ConfigurationError(f"REELSTREAM_{field.upper()} is not set")
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def endpoints_from_config(config: Config) -> Endpoints:
    v = config.values
    return Endpoints(
        kafka_bootstrap=v.kafka_bootstrap,
        schema_registry_url=v.schema_registry_url,
        s3_endpoint=v.s3_endpoint,
        s3_access_key=_require(config, "s3_access_key"),
        s3_secret_key=_require(config, "s3_secret_key"),
        s3_bucket=v.s3_bucket,
        kafka_security=kafka_security_from_config(config),
        registry_auth=registry_auth_from_config(config),
    )


def kafka_security_from_config(config: Config) -> KafkaSecurity:
    """REELSTREAM_KAFKA_SECURITY_PROTOCOL and, for SASL_SSL, the user, password and CA file it needs."""
    v = config.values
    return KafkaSecurity(v.kafka_security_protocol, v.kafka_username, v.kafka_password, v.kafka_ca_file)


def registry_auth_from_config(config: Config) -> RegistryAuth:
    """REELSTREAM_SCHEMA_REGISTRY_USERNAME / _PASSWORD (both or neither) and _CA_FILE."""
    v = config.values
    return RegistryAuth(v.schema_registry_username, v.schema_registry_password, v.schema_registry_ca_file)


@dataclass(frozen=True)
class MetricsSettings:
    """Where a process serves /metrics (port 0: nowhere) and how tenants are grouped into label classes."""

    port: int = 0
    host: str = "127.0.0.1"
    tenant_classes: Mapping[str, str] = field(default_factory=dict)
    lag_interval_seconds: float = 15.0  # how often the scheduler's lag exporter reads offsets

    @classmethod
    def from_config(cls, config: Config) -> MetricsSettings:
        v = config.values
        return cls(
            port=v.metrics_port,
            host=v.metrics_host,
            tenant_classes=parse_tenant_classes(v.tenant_classes),
            lag_interval_seconds=v.lag_interval_seconds,
        )


@dataclass(frozen=True)
class PipelineSettings:
    """What every pipeline service shares: where the infrastructure is and how pools and models are set up."""

    endpoints: Endpoints
    pools: tuple[str, ...] = ("default",)
    default_model: str = DEFAULT_MODEL
    app_prefix: str = "reelstream"
    replication_factor: int = 1  # of topics the services create themselves (Faust changelogs)
    pool_models: frozenset[str] | None = None  # models the pool's slots serve (None: every known model)
    models: ModelRegistry = BUILTIN_MODELS  # the registered models (built-in + REELSTREAM_EXTRA_MODELS)
    pool_max_work_units: int | None = None  # frames × width × height the largest slot holds (None: no limit)
    long_job_seconds: float = 120.0  # a render longer than this is long (reelstream.long_jobs)
    long_job_probability: float = 0.5  # predicted long from this probability on
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    tenant_limits: TenantLimits = field(default_factory=TenantLimits)
    # expected GPU seconds a tenant's jobs may take per window (None: no budget), and the window
    tenant_gpu_seconds: float | None = 14400.0
    tenant_budget_window_seconds: float = 3600.0
    log: LogSettings = field(default_factory=LogSettings)
    webhook_targets: WebhookTargetPolicy = field(
        default_factory=WebhookTargetPolicy
    )  # admission's, as ingest's
    shutdown_grace_seconds: float = 25.0  # a stream app's bound on stopping after SIGTERM (streams.app)
    # the key-encryption keys (REELSTREAM_KEY_DIR): admission and the workers open jobs' sealed fields
    key_dir: str = ""

    def require_key_dir(self) -> str:
        if not self.key_dir:
            raise ConfigurationError("REELSTREAM_KEY_DIR is not set")
        return self.key_dir

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PipelineSettings:
        return cls.from_config(load_config(env))

    @classmethod
    def from_config(cls, config: Config) -> PipelineSettings:
        v = config.values
        models = load_registry(v.extra_models)
        return cls(
            endpoints=endpoints_from_config(config),
            pools=parse_names(v.pools),
            default_model=models.check_id(v.default_model, "REELSTREAM_DEFAULT_MODEL"),
            models=models,
            app_prefix=v.app_prefix,
            replication_factor=v.replication_factor,
            pool_models=models.parse_ids(v.pool_models, "REELSTREAM_POOL_MODELS"),
            pool_max_work_units=v.pool_max_work_units,
            long_job_seconds=v.long_job_seconds,
            long_job_probability=v.long_job_probability,
            metrics=MetricsSettings.from_config(config),
            tenant_limits=parse_tenant_limits(v.tenant_limits),
            tenant_gpu_seconds=v.tenant_gpu_seconds_per_window,
            tenant_budget_window_seconds=v.tenant_budget_window_seconds,
            log=LogSettings.from_config(config),
            key_dir=v.key_dir or "",
            webhook_targets=WebhookTargetPolicy.from_values(v),
            shutdown_grace_seconds=v.shutdown_grace_seconds,
        )

    def pool_partition(self, pool_id: str) -> int:
        """The scheduler inbox partition of a pool (one partition per pool)."""
        return self.pools.index(pool_id)


@dataclass(frozen=True)
class SchedulerSettings:
    pipeline: PipelineSettings
    tenant_weights: Mapping[str, float] = field(default_factory=dict)
    lease_seconds: float = 30.0
    max_attempts: int = 3
    aging_factor: float = 2.0
    long_aging_factor: float = 3.0  # jobs predicted long (reelstream.long_jobs) age by their own factor
    long_retry_deadline_multiple: float = 2.0  # the deadline stretch of a long job's one retry
    tick_seconds: float = 1.0
    pool_snapshot_min_interval_seconds: float = 1.0  # between a pool's snapshots
    retry_backoff_seconds: float = 2.0  # before retrying a failed attempt; doubles per attempt, jittered
    retry_backoff_max_seconds: float = 120.0
    max_slot_share: float = 0.5  # of the live slots one tenant holds while another's job waits (1: no bound)
    gang_max_slots: int = 8  # the most slots one job's attempt takes (a power of two; 1: no gangs)
    max_finishing: int = 1  # attempts a slot keeps in their finish while its GPU takes the next (0: none)
    # Kafka static group membership (group.instance.id): a scheduler restarted under the same id takes its
    # partition back at once instead of waiting out the killed process's session. Unique per replica (the
    # pod name); None: dynamic membership.
    instance_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SchedulerSettings:
        return cls.from_config(load_config(env))

    @classmethod
    def from_config(cls, config: Config) -> SchedulerSettings:
        v = config.values
        return cls(
            pipeline=PipelineSettings.from_config(config),
            tenant_weights=parse_weights(v.tenant_weights),
            lease_seconds=v.lease_seconds,
            max_attempts=v.max_attempts,
            aging_factor=v.aging_factor,
            long_aging_factor=v.long_aging_factor,
            long_retry_deadline_multiple=v.long_retry_deadline_multiple,
            tick_seconds=v.tick_seconds,
            pool_snapshot_min_interval_seconds=v.pool_snapshot_min_interval_seconds,
            retry_backoff_seconds=v.retry_backoff_seconds,
            retry_backoff_max_seconds=v.retry_backoff_max_seconds,
            max_slot_share=v.tenant_max_slot_share,
            gang_max_slots=v.gang_max_slots,
            max_finishing=v.worker_max_finishing,
            instance_id=v.scheduler_instance_id,
        )


JWT_ALGORITHMS = frozenset({"RS256", "ES256"})  # asymmetric only: never HS*, never none
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class OidcSettings:
    """Bearer JWTs from an OIDC provider: verified against its JWKS, for `audience`, from `issuer`; the
    tenant and the roles are read from the named claims."""

    issuer: str
    audience: str
    jwks_url: str
    tenant_claim: str = "tenant"
    roles_claim: str = "roles"
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: float = 30.0  # clock skew allowed on exp, nbf and iat
    max_lifetime_seconds: float = 3600.0  # exp - iat (or exp - now) at most this
    jwks_max_age_seconds: float = 3600.0  # the JWKS is fetched again when older than this
    jwks_refresh_seconds: float = 30.0  # at most one refresh for an unknown `kid` per this interval
    jwks_timeout_seconds: float = 5.0
    console_client_id: str | None = None  # the web console's public client (None: it offers API keys only)
    console_scope: str = "openid"

    def __post_init__(self) -> None:
        if not self.algorithms or set(self.algorithms) - JWT_ALGORITHMS:
            raise ConfigurationError(
                f"REELSTREAM_OIDC_ALGORITHMS must name some of {', '.join(sorted(JWT_ALGORITHMS))}"
            )
        if not 0 <= self.leeway_seconds <= 300:
            raise ConfigurationError("REELSTREAM_OIDC_LEEWAY_SECONDS must be between 0 and 300")
        if not (self.issuer and self.audience and self.jwks_url and self.tenant_claim and self.roles_claim):
            raise ConfigurationError("OIDC needs an issuer, an audience, a JWKS URL and claim names")
        url = urlsplit(self.jwks_url)
        if url.scheme != "https" and not (url.scheme == "http" and url.hostname in LOOPBACK_HOSTS):
            raise ConfigurationError("REELSTREAM_OIDC_JWKS_URL must be https (plain http on loopback only)")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OidcSettings | None:
        return cls.from_config(load_config(env))

    @classmethod
    def from_config(cls, config: Config) -> OidcSettings | None:
        """None unless REELSTREAM_OIDC_ISSUER is set (then the audience and JWKS URL are required)."""
        v = config.values
        if not v.oidc_issuer:
            return None
        return cls(
            issuer=v.oidc_issuer,
            audience=_require(config, "oidc_audience"),
            jwks_url=_require(config, "oidc_jwks_url"),
            tenant_claim=v.oidc_tenant_claim,
            roles_claim=v.oidc_roles_claim,
            algorithms=parse_names(v.oidc_algorithms),
            leeway_seconds=v.oidc_leeway_seconds,
            max_lifetime_seconds=v.oidc_max_token_lifetime_seconds,
            jwks_refresh_seconds=v.oidc_jwks_refresh_seconds,
            console_client_id=v.oidc_console_client_id or None,
            console_scope=v.oidc_console_scope,
        )


@dataclass(frozen=True)
class IngestSettings:
    pipeline: PipelineSettings
    api_keys: Mapping[str, str] = field(default_factory=dict)
    api_key_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)  # absent: submitter
    host: str = "127.0.0.1"
    port: int = 8000
    access_log: bool = False  # a line per request; metrics and the per-job lines already cover requests
    presign_ttl_seconds: int = 600
    produce_timeout_seconds: float = 10.0
    idempotency_ttl_seconds: int = 24 * 3600  # how long an Idempotency-Key is remembered (≥ 24 h)
    oidc: OidcSettings | None = None  # bearer JWTs accepted too (None: API keys only)
    key_grace_seconds: float = 7 * 24 * 3600.0  # a revoked/expired key's record is tombstoned after this
    key_sweep_interval_seconds: float = 3600.0
    job_retention_seconds: float = 30 * 24 * 3600.0  # a finished job is deleted this long after it finished
    video_retention_seconds: float = 7 * 24 * 3600.0  # a success's video and poster, this long after
    retention_sweep_interval_seconds: float = 60.0
    key_store_max_lag_seconds: float = 10.0  # /readyz fails when the key store's view heard nothing longer
    console_dir: str | None = None  # the built console (None: the checkout's console/dist when present)
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API (CORS); none by default
    server: HttpServerSettings = field(default_factory=HttpServerSettings)
    sse: EventStreamSettings = field(default_factory=EventStreamSettings)
    webhook_targets: WebhookTargetPolicy = field(default_factory=WebhookTargetPolicy)
    key_dir: str = ""  # the key-encryption keys (reelstream.crypto.provider.FileKeyProvider)
    delivery_log_per_endpoint: int = 500  # webhook attempts the delivery log keeps per endpoint
    state_dir: str | None = None  # the local store (reelstream.local_store); None: a temporary directory
    state_cache_mib: int = 64
    state_max_age_seconds: float = 24 * 3600.0
    state_snapshot_enabled: bool = True  # publish / restore the local store's snapshot (state_snapshot)
    state_snapshot_interval_seconds: float = 600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IngestSettings:
        return cls.from_config(load_config(env))

    @classmethod
    def from_config(cls, config: Config) -> IngestSettings:
        v = config.values
        keys = _require(config, "api_keys")
        return cls(
            pipeline=PipelineSettings.from_config(config),
            api_keys=parse_api_keys(keys),
            api_key_roles=parse_api_key_roles(keys),
            host=v.http_host,
            port=v.http_port,
            access_log=v.access_log,
            presign_ttl_seconds=v.presign_ttl_seconds,
            idempotency_ttl_seconds=v.idempotency_ttl_seconds,
            oidc=OidcSettings.from_config(config),
            key_grace_seconds=v.key_grace_seconds,
            job_retention_seconds=v.job_retention_seconds,
            video_retention_seconds=v.video_retention_seconds,
            retention_sweep_interval_seconds=v.retention_sweep_interval_seconds,
            key_store_max_lag_seconds=v.key_store_max_lag_seconds,
            console_dir=v.console_dir,
            cors_origins=tuple(o.strip() for o in v.cors_origins.split(",") if o.strip()),
            server=HttpServerSettings.from_values(v),
            sse=EventStreamSettings.from_values(v),
            webhook_targets=WebhookTargetPolicy.from_values(v),
            key_dir=_require(config, "key_dir"),
            delivery_log_per_endpoint=v.webhook_delivery_log_per_endpoint,
            state_dir=v.state_dir,
            state_cache_mib=v.state_cache_mib,
            state_max_age_seconds=v.state_max_age_seconds,
            state_snapshot_enabled=v.state_snapshot_enabled,
            state_snapshot_interval_seconds=v.state_snapshot_interval_seconds,
        )


@dataclass(frozen=True)
class NotifierSettings:
    pipeline: PipelineSettings
    key_dir: str  # the key-encryption keys that open tenants' webhook secrets (reelstream.crypto)
    timeout_seconds: float = 15.0
    # CIDRs webhooks may reach although not public (dev and tests: loopback); empty in production
    webhook_allow_networks: str = ""
    # delay before each attempt, in seconds (the first is 0); each distinct delay is a tier topic
    retry_schedule: tuple[float, ...] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    # a delivery this late (behind its event, or behind its retry's due time) is dead-lettered as expired
    max_age_seconds: float = 24 * 3600.0
    # first attempts in flight at once (the notifier agent's concurrency), and to one endpoint
    max_in_flight: int = 32
    endpoint_max_in_flight: int = 4
    retry_after_max_seconds: float = 3600.0  # a receiver's Retry-After is capped to this
    # an endpoint failing this long with no success in between is disabled
    disable_after_seconds: float = 5 * 24 * 3600.0
    progress_min_interval_seconds: float = 10.0  # job.progress to one endpoint, per job, at most this often
    # a deleted job's key is kept this long after its tombstone, so its job.deleted webhook reaches its URL
    deleted_key_grace_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifierSettings:
        return cls.from_config(load_config(env))

    @classmethod
    def from_config(cls, config: Config) -> NotifierSettings:
        v = config.values
        schedule = v.webhook_retry_schedule
        return cls(
            pipeline=PipelineSettings.from_config(config),
            key_dir=_require(config, "key_dir"),
            timeout_seconds=v.webhook_timeout_seconds,
            webhook_allow_networks=v.webhook_allow_networks,
            retry_schedule=(
                parse_seconds_list(schedule, "REELSTREAM_WEBHOOK_RETRY_SCHEDULE")
                if schedule
                else DEFAULT_WEBHOOK_RETRY_SCHEDULE
            ),
            max_age_seconds=v.webhook_max_age_seconds,
            max_in_flight=v.webhook_max_in_flight,
            endpoint_max_in_flight=v.webhook_endpoint_max_in_flight,
            retry_after_max_seconds=v.webhook_retry_after_max_seconds,
            disable_after_seconds=v.webhook_disable_after_seconds,
            progress_min_interval_seconds=v.webhook_progress_min_interval_seconds,
            deleted_key_grace_seconds=v.webhook_deleted_key_grace_seconds,
        )


@dataclass(frozen=True)
class RenderSettings:
    """What a worker's renderer is built from (gpu_consumers.renderers.make_renderer)."""

    model_dir: str | None = None  # the mochi-1 diffusers folder (or model_id, looked up in the local cache)
    model_id: str | None = None
    simulated_scale: float | None = None  # benchmarks only: a stand-in renderer (the cost prior times this)
    attention: str = "auto"
    vae_tiling: bool = True
    compile: str = "auto"  # on, off, or auto: on for a CUDA device (gpu_consumers.renderers.mochi_options)
    compile_cache_dir: str | None = None  # inductor's and Triton's (gpu_consumers.render.compile_cache)
    tf32: bool = True
    cpu_offload: bool = False
    fp8_linear: bool = False
    fp8_attention: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RenderSettings:
        return cls.from_config(load_config(env))

    @classmethod
    def from_config(cls, config: Config) -> RenderSettings:
        v = config.values
        return cls(
            model_dir=v.model_dir,
            model_id=v.model_id,
            simulated_scale=v.simulated_render_scale,
            attention=v.attention,
            vae_tiling=v.vae_tiling,
            compile=v.compile,
            compile_cache_dir=v.compile_cache_dir,
            tf32=v.tf32,
            cpu_offload=v.cpu_offload,
            fp8_linear=v.fp8_linear,
            fp8_attention=v.fp8_attention,
        )


@dataclass(frozen=True)
class GangSettings:
    """Where and how long a gang's members meet (gpu_consumers.gang_member)."""

    rendezvous: str = "tcp://127.0.0.1:{port}"  # {slot}: the leader's slot; {port}: port_base + that slot
    port_base: int = 29500
    timeout_seconds: float = 120.0  # the rendezvous and each collective

    def address(self, leader_slot: int) -> str:
        return self.rendezvous.format(slot=leader_slot, port=self.port_base + leader_slot)


@dataclass(frozen=True)
class WorkerSettings:
    pipeline: PipelineSettings
    slot: int
    pool_id: str = "default"
    renderer: str = DEV_MODEL
    device: str = "cpu"
    heartbeat_seconds: float = 2.0
    max_finishing: int = 1  # renders kept in their finish while the next one renders (0: one at a time)
    progress_interval_seconds: float = 1.0
    max_work_units: int | None = None  # frames × width × height this slot holds (the pool's limit)
    render: RenderSettings = field(default_factory=RenderSettings)
    deadline: RenderDeadline = field(default_factory=RenderDeadline)
    gang: GangSettings = field(default_factory=GangSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str], slot: int | None = None) -> WorkerSettings:
        return cls.from_config(load_config(env), slot)

    @classmethod
    def from_config(cls, config: Config, slot: int | None = None) -> WorkerSettings:
        """`slot` (the --slot argument) wins over REELSTREAM_SLOT; one of them is required."""
        v = config.values
        slot = v.slot if slot is None else slot
        if slot is None:
            raise ConfigurationError("the worker's slot is not set: pass --slot N or set REELSTREAM_SLOT")
        pipeline = PipelineSettings.from_config(config)
        return cls(
            pipeline=pipeline,
            slot=slot,
            pool_id=v.pool or "default",
            renderer=v.renderer,
            device=v.device,
            heartbeat_seconds=v.heartbeat_seconds,
            max_finishing=v.worker_max_finishing,
            max_work_units=pipeline.pool_max_work_units,
            render=RenderSettings.from_config(config),
            deadline=RenderDeadline(
                multiple=v.render_deadline_multiple,
                margin_seconds=v.render_deadline_margin_seconds,
                max_seconds=v.render_deadline_max_seconds,
                grace_seconds=v.render_stop_grace_seconds,
            ),
            gang=GangSettings(v.gang_rendezvous, v.gang_port_base, v.gang_timeout_seconds),
        )
