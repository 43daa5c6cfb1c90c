"""Where the infrastructure is: the contract every service (and the local dev stack) is configured with."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Endpoints:
    """Where the infrastructure is; every service of reelstream is configured from these."""

    kafka_bootstrap: str
    schema_registry_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str

    def as_env(self) -> dict[str, str]:
        return {f"REELSTREAM_{k.upper()}": v for k, v in asdict(self).items()}
