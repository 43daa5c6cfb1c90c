"""How a client proves who it is to the schema registry: nothing (an open registry on plain HTTP), or HTTP
basic credentials over HTTPS, checked against a CA file, and the same credentials spelled for each client the
project uses (confluent-kafka's schema-registry clients, httpx).

Why basic over HTTPS and not client certificates: Apicurio Registry 3.3 is a Quarkus application whose
`quarkus.http.ssl.client-auth` is fixed when Apicurio is built (NONE in its release), so a released Apicurio
cannot require client certificates; Quarkus' embedded users and its HTTP permission policies are read at run
time, so the registry can both authenticate each service and authorize writes by role (devstack.registry,
the chart's registry.yaml). The password is a `SecretStr`: its repr and str never show it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from reelstream.errors import ConfigurationError


class RegistryAuthError(ConfigurationError):
    """The schema registry credentials are incomplete (a user without a password, or the reverse)."""

    code = "registry_auth"


@dataclass(frozen=True)
class RegistryAuth:
    """A registry client's credentials: a user and its password (both or neither) and the PEM file of the CA
    that signed an https registry's certificate (None: the system's trust store)."""

    username: str | None = None
    password: SecretStr | None = None
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if bool(self.username) != bool(self.password):
            missing = "PASSWORD" if self.username else "USERNAME"
            raise RegistryAuthError(
                f"REELSTREAM_SCHEMA_REGISTRY_{missing} is not set (the user and password go together)"
            )

    @property
    def authenticated(self) -> bool:
        return self.username is not None

    def as_user(self, username: str, password: str) -> RegistryAuth:
        """The same CA, another registry user."""
        return RegistryAuth(username, SecretStr(password), self.ca_file)

    def _password(self) -> str:
        return self.password.get_secret_value() if self.password is not None else ""

    def confluent(self) -> dict[str, Any]:
        """Configuration entries for confluent-kafka's SchemaRegistryClient and AsyncSchemaRegistryClient."""
        config: dict[str, Any] = {}
        if self.authenticated:
            config["basic.auth.user.info"] = f"{self.username}:{self._password()}"
        if self.ca_file:
            config["ssl.ca.location"] = self.ca_file
        return config

    def httpx(self) -> dict[str, Any]:
        """Keyword arguments for httpx.Client / AsyncClient / httpx.get."""
        kwargs: dict[str, Any] = {}
        if self.authenticated:
            kwargs["auth"] = (self.username or "", self._password())
        if self.ca_file:
            kwargs["verify"] = ssl.create_default_context(cafile=self.ca_file)
        return kwargs

    def as_env(self) -> dict[str, str]:
        """The REELSTREAM_SCHEMA_REGISTRY_* variables that give a service these credentials."""
        env: dict[str, str] = {}
        if self.authenticated:
            env["REELSTREAM_SCHEMA_REGISTRY_USERNAME"] = self.username or ""
            env["REELSTREAM_SCHEMA_REGISTRY_PASSWORD"] = self._password()
        if self.ca_file:
            env["REELSTREAM_SCHEMA_REGISTRY_CA_FILE"] = self.ca_file
        return env

    def to_record(self) -> dict[str, str | None]:
        """For the local stack's state file (the dev stack's own admin password, never a production one)."""
        return {"username": self.username, "password": self._password() or None, "ca_file": self.ca_file}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RegistryAuth:
        password = record.get("password")
        return cls(record.get("username"), SecretStr(password) if password else None, record.get("ca_file"))


OPEN_REGISTRY = RegistryAuth()
