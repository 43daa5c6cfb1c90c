"""The services' garbage-collector set-up, in a process of its own (freezing is for the whole process)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc, weakref
from reelstream.gc_tuning import settle_heap

class Node:
    pass

freed = []
cycle = Node()
cycle.me = cycle
watch = weakref.ref(cycle, lambda ref: freed.append(ref))
del cycle  # garbage in a cycle: reference counting alone never frees it
assert gc.get_freeze_count() == 0 and not freed
settle_heap()
assert freed, "start-up garbage in cycles is collected, not frozen"
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()  # what start-up built (modules, classes)
assert gc.get_threshold() == (10_000, 10, 10), gc.get_threshold()  # the young generation: CPython's 700
young = gc.get_count()[0]
kept = [[] for _ in range(2_000)]  # more than CPython's threshold, well under the service's
assert gc.get_count()[0] >= young + 2_000, "no young collection after 2,000 new containers"
"""


def test_settle_heap_collects_start_up_garbage_freezes_the_rest_and_spaces_young_collections() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
