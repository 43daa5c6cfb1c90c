"""The Helm chart: lint and render every CI scenario, validate every object, check what production needs."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml

from devstack.deploy import POLICIES_FILE, POLICY_BUCKET, TOPICS_FILE, topics_json
from devstack.storage_users import policies_json
from reelstream.settings import (
    IngestSettings,
    NotifierSettings,
    PipelineSettings,
    SchedulerSettings,
    WorkerSettings,
)
from schemas.topics import ALL_TOPICS, RENDER_DISPATCH
from tests.deploy.conftest import CHART, KUBE_VERSION, REPO, SCENARIOS
from tests.deploy.manifests import (
    container_env,
    containers,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    selects,
    workloads,
)

CRD_GROUPS = ("kafka.strimzi.io/", "keda.sh/", "monitoring.coreos.com/")
Render = Callable[..., list[dict[str, Any]]]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_passes(run_helm: Callable[..., Any], scenario: str) -> None:
    result = run_helm(
        "lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION, "-f", str(CHART / "ci" / scenario)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_the_four_scenarios() -> None:
    assert set(SCENARIOS) >= {
        "minimal-values.yaml",
        "production-8gpu-values.yaml",
        "external-values.yaml",
        "autoscaling-off-values.yaml",
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_builtin_objects_match_the_kubernetes_openapi_schemas(render: Render, scenario: str) -> None:
    checked = 0
    for obj in render(scenario):
        if obj["apiVersion"].startswith(CRD_GROUPS):
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        checked += 1
    assert checked >= 10


def test_the_validator_rejects_an_unknown_field(render: Render) -> None:
    deployment = json.loads(json.dumps(named(render("minimal-values.yaml"), "Deployment", "-ingest")))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_has_resources_and_a_pinned_image(render: Render, scenario: str) -> None:
    for workload in workloads(render(scenario)):
        for c in containers(workload):
            where = f"{workload['metadata']['name']}/{c['name']}"
            assert c["resources"].get("requests"), where
            assert c["resources"].get("limits", {}).get("memory"), where
            image = c["image"]
            repo, _, tag = image.rpartition(":")
            assert repo, where
            assert tag, f"{where}: image {image} has no tag"
            assert "/" not in tag, f"{where}: image {image} has no tag"
            assert tag != "latest", where


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_long_running_container_has_probes(render: Render, scenario: str) -> None:
    for workload in workloads(render(scenario)):
        if workload["kind"] == "Job":
            continue  # runs to completion
        for c in pod_spec(workload)["containers"]:
            where = f"{workload['metadata']['name']}/{c['name']}"
            assert "livenessProbe" in c, where
            assert "readinessProbe" in c, where


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_security_contexts_everywhere(render: Render, scenario: str) -> None:
    for workload in workloads(render(scenario)):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        for c in containers(workload):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"] for m in c["volumeMounts"]}
            assert "/tmp" in mounts, "a writable /tmp (Faust's data dir)"  # noqa: S108


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secrets_are_referenced_never_inlined(render: Render, scenario: str) -> None:
    manifest = render(scenario)
    assert not of_kind(manifest, "Secret")
    sensitive = {
        "REELSTREAM_API_KEYS",
        "REELSTREAM_S3_ACCESS_KEY",
        "REELSTREAM_S3_SECRET_KEY",
    }
    for workload in workloads(manifest):
        for c in containers(workload):
            for item in c.get("env", []):
                if item["name"] in sensitive:
                    assert "secretKeyRef" in item["valueFrom"], item
    for cm in of_kind(manifest, "ConfigMap"):
        assert not sensitive & set(cm.get("data", {}))


def _service_envs(manifest: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    config = named(manifest, "ConfigMap", "-env")["data"]
    secrets = {
        "reelstream-api-keys/REELSTREAM_API_KEYS": "key1=tenant-a",
    }
    envs = {}
    for workload in workloads(manifest):
        component = pod_labels(workload)["app.kubernetes.io/component"]
        envs[component] = container_env(pod_spec(workload)["containers"][0], config, secrets)
    return envs


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_service_gets_every_setting_it_reads(render: Render, scenario: str) -> None:
    """The services' own settings classes accept the environment the chart gives them."""
    envs = _service_envs(render(scenario))
    ingest = IngestSettings.from_env(envs["ingest"])
    assert ingest.host == "0.0.0.0"  # noqa: S104
    assert ingest.api_keys
    for name in ("admission", "scheduler"):
        assert PipelineSettings.from_env(envs[name]).pools == ("default",)
    assert SchedulerSettings.from_env(envs["scheduler"]).instance_id  # static group membership
    assert "REELSTREAM_SCHEDULER_INSTANCE_ID" not in envs["admission"]
    NotifierSettings.from_env(envs["notifier"])
    worker = WorkerSettings.from_env(envs["gpu-worker"], slot=0)
    if worker.renderer == "mochi-1":
        assert worker.device == "cuda"
        assert envs["gpu-worker"]["REELSTREAM_MODEL_DIR"].startswith("/models")
    for env in envs.values():
        if "REELSTREAM_KAFKA_BOOTSTRAP" in env:
            assert env["REELSTREAM_SCHEMA_REGISTRY_URL"].endswith("/apis/ccompat/v7")


