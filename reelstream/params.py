"""Render parameters: the models we serve, their defaults and limits, and turning a request into a render.

Pure: used by ingest (to answer 4xx at once and echo resolved values) and again by admission (a job produced
straight to Kafka never passed ingest). Seeds are drawn here when absent, so every job record is replayable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlsplit

from reelstream.errors import ReelstreamError
from schemas.events import RenderParams, RequestedParams, random_below

MAX_PROMPT_CHARS = 2000
MAX_DURATION_SECONDS = 10.0
MAX_SHORT_SIDE = 768
MAX_LONG_SIDE = 1360
MAX_STEPS = 200
MAX_SEED = 2**63 - 1
MAX_METADATA_ENTRIES = 16
MAX_METADATA_CHARS = 256
QUALITIES: Final = ("preview", "standard")


@dataclass(frozen=True)
class ModelSpec:
    """Defaults a model renders with when the client leaves a parameter out."""

    name: str
    width: int
    height: int
    fps: int
    duration_seconds: float
    num_inference_steps: int
    guidance_scale: float
    preview: tuple[int, int, int]  # width, height, steps of the `preview` quality

    def for_quality(self, quality: str) -> ModelSpec:
        if quality == "preview":
            width, height, steps = self.preview
            return replace(self, width=width, height=height, num_inference_steps=steps)
        return self


# Genmo's defaults for Mochi-1: 848×480 at 30 fps, 64 steps, guidance 4.5; 163 frames ≈ 5.4 s. A preview
# (512×288, 24 steps) costs about 1/12 of that: a third of the tokens, attention quadratic in them.
MODELS: dict[str, ModelSpec] = {
    "mochi-1": ModelSpec("mochi-1", 848, 480, 30, 5.4, 64, 4.5, preview=(512, 288, 24)),
    # random weights, CPU-sized: the real pipeline code for development and tests
    "tiny-mochi": ModelSpec("tiny-mochi", 64, 48, 24, 0.5, 4, 4.5, preview=(32, 32, 2)),
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class InvalidRequest(ReelstreamError):
    """A job request that can never be rendered; `errors` names each offending field."""

    code = "invalid_request"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def frames_for(duration_seconds: float, fps: int) -> int:
    """The 6k+1 frame count closest to `duration_seconds` that does not exceed the duration limit."""
    k = max(1, round((duration_seconds * fps - 1) / 6))
    while k > 1 and (6 * k + 1) / fps > MAX_DURATION_SECONDS:
        k -= 1
    return 6 * k + 1


def _check_text(errors: list[FieldError], name: str, text: str | None, required: bool) -> None:
    if text is None or not text.strip():
        if required:
            errors.append(FieldError(name, "must be a non-empty string"))
        return
    if len(text) > MAX_PROMPT_CHARS:
        errors.append(FieldError(name, f"must be at most {MAX_PROMPT_CHARS} characters (got {len(text)})"))


def _check_size(errors: list[FieldError], width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if value <= 0 or value % 16:
            errors.append(FieldError(name, f"must be a positive multiple of 16 (got {value})"))
    if min(width, height) > MAX_SHORT_SIDE:
        errors.append(
            FieldError(
                "height" if height <= width else "width",
                f"resolution above {MAX_SHORT_SIDE}p is not served (shorter side {min(width, height)})",
            )
        )
    if max(width, height) > MAX_LONG_SIDE:
        errors.append(
            FieldError(
                "width" if width >= height else "height",
                f"longer side must be at most {MAX_LONG_SIDE} (got {max(width, height)})",
            )
        )


def _resolve_frames(errors: list[FieldError], req: RequestedParams, spec: ModelSpec, fps: int) -> int:
    if req.num_frames is not None and req.duration_seconds is not None:
        errors.append(FieldError("num_frames", "give either num_frames or duration_seconds, not both"))
        return 0
    if req.num_frames is not None:
        if req.num_frames < 7 or (req.num_frames - 1) % 6:
            errors.append(FieldError("num_frames", f"must be 6k+1 with k ≥ 1 (got {req.num_frames})"))
        elif fps > 0 and (req.num_frames - 1) / fps > MAX_DURATION_SECONDS:
            errors.append(FieldError("num_frames", f"clip would be longer than {MAX_DURATION_SECONDS:g} s"))
        return req.num_frames
    duration = spec.duration_seconds if req.duration_seconds is None else req.duration_seconds
    if not (0 < duration <= MAX_DURATION_SECONDS) or math.isnan(duration):
        errors.append(
            FieldError("duration_seconds", f"must be in (0, {MAX_DURATION_SECONDS:g}] (got {duration})")
        )
        return 0
    return frames_for(duration, fps) if fps > 0 else 0


def resolve(
    prompt: str, negative_prompt: str | None, req: RequestedParams, *, default_model: str
) -> RenderParams:
    """Validate a request and fill in every parameter the client left out. Raises InvalidRequest."""
    errors: list[FieldError] = []
    _check_text(errors, "prompt", prompt, required=True)
    _check_text(errors, "negative_prompt", negative_prompt, required=False)
    model = req.model or default_model
    spec = MODELS.get(model)
    if spec is None:
        errors.append(FieldError("model", f"unknown model {model!r}; served: {', '.join(sorted(MODELS))}"))
        raise InvalidRequest(errors)
    quality = req.quality or "standard"
    if quality not in QUALITIES:
        errors.append(FieldError("quality", f"must be one of {', '.join(QUALITIES)} (got {quality!r})"))
        raise InvalidRequest(errors)
    # explicit parameters win over the quality's defaults
    spec = spec.for_quality(quality)
    width = spec.width if req.width is None else req.width
    height = spec.height if req.height is None else req.height
    _check_size(errors, width, height)
    fps = spec.fps if req.fps is None else req.fps
    if not 1 <= fps <= 60:
        errors.append(FieldError("fps", f"must be between 1 and 60 (got {fps})"))
    num_frames = _resolve_frames(errors, req, spec, fps)
    steps = spec.num_inference_steps if req.num_inference_steps is None else req.num_inference_steps
    if not 2 <= steps <= MAX_STEPS:
        errors.append(FieldError("num_inference_steps", f"must be between 2 and {MAX_STEPS} (got {steps})"))
    guidance = spec.guidance_scale if req.guidance_scale is None else req.guidance_scale
    if not 0 <= guidance <= 20 or math.isnan(guidance):
        errors.append(FieldError("guidance_scale", f"must be between 0 and 20 (got {guidance})"))
    seed = random_below(MAX_SEED) if req.seed is None else req.seed
    if not 0 <= seed <= MAX_SEED:
        errors.append(FieldError("seed", f"must be between 0 and {MAX_SEED}"))
    if errors:
        raise InvalidRequest(errors)
    return RenderParams(
        model=model,
        width=width,
        height=height,
        num_frames=num_frames,
        fps=fps,
        num_inference_steps=steps,
        guidance_scale=float(guidance),
        seed=seed,
        quality=quality,
    )


def check_webhook_url(url: str | None) -> list[FieldError]:
    """Syntax only: http(s) with a host. (Where it points is checked against SSRF at delivery.)"""
    if url is None:
        return []
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [FieldError("webhook_url", "must be an absolute http(s) URL")]
    return []


def check_metadata(metadata: dict[str, str]) -> list[FieldError]:
    if len(metadata) > MAX_METADATA_ENTRIES:
        return [FieldError("metadata", f"at most {MAX_METADATA_ENTRIES} entries")]
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            return [FieldError("metadata", "keys and values must be strings")]
        if len(key) > MAX_METADATA_CHARS or len(value) > MAX_METADATA_CHARS:
            return [
                FieldError("metadata", f"keys and values must be at most {MAX_METADATA_CHARS} characters")
            ]
    return []


def validate_submission(
    prompt: str,
    negative_prompt: str | None,
    req: RequestedParams,
    webhook_url: str | None,
    metadata: dict[str, str],
    *,
    default_model: str,
) -> RenderParams:
    """Everything a SubmitJob must satisfy, wherever it came from."""
    errors = check_webhook_url(webhook_url) + check_metadata(metadata)
    try:
        params = resolve(prompt, negative_prompt, req, default_model=default_model)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.errors + errors) from None
    if errors:
        raise InvalidRequest(errors)
    return params
