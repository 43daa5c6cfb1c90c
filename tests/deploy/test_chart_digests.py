"""Every image the chart deploys is pulled by digest (docs/supply-chain.md).

The third-party images carry their digests in values.yaml; reelstream's own two get theirs from the
release step that pushes them (skaffold's prod profile), so a rendering with those digests set has no image
left that a registry could repoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, SCENARIOS
from tests.deploy.manifests import containers, workloads

Render = Callable[..., list[dict[str, Any]]]

PINNED = re.compile(r"^(?P<repository>[^@\s]+):(?P<tag>[^@/:\s]+)@sha256:[0-9a-f]{64}$")
OWN = re.compile(r"^(?:[^@\s]+/)?reelstream/reelstream-(?:cpu|gpu):")  # under image.registry, if set
RELEASED = tuple(f"image.{kind}.digest=sha256:{n * 64}" for kind, n in (("cpu", "1"), ("gpu", "2")))
# MinIO's fix of CVE-2025-62506 (session policies of service accounts) is RELEASE.2025-10-15T17-29-55Z
MINIO_FIXED = date(2025, 10, 15)


def images(manifest: list[dict[str, Any]]) -> dict[str, str]:
    return {
        f"{w['metadata']['name']}/{c['name']}": c["image"] for w in workloads(manifest) for c in containers(w)
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_with_the_release_digests_every_image_is_pinned_by_digest(render: Render, scenario: str) -> None:
    rendered = images(render(scenario, sets=RELEASED))
    assert rendered
    unpinned = {where: image for where, image in rendered.items() if not PINNED.match(image)}
    assert unpinned == {}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_only_reelstreams_own_images_wait_for_the_release_digest(render: Render, scenario: str) -> None:
    for where, image in images(render(scenario)).items():
        if OWN.match(image):
            assert "@" not in image, where  # a local build: skaffold dev deploys by tag
        else:
            assert PINNED.match(image), f"{where}: {image}"


def test_the_release_digest_follows_the_registry_prefix(render: Render) -> None:
    registry = "image.registry=registry.example.com/ml"
    rendered = images(render("minimal-values.yaml", sets=(*RELEASED, registry)))
    own = {image for image in rendered.values() if "reelstream/reelstream-" in image}
    assert own == {
        f"registry.example.com/ml/reelstream/reelstream-cpu:0.1.0@sha256:{'1' * 64}",
        f"registry.example.com/ml/reelstream/reelstream-gpu:0.1.0@sha256:{'2' * 64}",
    }


def test_the_minio_image_is_a_release_with_the_cve_2025_62506_fix(render: Render) -> None:
    (minio,) = [i for where, i in images(render("minimal-values.yaml")).items() if where.endswith("/minio")]
    released = re.search(r":RELEASE\.(\d{4})-(\d{2})-(\d{2})T", minio)
    assert released, minio
    assert date(*map(int, released.groups())) >= MINIO_FIXED


def test_values_document_every_digest() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    third_party = [
        values["schemaRegistry"]["apicurio"]["image"],
        values["s3"]["minio"]["image"],
        values["s3"]["minio"]["mcImage"],
    ]
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"]) for image in third_party)
    assert values["image"]["cpu"]["digest"] == values["image"]["gpu"]["digest"] == ""
