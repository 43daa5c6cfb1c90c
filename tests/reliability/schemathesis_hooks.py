"""Hooks for schemathesis' CLI as test_api_contract.py runs it (SCHEMATHESIS_HOOKS names this module).

The document states every rule JSON Schema can: each model's bounds (the widest, and with several models
served each named model's own, `if model is X then …`), the frame rule as an enum (6k+1), URL forms. A
few rules hold between fields or between requests, which no schema can state; the document's descriptions
say them, and only the refusals they cause are filtered, each only as a schema-valid request refused
(ST202 with a 422), each recognised by its own problem type or message, never by the field alone:

- an Idempotency-Key reused with another body (type `idempotency-key-reused`): schemathesis draws the header
  from a small space and sends it again with another body; the Idempotency-Key draft asks for this 422;
- between render parameters (JobRequest's description, "Rules between fields"): a clip longer than the
  model's longest duration ((num_frames − 1) / fps, the fps possibly the model's default), a shorter side
  of width and height (either possibly a default) above the model's limit, and the work product over the
  model's or the pool's limit (type `workload-too-large`);
- `from` not before `to` on `GET /v1/usage`, `/v1/admin/usage` and `/v1/stats/render-load`: between two
  query parameters (the parameters' descriptions say it).
- a 422 naming only `confirm` on `DELETE /v1/admin/tenants/{tenant}`: the query parameter must repeat the
  path's tenant id (deletion cannot be undone), a rule between a parameter and the path that JSON Schema
  cannot state either (the parameter's description does).
"""

from __future__ import annotations

from typing import Any

import schemathesis

from ingest.tenant_lifecycle import CONFIRM_RULE
from ingest.usage_report import BEFORE_TO

BETWEEN_REQUESTS = ("/idempotency-key-reused",)  # problem types of rules no schema can state
BETWEEN_FIELDS = ("/workload-too-large",)
USAGE_PATHS = frozenset({"/v1/usage", "/v1/admin/usage", "/v1/stats/render-load"})
TENANT_PATH = "/v1/admin/tenants/{tenant}"
# reelstream.params' messages for the rules between render parameters (field, how the message starts)
CROSS_FIELD_MESSAGES = (
    ("num_frames", "clip would be longer than"),
    ("width", "resolution above"),
    ("height", "resolution above"),
)


def _problem(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False (drop it) only for the kinds described above."""
    if getattr(failure, "code", None) != "ST202" or response is None or response.status_code != 422:
        return True
    path, problem = str(getattr(case, "path", "")), _problem(response)
    errors = [e for e in problem.get("errors", []) if isinstance(e, dict)]
    if path in USAGE_PATHS:
        return errors != [{"field": "from", "message": BEFORE_TO}]
    if path == TENANT_PATH and str(getattr(case, "method", "")).upper() == "DELETE":
        return errors != [{"field": "confirm", "message": CONFIRM_RULE}]
    if not path.startswith("/v1/jobs"):
        return True
    if str(problem.get("type", "")).endswith(BETWEEN_REQUESTS + BETWEEN_FIELDS):
        return False
    errors = [e for e in problem.get("errors", []) if isinstance(e, dict)]
    return not (errors and all(_cross_field(e) for e in errors))


def _cross_field(error: dict[str, Any]) -> bool:
    field, message = error.get("field"), str(error.get("message", ""))
    return any(field == name and message.startswith(start) for name, start in CROSS_FIELD_MESSAGES)
