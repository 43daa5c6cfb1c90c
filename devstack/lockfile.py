"""The hashed Python locks (requirements/*.txt, written by `make lock`) and what each must satisfy.

Three locks, each installed with `pip install --require-hashes --no-deps`: `dev` (the Makefile's venv:
`make dev`, `make test`), `gpu` (docker/gpu.Dockerfile) and `cpu` (docker/cpu.Dockerfile). `disagreements`
names every direct dependency of pyproject.toml (and of the SDK's) that a lock lacks or pins outside its
specifier, and every pin an image lock holds at another version than the dev lock;
tests/unit/devstack/test_lockfile.py keeps it empty, and devstack/sbom.py reads the same pins.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS = Path("requirements")
BUILD_INPUT = REQUIREMENTS / "build.in"
SERVER = Path("pyproject.toml")
SDK = Path("clients") / "python" / "pyproject.toml"

# lock name -> the extras of each pyproject it locks (the Makefile's `lock` target passes the same extras)
LOCKS: Mapping[str, Mapping[Path, tuple[str, ...]]] = {
    "dev": {SERVER: ("render", "test"), SDK: ("cli", "webhooks")},
    "gpu": {SERVER: ("render",), SDK: ("cli",)},
    "cpu": {SERVER: (), SDK: ("cli",)},
}

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)
_HASH = re.compile(r"--hash=sha256:(?P<digest>[0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    """One locked distribution: `name==version ; marker` and the sha256 of every file pip may install."""

    name: str
    version: str
    marker: str | None
    hashes: tuple[str, ...]


class LockError(ValueError):
    """A lock file that is not what `make lock` writes."""


def lock_path(root: Path, lock: str) -> Path:
    return root / REQUIREMENTS / f"{lock}.txt"


def read_lock(path: Path) -> dict[str, Pin]:
    """The pins of a lock, by canonical name; every pin must carry at least one sha256."""
    pins: dict[str, Pin] = {}
    current: tuple[str, str, str | None] | None = None
    hashes: list[str] = []

    def close() -> None:
        if current is None:
            return
        name, version, marker = current
        if not hashes:
            raise LockError(f"{path.name}: {name}=={version} has no --hash")
        key = canonicalize_name(name)
        if key in pins:
            raise LockError(f"{path.name}: {name} is pinned twice")
        pins[key] = Pin(name, version, marker, tuple(hashes))

    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pin = _PIN.match(line)
        if pin and not raw[0].isspace():
            close()
            current, hashes = (pin["name"], pin["version"], pin["marker"]), []
            continue
        digest = _HASH.search(line)
        if digest is None or current is None:
            raise LockError(f"{path.name}: unexpected line {line!r}")
        hashes.append(digest["digest"])
    close()
    return pins


def direct_requirements(root: Path, lock: str) -> list[Requirement]:
    """What a lock must satisfy: requirements/build.in, and each pyproject's dependencies with its extras."""
    requirements = [
        Requirement(line.split("#", 1)[0].strip())
        for line in (root / BUILD_INPUT).read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    for pyproject, extras in LOCKS[lock].items():
        project = tomllib.loads((root / pyproject).read_text())["project"]
        specs = list(project.get("dependencies", []))
        for extra in extras:
            specs += project["optional-dependencies"][extra]
        requirements += [Requirement(spec) for spec in specs]
    return requirements


def unmet(requirements: Iterable[Requirement], pins: Mapping[str, Pin]) -> list[str]:
    """Each requirement the pins lack, or pin at a version outside its specifier."""
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement} but the lock pins {pin.name}=={pin.version}")
    return problems


def disagreements(root: Path) -> list[str]:
    """Everything that makes the locks untrue to the pyprojects or to each other (empty when all agree)."""
    problems: list[str] = []
    dev = read_lock(lock_path(root, "dev"))
    for lock in LOCKS:
        pins = dev if lock == "dev" else read_lock(lock_path(root, lock))
        problems += [f"{lock}.txt: {p}" for p in unmet(direct_requirements(root, lock), pins)]
        for key, pin in pins.items():
            if key not in dev or dev[key].version != pin.version:
                problems.append(f"{lock}.txt: {pin.name}=={pin.version} is not the dev lock's pin")
    return problems
