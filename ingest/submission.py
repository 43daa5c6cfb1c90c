"""From the bytes of `POST /v1/jobs` to a validated submission: pure, no HTTP framework, no Kafka.

The JSON shape (field names and JSON types) is checked here; what values are allowed is decided by
`reelstream.params.validate_submission`, the same rules admission applies again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.errors import MalformedRequest
from reelstream.errors import InvalidRecordError
from reelstream.http_settings import WebhookTargetPolicy
from reelstream.models import BUILTIN_MODELS, ModelRegistry
from reelstream.params import FieldError, InvalidRequest, validate_submission
from schemas.events import (
    JobState,
    JobStatus,
    Priority,
    RenderParams,
    RequestedParams,
    SubmitJob,
    new_id,
)

HTTPS_ONLY = WebhookTargetPolicy()  # production's rule: https, public literal addresses
INT, NUMBER, STRING, OBJECT, ARRAY = "integer", "number", "string", "object", "array"
BOOLEAN = "boolean"

# every field a client may send, with its JSON type; `prompt` is the only required one
FIELDS: dict[str, str] = {
    "prompt": STRING,
    "negative_prompt": STRING,
    "width": INT,
    "height": INT,
    "duration_seconds": NUMBER,
    "num_frames": INT,
    "fps": INT,
    "num_inference_steps": INT,
    "guidance_scale": NUMBER,
    "seed": INT,
    "model": STRING,
    "quality": STRING,
    "tier": STRING,
    "webhook_url": STRING,
    "metadata": OBJECT,
    "priority": STRING,
    "deadline": STRING,
}
PARAM_FIELDS = (
    "model",
    "width",
    "height",
    "num_frames",
    "duration_seconds",
    "fps",
    "num_inference_steps",
    "guidance_scale",
    "seed",
    "quality",
    "tier",
)


@dataclass(frozen=True)
class Submission:
    """A request that passed validation, with every render parameter resolved (seed included)."""

    prompt: str
    negative_prompt: str | None
    params: RenderParams
    webhook_url: str | None
    metadata: dict[str, str]
    priority: Priority = Priority.NORMAL
    deadline: datetime | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """A JSON number as a float; one too large for a double (`1e400`) would read as infinity, which no
    field accepts and no JSON response can carry."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:32]} is out of range")
    return value


MAX_JSON_DEPTH = 64
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")

# made once: json.loads with hooks builds a new decoder on every call
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object. Not JSON, or nested deeper than MAX_JSON_DEPTH → MalformedRequest (400);
    JSON but no object, or a text with a NUL or a lone surrogate → InvalidRequest (422) naming the field."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")  # as json.loads
        if json_depth(text) > MAX_JSON_DEPTH:
            raise MalformedRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
        data = _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest([FieldError("body", "must be a JSON object")])
    if errors := unsafe_text_fields(data):
        raise InvalidRequest(errors)
    return data


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings do not count), found
    before parsing: the parser recurses once per level and would overflow the stack long before 64 KiB."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def unsafe_text_fields(data: dict[str, Any]) -> list[FieldError]:
    """The top-level fields whose text (in any string or key inside them) holds a NUL or a lone surrogate:
    no job record, log line or JSON answer can carry those. A bad top-level key is reported as `body`."""
    errors = []
    for name, value in data.items():
        if _UNSAFE_TEXT.search(name):
            errors.append(FieldError("body", "a field name holds a NUL or an unpaired surrogate"))
        elif _holds_unsafe_text(value):
            errors.append(FieldError(name, "must not hold a NUL character or an unpaired surrogate"))
    return errors


def _holds_unsafe_text(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSAFE_TEXT.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_unsafe_text(k) or _holds_unsafe_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_unsafe_text(v) for v in value)
    return False


def _type_ok(value: Any, json_type: str) -> bool:
    if json_type == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if json_type == STRING:
        return isinstance(value, str)
    if json_type == ARRAY:
        return isinstance(value, list)
    if json_type == BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, dict)


def check_shape(data: dict[str, Any], fields: dict[str, str]) -> None:
    """Unknown fields, `null` values (an optional field is omitted, never null) and wrong JSON types, all
    reported at once. An integer field takes a number with no fractional part (`3.0`: JSON Schema's integer)
    and is given it as an int."""
    errors = [FieldError(name, "unknown field") for name in data if name not in fields]
    for name, json_type in fields.items():
        if name not in data:
            continue
        value = data[name]
        if json_type == INT and isinstance(value, float) and value.is_integer():
            data[name] = value = int(value)
        if value is None:
            errors.append(FieldError(name, f"must be of JSON type {json_type} (omit it instead of null)"))
        elif not _type_ok(value, json_type):
            errors.append(FieldError(name, f"must be of JSON type {json_type}"))
    if errors:
        raise InvalidRequest(errors)


