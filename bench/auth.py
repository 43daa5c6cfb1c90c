"""Benchmark: what authenticating a request costs ingest, without Kafka or HTTP.

  .venv/bin/python bench/auth.py [--keys 100000] [--calls 20000]

* a key-store key (`rs_live_…`): parse, look up by key_id, salted SHA-256, constant-time compare; with a
  store of 1 000 and of --keys keys (the lookup must not grow with the store);
* a configured key among 10 (the static table compares against every entry);
* a bearer JWT, RS256 (2048-bit) and ES256, its JWKS already cached (the fetch happens once per key set).
Prints one JSON line per case: microseconds per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.api_keys import KeyTable, mint
from ingest.auth import KeyStoreKeys, Principal, StaticApiKeys
from ingest.jwt_auth import JwksCache, JwtAuthenticator
from reelstream.settings import OidcSettings
from tests.integration.ingest.jwks import AUDIENCE, ISSUER, Jwks


async def per_call_us(
    authenticate: Callable[[str], Awaitable[Principal | None]], token: str, calls: int
) -> float:
    assert await authenticate(token) is not None
    started = time.perf_counter()
    for _ in range(calls):
        await authenticate(token)
    return (time.perf_counter() - started) / calls * 1e6


def store_of(size: int) -> tuple[KeyStoreKeys, str]:
    table = KeyTable()
    for i in range(size - 1):
        table.apply(mint(f"t{i % 50}", ["submitter"])[1])
    key, record = mint("acme", ["submitter"])
    table.apply(record)
    return KeyStoreKeys(table), key


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    results: dict[str, float] = {}
    for size in (1000, args.keys):
        store, key = store_of(size)
        results[f"key store, {size} keys"] = await per_call_us(store.authenticate, key, args.calls)
    static = StaticApiKeys({f"configured-key-{i}": f"t{i}" for i in range(10)})
    results["configured key among 10"] = await per_call_us(
        static.authenticate, "configured-key-9", args.calls
    )
    jwks = Jwks()
    jwks.add("rsa", "RS256")
    jwks.add("ec", "ES256")
    settings = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:9/unused")
    cache = JwksCache(settings)
    cache.load(jwks.document())
    verifier = JwtAuthenticator(settings, cache)
    for kid in ("rsa", "ec"):
        token = jwks.token(kid, exp=int(time.time()) + 3600)
        results[f"JWT {'RS256' if kid == 'rsa' else 'ES256'}"] = await per_call_us(
            verifier.authenticate, token, args.calls // 4
        )
    for case, us in results.items():
        print(json.dumps({"case": case, "us_per_call": round(us, 2)}))


if __name__ == "__main__":
    asyncio.run(main())
