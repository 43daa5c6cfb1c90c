"""The SDK's models agree with the OpenAPI document ingest builds (the e2e suite checks the live one)."""

from __future__ import annotations

import copy

from ingest.openapi import openapi_document
from tests.sdk_openapi import mismatches


def test_the_sdk_models_match_the_openapi_document() -> None:
    assert mismatches(openapi_document()) == []


def test_a_field_the_sdk_lacks_is_reported() -> None:
    document = copy.deepcopy(openapi_document())  # the document is built once: never change the shared one
    document["components"]["schemas"]["Job"]["properties"]["brand_new"] = {"type": "string"}
    document["components"]["schemas"]["Job"]["properties"]["status"]["enum"].append("paused")
    found = mismatches(document)
    assert any("brand_new" in line for line in found)
    assert any("Job.status" in line for line in found)
