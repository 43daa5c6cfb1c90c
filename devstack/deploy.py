"""Deployment helpers: the chart's topic declarations (generated from schemas.topics) and a pinned helm.

The Helm chart cannot import Python, so `charts/reelstream/files/topics.json` is generated from ALL_TOPICS
(`python -m devstack.deploy topics > charts/reelstream/files/topics.json`) and the chart renders one
Strimzi KafkaTopic per entry. tests/deploy checks the file against the code and the rendered topics against
ALL_TOPICS, so partitions and compaction cannot drift. Likewise `files/kafka_users.json` holds one KafkaUser
per service principal with the ACLs of reelstream.kafka.acls (`python -m devstack.deploy users`), and
`files/registry_users.json` the schema registry's users and their roles (`... registry-users`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from devstack.fetch import go_binary
from devstack.storage_users import policies_json
from reelstream.config import load_config
from reelstream.kafka.acls import REGISTRY_ROLES, service_access
from schemas.topics import ALL_TOPICS, Topic

HELM_MODULE = "helm.sh/helm/v3/cmd/helm"
HELM_VERSION = "v3.22.0"
TOPICS_FILE = Path("charts") / "reelstream" / "files" / "topics.json"
# each service's object storage policy (devstack.storage_users), the bucket a placeholder the chart fills in
POLICIES_FILE = Path("charts") / "reelstream" / "files" / "storage-policies.json"
POLICY_BUCKET = "BUCKET"
USERS_FILE = Path("charts") / "reelstream" / "files" / "kafka_users.json"
REGISTRY_USERS_FILE = Path("charts") / "reelstream" / "files" / "registry_users.json"
APP_PREFIX_TOKEN = "@APP_PREFIX@"  # noqa: S105 - not a secret; the chart puts pipeline.appPrefix in its place


def topic_declarations(topics: Iterable[Topic[Any]] = ALL_TOPICS) -> list[dict[str, Any]]:
    """What the chart needs to know of each topic: its name, partition count and topic config."""
    return [{"name": t.name, "partitions": t.partitions, "config": t.config()} for t in topics]


def topics_json(topics: Iterable[Topic[Any]] = ALL_TOPICS) -> str:
    return json.dumps({"topics": topic_declarations(topics)}, indent=2, sort_keys=True) + "\n"


def kafka_users_json() -> str:
    """One Strimzi KafkaUser per service principal with its generated ACLs (reelstream.kafka.acls), the
    app prefix left as a token for the chart to fill in."""
    users = [
        {"name": a.principal, "acls": [g.as_strimzi() for g in a.grants()]}
        for a in service_access(APP_PREFIX_TOKEN)
    ]
    return json.dumps({"users": users}, indent=2, sort_keys=True) + "\n"


def registry_users_json() -> str:
    """The schema registry's users (one per principal that has a registry role) and their roles."""
    users = [{"name": name, "role": role} for name, role in REGISTRY_ROLES.items()]
    return json.dumps({"users": users}, indent=2, sort_keys=True) + "\n"


def fetch_helm(cache_dir: Path, env: Mapping[str, str]) -> Path:
    """REELSTREAM_HELM_BIN, else a `helm` on PATH, else `go install` of the pinned helm into the cache."""
    return go_binary("helm", HELM_MODULE, HELM_VERSION, cache_dir, env, load_config(env).values.helm_bin)


def main(argv: list[str]) -> int:
    if argv == ["topics"]:
        sys.stdout.write(topics_json())
        return 0
    if argv == ["users"]:
        sys.stdout.write(kafka_users_json())
        return 0
    if argv == ["registry-users"]:
        sys.stdout.write(registry_users_json())
        return 0
    if argv == ["storage-policies"]:
        sys.stdout.write(policies_json(POLICY_BUCKET) + "\n")
        return 0
    print(f"usage: python -m devstack.deploy topics > {TOPICS_FILE}", file=sys.stderr)
    print(f"       python -m devstack.deploy users > {USERS_FILE}", file=sys.stderr)
    print(f"       python -m devstack.deploy registry-users > {REGISTRY_USERS_FILE}", file=sys.stderr)
    print(f"       python -m devstack.deploy storage-policies > {POLICIES_FILE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
