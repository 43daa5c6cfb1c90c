"""Benchmark: `POST /v1/jobs` against its two floors, measured in the same run on the same machine.

    .venv/bin/python bench/ingest_load.py [--seconds 10] [--connections 64]

Starts its own stack (Kafka, registry, MinIO) and the real ingest service (`python -m ingest`: bearer auth,
registry serde, idempotent acks=all producer), then, with a load generator in a separate process
(bench/loadgen.py, aiohttp):
  1. the highest sustained rate of 202s: closed loop, `--connections` connections each sending its next
     request as soon as the previous one answered;
  2. latency P50/P99 at 25/50/75 % of that rate: open loop at a fixed rate over at most `--connections`
     connections, latency from the scheduled start;
  3. the HTTP floor: the same Starlette + uvicorn configuration answering a fixed 202 with no work; and the
     HTTP + Kafka floor: the same, sending one fixed record per request with ingest's producer and answering
     once it is acknowledged (the least any ingest that answers 202 after the broker's ack must do);
  4. the Kafka floors: a bare aiokafka producer (acks=all, idempotent), and ingest's own producer
     (librdkafka, `reelstream.kafka.librdkafka`), sending the same Avro SubmitJob payloads with
     `--connections` sends in flight;
  5. with `--compare-workers`: the highest rate of ingest served by 1 and by 2 uvicorn worker processes
     (`ingest_app` below: ingest less its metrics port, which one process serves), and their ratio.
Default runtime about 2-3 minutes (stack start included).

    .venv/bin/python bench/ingest_load.py --compare-security [--seconds 10] [--connections 64]

instead measures ingest's closed-loop peak twice in the same invocation, each on a stack of its own: secured
(Kafka SASL SCRAM-SHA-512 over TLS with ACLs, the registry on HTTPS with a user per service) and open
(PLAINTEXT, plain-HTTP registry), and prints the TLS+SASL / plaintext ratio (rate and CPU per request).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import bench_config, cpu_seconds, throwaway_stack  # noqa: E402

from devstack.keys import ensure_key_dir  # noqa: E402
from devstack.process import ManagedProcess, free_port  # noqa: E402
from devstack.services import PipelineConfig, service_commands  # noqa: E402
from devstack.tenants import ensure_tenants  # noqa: E402
from reelstream.endpoints import Endpoints  # noqa: E402

LOADGEN = str(ROOT / "bench" / "loadgen.py")
FRACTIONS = (0.25, 0.50, 0.75)


def server_options() -> dict[str, Any]:
    """ingest's uvicorn options (ingest/__main__.py; the defaults of versions before it had them)."""
    import ingest.__main__

    return dict(getattr(ingest.__main__, "SERVER_OPTIONS", {"log_config": None, "proxy_headers": False}))


