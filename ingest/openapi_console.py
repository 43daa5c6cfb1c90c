"""The OpenAPI path and schema of the console's public configuration (ingest.console.config_route)."""

from __future__ import annotations

from typing import Any

from ingest.openapi_components import json_response

Json = dict[str, Any]
STRING: Json = {"type": "string"}

CONSOLE_OIDC: Json = {
    "type": "object",
    "description": "The OIDC provider the console signs in with (authorization code + PKCE S256)",
    "required": ["issuer", "client_id", "scope"],
    "additionalProperties": False,
    "properties": {
        "issuer": {"type": "string", "format": "uri", "description": "discovery: <issuer>/.well-known/…"},
        "client_id": {**STRING, "description": "the console's public client"},
        "scope": {**STRING, "description": "scopes to ask for (space-separated)"},
    },
}
CONSOLE_CONFIG: Json = {
    "type": "object",
    "required": ["oidc"],
    "additionalProperties": False,
    "properties": {
        "oidc": {
            "oneOf": [{"$ref": "#/components/schemas/ConsoleOidc"}, {"type": "null"}],
            "description": "null: the console offers API-key sign-in only",
        }
    },
}
CONSOLE_SCHEMAS: Json = {"ConsoleConfig": CONSOLE_CONFIG, "ConsoleOidc": CONSOLE_OIDC}


def console_paths(public: list[Json]) -> Json:
    return {
        "/console/config.json": {
            "get": {
                "operationId": "consoleConfig",
                "summary": "The web console's sign-in choices (public: no credentials, no secret)",
                "security": public,
                "responses": {"200": json_response("How the console may sign in.", "ConsoleConfig")},
            }
        }
    }
