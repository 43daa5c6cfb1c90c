"""Render parameters: turning a request into a render, by the limits and defaults of its model.

Pure: used by ingest (to answer 4xx at once and echo resolved values) and again by admission (a job produced
straight to Kafka never passed ingest). What each model allows and defaults to is its `ModelSpec`
(reelstream.models); the limits here are the model-independent ones. Seeds are drawn here when absent, so
every job record is replayable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from reelstream.cost_model import work_units
from reelstream.errors import ReelstreamError
from reelstream.models import BUILTIN_MODELS, FULL, STANDARD, Defaults, Limits, ModelRegistry, ModelSpec
from reelstream.webhooks.targets import MAX_URL_CHARS
from schemas.events import RenderParams, RequestedParams, random_below

MAX_SEED = 2**63 - 1  # an Avro long
MAX_METADATA_ENTRIES = 16
MAX_METADATA_CHARS = 256


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


class WorkloadTooLarge(InvalidRequest):
    """ "prompt workload exceeds resource allocation thresholds": every parameter is within its own range, but
    together they ask for more GPU work than the model allows a job (`max_work_units`, in the cost model's
    units) or more frame pixels than a slot of the pool holds (`pool_max_work_units`). `limit` names it."""

    code = "workload_too_large"

    def __init__(self, error: FieldError, limit: str, maximum: int, requested: int) -> None:
        super().__init__([error])
        self.message = f"prompt workload exceeds resource allocation thresholds: {error.message}"
        self.args = (self.message,)
        self.limit, self.maximum, self.requested = limit, maximum, requested


# the fields that size a job's work, in the order the error names the first one the client sent
_WORK_FIELDS = ("num_frames", "duration_seconds", "num_inference_steps", "width", "height", "guidance_scale")


def check_workload(
    params: RenderParams, spec: ModelSpec, req: RequestedParams, pool_max_work_units: int | None = None
) -> None:
    """Raise WorkloadTooLarge if the resolved render exceeds its model's or its pool's work limit. The error
    names the first sizing field the client sent (else `model`: the model's defaults are too large)."""
    field = next((name for name in _WORK_FIELDS if getattr(req, name) is not None), "model")
    units = work_units(params)
    model_limit = spec.limits.max_work_units
    if model_limit is not None and units > model_limit:
        what = (
            f"{units} work units (num_frames × width × height × num_inference_steps, ×2 with guidance) "
            f"exceed {spec.id}'s limit of {model_limit} (max_work_units)"
        )
        raise WorkloadTooLarge(FieldError(field, what), "max_work_units", model_limit, units)
    frame_pixels = params.num_frames * params.width * params.height
    if pool_max_work_units is not None and frame_pixels > pool_max_work_units:
        what = (
            f"{frame_pixels} frame pixels (num_frames × width × height) exceed the largest slot of the pool "
            f"({pool_max_work_units}, pool_max_work_units)"
        )
        raise WorkloadTooLarge(
            FieldError(field, what), "pool_max_work_units", pool_max_work_units, frame_pixels
        )


def _check_text(
    errors: list[FieldError], name: str, text: str | None, required: bool, max_chars: int | None
) -> None:
    if text is None or not text.strip():
        if required:
            errors.append(FieldError(name, "must be a non-empty string"))
        return
    if max_chars is not None and len(text) > max_chars:
        errors.append(FieldError(name, f"must be at most {max_chars} characters (got {len(text)})"))


def _check_size(errors: list[FieldError], limits: Limits, width: int, height: int) -> None:
    multiple = limits.size_multiple
    for name, value in (("width", width), ("height", height)):
        if value <= 0 or value % multiple:
            errors.append(FieldError(name, f"must be a positive multiple of {multiple} (got {value})"))
    short = min(width, height)
    if short > limits.max_short_side:
        errors.append(
            FieldError(
                "height" if height <= width else "width",
                f"resolution above {limits.max_short_side}p is not served (shorter side {short})",
            )
        )
    if max(width, height) > limits.max_long_side:
        errors.append(
            FieldError(
                "width" if width >= height else "height",
                f"longer side must be at most {limits.max_long_side} (got {max(width, height)})",
            )
        )


def _resolve_frames(
    errors: list[FieldError], req: RequestedParams, spec: ModelSpec, defaults: Defaults, fps: int
) -> int:
    longest = spec.limits.max_duration_seconds
    if req.num_frames is not None and req.duration_seconds is not None:
        errors.append(FieldError("num_frames", "give either num_frames or duration_seconds, not both"))
        return 0
    if req.num_frames is not None:
        if not spec.frame_rule.allows(req.num_frames):
            rule = spec.frame_rule.describe()
            errors.append(FieldError("num_frames", f"must be {rule} (got {req.num_frames})"))
        elif fps > 0 and (req.num_frames - 1) / fps > longest:
            errors.append(FieldError("num_frames", f"clip would be longer than {longest:g} s"))
        return req.num_frames
    duration = defaults.duration_seconds if req.duration_seconds is None else req.duration_seconds
    if not (0 < duration <= longest) or math.isnan(duration):
        errors.append(FieldError("duration_seconds", f"must be in (0, {longest:g}] (got {duration})"))
        return 0
    return spec.frames_for(duration, fps) if fps > 0 else 0


def model_of(
    model: str, models: ModelRegistry, served: frozenset[str] | None = None
) -> ModelSpec | FieldError:
    """The spec of a model a pool serves, or the error naming the `model` field and the models served."""
    choices = models.served(served)
    spec = choices.get(model)
    if spec is not None:
        return spec
    listed = ", ".join(choices.ids) or "none"
    if model in models:
        return FieldError("model", f"model {model!r} is served by no pool; served: {listed}")
    return FieldError("model", f"unknown model {model!r}; served: {listed}")


def resolve(
    prompt: str,
    negative_prompt: str | None,
    req: RequestedParams,
    *,
    default_model: str,
    models: ModelRegistry = BUILTIN_MODELS,
    served: frozenset[str] | None = None,
) -> RenderParams:
    """Validate a request and fill in every parameter the client left out. Raises InvalidRequest.
    `served`: the models some pool serves (None: every registered one)."""
    errors: list[FieldError] = []
    spec = model_of(req.model or default_model, models, served)
    max_chars = spec.limits.prompt_chars if isinstance(spec, ModelSpec) else None
    _check_text(errors, "prompt", prompt, True, max_chars)
    _check_text(errors, "negative_prompt", negative_prompt, False, max_chars)
    if isinstance(spec, FieldError):
        raise InvalidRequest([*errors, spec])
    quality = req.quality or STANDARD
    if quality not in spec.qualities:
        errors.append(FieldError("quality", f"must be one of {', '.join(spec.qualities)} (got {quality!r})"))
    tier = req.tier or FULL
    if tier not in spec.tiers:
        errors.append(FieldError("tier", f"model {spec.id} has tiers {', '.join(spec.tiers)} (got {tier!r})"))
    if errors:
        raise InvalidRequest(errors)
    # explicit parameters win over the quality's defaults
    return _resolved(errors, req, spec, spec.defaults_for(quality), quality=quality, tier=tier)


def _resolved(
    errors: list[FieldError],
    req: RequestedParams,
    spec: ModelSpec,
    defaults: Defaults,
    *,
    quality: str,
    tier: str,
) -> RenderParams:
    limits = spec.limits
    width = defaults.width if req.width is None else req.width
    height = defaults.height if req.height is None else req.height
    _check_size(errors, limits, width, height)
    fps = defaults.fps if req.fps is None else req.fps
    if not limits.fps.contains(fps):
        errors.append(FieldError("fps", f"must be {_between(limits.fps.minimum, limits.fps.maximum, fps)}"))
    num_frames = _resolve_frames(errors, req, spec, defaults, fps)
    steps = defaults.num_inference_steps if req.num_inference_steps is None else req.num_inference_steps
    if not limits.steps.contains(steps):
        bounds = _between(limits.steps.minimum, limits.steps.maximum, steps)
        errors.append(FieldError("num_inference_steps", f"must be {bounds}"))
    guidance = defaults.guidance_scale if req.guidance_scale is None else req.guidance_scale
    if not limits.guidance_scale.contains(guidance):
        bounds = _between(limits.guidance_scale.minimum, limits.guidance_scale.maximum, guidance)
        errors.append(FieldError("guidance_scale", f"must be {bounds}"))
    seed = random_below(MAX_SEED) if req.seed is None else req.seed
    if not 0 <= seed <= MAX_SEED:
        errors.append(FieldError("seed", f"must be between 0 and {MAX_SEED}"))
    if errors:
        raise InvalidRequest(errors)
    return RenderParams(
        model=spec.id,
        width=width,
        height=height,
        num_frames=num_frames,
        fps=fps,
        num_inference_steps=steps,
        guidance_scale=float(guidance),
        seed=seed,
        quality=quality,
        tier=tier,
    )


def ascii_int(text: str, max_digits: int) -> int | None:
    """`text` as a non-negative integer when it is 1 to `max_digits` ASCII digits, else None. Neither
    `str.isdigit` (true of "²" and other Unicode digits, which `int()` refuses) nor `int()` (which takes
    "+1", " 1", "1_0" and full-width digits, and refuses numbers past 4,300 digits) is the test."""
    if not 0 < len(text) <= max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def parse_int(field: str, raw: str | None, lo: int, hi: int, *, default: int | None = None) -> int:
    """A hand-parsed integer parameter (a query parameter): `default` when absent, else ASCII digits only,
    no longer than `hi` is, within `lo`..`hi`; anything else is an InvalidRequest (422) naming `field`."""
    if raw is None and default is not None:
        return default
    value = None if raw is None else ascii_int(raw, len(str(hi)))
    if value is None or not lo <= value <= hi:
        raise InvalidRequest([FieldError(field, f"must be an integer between {lo} and {hi}")])
    return value


def _between(minimum: float, maximum: float, got: float) -> str:
    return f"between {minimum:g} and {maximum:g} (got {got})"


def check_webhook_url(url: str | None) -> list[FieldError]:
    """Syntax only: http(s) with a host, at most MAX_URL_CHARS. (Whether https is required and where the URL
    points: ingest's checks at submit, `reelstream.webhooks.targets`, and the notifier's at delivery.)"""
    if url is None:
        return []
    if len(url) > MAX_URL_CHARS:
        return [FieldError("webhook_url", f"must be at most {MAX_URL_CHARS} characters (got {len(url)})")]
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unbalanced [ in the host
        usable = False
    if not usable:
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
    models: ModelRegistry = BUILTIN_MODELS,
    served: frozenset[str] | None = None,
    pool_max_work_units: int | None = None,
) -> RenderParams:
    """Everything a SubmitJob must satisfy, wherever it came from (`served`: as in `resolve`), the work
    limits last (`check_workload`: raised only for a request valid in every other way)."""
    errors = check_webhook_url(webhook_url) + check_metadata(metadata)
    try:
        params = resolve(
            prompt, negative_prompt, req, default_model=default_model, models=models, served=served
        )
    except InvalidRequest as exc:
        raise InvalidRequest(exc.errors + errors) from None
    if errors:
        raise InvalidRequest(errors)
    check_workload(params, models[params.model], req, pool_max_work_units)
    return params