def parse_submission(
    body: bytes,
    *,
    default_model: str,
    models: ModelRegistry = BUILTIN_MODELS,
    served: frozenset[str] | None = None,
    pool_max_work_units: int | None = None,
    targets: WebhookTargetPolicy = HTTPS_ONLY,
) -> Submission:
    """Parse and validate a submission; raises MalformedRequest or InvalidRequest naming the fields.
    `served`: the models some pool serves (None: every one of `models`); another model is refused.
    A job over its model's or the pool's work limit is WorkloadTooLarge (an InvalidRequest).
    `targets`: where a webhook_url may point (https only, public literal addresses, by default)."""
    data = parse_json_object(body)
    check_shape(data, FIELDS)
    requested = RequestedParams(**{name: data.get(name) for name in PARAM_FIELDS})
    metadata = data.get("metadata") or {}
    priority, deadline = _scheduling(data)
    url = data.get("webhook_url")
    problem = None if url is None else targets.problem(url)
    try:
        params = validate_submission(
            data.get("prompt") or "",
            data.get("negative_prompt"),
            requested,
            None if problem else url,
            metadata,
            default_model=default_model,
            models=models,
            served=served,
            pool_max_work_units=pool_max_work_units,
        )
    except InvalidRequest as exc:
        if problem is None:
            raise  # as it is (a WorkloadTooLarge keeps its own problem type)
        raise InvalidRequest(exc.errors + _url_errors(problem)) from None
    if problem:
        raise InvalidRequest(_url_errors(problem))
    return Submission(
        prompt=data["prompt"],
        negative_prompt=data.get("negative_prompt"),
        params=params,
        webhook_url=data.get("webhook_url"),
        metadata=dict(metadata),
        priority=priority,
        deadline=deadline,
    )


def _url_errors(problem: str | None) -> list[FieldError]:
    return [] if problem is None else [FieldError("webhook_url", problem)]


def _scheduling(data: dict[str, Any]) -> tuple[Priority, datetime | None]:
    """`priority` (high | normal | low) and `deadline` (ISO 8601 with a UTC offset; one already past is
    accepted, and the job ends `expired` as one whose deadline passed in the queue)."""
    errors: list[FieldError] = []
    priority = Priority.NORMAL
    if data.get("priority") is not None:
        try:
            priority = Priority(data["priority"])
        except ValueError:
            errors.append(FieldError("priority", "must be one of high, normal, low"))
    deadline = None
    if data.get("deadline") is not None:
        try:
            deadline = datetime.fromisoformat(data["deadline"].replace("Z", "+00:00"))
        except ValueError:
            errors.append(FieldError("deadline", "must be an ISO 8601 date-time"))
        else:
            if deadline.tzinfo is None:
                errors.append(FieldError("deadline", "must carry a UTC offset (e.g. 2026-01-01T12:00:00Z)"))
    if errors:
        raise InvalidRequest(errors)
    return priority, deadline


def resolved_request(params: RenderParams) -> RequestedParams:
    """The resolved values as a request, so admission re-validates exactly what was echoed to the client."""
    return RequestedParams(
        model=params.model,
        width=params.width,
        height=params.height,
        num_frames=params.num_frames,
        fps=params.fps,
        num_inference_steps=params.num_inference_steps,
        guidance_scale=params.guidance_scale,
        seed=params.seed,
        quality=params.quality,
        tier=params.tier,
    )


def placeholder_of(command: SubmitJob) -> JobStatus:
    """`accepted_status` of a command made by `submit_command` (its parameters are resolved already)."""
    resolved = {f.name: getattr(command.params, f.name) for f in dataclasses.fields(RenderParams)}
    if any(value is None for value in resolved.values()):
        raise InvalidRecordError(f"SubmitJob {command.event_id} has unresolved parameters")
    return accepted_status(command, RenderParams(**resolved))


def submit_command(submission: Submission, tenant_id: str, job_id: str | None = None) -> SubmitJob:
    return SubmitJob(
        job_id=job_id or new_id(),
        tenant_id=tenant_id,
        prompt=submission.prompt,
        negative_prompt=submission.negative_prompt,
        params=resolved_request(submission.params),
        webhook_url=submission.webhook_url,
        metadata=dict(submission.metadata),
        priority=submission.priority,
        deadline=submission.deadline,
    )


def accepted_status(command: SubmitJob, params: RenderParams) -> JobStatus:
    """The local placeholder shown until the first real snapshot of the job arrives (version 0). It is made
    from the command alone (`params`: the command's, resolved), so `placeholder_of` rebuilds it from the
    command's record: the status view keeps that record, not a serialized copy of the placeholder."""
    return JobStatus(
        job_id=command.job_id,
        tenant_id=command.tenant_id,
        state=JobState.ACCEPTED,
        prompt=command.prompt,
        negative_prompt=command.negative_prompt,
        created_at=command.occurred_at,
        updated_at=command.occurred_at,
        params=params,
        webhook_url=command.webhook_url,
        job_key_id=command.job_key_id,  # sealed as the command is (reelstream.crypto.job_fields)
        metadata=dict(command.metadata),
        state_times={JobState.ACCEPTED.value: command.occurred_at},
        priority=command.priority,
        deadline=command.deadline,
        version=0,
    )
