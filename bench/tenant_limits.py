"""Benchmark: what tenant limits cost, without Kafka.

  .venv/bin/python bench/tenant_limits.py [--commands 100000]

* how many limit states admission publishes for a tenant offered 4× its rate (200 commands/s against a
  bucket of rate 50, burst 100): the throttle in streams.limit_state should keep it near one a second;
* what ingest adds to a submission: the 429 decision (`throttled_headers`) and the RateLimit headers of
  a 202 (`limit_headers`), per call.
"""

from __future__ import annotations

import argparse
import random
import sys
import timeit
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.rate_limit_headers import limit_headers, throttled_headers
from reelstream.settings import TenantLimit
from streams.limit_state import StateThrottle, limit_state
from streams.tenant_quota import OverLimit, TenantQuota, charge

OFFERED_PER_SECOND = 200
T0 = 1_800_000_000.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=100_000)
    args = parser.parse_args()
    limit = TenantLimit(rate=50, burst=100, queued=10**9)
    throttle, quota, published, rejected = StateThrottle(), None, 0, 0
    quota_now: TenantQuota | None = None
    for i in range(args.commands):
        now = T0 + i / OFFERED_PER_SECOND
        verdict = charge(quota, limit, now)
        quota = quota_now = verdict.quota
        rejected += isinstance(verdict, OverLimit)
        published += throttle.due(limit_state("t", verdict.quota, limit, now))
    seconds = args.commands / OFFERED_PER_SECOND
    print(
        f"{args.commands} commands over {seconds:g} s: {rejected} rejected, {published} states published "
        f"({published / seconds:.2f}/s, {published / args.commands:.4f} per command)"
    )
    assert quota_now is not None
    end = T0 + seconds
    state = limit_state("t", quota_now, limit, end)
    at, calls = datetime.fromtimestamp(end, UTC), 200_000
    rng = random.Random(1)  # noqa: S311 - jitter, not a secret
    decide = timeit.timeit(lambda: throttled_headers(state, at, rng), number=calls) / calls
    headers = timeit.timeit(lambda: limit_headers(state, at, 1), number=calls) / calls
    print(
        f"ingest per submission: 429 decision {decide * 1e6:.2f} µs, RateLimit headers {headers * 1e6:.2f} µs"
    )


if __name__ == "__main__":
    main()
