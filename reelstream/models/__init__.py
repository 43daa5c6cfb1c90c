"""The model registry: one `ModelSpec` per model reelstream serves (see registry.py to add one)."""

from reelstream.models.mochi import DEFAULT_MODEL, DEV_MODEL
from reelstream.models.registry import BUILTIN_MODELS, ModelRegistry, load_registry
from reelstream.models.spec import (
    FULL,
    STANDARD,
    Bounds,
    Defaults,
    FrameRule,
    Limits,
    ModelSpec,
    Preset,
    Tier,
)

__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_MODEL",
    "DEV_MODEL",
    "FULL",
    "STANDARD",
    "Bounds",
    "Defaults",
    "FrameRule",
    "Limits",
    "ModelRegistry",
    "ModelSpec",
    "Preset",
    "Tier",
    "load_registry",
]
