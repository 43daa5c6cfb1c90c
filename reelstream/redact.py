"""Defence in depth for log lines: secret-looking values are masked before anything is written.

The code never logs prompts, keys, tokens or presigned URLs on purpose (see CONVENTIONS.md); these functions
catch the accidents: a field named like a secret, an `Authorization: Bearer …` or `token=…` in a message, a
URL's query string (a presigned link's signature lives there, so does a webhook's token), the project's own
API keys (`rs_…`), webhook secrets (`whsec_…`) and bare JWTs (`eyJ….….…`). Pure functions, no logging import.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "<redacted>"

# field names (compared lower-case, "-" as "_") whose values are dropped whole
SECRET_FIELDS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "secret",
        "webhook_secret",
        "client_secret",
        "password",
        "signature",
        "cookie",
        "set_cookie",
        "prompt",
        "negative_prompt",
    }
)

_URL_QUERY = re.compile(r"""(?i)\b((?:https?|s3)://[^\s?#"'<>]+)\?[^\s#"'<>]*""")
_AUTH_HEADER = re.compile(
    r"""(?i)\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(bearer|basic)\s+)?[^\s"',;]+"""
)
_KEY_VALUE = re.compile(
    r"""(?i)\b(\w*(?:api[_-]?key|token|secret|password|signature)|x-api-key|"""
    r"""x-amz-(?:signature|credential|security-token)|sig)(["']?\s*[:=]\s*["']?)[^\s"'&,;)]+"""
)
# _KEY_VALUE cannot match a line without one of these (lower-case), looked for in one pass
_KEY_VALUE_WORDS = re.compile("|".join(("key", "token", "secret", "password", "sig", "x-amz-")))
_PROJECT_SECRET = re.compile(r"\b(rs|whsec)_[A-Za-z0-9_+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*")  # a JWS: base64url '{"…'.


def is_secret_field(name: str) -> bool:
    return name.lower().replace("-", "_") in SECRET_FIELDS


def redact_text(text: str) -> str:
    """`text` with URL query strings, credentials in `name=value` / header form and project keys masked.

    Each pattern runs only when a substring it cannot match without is present: most log lines hold none,
    and this runs on every line of every service."""
    lowered = text.lower()
    if "://" in text and "?" in text:
        text = _URL_QUERY.sub(rf"\1?{MASK}", text)
    if "authorization" in lowered:
        text = _AUTH_HEADER.sub(lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{MASK}", text)
    if _KEY_VALUE_WORDS.search(lowered):
        text = _KEY_VALUE.sub(rf"\1\2{MASK}", text)
    if "eyJ" in text:
        text = _JWT.sub(MASK, text)
    if "rs_" in lowered or "whsec_" in lowered:
        text = _PROJECT_SECRET.sub(rf"\1_{MASK}", text)
    return text


def redact_field(name: str, value: Any) -> Any:
    """A structured field's value as it may be logged: secrets masked whole, strings scrubbed."""
    if is_secret_field(name):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    return value
