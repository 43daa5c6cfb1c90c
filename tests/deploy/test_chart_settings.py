"""The chart and the settings registry agree: every REELSTREAM_* variable the chart sets is declared, every
value it renders parses, and what the production values ask for reaches the services' parsed settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from reelstream.config import load_config, settings_info
from reelstream.settings import PipelineSettings, SchedulerSettings, WorkerSettings
from tests.deploy.conftest import CHART, KUBE_VERSION, SCENARIOS
from tests.deploy.manifests import container_env, containers, of_kind, pod_labels, workloads

Render = Callable[..., list[dict[str, Any]]]
Manifest = list[dict[str, Any]]
DECLARED = {info.env for info in settings_info()}
SECRETS = {
    "reelstream-api-keys/REELSTREAM_API_KEYS": "key1=tenant-a",
}
CASES = [(), *((s,) for s in SCENARIOS)]  # the default values, then every ci/ values file


def _config_data(manifest: Manifest) -> dict[str, str]:
    data: dict[str, str] = {}
    for cm in of_kind(manifest, "ConfigMap"):
        data.update({k: v for k, v in (cm.get("data") or {}).items() if isinstance(v, str)})
    return data


def _set_names(manifest: Manifest) -> set[str]:
    """Every REELSTREAM_* name the chart puts in a ConfigMap or a container's env."""
    names = {k for k in _config_data(manifest) if k.startswith("REELSTREAM_")}
    for workload in workloads(manifest):
        for c in containers(workload):
            names |= {e["name"] for e in c.get("env", []) if e["name"].startswith("REELSTREAM_")}
    return names


def _service_envs(manifest: Manifest) -> dict[str, dict[str, str]]:
    """{component: the environment of its main container} for every workload that reads REELSTREAM_*."""
    config = _config_data(manifest)
    envs = {}
    for workload in workloads(manifest):
        component = pod_labels(workload).get("app.kubernetes.io/component", workload["metadata"]["name"])
        for c in containers(workload):
            env = container_env(c, config, SECRETS)
            if any(k.startswith("REELSTREAM_") for k in env):
                envs[f"{component}/{c['name']}"] = env
    return envs


@pytest.mark.parametrize("values", CASES, ids=["default", *SCENARIOS])
def test_every_variable_the_chart_sets_is_declared_and_parses(
    render: Render, values: tuple[str, ...]
) -> None:
    manifest = render(*values)
    assert _set_names(manifest) - DECLARED == set()
    envs = _service_envs(manifest)
    assert envs
    for where, env in envs.items():
        config = load_config(env)  # raises ConfigurationError naming the variable on a bad value
        assert config.unknown == (), where


def test_production_replication_pool_models_and_work_limits_reach_the_settings(render: Render) -> None:
    asked = yaml.safe_load((CHART / "ci" / "production-8gpu-values.yaml").read_text())["pipeline"]
    envs = _service_envs(render("production-8gpu-values.yaml"))
    scheduler = next(env for where, env in envs.items() if where.startswith("scheduler/"))
    admission = next(env for where, env in envs.items() if where.startswith("admission/"))
    worker = next(env for where, env in envs.items() if where.startswith("gpu-worker/"))
    for env in (scheduler, admission, worker):
        pipeline = PipelineSettings.from_env(env)
        assert pipeline.replication_factor == asked["replicationFactor"] == 3
        assert pipeline.pool_models == frozenset(asked["poolModels"]) == {"mochi-1"}
        assert pipeline.pool_max_work_units == (asked.get("poolMaxWorkUnits") or None)
    assert SchedulerSettings.from_env(scheduler).pipeline.replication_factor == 3
    assert WorkerSettings.from_env(worker).slot == 0  # REELSTREAM_SLOT, from the pod index


def test_a_work_limit_survives_helm_s_number_handling(render: Render, tmp_path: Path) -> None:
    """Helm reads numbers of a values file as floats (66343680 would render as 6.634368e+07): a large limit
    must still render as an integer the registry accepts."""
    values = tmp_path / "limits-values.yaml"
    values.write_text("pipeline:\n  poolMaxWorkUnits: 66343680\n  poolModels: [mochi-1, tiny-mochi]\n")
    envs = _service_envs(render("production-8gpu-values.yaml", values))
    worker = next(env for where, env in envs.items() if where.startswith("gpu-worker/"))
    settings = WorkerSettings.from_env(worker)
    assert settings.pipeline.pool_max_work_units == settings.max_work_units == 66343680
    assert settings.pipeline.pool_models == {"mochi-1", "tiny-mochi"}


def test_a_replication_factor_below_min_insync_replicas_is_refused(
    run_helm: Callable[..., Any],
) -> None:
    result = run_helm(
        "template", "rs", str(CHART), "--kube-version", KUBE_VERSION,
        "-f", str(CHART / "ci" / "production-8gpu-values.yaml"),
        "--set", "pipeline.replicationFactor=1",
    )  # fmt: skip
    assert result.returncode != 0
    assert "pipeline.replicationFactor is below kafka.strimzi.minInsyncReplicas" in result.stderr
