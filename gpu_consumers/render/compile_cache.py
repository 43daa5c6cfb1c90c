"""Where torch.compile keeps what it compiled, and what it did: paid once per node, not once per start.

Inductor's FX-graph cache and Triton's kernel cache live under one persistent folder
(REELSTREAM_COMPILE_CACHE_DIR; chart: a hostPath per node, dev: `<cache dir>/compile`). A worker that starts
again on the same node traces its blocks (dynamo is per process) but takes the compiled code from the cache:
`fxgraph_cache_hit` instead of `fxgraph_cache_miss`. On CPU the same cache holds inductor's C++ builds.

`use_compile_cache` must run before the first compile (the worker's `__main__` calls it before it builds the
renderer): torch and Triton read these variables when they compile. `compile_counts` reads torch's
process-wide counters without importing torch (a worker whose renderer needs no torch reports zeros).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INDUCTOR_DIR = "inductor"
TRITON_DIR = "triton"


def use_compile_cache(folder: str | Path | None) -> Path | None:
    """Point inductor's and Triton's caches into `folder` (created) and switch the FX-graph cache on.
    None leaves torch's defaults (a folder under /tmp: lost with the pod)."""
    if folder is None:
        return None
    root = Path(folder).expanduser().resolve()
    (root / INDUCTOR_DIR).mkdir(parents=True, exist_ok=True)
    (root / TRITON_DIR).mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / INDUCTOR_DIR)
    os.environ["TRITON_CACHE_DIR"] = str(root / TRITON_DIR)
    os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] = "1"
    os.environ["TORCHINDUCTOR_AUTOGRAD_CACHE"] = "1"
    if "torch._inductor.config" in sys.modules:  # imported already: its defaults were read at import
        import torch._inductor.config as inductor

        inductor.fx_graph_cache = True
    return root


@dataclass(frozen=True)
class CompileCounts:
    """torch's counters since the process started: graphs dynamo captured, and the FX graphs inductor
    compiled afresh (a cache miss) or took from the cache (a hit)."""

    graphs: int = 0
    cache_misses: int = 0
    cache_hits: int = 0

    def __sub__(self, other: CompileCounts) -> CompileCounts:
        return CompileCounts(
            self.graphs - other.graphs,
            self.cache_misses - other.cache_misses,
            self.cache_hits - other.cache_hits,
        )


def compile_counts() -> CompileCounts:
    module: Any = sys.modules.get("torch._dynamo.utils")
    if module is None:
        return CompileCounts()
    counters = module.counters
    return CompileCounts(
        graphs=int(counters["stats"]["unique_graphs"]),
        cache_misses=int(counters["inductor"]["fxgraph_cache_miss"]),
        cache_hits=int(counters["inductor"]["fxgraph_cache_hit"]),
    )
