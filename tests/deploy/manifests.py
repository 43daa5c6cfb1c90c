"""Small readers over rendered manifests (lists of dicts) shared by the chart tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Render = Callable[..., list[Obj]]
WORKLOADS = {"Deployment", "StatefulSet", "Job"}
PRODUCTION = "production-8gpu-values.yaml"
# The pipeline's workloads (by their component label) and the Kafka / registry principal each connects as.
PRINCIPAL_OF = {
    "ingest": "ingest",
    "admission": "admission",
    "scheduler": "scheduler",
    "notifier": "notifier",
    "gpu-worker": "worker",
}


def of_kind(manifest: list[Obj], kind: str) -> list[Obj]:
    return [o for o in manifest if o["kind"] == kind]


def named(manifest: list[Obj], kind: str, suffix: str) -> Obj:
    found = [o for o in of_kind(manifest, kind) if o["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, (
        f"expected one {kind} named *{suffix}, found {[o['metadata']['name'] for o in found]}"
    )
    return found[0]


def workloads(manifest: list[Obj]) -> Iterator[Obj]:
    return (o for o in manifest if o["kind"] in WORKLOADS)


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels + In/NotIn/Exists expressions) selects these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def container_env(container: Obj, config: dict[str, str], secret_values: dict[str, str]) -> dict[str, str]:
    """The environment a container would see: envFrom ConfigMap data, then env (secrets by `name/key`)."""
    env = dict(config) if container.get("envFrom") else {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret_values.get(f"{ref['name']}/{ref['key']}", "secret-value")
        elif "fieldRef" in item.get("valueFrom", {}):
            env[item["name"]] = "0"
    return env


@dataclass(frozen=True)
class ServiceContainer:
    """A pipeline workload's Kafka-connected container: its principal, the container and its environment."""

    principal: str
    container: Obj
    env: dict[str, str]

    def secret_ref(self, variable: str) -> Obj:
        """The secretKeyRef an environment variable is taken from (exactly one such variable)."""
        (item,) = [e for e in self.container["env"] if e["name"] == variable]
        ref: Obj = item["valueFrom"]["secretKeyRef"]
        return ref

    def mounted(self, file_variable: str) -> bool:
        """Whether the folder of the file named by this environment variable is a volume mount."""
        mounts = {m["mountPath"] for m in self.container["volumeMounts"]}
        return self.env[file_variable].rsplit("/", 1)[0] in mounts


def service_containers(manifest: list[Obj]) -> Iterator[ServiceContainer]:
    """Each pipeline service's Kafka-connected container (one per workload), with the env it would see."""
    config = named(manifest, "ConfigMap", "-env")["data"]
    for workload in workloads(manifest):
        principal = PRINCIPAL_OF.get(pod_labels(workload)["app.kubernetes.io/component"])
        if principal is None:
            continue
        (container,) = [
            c for c in containers(workload) if "REELSTREAM_KAFKA_BOOTSTRAP" in container_env(c, config, {})
        ]
        yield ServiceContainer(principal, container, container_env(container, config, {}))
