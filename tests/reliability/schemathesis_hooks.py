"""Hooks for schemathesis' CLI as test_api_contract.py runs it (SCHEMATHESIS_HOOKS names this module).

One failure kind is filtered, narrowly: a schema-valid `POST`/`PUT /v1/jobs` answered 422 *idempotency-key-
reused*. Schemathesis draws the `Idempotency-Key` header from a small space and sends it again with another
body; refusing that with 422 is what the Idempotency-Key draft (draft-ietf-httpapi-idempotency-key-header)
asks, and the schema cannot say "a key you have not used with another body". Every other failure counts.
"""

from __future__ import annotations

from typing import Any

import schemathesis

REUSED_KEY = "/idempotency-key-reused"


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False (drop it) only for the reused-key 422 described above."""
    if response is None or response.status_code != 422:
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    problem_type = body.get("type", "") if isinstance(body, dict) else ""
    return not problem_type.endswith(REUSED_KEY)
