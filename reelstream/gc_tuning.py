"""The garbage collector of a long-running service: out of the way of its requests.

CPython's full collections walk every tracked object. Under load ingest ran one every ~0.45 s, each 30-60 ms
(the request path's latency tail at P99), and they found nothing to free: what start-up built (modules,
classes, the app, the views' first replay) lives as long as the process. `settle_heap` moves what exists once
start-up is done into the permanent generation (`gc.freeze`), which full collections no longer walk; objects
freed by reference counting are freed as before. Reference cycles made later are still collected.

It then collects the young generation after 10,000 new container objects instead of CPython's 700. A request
makes and frees (by reference counting) hundreds of them, so ingest collected its young generation every ~13
requests and each collection moved the live ones up a generation, toward the full collections: 14 µs of
collector per accepted job under load, 1.5 µs after (tenfold fewer collections of every generation, a 10 s
row probed with `gc.callbacks`; see bench/results/perf-issue9.md). What it costs: cyclic garbage waits for
10,000 allocations instead of 700 before it is found, a few MiB at most.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # container objects allocated (net) between collections of the young generation


def settle_heap() -> None:
    """Call once start-up is done: collect what start-up left, freeze the survivors, and collect the young
    generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