def test_ingest_accepts_oidc_jwts_only_when_an_issuer_is_set(render: Render) -> None:
    assert IngestSettings.from_env(_service_envs(render())["ingest"]).oidc is None
    sets = (
        "ingest.oidc.issuer=https://idp.example/",
        "ingest.oidc.audience=reelstream",
        "ingest.oidc.jwksUrl=https://idp.example/jwks.json",
        "ingest.oidc.algorithms=ES256",
    )
    oidc = IngestSettings.from_env(_service_envs(render(sets=sets))["ingest"]).oidc
    assert oidc is not None
    assert (oidc.issuer, oidc.audience, oidc.algorithms) == ("https://idp.example/", "reelstream", ("ES256",))


def test_gpu_workers_are_a_statefulset_with_one_gpu_per_slot(render: Render) -> None:
    manifest = render("production-8gpu-values.yaml")
    sts = named(manifest, "StatefulSet", "-gpu-worker")
    spec = pod_spec(sts)
    (worker,) = spec["containers"]
    assert worker["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "--slot" in worker["command"][-1]
    assert "HOSTNAME##*-" in worker["command"][-1]
    slot_env = next(e for e in worker["env"] if e["name"] == "REELSTREAM_SLOT")
    assert slot_env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert spec["nodeSelector"]
    assert spec["tolerations"]
    assert spec["affinity"]["nodeAffinity"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert volumes["model"]["persistentVolumeClaim"]["readOnly"] is True
    mounts = {m["name"]: m for m in worker["volumeMounts"]}
    assert mounts["dshm"]["mountPath"] == "/dev/shm"  # noqa: S108
    assert mounts["model"]["readOnly"] is True
    assert spec["terminationGracePeriodSeconds"] >= 600
    assert "preStop" in worker["lifecycle"]
    assert "startupProbe" in worker
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    # compiled code is kept on the node (a hostPath shared by its slots), where the worker is told it is
    cache = volumes["compile-cache"]["hostPath"]
    assert cache["type"] == "DirectoryOrCreate"
    env = {e["name"]: e.get("value") for e in worker["env"]}
    assert env["REELSTREAM_COMPILE_CACHE_DIR"] == mounts["compile-cache"]["mountPath"]
    assert env["REELSTREAM_COMPILE"] == "auto"


def test_workers_never_outnumber_the_dispatch_partitions(run_helm: Callable[..., Any]) -> None:
    result = run_helm(
        "template", "rs", str(CHART), "--kube-version", KUBE_VERSION,
        "-f", str(CHART / "ci" / "autoscaling-off-values.yaml"),
        "--set", f"gpuWorker.replicas={RENDER_DISPATCH.partitions + 1}",
    )  # fmt: skip
    assert result.returncode != 0
    assert "partitions" in result.stderr


def test_the_chart_storage_policies_are_generated_from_the_code() -> None:
    assert (REPO / POLICIES_FILE).read_text() == policies_json(POLICY_BUCKET) + "\n", (
        f"regenerate it: python -m devstack.deploy storage-policies > {POLICIES_FILE}"
    )


def test_each_service_gets_its_own_storage_user_and_minio_gets_its_policies(render: Render) -> None:
    manifest = render()  # the defaults: MinIO in the chart
    users = {}
    for workload in workloads(manifest):
        component = pod_labels(workload)["app.kubernetes.io/component"]
        for c in containers(workload):
            refs = {
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in c.get("env", [])
                if e["name"].startswith("REELSTREAM_S3_")
            }
            if refs:
                users[component] = refs
    assert users["ingest"] == {"reelstream-s3-ingest"}
    assert users["gpu-worker"] == {"reelstream-s3-worker"}
    assert users["notifier"] == users["scheduler"] == {"reelstream-s3-streams"}
    policies = named(manifest, "ConfigMap", "-storage-policies")["data"]
    assert set(policies) == {"ingest.json", "worker.json"}
    assert "s3:ListBucket" not in str(policies)
    assert "arn:aws:s3:::reelstream-artifacts/*" in policies["worker.json"]


def test_the_chart_topics_file_is_generated_from_the_code() -> None:
    assert (REPO / TOPICS_FILE).read_text() == topics_json(), (
        "regenerate it: python -m devstack.deploy topics > charts/reelstream/files/topics.json"
    )


def test_kafka_topics_equal_the_code_declarations(render: Render) -> None:
    topics = of_kind(render("production-8gpu-values.yaml"), "KafkaTopic")
    rendered = {t["spec"]["topicName"]: t["spec"] for t in topics}
    assert set(rendered) == {t.name for t in ALL_TOPICS}
    for topic in ALL_TOPICS:
        spec = rendered[topic.name]
        assert spec["partitions"] == topic.partitions
        assert spec["config"]["cleanup.policy"] == topic.config()["cleanup.policy"]
        assert spec["config"] == topic.config()
        assert spec["replicas"] == 3
    for t in topics:
        assert t["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "reelstream-kafka"


def test_strimzi_cluster(render: Render) -> None:
    manifest = render("production-8gpu-values.yaml")
    (kafka,) = of_kind(manifest, "Kafka")
    (pool,) = of_kind(manifest, "KafkaNodePool")
    assert kafka["apiVersion"] == pool["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    assert pool["spec"]["replicas"] == 3
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["port"] == 9092
    assert listener["networkPolicyPeers"]
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    bootstrap = named(manifest, "ConfigMap", "-env")["data"]["REELSTREAM_KAFKA_BOOTSTRAP"]
    assert bootstrap == f"{kafka['metadata']['name']}-kafka-bootstrap:9092"


def test_external_services_render_no_infrastructure(render: Render) -> None:
    manifest = render("external-values.yaml")
    kinds = {o["kind"] for o in manifest}
    assert not kinds & {"Kafka", "KafkaNodePool", "KafkaTopic", "PersistentVolumeClaim", "Job"}
    names = {o["metadata"]["name"] for o in manifest}
    assert not any(n.endswith(("-registry", "-minio")) for n in names)
    data = named(manifest, "ConfigMap", "-env")["data"]
    assert data["REELSTREAM_KAFKA_BOOTSTRAP"].startswith("kafka-0.kafka.example.internal:9092")
    assert data["REELSTREAM_SCHEMA_REGISTRY_URL"] == "https://registry.example.internal/apis/ccompat/v7"
    assert data["REELSTREAM_S3_ENDPOINT"] == "https://s3.eu-west-1.amazonaws.com"


def test_keda_scaled_objects(render: Render) -> None:
    manifest = render("production-8gpu-values.yaml")
    targets = {(o["kind"], o["metadata"]["name"]) for o in workloads(manifest)}
    scaled = {o["metadata"]["name"]: o for o in of_kind(manifest, "ScaledObject")}
    assert len(scaled) == 3
    for obj in scaled.values():
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        ref = obj["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) in targets
        assert obj["spec"]["minReplicaCount"] <= obj["spec"]["maxReplicaCount"]
        for trigger in obj["spec"]["triggers"]:
            assert trigger["type"] in {"kafka", "prometheus"}
            assert all(isinstance(v, str) for v in trigger["metadata"].values())
    gpu = named(manifest, "ScaledObject", "-gpu-worker")
    assert gpu["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert gpu["spec"]["minReplicaCount"] == 0
    assert gpu["spec"]["maxReplicaCount"] <= RENDER_DISPATCH.partitions
    kafka = next(t for t in gpu["spec"]["triggers"] if t["type"] == "kafka")["metadata"]
    assert kafka["topic"] == "reelstream.scheduler.inbox"
    assert kafka["consumerGroup"] == "reelstream-scheduler"
    assert kafka["allowIdleConsumers"] == "true"
    assert not any(o["metadata"]["name"].endswith("-scheduler") for o in scaled.values())
    # KEDA owns the replica counts it scales
    assert "replicas" not in named(manifest, "StatefulSet", "-gpu-worker")["spec"]


def test_autoscaling_off_renders_fixed_replicas(render: Render) -> None:
    manifest = render("autoscaling-off-values.yaml")
    assert not of_kind(manifest, "ScaledObject")
    assert not of_kind(manifest, "HorizontalPodAutoscaler")
    assert named(manifest, "StatefulSet", "-gpu-worker")["spec"]["replicas"] == 8
    assert named(manifest, "Deployment", "-ingest")["spec"]["replicas"] == 3


def test_alerts_and_dashboards_ship_by_default_and_the_monitors_in_production(render: Render) -> None:
    minimal = render("minimal-values.yaml")
    assert not {"ServiceMonitor", "PodMonitor"} & {o["kind"] for o in minimal}  # scraping is opt-in
    (rule,) = of_kind(minimal, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    # the repository's rule files, the same as the chart's files/ (tests/unit/test_metrics_rules.py)
    source = [
        group
        for name in ("alerts.yml", "slo_rules.yml")
        for group in yaml.safe_load((REPO / "dashboards" / name).read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == source
    alerts = {r["alert"] for g in source for r in g["rules"] if "alert" in r}
    assert {"EstimatorAccuracyDeclining", "EstimatorAccuracyCollapsed", "LongTaskFailedTwice"} <= alerts
    (inhibition,) = of_kind(minimal, "AlertmanagerConfig")
    inhibit_rules = yaml.safe_load((REPO / "dashboards" / "alertmanager.yml").read_text())["inhibit_rules"]
    assert len(inhibition["spec"]["inhibitRules"]) == len(inhibit_rules)
    first = inhibition["spec"]["inhibitRules"][0]
    assert first["sourceMatch"] == [
        {"name": "alertname", "value": "ReelstreamKafkaUnreachable", "matchType": "="}
    ]
    boards = {path.name: path.read_text() for path in (REPO / "dashboards").glob("*.json")}
    shipped = [c for c in of_kind(minimal, "ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard")]
    assert {name: text for cm in shipped for name, text in cm["data"].items()} == {
        name: text.rstrip("\n") for name, text in boards.items()
    }

    production = render("production-8gpu-values.yaml")
    operator_kinds = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert operator_kinds <= {o["kind"] for o in production}
    for obj in production:
        if obj["kind"] in operator_kinds:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    monitor = named(production, "ServiceMonitor", "-ingest")
    service = named(production, "Service", "-ingest")
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    (rule,) = of_kind(production, "PrometheusRule")
    assert rule["spec"]["groups"][-1]["name"] == "reelstream-extra"  # the values' own rules, after ours
    assert rule["spec"]["groups"][-1]["rules"][0]["alert"] == "ReelstreamNoGpuWorkers"
    assert len(rule["spec"]["groups"]) == len(source) + 1


def _policies_for(manifest: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    return [p for p in of_kind(manifest, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_network_policies_cover_every_pod(render: Render, scenario: str) -> None:
    manifest = render(scenario)
    for workload in workloads(manifest):
        labels = pod_labels(workload)
        policies = _policies_for(manifest, labels)
        deny = [p for p in policies if p["metadata"]["name"].endswith("-default-deny")]
        assert deny
        assert deny[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert not deny[0]["spec"].get("ingress")
        assert not deny[0]["spec"].get("egress")
        own = [p for p in policies if p is not deny[0] and "Ingress" in p["spec"]["policyTypes"]]
        assert own, f"{workload['metadata']['name']} has no policy of its own"
        dns = [
            r
            for p in policies
            for r in p["spec"].get("egress", [])
            if {"port": 53, "protocol": "UDP"} in r["ports"]
        ]
        assert dns, f"{workload['metadata']['name']} cannot resolve names"


def _ip_blocks(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        peer["ipBlock"]
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    ]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_only_the_notifier_reaches_the_internet_and_never_internal_addresses(
    render: Render, scenario: str
) -> None:
    manifest = render(scenario)
    metadata = ipaddress.ip_address("169.254.169.254")
    for policy in of_kind(manifest, "NetworkPolicy"):
        for block in _ip_blocks(policy):
            network = ipaddress.ip_network(block["cidr"])
            if network.prefixlen > 0:
                continue
            assert policy["metadata"]["name"].endswith("-notifier"), policy["metadata"]["name"]
            excepted = [ipaddress.ip_network(c) for c in block["except"]]
            if network.version == 4:
                for internal in (
                    "10.1.2.3",
                    "172.20.0.1",
                    "192.168.1.1",
                    "127.0.0.1",
                    str(metadata),
                    "100.64.0.1",
                ):
                    assert any(ipaddress.ip_address(internal) in e for e in excepted), internal
            else:
                assert any(ipaddress.ip_address("fd00::1") in e for e in excepted)
    notifier = next(
        p for p in of_kind(manifest, "NetworkPolicy") if p["metadata"]["name"].endswith("-notifier")
    )
    assert _ip_blocks(notifier)


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ("ingest:\n  replicas: two\n", "replicas"),
        ("gpuWorker:\n  gpusPerPod: 2\n", "gpusPerPod"),
        ("image:\n  cpu: {repository: reelstream/cpu, tag: latest}\n", "tag"),
        ("kafka:\n  mode: zookeeper\n", "mode"),
        ("ingest:\n  replicaz: 2\n", "replicaz"),
        ('networkPolicy:\n  enabled: "yes"\n', "enabled"),
        ("pipeline:\n  pools: [default, batch]\n", "pools"),
        # every image is pinned by a sha256 digest (tests/deploy/test_chart_digests.py)
        ("image:\n  cpu: {digest: latest}\n", "digest"),
        ("image:\n  gpu: {digest: 'sha256:abc'}\n", "digest"),
        ("s3:\n  minio:\n    image: {digest: ''}\n", "digest"),
        ("schemaRegistry:\n  apicurio:\n    image: {digest: null}\n", "digest"),
    ],
)
def test_values_schema_rejects_a_bad_file(
    run_helm: Callable[..., Any], tmp_path: Any, override: str, complaint: str
) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(override)
    result = run_helm("template", "rs", str(CHART), "--kube-version", KUBE_VERSION, "-f", str(bad))
    assert result.returncode != 0
    assert "schema" in result.stderr, result.stderr
    assert complaint in result.stderr, result.stderr
