"""Settings: one frozen object per service, read from the environment (prefix REELSTREAM_) only in that
service's `__main__`, then passed down. Nothing below an entry point reads os.environ."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reelstream.errors import ConfigurationError
from reelstream.logs import LogSettings
from reelstream.models import BUILTIN_MODELS, DEFAULT_MODEL, DEV_MODEL, ModelRegistry, load_registry
from reelstream.stack.manager import Endpoints
from schemas.topics import DEFAULT_WEBHOOK_RETRY_SCHEDULE


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value


def endpoints_from_env(env: Mapping[str, str]) -> Endpoints:
    return Endpoints(
        kafka_bootstrap=env.get("REELSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        schema_registry_url=env.get(
            "REELSTREAM_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7"
        ),
        s3_endpoint=env.get("REELSTREAM_S3_ENDPOINT", "http://127.0.0.1:9000"),
        s3_access_key=_require(env, "REELSTREAM_S3_ACCESS_KEY"),
        s3_secret_key=_require(env, "REELSTREAM_S3_SECRET_KEY"),
        s3_bucket=env.get("REELSTREAM_S3_BUCKET", "reelstream-artifacts"),
    )


ROLES = frozenset({"submitter", "viewer", "admin"})
_KEYS_FORMAT = "REELSTREAM_API_KEYS must look like key1=tenant-a,key2=tenant-b:viewer,key3=ops:admin"


def _api_key_entries(spec: str) -> list[tuple[str, str, frozenset[str] | None]]:
    """(key, tenant, roles or None when the entry names none) of every entry."""
    entries = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, owner = item.partition("=")
        tenant, colon, names = owner.partition(":")
        roles = frozenset(names.split("+")) if colon else None
        if not sep or not key or not tenant or (roles is not None and roles - ROLES):
            raise ConfigurationError(f"{_KEYS_FORMAT} (roles: {', '.join(sorted(ROLES))})")
        entries.append((key, tenant, roles))
    return entries


def parse_api_keys(spec: str) -> dict[str, str]:
    """`key1=tenant-a,key2=tenant-b:viewer` → {key: tenant}."""
    return {key: tenant for key, tenant, _ in _api_key_entries(spec)}


def parse_api_key_roles(spec: str) -> dict[str, frozenset[str]]:
    """{key: roles} of the entries that name roles (`key=tenant:role+role`); the others are submitters."""
    return {key: roles for key, _, roles in _api_key_entries(spec) if roles is not None}


def parse_tenant_classes(spec: str) -> dict[str, str]:
    """`tenant-a=premium,tenant-b=standard` → {tenant: class}; metrics label tenants only by class."""
    classes: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        tenant, sep, name = item.partition("=")
        if not sep or not tenant or not name:
            raise ConfigurationError(
                "REELSTREAM_TENANT_CLASSES must look like tenant-a=premium,tenant-b=free"
            )
        classes[tenant] = name
    return classes


@dataclass(frozen=True)
class TenantLimit:
    """A tenant's submissions: `rate` a second on average, `burst` at once, at most `queued` in the queue,
    at most `running` rendering at once (None: no cap of its own)."""

    rate: float = 1.0
    burst: float = 10.0
    queued: int = 1000
    running: int | None = None

    def violations(self) -> dict[str, str]:
        """{field: what it must be} for every field out of range (empty: a usable limit)."""
        found = {}
        if not self.rate > 0:
            found["rate"] = "rate must be > 0"
        if not self.burst >= 1:
            found["burst"] = "burst must be >= 1"
        if self.queued < 1:
            found["queued"] = "queued must be >= 1"
        if self.running is not None and self.running < 1:
            found["running"] = "running must be >= 1 (or absent: no cap)"
        return found


@dataclass(frozen=True)
class TenantLimits:
    """Limits per tenant id; `default` for every tenant not named (the `*` entry)."""

    tenants: Mapping[str, TenantLimit] = field(default_factory=dict)
    default: TenantLimit = field(default_factory=TenantLimit)

    def of(self, tenant_id: str) -> TenantLimit:
        return self.tenants.get(tenant_id, self.default)


_LIMITS_FORMAT = (
    "REELSTREAM_TENANT_LIMITS must look like tenant-a=rate:0.5,burst:5,queued:100,running:2;*=rate:1"
)


def parse_tenant_limits(spec: str) -> TenantLimits:
    """`tenant-a=rate:0.5,burst:5,queued:100,running:2;*=rate:1,burst:10,queued:1000`; omitted fields take
    defaults."""
    tenants: dict[str, TenantLimit] = {}
    default = TenantLimit()
    for entry in filter(None, (part.strip() for part in spec.split(";"))):
        tenant, sep, fields = entry.partition("=")
        values: dict[str, float] = {}
        for item in filter(None, (f.strip() for f in fields.split(","))):
            name, colon, number = item.partition(":")
            if not colon or name not in ("rate", "burst", "queued", "running"):
                raise ConfigurationError(_LIMITS_FORMAT)
            try:
                values[name] = float(number)
            except ValueError:
                raise ConfigurationError(_LIMITS_FORMAT) from None
        if not sep or not tenant.strip():
            raise ConfigurationError(_LIMITS_FORMAT)
        limit = TenantLimit(
            rate=values.get("rate", default.rate),
            burst=values.get("burst", default.burst),
            queued=int(values.get("queued", default.queued)),
            running=int(values["running"]) if "running" in values else default.running,
        )
        if limit.violations():
            raise ConfigurationError(f"{_LIMITS_FORMAT} ({', '.join(limit.violations().values())})")
        if tenant.strip() == "*":
            default = limit
        else:
            tenants[tenant.strip()] = limit
    return TenantLimits(tenants, default)


@dataclass(frozen=True)
class MetricsSettings:
    """Where a process serves /metrics (port 0: nowhere) and how tenants are grouped into label classes."""

    port: int = 0
    host: str = "127.0.0.1"
    tenant_classes: Mapping[str, str] = field(default_factory=dict)
    lag_interval_seconds: float = 15.0  # how often the scheduler's lag exporter reads offsets

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MetricsSettings:
        return cls(
            port=int(env.get("REELSTREAM_METRICS_PORT", "0")),
            host=env.get("REELSTREAM_METRICS_HOST", "127.0.0.1"),
            tenant_classes=parse_tenant_classes(env.get("REELSTREAM_TENANT_CLASSES", "")),
            lag_interval_seconds=float(env.get("REELSTREAM_LAG_INTERVAL_SECONDS", "15")),
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
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    tenant_limits: TenantLimits = field(default_factory=TenantLimits)
    log: LogSettings = field(default_factory=LogSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PipelineSettings:
        pools = tuple(p for p in env.get("REELSTREAM_POOLS", "default").split(",") if p)
        models = load_registry(env.get("REELSTREAM_EXTRA_MODELS", ""))
        return cls(
            endpoints=endpoints_from_env(env),
            pools=pools,
            default_model=models.check_id(
                env.get("REELSTREAM_DEFAULT_MODEL", DEFAULT_MODEL), "REELSTREAM_DEFAULT_MODEL"
            ),
            models=models,
            pool_models=models.parse_ids(env.get("REELSTREAM_POOL_MODELS", ""), "REELSTREAM_POOL_MODELS"),
            app_prefix=env.get("REELSTREAM_APP_PREFIX", "reelstream"),
            metrics=MetricsSettings.from_env(env),
            tenant_limits=parse_tenant_limits(env.get("REELSTREAM_TENANT_LIMITS", "")),
            log=LogSettings.from_env(env),
        )

    def pool_partition(self, pool_id: str) -> int:
        """The scheduler inbox partition of a pool (one partition per pool)."""
        return self.pools.index(pool_id)


def parse_weights(spec: str) -> dict[str, float]:
    """`tenant-a=2,tenant-b=0.5` → {tenant: weight}."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        tenant, sep, weight = item.partition("=")
        try:
            weights[tenant] = float(weight)
        except ValueError:
            raise ConfigurationError(
                "REELSTREAM_TENANT_WEIGHTS must look like tenant-a=2,tenant-b=1"
            ) from None
        if not sep or not tenant or weights[tenant] <= 0:
            raise ConfigurationError("REELSTREAM_TENANT_WEIGHTS must look like tenant-a=2,tenant-b=1")
    return weights


