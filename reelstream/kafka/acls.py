"""Who may do what on the broker: one Kafka principal per service, and the ACLs it gets, generated from the
typed Topic contracts (schemas.topics) and the topic table of docs/architecture.md (who writes and who reads
each topic). Pure data: the local stack turns the grants into broker ACLs (devstack.kafka_principals), the
chart into Strimzi KafkaUsers (charts/reelstream/files/kafka_users.json, devstack.deploy), and the tests
assert the principal × topic × operation matrix on a real broker from the same grants.

Operations follow Kafka's: a reader gets READ and DESCRIBE on its topics, a writer WRITE and DESCRIBE (an
idempotent producer needs nothing more since Kafka 2.8); a consumer group READ; a Faust app ALL on the topics
named after its app id (table changelogs, its assignor topic) and READ on its group. No service uses
transactions (every stage is at-least-once with idempotent producers), so no transactional id is granted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from schemas.topics import (
    API_KEYS,
    COMMANDS,
    DEAD_LETTERS,
    IDEMPOTENCY,
    JOB_EVENTS,
    JOB_KEYS,
    JOB_STATUS,
    POOL_STATE,
    RENDER_DISPATCH,
    SCHEDULER_INBOX,
    TENANT_KEYS,
    TENANT_LIMIT_SETTINGS,
    TENANT_LIMITS,
    TENANTS,
    USAGE_EVENTS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_HEALTH,
    WEBHOOK_PINGS,
    WEBHOOK_REGISTRATIONS,
    WEBHOOK_RESENDS,
    WEBHOOK_SECRETS,
    Topic,
    retry_topic,
)

Resource = Literal["topic", "group"]
Pattern = Literal["literal", "prefixed"]
Operation = Literal["read", "write", "describe", "create", "all"]
# what a principal may do on the schema registry (devstack.registry, the chart's registry users): a writer
# registers schemas (every service registers its topics' schemas at start), a reader only resolves ids
RegistryRole = Literal["writer", "reader"]
KEDA_PRINCIPAL = "keda"  # the chart's autoscaler, which reads consumer lag
TOPIC_NAME_PREFIX = "reelstream."  # every declared topic's name starts so (schemas.topics)
REGISTRY_PRINCIPAL = "schema-registry"  # Apicurio's own Kafka user (its kafkasql storage, in the chart)
KAFKASQL_TOPIC_PREFIX = "kafkasql-"  # Apicurio's journal and snapshots topics
KAFKASQL_GROUP_PREFIX = "apicurio-registry-"  # each registry replica reads the journal in a group of its own

# the retry tiers are named by their delay, and a schedule may name tiers not declared: a prefix covers them
RETRY_TIER_PREFIX = retry_topic(0).name.removesuffix("0s")


@dataclass(frozen=True, order=True)
class Grant:
    """One ACL: `principal` may `operation` on the `resource` named `name` (or every name it prefixes)."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def as_strimzi(self) -> dict[str, Any]:
        """The ACL rule of a Strimzi KafkaUser (`spec.authorization.acls[]`)."""
        return {
            "resource": {"type": self.resource, "name": self.name, "patternType": self.pattern},
            "operations": [self.operation.capitalize()],
        }


