"""The schema of `POST /v1/jobs` bodies, from the model registry: the model enum and every bound.

One schema covers every model served, so each bound is the loosest among them (the widest range, the
greatest common size multiple); the description lists each model's own limits, which ingest enforces and
names in a 422.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from reelstream.models import FULL, STANDARD, Bounds, Limits, ModelRegistry
from reelstream.params import MAX_METADATA_CHARS, MAX_METADATA_ENTRIES, MAX_SEED
from reelstream.webhooks.targets import MAX_URL_CHARS

Json = dict[str, Any]


def _size_schema(models: ModelRegistry) -> Json:
    multiple = math.gcd(*(spec.limits.size_multiple for spec in models))
    longest = max(spec.limits.max_long_side for spec in models)
    return {"type": "integer", "multipleOf": multiple, "minimum": multiple, "maximum": longest}


def _number(models: ModelRegistry, json_type: str, bounds: Callable[[Limits], Bounds]) -> Json:
    """The widest range among the models' `bounds`."""
    low = min(bounds(spec.limits).minimum for spec in models)
    high = max(bounds(spec.limits).maximum for spec in models)
    if json_type == "integer":
        return {"type": json_type, "minimum": int(low), "maximum": int(high)}
    return {"type": json_type, "minimum": low, "maximum": high}


CROSS_FIELD_RULES = (
    "Rules between fields, which JSON Schema cannot state (a request breaking one is a 422 naming the "
    "field): a clip of num_frames at the chosen fps (the model's default fps if absent) lasts at most the "
    "model's longest duration ((num_frames − 1) / fps); the shorter of width and height (each the "
    "model's default if absent) is at most the model's shorter-side limit; and the work "
    "(num_frames × width × height × num_inference_steps, ×2 with guidance_scale > 1) is at most the "
    "model's and the pool's limit (422 `workload-too-large`)."
)


def _render_properties(models: ModelRegistry) -> Json:
    """The properties whose bounds come from the models: the widest over `models`."""
    rules = ", ".join(f"{spec.id}: {spec.frame_rule.describe()}" for spec in models)
    return {
        "prompt": {"type": "string", "minLength": 1, "maxLength": _prompt_chars(models)},
        "negative_prompt": {"type": "string", "maxLength": _prompt_chars(models)},
        "width": _size_schema(models),
        "height": _size_schema(models),
        "duration_seconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": max(spec.limits.max_duration_seconds for spec in models),
        },
        "num_frames": {
            "type": "integer",
            "enum": _frame_counts(models),
            "description": f"not with duration_seconds; by model, {rules}, a clip of at most the "
            "model's longest duration at the chosen fps",
        },
        "fps": _number(models, "integer", lambda limits: limits.fps),
        "num_inference_steps": _number(models, "integer", lambda limits: limits.steps),
        "guidance_scale": _number(models, "number", lambda limits: limits.guidance_scale),
        "tier": {
            "type": "string",
            "enum": sorted({tier for spec in models for tier in spec.tiers}),
            "default": FULL,
            "description": "how the steps run: full (every block of every step) or fast (First-Block "
            "Cache: a step whose first block barely changed reuses the other blocks' last output; "
            "quicker, slightly different frames); a model without fast refuses it (422 naming tier)",
        },
    }


def _per_model(models: ModelRegistry, widest: Json) -> list[Json]:
    """With several models served, each named model's own bounds where they are narrower than the widest
    (`if model is X then ...`); nothing where every model has the same."""
    branches = []
    for spec in models:
        own = _render_properties(models.served(frozenset({spec.id})))
        narrower = {
            name: _bare(schema) for name, schema in own.items() if _bare(schema) != _bare(widest[name])
        }
        if narrower:
            branches.append(
                {
                    "if": {"required": ["model"], "properties": {"model": {"const": spec.id}}},
                    "then": {"properties": narrower},
                }
            )
    return branches


def _bare(schema: Json) -> Json:
    return {k: v for k, v in schema.items() if k != "description"}


def job_request_schema(models: ModelRegistry) -> Json:
    """The JobRequest schema for the models served: each property at the widest bounds of the models, and,
    for a named model, its own where narrower."""
    qualities = sorted({quality for spec in models for quality in spec.qualities})
    widest = _render_properties(models)
    per_model = _per_model(models, widest) if len(models) > 1 else []
    schema: Json = {
        "type": "object",
        "additionalProperties": False,
        "required": ["prompt"],
        "properties": {
            "model": {"type": "string", "enum": list(models.ids)},
            **widest,
            "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED},
            "quality": {
                "type": "string",
                "enum": qualities,
                "default": STANDARD,
                "description": "preview: the model's smaller size, fewer steps (explicit values still win)",
            },
            "webhook_url": {
                "type": "string",
                "format": "uri",
                "pattern": "^https?://[^\\s]+$",
                "maxLength": MAX_URL_CHARS,
                "description": "https (http only where the deployment allows it); a literal IP address "
                "must be a public one, a host name is resolved and checked at delivery",
            },
            "priority": {"type": "string", "enum": ["high", "normal", "low"], "default": "normal"},
            "deadline": {
                "type": "string",
                "format": "date-time",
                "description": "if the job has not started by then it ends `expired` (at once if past)",
            },
            "metadata": {
                "type": "object",
                "maxProperties": MAX_METADATA_ENTRIES,
                "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_CHARS},
            },
        },
        "not": {"required": ["num_frames", "duration_seconds"]},
        "description": "Each model's limits: "
        + " ".join(spec.summary() for spec in models)
        + " "
        + CROSS_FIELD_RULES,
    }
    if per_model:
        schema["allOf"] = per_model
    return schema


def _frame_counts(models: ModelRegistry) -> list[int]:
    """Every frame count some model renders (its frame rule, e.g. 6k+1) up to the longest clip at the
    highest fps: the rule as an explicit enum, since JSON Schema's multipleOf cannot say `+1`."""
    longest = max(int(spec.limits.max_duration_seconds * spec.limits.fps.maximum) + 1 for spec in models)
    counts = {
        n for spec in models for n in range(spec.frame_rule.minimum, longest + 1) if spec.frame_rule.allows(n)
    }
    return sorted(counts)


def _prompt_chars(models: ModelRegistry) -> int:
    return max(spec.limits.prompt_chars for spec in models)
