"""A list page's cost in the status view's local store, in-process, without Kafka: N succeeded jobs (the
snapshots of bench/status_view_runner.py) are written through the checkout's JobIndex into a RocksDB store
at PATH in bulk (as a replay does), then 600 pages of 50 are timed: wall and this thread's CPU, P50/P99.
Run it with PYTHONPATH (and the working directory) of the checkout whose layout is measured, e.g. main's
and this branch's alternately over stores each built by its own code:

    cd <checkout> && PYTHONPATH=$PWD python bench/list_page_cpu.py 200000 /tmp/pages-<checkout>
"""

from __future__ import annotations

import asyncio
import random
import sys
import time

sys.path.insert(0, "bench")
from status_view_runner import T0, TENANTS, snapshot

from ingest.job_index import JobFacts, JobIndex
from reelstream.local_store import LocalStore
from schemas.serde import AvroSerde
from schemas.topics import JOB_STATUS
from tests.kafka_clients import MemoryRegistry


async def main(jobs: int, path: str) -> None:
    serde = AvroSerde(MemoryRegistry())
    await serde.register(JOB_STATUS)
    store = LocalStore(path).open()
    namespace = store.namespace(b"status")
    index = JobIndex(namespace, lambda raw: serde.decode_seen(JOB_STATUS, raw), lambda raw: None)  # type: ignore[arg-type,return-value]
    if namespace.checkpoint()[0] == {}:
        store.bulk_load(True)
        started = time.perf_counter()
        for n in range(jobs):
            status = snapshot(n)
            index.apply(JobFacts.of(status), raw=serde.serialize(JOB_STATUS, status))
            if n % 10_000 == 9_999:
                index.batch.commit({0: n + 1}, 1)
        index.batch.commit({0: jobs}, 1)
        store.bulk_load(False)
        print(f"built in {time.perf_counter() - started:.1f} s")
    rng = random.Random(7)  # noqa: S311
    wall, cpu = [], []
    for i in range(600):
        tenant = f"tenant-{rng.randrange(TENANTS):04d}"
        after = None if i % 2 else (-(rng.randrange(jobs) * 10**6) - int(T0.timestamp() * 1e6), "")
        t, c = time.perf_counter(), time.thread_time()
        index.page(tenant, 50, after)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    q = lambda xs, p: sorted(xs)[int(len(xs) * p)] * 1000  # noqa: E731
    print(
        f"list page p50/p99 ms: wall {q(wall, 0.5):.2f}/{q(wall, 0.99):.2f}, "
        f"CPU {q(cpu, 0.5):.2f}/{q(cpu, 0.99):.2f}"
    )
    store.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