@dataclass(frozen=True)
class Access:
    """What one principal reads and writes (topics, or topic name prefixes), its consumer group prefix and
    the Faust app id whose internal topics it owns."""

    principal: str
    reads: tuple[Topic[Any], ...] = ()
    writes: tuple[Topic[Any], ...] = ()
    read_prefixes: tuple[str, ...] = ()  # topics named with a prefix, read and written (retry tiers)
    group_prefix: str | None = None
    faust_app: str | None = None
    creates_prefix: str | None = None  # topics it creates itself (the notifier's retry tiers)
    describes: tuple[str, ...] = ()  # prefixes of groups and topics it only describes (lag readers)
    registry_role: RegistryRole | None = None  # its user on the schema registry (None: it has none)

    def grants(self) -> list[Grant]:
        p = self.principal
        out: set[Grant] = set()
        for topic in self.reads:
            out |= {Grant(p, "topic", topic.name, "literal", op) for op in ("read", "describe")}
        for topic in self.writes:
            out |= {Grant(p, "topic", topic.name, "literal", op) for op in ("write", "describe")}
        for prefix in self.read_prefixes:
            out |= {Grant(p, "topic", prefix, "prefixed", op) for op in ("read", "write", "describe")}
        if self.creates_prefix is not None:
            out.add(Grant(p, "topic", self.creates_prefix, "prefixed", "create"))
        if self.group_prefix is not None:
            out.add(Grant(p, "group", self.group_prefix, "prefixed", "read"))
        if self.faust_app is not None:
            out.add(Grant(p, "topic", f"{self.faust_app}-", "prefixed", "all"))
            out.add(Grant(p, "group", self.faust_app, "literal", "read"))
        for prefix in self.describes:
            out.add(Grant(p, "group", prefix, "prefixed", "describe"))
            out.add(Grant(p, "topic", prefix, "prefixed", "describe"))
        return sorted(out)


def retention_group(app_prefix: str = "reelstream") -> str:
    """The consumer group whose member assigned partition 0 of `jobs.status` runs ingest's retention sweep
    (`reelstream.kafka.lease`); it reads nothing and commits nothing."""
    return f"{app_prefix}-ingest-retention"


