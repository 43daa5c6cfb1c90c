"""The SDK's models (clients/python) against an OpenAPI document of ingest: the same fields, the same enums,
and `submit` taking every field of JobRequest. Used on the live /openapi.json (e2e) and on the document
the code builds (unit), so a change to either side fails a test until the other follows."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, Literal, get_args, get_origin

from reelstream_client import AsyncClient, Client, models

Json = dict[str, Any]

MODELS: dict[str, type[Any]] = {
    "Parameters": models.Parameters,
    "Artifact": models.Artifact,
    "JobError": models.JobError,
    "Job": models.Job,
    "JobList": models.JobList,
    "ApiKey": models.ApiKey,
    "ApiKeyCreated": models.ApiKeyCreated,
    "ApiKeyList": models.ApiKeyList,
    "WebhookEndpoint": models.WebhookEndpoint,
    "WebhookEndpointList": models.WebhookEndpointList,
    "WebhookSecret": models.WebhookSecret,
    "WebhookSecretList": models.WebhookSecretList,
    "WebhookPing": models.WebhookPing,
    "WebhookEndpointEnabled": models.WebhookEndpointEnabled,
    "WebhookSecretRotated": models.WebhookSecretRotated,
    "WebhookDelivery": models.WebhookDelivery,
    "WebhookDeliveryList": models.WebhookDeliveryList,
    "WebhookResend": models.WebhookResend,
    "WebhookResendBatch": models.WebhookResendBatch,
    "TenantLimits": models.TenantLimits,
    "UsageTotals": models.UsageTotals,
    "Usage": models.Usage,
    "TenantUsageTotals": models.TenantUsageTotals,
    "RenderLoadStats": models.RenderLoadStats,
    "RenderLoadClass": models.RenderLoadClass,
    "RenderLoad": models.RenderLoad,
    "GpuBudget": models.GpuBudget,
    "Limits": models.Limits,
    "PoolSlotJob": models.PoolSlotJob,
    "PoolSlot": models.PoolSlot,
    "TenantQueue": models.TenantQueue,
    "Pool": models.Pool,
    "PoolState": models.PoolState,
}


def _resolve(document: Json, schema: Json) -> Json:
    if "$ref" in schema:
        return _resolve(document, document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    if "allOf" in schema:
        merged: Json = {"properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_resolve(document, part).get("properties", {}))
        return merged
    return schema


def _enum(schema: Json) -> set[str] | None:
    """The enum of a property (through `oneOf [..., null]` and array items); None when it has none."""
    for option in schema.get("oneOf", [schema]):
        if "enum" in option:
            return set(option["enum"])
        if "items" in option and "enum" in option["items"]:
            return set(option["items"]["enum"])
    return None


def _literal(hint: Any) -> set[str] | None:
    if get_origin(hint) is Literal:
        return set(get_args(hint))
    for arg in get_args(hint):
        if (found := _literal(arg)) is not None:
            return found
    return None


def mismatches(document: Json) -> list[str]:
    """Every difference between the SDK's models and the document; empty when they agree."""
    problems = []
    schemas = document["components"]["schemas"]
    for name, cls in MODELS.items():
        properties = _resolve(document, schemas[name]).get("properties", {})
        fields = {models._wire(f.name) for f in dataclasses.fields(cls)}  # `from_` is `from`
        if fields != set(properties):
            problems.append(
                f"{name}: SDK only {fields - set(properties)}, API only {set(properties) - fields}"
            )
        hints = typing.get_type_hints(cls, vars(models))
        for field in fields & set(properties):
            api, sdk = _enum(properties[field]), _literal(hints.get(field, hints.get(f"{field}_")))
            if api is not None and api != sdk:
                problems.append(f"{name}.{field}: API enum {api}, SDK {sdk}")
    request = schemas["JobRequest"]["properties"]
    for client in (Client, AsyncClient):
        parameters = inspect.signature(client.submit).parameters
        taken = set(parameters) - {"self", "idempotency_key", "job_id"}
        if taken != set(request):
            problems.append(f"{client.__name__}.submit: {taken ^ set(request)} differ from JobRequest")
    for field, literal in (("quality", models.Quality), ("priority", models.Priority), ("tier", models.Tier)):
        if _enum(request[field]) != set(get_args(literal)):
            problems.append(f"JobRequest.{field}: {_enum(request[field])} != {get_args(literal)}")
    endpoint_request = schemas["WebhookEndpointRequest"]["properties"]["event_types"]
    if _enum(endpoint_request) != set(get_args(models.EventType)):
        problems.append(f"WebhookEndpointRequest.event_types: {_enum(endpoint_request)}")
    return problems
