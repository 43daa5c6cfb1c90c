"""CycloneDX SBOMs of what each image ships, built from the locks: `python -m devstack.sbom --out-dir build`.

One JSON document per image (`sbom-cpu.cdx.json`, `sbom-gpu.cdx.json`; `make test` writes both): the image's
Python lock (requirements/<image>.txt) with the pins whose environment markers hold on the image's platform
(CPython 3.11, Linux, x86-64), each with its PyPI purl and the sha256 of every file the lock allows; the CPU
image adds the console's runtime npm packages (console/package-lock.json, non-dev, with their sha512). The
image's OS packages are not here: an image scanner reads those from the image (docs/supply-chain.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tomllib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from devstack.lockfile import Pin, lock_path, read_lock

SPEC_VERSION = "1.6"
CONSOLE_LOCK = Path("console") / "package-lock.json"
# the platform both images run on: markers are evaluated against it
IMAGE_PLATFORM: Mapping[str, str] = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "python_full_version": "3.11.13",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "extra": "",
}


@dataclass(frozen=True)
class Image:
    name: str
    lock: str
    console: bool


IMAGES = (Image("reelstream-cpu", "cpu", console=True), Image("reelstream-gpu", "gpu", console=False))


def shipped(pins: Iterable[Pin], platform: Mapping[str, str] = IMAGE_PLATFORM) -> list[Pin]:
    """The pins pip installs on `platform` (those without a marker, or whose marker holds there)."""
    return [p for p in pins if p.marker is None or Marker(p.marker).evaluate(dict(platform))]


def python_component(pin: Pin) -> dict[str, Any]:
    purl = f"pkg:pypi/{canonicalize_name(pin.name)}@{pin.version}"
    return {
        "type": "library",
        "bom-ref": purl,
        "name": pin.name,
        "version": pin.version,
        "purl": purl,
        "externalReferences": [
            {
                "type": "distribution",
                "url": f"https://pypi.org/project/{pin.name}/{pin.version}/",
                "comment": "every file the lock lets pip install (--require-hashes)",
                "hashes": [{"alg": "SHA-256", "content": digest} for digest in pin.hashes],
            }
        ],
    }


def npm_components(package_lock: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The packages of a v2/v3 package-lock.json that reach the built bundle (not dev-only, not links)."""
    components = []
    for path, entry in sorted(package_lock["packages"].items()):
        if not path or entry.get("dev") or entry.get("link"):
            continue
        # a local package of this repository (the console's file:../clients/typescript) is named by its entry
        name = path.rsplit("node_modules/", 1)[1] if "node_modules/" in path else entry.get("name", path)
        purl = f"pkg:npm/{name.replace('@', '%40', 1) if name.startswith('@') else name}@{entry['version']}"
        component: dict[str, Any] = {
            "type": "library",
            "bom-ref": purl,
            "name": name,
            "version": entry["version"],
            "purl": purl,
        }
        algorithm, _, encoded = entry.get("integrity", "").partition("-")
        if algorithm == "sha512":
            component["hashes"] = [{"alg": "SHA-512", "content": base64.b64decode(encoded).hex()}]
        components.append(component)
    return components


def build_sbom(
    image: str, version: str, components: Sequence[dict[str, Any]], timestamp: datetime
) -> dict[str, Any]:
    """A CycloneDX document; the serial number is derived from the content (same input, same number)."""
    content = json.dumps([image, version, list(components)], sort_keys=True)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid5(uuid.NAMESPACE_URL, content).urn,
        "version": 1,
        "metadata": {
            "timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "devstack.sbom"}]},
            "component": {"type": "container", "bom-ref": image, "name": image, "version": version},
        },
        "components": list(components),
    }


def image_sbom(root: Path, image: Image, timestamp: datetime) -> dict[str, Any]:
    version = str(tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"])
    pins = sorted(read_lock(lock_path(root, image.lock)).values(), key=lambda p: p.name.lower())
    components = [python_component(pin) for pin in shipped(pins)]
    if image.console:
        components += npm_components(json.loads((root / CONSOLE_LOCK).read_text()))
    return build_sbom(image.name, version, components, timestamp)


def build_time(env: Mapping[str, str]) -> datetime:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else now."""
    epoch = env.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.sbom", description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path("build"), help="where the SBOMs are written")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (default: here)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    timestamp = build_time(os.environ)
    for image in IMAGES:
        target = args.out_dir / f"sbom-{image.lock}.cdx.json"
        sbom = image_sbom(args.root, image, timestamp)
        target.write_text(json.dumps(sbom, indent=2) + "\n")
        print(f"{target}: {len(sbom['components'])} components")


if __name__ == "__main__":
    main()