def floor_server(port: int, kafka_bootstrap: str | None = None) -> None:
    """The HTTP floor: ingest's server configuration (see ingest/__main__.py), one route, a fixed 202. With
    `kafka_bootstrap`, the HTTP + Kafka floor: each request also sends one fixed record of a SubmitJob's size
    with ingest's producer (acks=all, idempotent) and answers once the broker acknowledged it: what ingest
    must do at the least, without auth, parsing, validation, Avro or a view."""
    import contextlib

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from reelstream.config import load_config
    from reelstream.kafka.librdkafka import LibrdkafkaProducer
    from reelstream.settings import kafka_security_from_config
    from schemas.topics import COMMANDS

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s %(message)s")
    fixed = {"id": "job_0", "object": "job", "status": "queued"}
    record = bytes(164)  # the size of the bench's SubmitJob record
    producers: list[Any] = []  # made in the lifespan: aiokafka wants the running loop

    async def accepted(request: Request) -> Response:
        await request.body()
        for producer in producers:
            await producer.send_and_wait(COMMANDS.name, record, key=b"tenant-floor")
        return JSONResponse(fixed, status_code=202, headers={"Location": "/v1/jobs/job_0"})

    async def ready(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        if kafka_bootstrap:  # with the stack's credentials, which start_floor passes in the environment
            security = kafka_security_from_config(load_config(os.environ))
            producers.append(LibrdkafkaProducer(kafka_bootstrap, "bench-floor", security=security))
        for producer in producers:
            await producer.start()
        try:
            yield
        finally:
            for producer in producers:
                await producer.stop()

    routes = [Route("/v1/jobs", accepted, methods=["POST"]), Route("/readyz", ready)]
    app = Starlette(routes=routes, lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, **server_options())


def ingest_app() -> Any:
    """The factory each uvicorn worker process calls: ingest as `python -m ingest` makes it, less its metrics
    port (a port is one process's)."""
    from ingest.app import create_app
    from reelstream.logs import configure_logging
    from reelstream.settings import IngestSettings

    settings = IngestSettings.from_env(os.environ)
    configure_logging("reelstream-ingest", settings.pipeline.log)
    return create_app(settings, settle_heap_once_started=True)  # as ingest/__main__.py serves it


def ingest_server(workers: int) -> None:
    """Ingest served by `workers` uvicorn worker processes sharing one listening socket."""
    import uvicorn

    from reelstream.settings import IngestSettings

    settings = IngestSettings.from_env(os.environ)
    uvicorn.run(
        f"{Path(__file__).stem}:ingest_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,
        **server_options(),
    )


def tree_cpu_seconds(pid: int | None) -> float:
    """`cpu_seconds` of a process and of its descendants (uvicorn's worker processes)."""
    children = Path(f"/proc/{pid}/task").glob("*/children")
    kids = [int(k) for c in children for k in c.read_text().split()]
    return cpu_seconds(pid) + sum(tree_cpu_seconds(kid) for kid in kids)


def loadgen_on(pid: int | None, *args: str) -> dict[str, Any]:
    """`loadgen(...)`, plus the server's CPU µs per request during it (its worker processes' included)."""
    before = tree_cpu_seconds(pid)
    result = loadgen(*args)
    result["cpu_us"] = (tree_cpu_seconds(pid) - before) / max(1, result["requests"]) * 1e6
    return result


def loadgen(*args: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`env`: more environment for the generator (the stack's credentials, for the Kafka floors)."""
    out = subprocess.run(
        [sys.executable, LOADGEN, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def wait_http_ready(proc: ManagedProcess, url: str, timeout: float = 120.0) -> None:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    proc.wait_ready(check, timeout, f"ready ({url})")


def start_ingest(config: PipelineConfig, endpoints: Endpoints, log_dir: Path) -> ManagedProcess:
    """ingest as `reelstream dev` runs it: its tenants recorded, its key-encryption keys in the log folder."""
    asyncio.run(ensure_tenants(endpoints, config.tenants()))
    key_dir = ensure_key_dir(log_dir / "keys")
    env = {**os.environ, **config.env(endpoints, key_dir)}
    proc = ManagedProcess("ingest", service_commands(config)["ingest"], log_dir / "ingest.log", env)
    proc.die_with_parent = True
    proc.start()
    wait_http_ready(proc, f"{config.api_url}/readyz")
    return proc


def start_workers(
    config: PipelineConfig, endpoints: Endpoints, log_dir: Path, workers: int
) -> ManagedProcess:
    env = {**os.environ, **config.env(endpoints)}
    argv = [sys.executable, str(Path(__file__).resolve()), "--ingest-server", str(workers)]
    proc = ManagedProcess(
        f"ingest-{workers}w", argv, log_dir / f"ingest-{workers}w.log", env, die_with_parent=True
    )
    proc.start()
    wait_http_ready(proc, f"{config.api_url}/readyz")
    return proc


def compare_workers(
    config: PipelineConfig, key: str, endpoints: Endpoints, log_dir: Path, args: Any
) -> list[tuple[str, dict[str, Any]]]:
    """The highest rate with 1, then 2 worker processes (the same launcher for both)."""
    url, rows = f"{config.api_url}/v1/jobs", []
    for workers in (1, 2):
        proc = start_workers(config, endpoints, log_dir, workers)
        try:
            loadgen("http-closed", url, "--token", key, "--connections", "8", "--seconds", "3")  # warm up
            conns, secs = str(args.connections), str(args.seconds)
            peak = loadgen_on(
                proc.pid, "http-closed", url, "--token", key, "--connections", conns, "--seconds", secs
            )
            rows.append((f"ingest, {workers} worker process(es) (closed)", peak))
        finally:
            proc.stop()
    return rows


def start_floor(
    log_dir: Path, kafka_bootstrap: str | None = None, endpoints: Endpoints | None = None
) -> tuple[ManagedProcess, str]:
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--floor-server", str(port)]
    argv += ["--floor-kafka", kafka_bootstrap] if kafka_bootstrap else []
    credentials = endpoints.kafka_security.as_env() if endpoints is not None else {}
    env: Mapping[str, str] = {**os.environ, **credentials, "PYTHONPATH": str(ROOT)}
    name = "http-kafka-floor" if kafka_bootstrap else "http-floor"
    proc = ManagedProcess(name, argv, log_dir / f"{name}.log", env, die_with_parent=True)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    wait_http_ready(proc, f"{base}/readyz")
    return proc, f"{base}/v1/jobs"


def py_spy(pid: int | None, output: str, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy (collapsed stacks, `--format raw`) on the ingest process during the closed-loop row."""
    argv = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--format", "raw"]
    argv += ["--rate", "200", "--duration", str(int(seconds)), "--output", output]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fmt(ms: float | None) -> str:
    return f"{ms:8.1f}" if ms is not None else "       -"


def measure(config: PipelineConfig, key: str, endpoints: Endpoints, log_dir: Path, args: Any) -> None:
    secs, conns = str(args.seconds), str(args.connections)
    rows: list[tuple[str, dict[str, Any]]] = []
    ingest = start_ingest(config, endpoints, log_dir)
    url = f"{config.api_url}/v1/jobs"
    try:
        loadgen("http-closed", url, "--token", key, "--connections", "8", "--seconds", "2")  # warm up
        profiler = py_spy(ingest.pid, args.py_spy, args.seconds) if args.py_spy else None
        peak = loadgen_on(
            ingest.pid, "http-closed", url, "--token", key, "--connections", conns, "--seconds", secs
        )
        if profiler is not None:
            profiler.wait(timeout=60)
        rows.append((f"ingest max (closed, {conns} conns)", peak))
        if args.fixed_rate:  # the same rate for every version measured: CPU per request compares
            fixed = loadgen_on(ingest.pid, "http-open", url, "--token", key, "--rate", str(args.fixed_rate),
                               "--connections", conns, "--seconds", secs)  # fmt: skip
            rows.append((f"ingest @{args.fixed_rate:g}/s (open)", fixed))
        for fraction in FRACTIONS:
            rate = f"{peak['rate'] * fraction:.1f}"
            result = loadgen(
                "http-open", url, "--token", key, "--rate", rate, "--connections", conns, "--seconds", secs
            )
            rows.append((f"ingest @{fraction:.0%} (open, {rate}/s)", result))
    finally:
        ingest.stop()
    floors = {}
    for name, bootstrap in (("HTTP floor", None), ("HTTP + Kafka floor", endpoints.kafka_bootstrap)):
        floor, floor_url = start_floor(log_dir, bootstrap, endpoints)
        try:
            loadgen("http-closed", floor_url, "--token", key, "--connections", "8", "--seconds", "2")
            floors[name] = loadgen_on(
                floor.pid, "http-closed", floor_url, "--token", key, "--connections", conns, "--seconds", secs
            )
            rows.append((f"{name} (closed, {conns} conns)", floors[name]))
        finally:
            floor.stop()
    http, http_kafka = floors["HTTP floor"], floors["HTTP + Kafka floor"]
    kafka_args = [endpoints.kafka_bootstrap, endpoints.schema_registry_url, "--concurrency", conns]
    kafka = loadgen("kafka", *kafka_args, "--seconds", secs, env=endpoints.as_env())
    rows.append((f"Kafka floor (aiokafka, {conns} in flight)", kafka))
    rdkafka = loadgen(
        "kafka", *kafka_args, "--seconds", secs, "--client", "librdkafka", env=endpoints.as_env()
    )
    rows.append((f"Kafka floor (librdkafka, {conns} in flight)", rdkafka))
    workers = compare_workers(config, key, endpoints, log_dir, args) if args.compare_workers else []
    report(rows + workers, peak, http, http_kafka, kafka, args)
    if workers:
        (_, one), (_, two) = workers
        print(f"2 / 1 worker processes: {two['rate'] / one['rate']:.2f} (rate)")


def report(rows: list[tuple[str, dict[str, Any]]], peak: dict[str, Any], http: dict[str, Any],
           http_kafka: dict[str, Any], kafka: dict[str, Any], args: Any) -> None:  # fmt: skip
    print(f"\ningest load, {os.cpu_count()} cores shared with the load generator, {args.seconds:g} s per row")
    print(f"{'run':42} {'ok/s':>8} {'P50 ms':>8} {'P99 ms':>8} {'CPU µs/req':>10}  statuses")
    for name, r in rows:
        late = f" late={r['generator_late']}" if r.get("generator_late") else ""
        cpu = f"{r['cpu_us']:10.0f}" if "cpu_us" in r else f"{'':10}"
        print(
            f"{name:42} {r['rate']:8.1f} {fmt(r['p50_ms'])} {fmt(r['p99_ms'])} {cpu}  {r['statuses']}{late}"
        )
    by_cpu = http["cpu_us"] / peak["cpu_us"]
    print(f"ingest / HTTP floor : {peak['rate'] / http['rate']:.2f} (rate)   {by_cpu:.2f} (CPU per request)")
    by_cpu = http_kafka["cpu_us"] / peak["cpu_us"]
    ratio = peak["rate"] / http_kafka["rate"]
    print(f"ingest / HTTP + Kafka floor: {ratio:.2f} (rate)   {by_cpu:.2f} (CPU per request)")
    reach = http_kafka["rate"] / http["rate"]
    print(
        f"HTTP + Kafka floor / HTTP floor: {reach:.2f} (rate): the most any ingest that produces could reach"
    )
    print(f"ingest / Kafka floor: {peak['rate'] / kafka['rate']:.2f} (aiokafka)")


def compare_security(args: Any) -> None:
    """ingest's closed-loop peak on a secured and on an open stack, one after the other; their ratio."""
    secs, conns = str(args.seconds), str(args.connections)
    peaks: dict[str, dict[str, Any]] = {}
    for name, secured in (("TLS+SASL", True), ("plaintext", False)):
        key, config = bench_config("*=rate:100000,burst:100000")
        with throwaway_stack(kafka_auth=secured) as (endpoints, log_dir):
            ingest = start_ingest(config, endpoints, log_dir)
            url = f"{config.api_url}/v1/jobs"
            try:
                loadgen("http-closed", url, "--token", key, "--connections", "8", "--seconds", "2")
                peaks[name] = loadgen_on(
                    ingest.pid, "http-closed", url, "--token", key, "--connections", conns, "--seconds", secs
                )
            finally:
                ingest.stop()
    print(f"\ningest, TLS+SASL vs plaintext, {os.cpu_count()} cores, {args.seconds:g} s, {conns} connections")
    for name, r in peaks.items():
        print(f"{name:12} {r['rate']:8.1f} ok/s  P50 {fmt(r['p50_ms'])} ms  P99 {fmt(r['p99_ms'])} ms  "
              f"{r['cpu_us']:8.0f} CPU µs/req  {r['statuses']}")  # fmt: skip
    secured, plain = peaks["TLS+SASL"], peaks["plaintext"]
    print(
        f"TLS+SASL / plaintext: {secured['rate'] / plain['rate']:.2f} (rate)   "
        f"{secured['cpu_us'] / plain['cpu_us']:.2f} (CPU per request)"
    )


def run(args: Any) -> None:
    key, config = bench_config("*=rate:100000,burst:100000")
    with throwaway_stack() as (endpoints, log_dir):
        measure(config, key, endpoints, log_dir, args)
        if args.keep_logs:
            subprocess.run(["cp", "-r", str(log_dir), args.keep_logs], check=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--connections", type=int, default=64, help="closed-loop connections")
    parser.add_argument("--py-spy", metavar="FILE", help="profile ingest's closed-loop row into FILE")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the services' logs here")
    parser.add_argument("--fixed-rate", type=float, default=300.0, help="an open-loop row at this rate")
    parser.add_argument("--compare-workers", action="store_true", help="1 vs 2 worker processes too")
    parser.add_argument(
        "--compare-security", action="store_true", help="only ingest's peak, TLS+SASL vs plaintext stacks"
    )
    parser.add_argument("--floor-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--floor-kafka", metavar="BOOTSTRAP", help=argparse.SUPPRESS)
    parser.add_argument("--ingest-server", type=int, metavar="WORKERS", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.floor_server:
        floor_server(parsed.floor_server, parsed.floor_kafka)
    elif parsed.ingest_server:
        ingest_server(parsed.ingest_server)
    elif parsed.compare_security:
        compare_security(parsed)
    else:
        run(parsed)
