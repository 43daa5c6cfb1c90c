"""The Dockerfiles, .dockerignore and skaffold.yaml, checked without a Docker engine or a cluster.

No skaffold JSON schema is available offline, so skaffold.yaml is checked by explicit structural assertions.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, KUBE_VERSION, REPO

DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
    "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make ", "-dev ", "git ")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Instructions with continuation lines joined; global ARG defaults; stages in order."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path.name}: dangling line continuation"
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        assert keyword in INSTRUCTIONS, f"{path.name}: unknown instruction {keyword!r}"
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        else:
            assert stages, f"{path.name}: {keyword} before FROM"
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def dockerignored(relative: str) -> bool:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    top = relative.rstrip("/").split("/")[0]
    return any(fnmatch.fnmatch(relative.rstrip("/"), p) or fnmatch.fnmatch(top, p) for p in patterns)


def test_there_is_a_cpu_and_a_gpu_dockerfile() -> None:
    assert {p.name for p in DOCKERFILES} == {"cpu.Dockerfile", "gpu.Dockerfile"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_parses_and_is_multistage_with_bases_pinned_by_digest(dockerfile: Path) -> None:
    _, stages = parse_dockerfile(dockerfile)
    assert len(stages) >= 2
    names = {s.name for s in stages if s.name}
    for stage in stages:
        if stage.base in names:
            continue  # built on an earlier stage
        reference, _, digest = stage.base.partition("@")
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{stage.base} is not pinned by digest"
        image, _, tag = reference.rpartition(":")
        assert image, stage.base
        assert re.search(r"\d+\.\d+", tag), f"{stage.base} does not name its version"
        assert "latest" not in tag


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dependencies_come_from_the_images_hashed_lock(dockerfile: Path) -> None:
    """requirements/<cpu|gpu>.txt with --require-hashes; the project and the SDK then add nothing unlocked."""
    _, stages = parse_dockerfile(dockerfile)
    lock = f"requirements/{dockerfile.name.split('.')[0]}.txt"
    installs = [
        shlex.split(rest.split("&&")[0])
        for stage in stages
        for keyword, rest in stage.instructions
        if keyword == "RUN" and " install " in rest and "pip" in rest
    ]
    assert len(installs) == 2, installs
    from_lock, project = installs
    assert {"--require-hashes", "--no-deps", "-r", lock} <= set(from_lock)
    assert {"--no-deps", "--no-build-isolation", ".", "./clients/python"} <= set(project)
    copies = [rest.split()[0] for s in stages for keyword, rest in s.instructions if keyword == "COPY"]
    assert lock in copies


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copied_files_exist_and_are_in_the_build_context(dockerfile: Path) -> None:
    _, stages = parse_dockerfile(dockerfile)
    copied = 0
    for stage in stages:
        for keyword, rest in stage.instructions:
            assert keyword != "ADD", "use COPY"
            if keyword != "COPY" or rest.startswith("--from"):
                continue
            *sources, _dest = shlex.split(rest)
            for source in sources:
                assert (REPO / source).exists(), f"{dockerfile.name}: COPY {source} does not exist"
                assert not dockerignored(source), (
                    f"{dockerfile.name}: COPY {source} is excluded by .dockerignore"
                )
                copied += 1
    assert copied >= 5


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_final_stage_is_non_root_without_build_tools_or_secrets(dockerfile: Path) -> None:
    _, stages = parse_dockerfile(dockerfile)
    final = stages[-1]
    lineage = [final]
    by_name = {s.name: s for s in stages if s.name}
    while lineage[-1].base in by_name:
        lineage.append(by_name[lineage[-1].base])
    users = [rest for keyword, rest in final.instructions if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0].isdigit()
    assert int(users[-1].split(":")[0]) != 0
    for stage in lineage:
        for keyword, rest in stage.instructions:
            if keyword == "RUN" and "apt-get install" in rest:
                installs = rest.split("apt-get install", 1)[1].split("&&")[0] + " "
                assert not any(tool in installs for tool in BUILD_TOOLS), f"{dockerfile.name}: {installs}"
            if keyword in {"ENV", "ARG"}:
                assert not re.search(r"(SECRET|PASSWORD|TOKEN|ACCESS_KEY)", rest, re.I), rest
    assert any(keyword == "COPY" and rest.startswith("--from=build") for keyword, rest in final.instructions)


def test_dockerignore_keeps_the_context_small_and_clean() -> None:
    for path in (".git", ".venv", "tests", "charts", ".env", "secrets.pem"):
        assert dockerignored(path), path
    for path in ("pyproject.toml", "README.md", "schemas/", "reelstream/", "gpu_consumers/", "devstack/"):
        assert not dockerignored(path), path


@pytest.fixture(scope="module")
def skaffold() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((REPO / "skaffold.yaml").read_text())
    return config


def _check_build_and_deploy(section: dict[str, Any], pushed: bool = True) -> None:
    images = set()
    for artifact in section["build"]["artifacts"]:
        assert (REPO / artifact["context"] / artifact["docker"]["dockerfile"]).is_file()
        images.add(artifact["image"])
    assert images == {"reelstream/reelstream-cpu", "reelstream/reelstream-gpu"}
    for release in section["deploy"]["helm"]["releases"]:
        assert (REPO / release["chartPath"] / "Chart.yaml").is_file()
        for values in release.get("valuesFiles", []):
            assert (REPO / values).is_file(), values
        templates = release["setValueTemplates"]
        for image in images:
            key = re.sub(r"[^A-Za-z0-9]", "_", image)
            kind = image.rsplit("-", 1)[1]
            assert templates[f"image.{kind}.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
            assert templates[f"image.{kind}.tag"] == f"{{{{.IMAGE_TAG_{key}}}}}"
            # a pushed image is deployed by the digest the registry gave it (local builds by tag)
            digest = f"{{{{.IMAGE_DIGEST_{key}}}}}" if pushed else None
            assert templates.get(f"image.{kind}.digest") == digest


def test_skaffold_builds_both_images_and_deploys_the_chart(skaffold: dict[str, Any]) -> None:
    assert skaffold["apiVersion"].startswith("skaffold/v4beta")
    assert skaffold["kind"] == "Config"
    _check_build_and_deploy(skaffold)
    profiles = {p["name"]: p for p in skaffold["profiles"]}
    assert set(profiles) == {"dev", "prod"}
    for name, profile in profiles.items():
        _check_build_and_deploy(profile, pushed=name != "dev")
    assert profiles["dev"]["build"]["local"]["push"] is False
    assert profiles["prod"]["build"]["local"]["push"] is True


def test_skaffold_port_forwards_the_ingest_service(skaffold: dict[str, Any], run_helm: Any) -> None:
    (forward,) = skaffold["portForward"]
    release = skaffold["deploy"]["helm"]["releases"][0]
    assert forward["resourceType"] == "service"
    assert forward["localPort"] == 8000
    assert forward["namespace"] == release["namespace"]
    result = run_helm(
        "template",
        release["name"],
        str(CHART),
        "--kube-version",
        KUBE_VERSION,
        "--show-only",
        "templates/ingest.yaml",
    )
    assert result.returncode == 0, result.stderr
    services = [o for o in yaml.safe_load_all(result.stdout) if o and o["kind"] == "Service"]
    assert [s["metadata"]["name"] for s in services] == [forward["resourceName"]]
    assert forward["port"] == services[0]["spec"]["ports"][0]["port"]
