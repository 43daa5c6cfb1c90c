"""How a client proves who it is to the broker: PLAINTEXT (a broker without authentication) or SASL
SCRAM-SHA-512 over TLS, and the same credentials spelled for each client library the project uses
(aiokafka, librdkafka through confluent-kafka, faust-streaming).

The password is a `SecretStr`: its repr and str never show it, so a settings object may be logged."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from reelstream.errors import ConfigurationError

Protocol = Literal["PLAINTEXT", "SASL_SSL"]
MECHANISM = "SCRAM-SHA-512"
PROTOCOLS: tuple[Protocol, ...] = ("PLAINTEXT", "SASL_SSL")


class KafkaSecurityError(ConfigurationError):
    """The Kafka credentials are incomplete (SASL_SSL without a user, password or CA file)."""

    code = "kafka_security"


@dataclass(frozen=True)
class KafkaSecurity:
    """A client's credentials: `PLAINTEXT`, or `SASL_SSL` with a SCRAM user, its password and the CA file
    that signed the broker's certificate."""

    protocol: Protocol = "PLAINTEXT"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.protocol == "SASL_SSL":
            missing = [n for n in ("username", "password", "ca_file") if not getattr(self, n)]
            if missing:
                names = ", ".join(f"REELSTREAM_KAFKA_{n.upper()}" for n in missing)
                raise KafkaSecurityError(f"REELSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs {names}")

    @property
    def secured(self) -> bool:
        return self.protocol == "SASL_SSL"

    def as_user(self, username: str, password: str, ca_file: str | None = None) -> KafkaSecurity:
        """SASL_SSL as another principal: the same CA file unless `ca_file` is given."""
        return KafkaSecurity("SASL_SSL", username, SecretStr(password), ca_file or self.ca_file)

    def _password(self) -> str:
        return self.password.get_secret_value() if self.password is not None else ""

    def ssl_context(self) -> ssl.SSLContext:
        """TLS that trusts only the CA file and checks the broker's host name (the cert has the IP SAN)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        if not self.secured:
            return {}
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self._password(),
            "ssl_context": self.ssl_context(),
        }

    def librdkafka(self) -> dict[str, Any]:
        """Configuration entries for confluent-kafka's Producer, Consumer and AdminClient."""
        if not self.secured:
            return {}
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": MECHANISM,
            "sasl.username": self.username,
            "sasl.password": self._password(),
            "ssl.ca.location": self.ca_file,
        }

    def faust(self) -> dict[str, Any]:
        """Settings for faust.App: SASL credentials with their TLS context (without one, faust would fall
        back to SASL_PLAINTEXT)."""
        if not self.secured:
            return {}
        import faust  # the stream stages' dependency only

        credentials = faust.SASLCredentials(
            username=self.username,
            password=self._password(),
            mechanism=MECHANISM,
            ssl_context=self.ssl_context(),
        )
        return {"broker_credentials": credentials}

    def as_env(self) -> dict[str, str]:
        """The REELSTREAM_KAFKA_* variables that give a service these credentials."""
        env: dict[str, str] = {"REELSTREAM_KAFKA_SECURITY_PROTOCOL": self.protocol}
        if self.secured:
            env["REELSTREAM_KAFKA_USERNAME"] = self.username or ""
            env["REELSTREAM_KAFKA_PASSWORD"] = self._password()
            env["REELSTREAM_KAFKA_CA_FILE"] = self.ca_file or ""
        return env

    def to_record(self) -> dict[str, str | None]:
        """For the local stack's state file (the dev stack's own admin password, never a production one)."""
        return {
            "protocol": self.protocol,
            "username": self.username,
            "password": self._password() or None,
            "ca_file": self.ca_file,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> KafkaSecurity:
        password = record.get("password")
        return cls(
            record.get("protocol", "PLAINTEXT"),
            record.get("username"),
            SecretStr(password) if password else None,
            record.get("ca_file"),
        )


PLAINTEXT = KafkaSecurity()
