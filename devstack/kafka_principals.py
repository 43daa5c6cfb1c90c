"""The secured local broker's principals: one SCRAM user per service (reelstream.kafka.acls), its password
kept in the broker's TLS folder, and exactly the ACLs generated for it. Idempotent: run at every start."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from devstack.kafka_tls import BrokerTls
from reelstream.errors import ReelstreamError
from reelstream.kafka.acls import PRINCIPALS, Grant, all_grants, service_access
from reelstream.kafka.security import KafkaSecurity

logger = logging.getLogger(__name__)

SCRAM_ITERATIONS = 8192
TIMEOUT_S = 30.0

_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERN = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
_OPERATION = {
    "read": AclOperation.READ,
    "write": AclOperation.WRITE,
    "describe": AclOperation.DESCRIBE,
    "create": AclOperation.CREATE,
    "all": AclOperation.ALL,
}


class PrincipalSetupError(ReelstreamError):
    """The broker refused to create a user or an ACL."""

    code = "kafka_principals"


def admin_client(bootstrap: str, security: KafkaSecurity) -> AdminClient:
    """A librdkafka admin client whose refused credentials show up as an error (error_cb), not a hang."""
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, **security.librdkafka()}
    config["error_cb"] = _log_client_error
    return AdminClient(config, logger=logging.getLogger("devstack.librdkafka"))


def _log_client_error(error: KafkaError) -> None:
    logger.warning("kafka admin client: %s", error.str())


def acl_binding(grant: Grant) -> AclBinding:
    return AclBinding(
        _RESOURCE[grant.resource],
        grant.name,
        _PATTERN[grant.pattern],
        f"User:{grant.principal}",
        "*",
        _OPERATION[grant.operation],
        AclPermissionType.ALLOW,
    )


def principal_credentials(tls: BrokerTls, admin: KafkaSecurity) -> dict[str, KafkaSecurity]:
    """Each service principal's credentials (passwords made on first use, kept in the TLS folder)."""
    return {name: admin.as_user(name, tls.secret(f"user-{name}")) for name in PRINCIPALS}


def service_security(endpoints_security: KafkaSecurity, principal: str) -> KafkaSecurity:
    """The credentials a service started on the local stack runs with: its own principal's when the stack's
    secured broker made one (its password lies in the TLS folder beside the CA), else the stack's."""
    if not endpoints_security.secured or endpoints_security.ca_file is None:
        return endpoints_security
    tls = BrokerTls(Path(endpoints_security.ca_file).parent)
    if principal not in PRINCIPALS or not tls.has_secret(f"user-{principal}"):
        return endpoints_security
    return endpoints_security.as_user(principal, tls.secret(f"user-{principal}"))


def grant_app_prefix(bootstrap: str, endpoints_security: KafkaSecurity, app_prefix: str) -> None:
    """The ACLs of the services' groups and Faust topics under another REELSTREAM_APP_PREFIX (the tests run
    each pipeline under a prefix of its own), on a local secured broker; `endpoints_security`: its admin."""
    if service_security(endpoints_security, PRINCIPALS[0]) is endpoints_security:
        return  # not a local secured broker: its ACLs are not ours to make
    bindings = [acl_binding(g) for g in all_grants(service_access(app_prefix))]
    client = admin_client(bootstrap, endpoints_security)  # kept until every future is done
    _all_done(client.create_acls(bindings, request_timeout=TIMEOUT_S), "ACLs")


def create_principals(
    bootstrap: str,
    admin: KafkaSecurity,
    credentials: Mapping[str, KafkaSecurity],
    grants: Iterable[Grant] = (),
) -> None:
    """Upsert every principal's SCRAM user and create its ACLs (creating an existing ACL is a no-op)."""
    client = admin_client(bootstrap, admin)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            name,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            _password(security).encode(),
        )
        for name, security in credentials.items()
    ]
    _all_done(client.alter_user_scram_credentials(upserts, request_timeout=TIMEOUT_S), "SCRAM users")
    bindings = [acl_binding(g) for g in (grants or all_grants())]
    _all_done(client.create_acls(bindings, request_timeout=TIMEOUT_S), "ACLs")
    logger.info("kafka principals ready", extra={"users": len(upserts), "acls": len(bindings)})


def _password(security: KafkaSecurity) -> str:
    return security.password.get_secret_value() if security.password is not None else ""


def _all_done(futures: Mapping[Any, Future[Any]], what: str) -> None:
    for key, future in futures.items():
        try:
            future.result(timeout=TIMEOUT_S)
        except (KafkaException, TimeoutError) as exc:
            raise PrincipalSetupError(f"creating {what} failed at {key}: {exc!r}") from exc
