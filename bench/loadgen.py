"""Load generators for bench/ingest_load.py, each run as its own process; each prints one JSON line.

    python bench/loadgen.py http-closed URL --token T --connections 64 --seconds 10
    python bench/loadgen.py http-open URL --token T --rate 300 --seconds 10
    python bench/loadgen.py kafka BOOTSTRAP REGISTRY_URL --concurrency 64 --seconds 10 [--client librdkafka]

http-closed: N connections, each sends its next request as soon as the previous one answered (the highest
sustained rate). http-open: requests start on a fixed schedule (`rate` a second) whatever the answers do,
over at most N connections, and latency counts from the scheduled start, so a stall shows up in the
percentiles (no coordinated omission).
kafka: a bare aiokafka producer (the project's aiokafka settings: acks=all, idempotent), or with `--client
librdkafka` ingest's producer, sending pre-serialized SubmitJob records of the same shape as ingest
produces, N sends in flight (the Kafka floor).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import BODY

WARMUP_SECONDS = 1.0


def summary(latencies: list[float], statuses: Counter[Any], seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(q: float) -> float | None:
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    ok = statuses.get(202, 0) + statuses.get("ok", 0)
    return {
        "ok": ok,
        "rate": ok / seconds,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": {str(k): v for k, v in statuses.items()},
    }


async def http_closed(url: str, token: str, connections: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    body = json.dumps(BODY).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    statuses: Counter[Any] = Counter()
    start = time.perf_counter()
    measure_from, stop_at = start + WARMUP_SECONDS, start + WARMUP_SECONDS + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        while (t0 := time.perf_counter()) < stop_at:
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    status: Any = resp.status
            except aiohttp.ClientError as exc:
                status = type(exc).__name__
            t1 = time.perf_counter()
            sent[0] += 1
            if t0 >= measure_from and t1 <= stop_at:
                latencies.append(t1 - t0)
                statuses[status] += 1

    sent = [0]
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    return {**summary(latencies, statuses, seconds), "requests": sent[0]}


async def http_open(url: str, token: str, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    import aiohttp

    body = json.dumps(BODY).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    statuses: Counter[Any] = Counter()
    total = int(rate * (WARMUP_SECONDS + seconds))
    warmup = int(rate * WARMUP_SECONDS)
    late = 0

    async def one(session: aiohttp.ClientSession, scheduled: float, measured: bool) -> None:
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                status: Any = resp.status
        except aiohttp.ClientError as exc:
            status = type(exc).__name__
        if measured:
            latencies.append(time.perf_counter() - scheduled)
            statuses[status] += 1

    # at most `connections` (wrk2's model): a request waits for a free one, and that wait counts as latency.
    # Unbounded, a server that falls behind gets a new connection per request and spends itself accepting.
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        # only the requests in flight are kept: holding every finished one grew this process through the row
        # (and, with the collector on, its full collections: 112 ms pauses at 75 % load)
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.01:
                late += 1  # the generator itself fell behind its schedule
            task = asyncio.create_task(one(session, scheduled, i >= warmup))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    result = summary(latencies, statuses, seconds)
    result["generator_late"] = late
    result["requests"] = total  # the warm-up's included, as in the server's CPU time around this run
    return result


async def kafka_floor(
    bootstrap: str, registry_url: str, concurrency: int, seconds: float, client: str
) -> dict[str, Any]:
    from aiokafka import AIOKafkaProducer

    from ingest.submission import parse_submission, submit_command
    from reelstream.config import load_config
    from reelstream.kafka.clients import new_producer
    from reelstream.kafka.librdkafka import LibrdkafkaProducer
    from reelstream.kafka.registry import ConfluentRegistry
    from reelstream.settings import kafka_security_from_config, registry_auth_from_config
    from schemas.events import SubmitJob
    from schemas.serde import AvroSerde
    from schemas.topics import COMMANDS

    # the stack's credentials, passed by the parent in the environment (REELSTREAM_KAFKA_*, ..._REGISTRY_*)
    config = load_config(os.environ)
    security = kafka_security_from_config(config)
    registry = ConfluentRegistry(registry_url, registry_auth_from_config(config))
    serde = AvroSerde(registry)
    await serde.register(COMMANDS)
    await registry.aclose()
    submission = parse_submission(json.dumps(BODY).encode(), default_model="tiny-mochi")
    commands: list[SubmitJob] = [submit_command(submission, "bench") for _ in range(1000)]
    payloads = [serde.serialize(COMMANDS, c) for c in commands]

    producer: LibrdkafkaProducer | AIOKafkaProducer
    if client == "librdkafka":
        producer = LibrdkafkaProducer(bootstrap, "bench-kafka-floor", security=security)
    else:
        producer = new_producer(bootstrap, "bench-kafka-floor", security)
    await producer.start()
    latencies: list[float] = []
    statuses: Counter[Any] = Counter()
    start = time.perf_counter()
    measure_from, stop_at = start + WARMUP_SECONDS, start + WARMUP_SECONDS + seconds

    async def worker(offset: int) -> None:
        i = offset
        while (t0 := time.perf_counter()) < stop_at:
            payload = payloads[i % len(payloads)]
            i += concurrency
            await producer.send_and_wait(COMMANDS.name, payload, key=b"bench")
            t1 = time.perf_counter()
            if t0 >= measure_from and t1 <= stop_at:
                latencies.append(t1 - t0)
                statuses["ok"] += 1

    try:
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    finally:
        await producer.stop()
    return summary(latencies, statuses, seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    closed = sub.add_parser("http-closed")
    closed.add_argument("url")
    closed.add_argument("--token", required=True)
    closed.add_argument("--connections", type=int, default=64)
    opened = sub.add_parser("http-open")
    opened.add_argument("url")
    opened.add_argument("--token", required=True)
    opened.add_argument("--rate", type=float, required=True)
    opened.add_argument("--connections", type=int, default=64)
    kafka = sub.add_parser("kafka")
    kafka.add_argument("bootstrap")
    kafka.add_argument("registry")
    kafka.add_argument("--concurrency", type=int, default=64)
    kafka.add_argument("--client", choices=("aiokafka", "librdkafka"), default="aiokafka")
    for p in (closed, opened, kafka):
        p.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    # the instrument must not pause: its full collections (26-32 ms at 75 % load, walking the requests it has
    # waiting) were counted as the server's latency. A run lasts seconds; what cycles it leaves die with it.
    gc.collect()
    gc.freeze()
    gc.disable()
    if args.mode == "http-closed":
        result = asyncio.run(http_closed(args.url, args.token, args.connections, args.seconds))
    elif args.mode == "http-open":
        result = asyncio.run(http_open(args.url, args.token, args.rate, args.seconds, args.connections))
    else:
        floor = kafka_floor(args.bootstrap, args.registry, args.concurrency, args.seconds, args.client)
        result = asyncio.run(floor)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
