"""The CycloneDX SBOMs `make test` writes: what each image ships, from its lock (and the console's)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devstack.lockfile import Pin, lock_path, read_lock
from devstack.sbom import IMAGE_PLATFORM, IMAGES, Image, build_time, image_sbom, main, npm_components, shipped

REPO = Path(__file__).resolve().parents[3]
WHEN = datetime(2026, 12, 6, tzinfo=UTC)


def by_purl(sbom: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["purl"]: c for c in sbom["components"]}


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_every_pin_the_image_installs_is_a_component_with_its_hashes(image: Image) -> None:
    sbom = image_sbom(REPO, image, WHEN)
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["specVersion"] == "1.6"
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", sbom["serialNumber"])
    assert sbom["metadata"]["component"]["name"] == image.name
    components = by_purl(sbom)
    assert len(components) == len(sbom["components"]), "bom-refs and purls are unique"
    pins = read_lock(lock_path(REPO, image.lock))
    for pin in shipped(pins.values()):
        component = components[f"pkg:pypi/{pin.name.lower().replace('_', '-')}@{pin.version}"]
        (reference,) = component["externalReferences"]
        assert {h["content"] for h in reference["hashes"]} == set(pin.hashes)
        assert all(h["alg"] == "SHA-256" for h in reference["hashes"])


def test_the_gpu_image_ships_torch_and_its_cuda_wheels_and_the_cpu_image_the_console() -> None:
    cpu, gpu = (by_purl(image_sbom(REPO, image, WHEN)) for image in IMAGES)
    assert any(p.startswith("pkg:pypi/torch@") for p in gpu)
    assert any(p.startswith("pkg:pypi/nvidia-cublas") for p in gpu)
    assert not any(p.startswith("pkg:pypi/torch@") for p in cpu)
    assert any(p.startswith("pkg:npm/react@") for p in cpu)
    assert not any(p.startswith("pkg:npm/") for p in gpu)
    # build tools of the console are not in the image (only its built bundle is)
    assert not any(p.startswith(("pkg:npm/vite@", "pkg:npm/typescript@")) for p in cpu)


def test_pins_for_other_platforms_are_left_out() -> None:
    pins = [
        Pin("colorama", "0.4.6", "sys_platform == 'win32'", ("a" * 64,)),
        Pin("triton", "3.9.0", "sys_platform == 'linux'", ("b" * 64,)),
        Pin("six", "1.17.0", None, ("c" * 64,)),
    ]
    assert [p.name for p in shipped(pins)] == ["triton", "six"]
    assert [p.name for p in shipped(pins, {**IMAGE_PLATFORM, "sys_platform": "win32"})] == ["colorama", "six"]


def test_npm_components_are_runtime_packages_with_their_sha512() -> None:
    lock = {
        "packages": {
            "": {"name": "console", "version": "0.1.0"},
            "node_modules/@tanstack/query-core": {"version": "5.1.0", "integrity": "sha512-AAEC"},
            "node_modules/a/node_modules/b": {"version": "1.0.0"},
            "node_modules/vite": {"version": "8.0.0", "dev": True},
            "node_modules/local": {"link": True, "resolved": "../local"},
        }
    }
    assert npm_components(lock) == [
        {
            "type": "library",
            "bom-ref": "pkg:npm/%40tanstack/query-core@5.1.0",
            "name": "@tanstack/query-core",
            "version": "5.1.0",
            "purl": "pkg:npm/%40tanstack/query-core@5.1.0",
            "hashes": [{"alg": "SHA-512", "content": "000102"}],
        },
        {
            "type": "library",
            "bom-ref": "pkg:npm/b@1.0.0",
            "name": "b",
            "version": "1.0.0",
            "purl": "pkg:npm/b@1.0.0",
        },
    ]


def test_the_command_writes_one_reproducible_document_per_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")
    main(["--out-dir", str(tmp_path / "a"), "--root", str(REPO)])
    main(["--out-dir", str(tmp_path / "b"), "--root", str(REPO)])
    for name in ("sbom-cpu.cdx.json", "sbom-gpu.cdx.json"):
        first, second = ((tmp_path / run / name).read_text() for run in ("a", "b"))
        assert first == second
        assert json.loads(first)["metadata"]["timestamp"] == "2026-05-28T20:26:40Z"
    assert build_time({}).tzinfo is UTC
