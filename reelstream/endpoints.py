"""Where the infrastructure is: the contract every service (and the local dev stack) is configured with."""

from __future__ import annotations

from dataclasses import dataclass, fields

from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.registry_auth import OPEN_REGISTRY, RegistryAuth

_CREDENTIALS = ("kafka_security", "registry_auth")


@dataclass(frozen=True)
class Endpoints:
    """Where the infrastructure is; every service of reelstream is configured from these. `kafka_security`:
    the credentials this process's Kafka clients present (PLAINTEXT: none); `registry_auth`: those its schema
    registry clients present (OPEN_REGISTRY: none)."""

    kafka_bootstrap: str
    schema_registry_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str
    kafka_security: KafkaSecurity = PLAINTEXT
    registry_auth: RegistryAuth = OPEN_REGISTRY

    def as_env(self) -> dict[str, str]:
        env = {
            f"REELSTREAM_{f.name.upper()}": getattr(self, f.name)
            for f in fields(self)
            if f.name not in _CREDENTIALS
        }
        return {**env, **self.kafka_security.as_env(), **self.registry_auth.as_env()}

    def to_record(self) -> dict[str, object]:
        """For a state file: every field, the credentials as a plain mapping."""
        record: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        record["kafka_security"] = self.kafka_security.to_record()
        record["registry_auth"] = self.registry_auth.to_record()
        return record

    @classmethod
    def from_record(cls, record: dict[str, object]) -> Endpoints:
        values = dict(record)
        security = values.pop("kafka_security", None)
        kafka_security = KafkaSecurity.from_record(security) if isinstance(security, dict) else PLAINTEXT
        auth = values.pop("registry_auth", None)
        registry_auth = RegistryAuth.from_record(auth) if isinstance(auth, dict) else OPEN_REGISTRY
        return cls(**values, kafka_security=kafka_security, registry_auth=registry_auth)  # type: ignore[arg-type]
