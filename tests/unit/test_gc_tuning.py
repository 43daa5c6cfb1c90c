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
"""


def test_settle_heap_collects_start_up_garbage_then_freezes_what_lives() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