@dataclass(frozen=True)
class SchedulerSettings:
    pipeline: PipelineSettings
    tenant_weights: Mapping[str, float] = field(default_factory=dict)
    lease_seconds: float = 30.0
    max_attempts: int = 3
    aging_factor: float = 2.0
    tick_seconds: float = 1.0
    retry_backoff_seconds: float = 2.0  # before retrying a failed attempt; doubles per attempt, jittered
    retry_backoff_max_seconds: float = 120.0
    # Kafka static group membership (group.instance.id): a scheduler restarted under the same id takes its
    # partition back at once instead of waiting out the killed process's session. Unique per replica (the
    # pod name); None: dynamic membership.
    instance_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SchedulerSettings:
        return cls(
            pipeline=PipelineSettings.from_env(env),
            tenant_weights=parse_weights(env.get("REELSTREAM_TENANT_WEIGHTS", "")),
            lease_seconds=float(env.get("REELSTREAM_LEASE_SECONDS", "30")),
            max_attempts=int(env.get("REELSTREAM_MAX_ATTEMPTS", "3")),
            aging_factor=float(env.get("REELSTREAM_AGING_FACTOR", "2")),
            tick_seconds=float(env.get("REELSTREAM_TICK_SECONDS", "1")),
            retry_backoff_seconds=float(env.get("REELSTREAM_RETRY_BACKOFF_SECONDS", "2")),
            retry_backoff_max_seconds=float(env.get("REELSTREAM_RETRY_BACKOFF_MAX_SECONDS", "120")),
            instance_id=env.get("REELSTREAM_SCHEDULER_INSTANCE_ID", "").strip() or None,
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
    jwks_max_age_seconds: float = 3600.0  # the JWKS is fetched again when older than this
    jwks_refresh_seconds: float = 30.0  # at most one refresh for an unknown `kid` per this interval
    jwks_timeout_seconds: float = 5.0

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
        """None unless REELSTREAM_OIDC_ISSUER is set (then the audience and JWKS URL are required)."""
        issuer = env.get("REELSTREAM_OIDC_ISSUER")
        if not issuer:
            return None
        algorithms = env.get("REELSTREAM_OIDC_ALGORITHMS", "RS256,ES256")
        return cls(
            issuer=issuer,
            audience=_require(env, "REELSTREAM_OIDC_AUDIENCE"),
            jwks_url=_require(env, "REELSTREAM_OIDC_JWKS_URL"),
            tenant_claim=env.get("REELSTREAM_OIDC_TENANT_CLAIM", "tenant"),
            roles_claim=env.get("REELSTREAM_OIDC_ROLES_CLAIM", "roles"),
            algorithms=tuple(a.strip() for a in algorithms.split(",") if a.strip()),
            leeway_seconds=float(env.get("REELSTREAM_OIDC_LEEWAY_SECONDS", "30")),
            jwks_refresh_seconds=float(env.get("REELSTREAM_OIDC_JWKS_REFRESH_SECONDS", "30")),
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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IngestSettings:
        return cls(
            pipeline=PipelineSettings.from_env(env),
            api_keys=parse_api_keys(_require(env, "REELSTREAM_API_KEYS")),
            api_key_roles=parse_api_key_roles(_require(env, "REELSTREAM_API_KEYS")),
            host=env.get("REELSTREAM_HTTP_HOST", "127.0.0.1"),
            port=int(env.get("REELSTREAM_HTTP_PORT", "8000")),
            access_log=env.get("REELSTREAM_ACCESS_LOG", "off").strip().lower() in ("1", "on", "true", "yes"),
            presign_ttl_seconds=int(env.get("REELSTREAM_PRESIGN_TTL_SECONDS", "600")),
            idempotency_ttl_seconds=int(env.get("REELSTREAM_IDEMPOTENCY_TTL_SECONDS", str(24 * 3600))),
            oidc=OidcSettings.from_env(env),
            key_grace_seconds=float(env.get("REELSTREAM_KEY_GRACE_SECONDS", str(7 * 24 * 3600))),
        )


def parse_seconds_list(spec: str, name: str) -> tuple[float, ...]:
    """`0,5,300` → (0.0, 5.0, 300.0)."""
    try:
        return tuple(float(part) for part in spec.split(",") if part.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be comma-separated seconds, e.g. 0,5,300") from None


@dataclass(frozen=True)
class NotifierSettings:
    pipeline: PipelineSettings
    webhook_secret: str
    timeout_seconds: float = 15.0
    # CIDRs webhooks may reach although not public (dev and tests: loopback); empty in production
    webhook_allow_networks: str = ""
    # delay before each attempt, in seconds (the first is 0); each distinct delay is a tier topic
    retry_schedule: tuple[float, ...] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    # a delivery this late (behind its event, or behind its retry's due time) is dead-lettered as expired
    max_age_seconds: float = 24 * 3600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifierSettings:
        secret = _require(env, "REELSTREAM_WEBHOOK_SECRET")
        if not secret.startswith("whsec_"):
            raise ConfigurationError("REELSTREAM_WEBHOOK_SECRET must be a Standard Webhooks secret (whsec_…)")
        schedule = env.get("REELSTREAM_WEBHOOK_RETRY_SCHEDULE")
        return cls(
            pipeline=PipelineSettings.from_env(env),
            webhook_secret=secret,
            timeout_seconds=float(env.get("REELSTREAM_WEBHOOK_TIMEOUT_SECONDS", "15")),
            webhook_allow_networks=env.get("REELSTREAM_WEBHOOK_ALLOW_NETWORKS", ""),
            retry_schedule=(
                parse_seconds_list(schedule, "REELSTREAM_WEBHOOK_RETRY_SCHEDULE")
                if schedule
                else DEFAULT_WEBHOOK_RETRY_SCHEDULE
            ),
            max_age_seconds=float(env.get("REELSTREAM_WEBHOOK_MAX_AGE_SECONDS", str(24 * 3600))),
        )


@dataclass(frozen=True)
class WorkerSettings:
    pipeline: PipelineSettings
    slot: int
    pool_id: str = "default"
    renderer: str = DEV_MODEL
    device: str = "cpu"
    heartbeat_seconds: float = 2.0
    progress_interval_seconds: float = 1.0
    max_work_units: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], slot: int) -> WorkerSettings:
        return cls(
            pipeline=PipelineSettings.from_env(env),
            slot=slot,
            pool_id=env.get("REELSTREAM_POOL", "default"),
            renderer=env.get("REELSTREAM_RENDERER", DEV_MODEL),
            device=env.get("REELSTREAM_DEVICE", "cpu"),
            heartbeat_seconds=float(env.get("REELSTREAM_HEARTBEAT_SECONDS", "2")),
        )
