"""The compact string forms of complex settings (REELSTREAM_API_KEYS, _TENANT_LIMITS, _TENANT_WEIGHTS, ...)
and their parsers: each raises ConfigurationError naming the variable and the expected form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reelstream.errors import ConfigurationError

ROLES = frozenset({"submitter", "viewer", "admin", "operator"})  # operator: the platform plane
_KEYS_FORMAT = "REELSTREAM_API_KEYS must look like key1=tenant-a,key2=tenant-b:viewer,key3=ops:operator"


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


MAX_GANG = 64  # slots one job may take at once (a tenant's `gang` limit)


@dataclass(frozen=True)
class TenantLimit:
    """A tenant's submissions: `rate` a second on average, `burst` at once, at most `queued` in the queue,
    at most `running` rendering at once (None: no cap of its own); each job on up to `gang` slots at once for
    low latency (a power of two; None: gangs only from spare slots, streams.gang)."""

    rate: float = 1.0
    burst: float = 10.0
    queued: int = 1000
    running: int | None = None
    gang: int | None = None

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
        if self.gang is not None and (not 1 <= self.gang <= MAX_GANG or self.gang & (self.gang - 1)):
            found["gang"] = f"gang must be a power of two from 1 to {MAX_GANG} (or absent: spare slots only)"
        return found


@dataclass(frozen=True)
class TenantLimits:
    """Limits per tenant id; `default` for every tenant not named (the `*` entry)."""

    tenants: Mapping[str, TenantLimit] = field(default_factory=dict)
    default: TenantLimit = field(default_factory=TenantLimit)

    def of(self, tenant_id: str) -> TenantLimit:
        return self.tenants.get(tenant_id, self.default)


_LIMITS_FORMAT = (
    "REELSTREAM_TENANT_LIMITS must look like tenant-a=rate:0.5,burst:5,queued:100,running:2,gang:4;*=rate:1"
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
            if not colon or name not in ("rate", "burst", "queued", "running", "gang"):
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
            gang=int(values["gang"]) if "gang" in values else default.gang,
        )
        if limit.violations():
            raise ConfigurationError(f"{_LIMITS_FORMAT} ({', '.join(limit.violations().values())})")
        if tenant.strip() == "*":
            default = limit
        else:
            tenants[tenant.strip()] = limit
    return TenantLimits(tenants, default)


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


def parse_seconds_list(spec: str, name: str) -> tuple[float, ...]:
    """`0,5,300` → (0.0, 5.0, 300.0)."""
    try:
        return tuple(float(part) for part in spec.split(",") if part.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be comma-separated seconds, e.g. 0,5,300") from None


def parse_names(spec: str) -> tuple[str, ...]:
    """`a, b,,c` → ("a", "b", "c"): a comma list of ids (pools, models); blanks are dropped."""
    return tuple(part.strip() for part in spec.split(",") if part.strip())