def service_access(app_prefix: str = "reelstream") -> tuple[Access, ...]:
    """Every principal and its access: the architecture's topic table, as code. `app_prefix`:
    REELSTREAM_APP_PREFIX (Faust app ids and consumer groups are `<prefix>-<service>`)."""
    return (
        Access(
            "ingest",
            reads=(
                JOB_STATUS,
                WEBHOOK_SECRETS,
                WEBHOOK_REGISTRATIONS,
                IDEMPOTENCY,
                TENANT_LIMITS,
                API_KEYS,
                TENANT_KEYS,
                JOB_KEYS,  # a job's prompt and webhook URL shown by the API (reelstream.crypto.job_fields)
                USAGE_EVENTS,  # GET /v1/usage
                TENANTS,  # the tenant registry
                WEBHOOK_DELIVERIES,  # the delivery log of tenants' endpoints (ingest.delivery_log_view)
                POOL_STATE,  # the pools' snapshots (GET /v1/admin/pool)
            ),
            writes=(
                COMMANDS,
                JOB_STATUS,  # a deleted job's tombstone (ingest.deletion)
                JOB_EVENTS,  # job.deleted
                TENANT_KEYS,  # the tenants' data keys (reelstream.crypto)
                JOB_KEYS,  # each submission's job key; tombstones when a job is deleted
                TENANTS,  # the operator's tenant records
                WEBHOOK_ENDPOINTS,
                WEBHOOK_SECRETS,
                WEBHOOK_REGISTRATIONS,
                WEBHOOK_PINGS,
                WEBHOOK_RESENDS,
                IDEMPOTENCY,
                TENANT_LIMIT_SETTINGS,
                API_KEYS,
                DEAD_LETTERS["ingest"],
            ),
            group_prefix=retention_group(app_prefix),  # the retention sweep's lease (one replica sweeps)
            registry_role="writer",
        ),
        Access(
            "admission",
            # the keys: it validates and estimates from the prompt in clear, and seals a Kafka client's
            # plaintext submission under a job key of its own (and the tenant's first data key, if need be)
            reads=(COMMANDS, TENANT_LIMIT_SETTINGS, TENANT_KEYS, JOB_KEYS),
            writes=(
                SCHEDULER_INBOX,
                JOB_STATUS,
                JOB_EVENTS,
                TENANT_LIMITS,
                TENANT_KEYS,
                JOB_KEYS,
                DEAD_LETTERS["admission"],
            ),
            faust_app=f"{app_prefix}-admission",
            registry_role="writer",
        ),
        Access(
            "scheduler",
            reads=(SCHEDULER_INBOX,),
            writes=(
                SCHEDULER_INBOX,
                RENDER_DISPATCH,
                JOB_STATUS,
                JOB_EVENTS,
                COMMANDS,
                POOL_STATE,  # each pool's snapshot (streams.pool_snapshot)
                DEAD_LETTERS["scheduler"],
            ),
            faust_app=f"{app_prefix}-scheduler",
            describes=(app_prefix,),  # the lag exporter reads every group's offsets and its topics' ends
            registry_role="writer",
        ),
        Access(
            "notifier",
            reads=(
                JOB_EVENTS,
                WEBHOOK_ENDPOINTS,
                WEBHOOK_HEALTH,  # every replica's endpoint states (reelstream.webhooks.endpoint_health)
                WEBHOOK_SECRETS,
                WEBHOOK_REGISTRATIONS,
                WEBHOOK_PINGS,
                WEBHOOK_RESENDS,
                TENANT_KEYS,
                JOB_KEYS,  # a job's own webhook URL, and the prompt in its webhook's body
            ),
            writes=(WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, WEBHOOK_HEALTH, DEAD_LETTERS["notifier"]),
            read_prefixes=(RETRY_TIER_PREFIX,),
            creates_prefix=RETRY_TIER_PREFIX,
            group_prefix=f"{app_prefix}-notifier-",  # the retry tiers' group
            faust_app=f"{app_prefix}-notifier",
            registry_role="writer",
        ),
        Access(
            "worker",
            reads=(RENDER_DISPATCH, TENANT_KEYS, JOB_KEYS),  # the prompt it renders, opened once per job
            writes=(SCHEDULER_INBOX, USAGE_EVENTS, DEAD_LETTERS["worker"]),
            group_prefix=f"{app_prefix}-worker-",  # a group per slot, for its offsets only
            registry_role="writer",
        ),
        Access(
            "internal-team",  # the read-only example: what internal teams consume (README)
            reads=(JOB_EVENTS, JOB_STATUS, WEBHOOK_DELIVERIES, USAGE_EVENTS),  # usage: a billing team
            group_prefix="internal-team",
            registry_role="reader",
        ),
        Access(
            KEDA_PRINCIPAL,  # KEDA's Kafka-lag triggers (the chart): the groups' offsets and the topics' ends
            describes=(app_prefix, TOPIC_NAME_PREFIX),
        ),
        Access(
            REGISTRY_PRINCIPAL,  # Apicurio's kafkasql storage: its journal and snapshots, topics it makes
            read_prefixes=(KAFKASQL_TOPIC_PREFIX,),
            creates_prefix=KAFKASQL_TOPIC_PREFIX,
            group_prefix=KAFKASQL_GROUP_PREFIX,
        ),
    )


PRINCIPALS = tuple(a.principal for a in service_access())
# the schema registry's users and their roles (devstack.registry, files/registry_users.json)
REGISTRY_ROLES: dict[str, RegistryRole] = {
    a.principal: a.registry_role for a in service_access() if a.registry_role is not None
}


def all_grants(access: Iterable[Access] | None = None) -> list[Grant]:
    """Every ACL of every principal."""
    return sorted(g for a in (service_access() if access is None else access) for g in a.grants())


def allows(grants: Iterable[Grant], principal: str, resource: Resource, name: str, operation: str) -> bool:
    """Whether the grants let `principal` do `operation` on a resource named `name`, as Kafka's
    authorizer decides it: a literal or prefix match, ALL covering every operation, READ and WRITE
    implying DESCRIBE."""
    implied = {"describe": {"describe", "read", "write", "all"}}.get(operation, {operation, "all"})
    return any(
        g.principal == principal
        and g.resource == resource
        and g.operation in implied
        and (g.name == name if g.pattern == "literal" else name.startswith(g.name))
        for g in grants
    )
