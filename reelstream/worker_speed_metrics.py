"""What a GPU worker's start and idle time cost: the warm-up, torch's compilations, the gap between renders.

- `reelstream_worker_warmup_seconds{pool, slot}`: from the start of the renderer's load to the slot's first
  heartbeat (weights, then a few compiled steps of every shape the model serves); the slot takes no work
  before it ends.
- `reelstream_torch_compilations_total{pool, slot}` / `reelstream_torch_compile_cache_hits_total`: FX graphs
  inductor compiled afresh, and those it took from the compile cache (torch's `fxgraph_cache_miss` and
  `fxgraph_cache_hit`). A worker restarted on a warm node counts hits, not compilations; a compilation after
  the warm-up is a job of a shape no warm-up covered.
- `reelstream_worker_idle_gap_seconds{pool, slot}`: from the end of one render's GPU work (denoise and
  decode: its first finish stage, or its outcome when it ended earlier) to the start of the next one on the
  slot: the GPU time lost between renders (the previous job's encode, verify and upload, its outcome's round
  trip through the scheduler, the next dispatch). With a backlog that is all it holds; a slot with no work
  waiting adds its wait for work, so read it where the pool has queued jobs.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

IDLE_GAP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class WorkerSpeedMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.warmup_seconds = Gauge(
            "reelstream_worker_warmup_seconds",
            "Seconds from the renderer's load to the slot's readiness (weights and compiled warm-up)",
            ["pool", "slot"],
            registry=registry,
        )
        self.compilations = Counter(
            "reelstream_torch_compilations",
            "FX graphs inductor compiled afresh (not found in the compile cache)",
            ["pool", "slot"],
            registry=registry,
        )
        self.cache_hits = Counter(
            "reelstream_torch_compile_cache_hits",
            "FX graphs inductor took from the compile cache",
            ["pool", "slot"],
            registry=registry,
        )
        self.idle_gap = Histogram(
            "reelstream_worker_idle_gap_seconds",
            "Seconds between one render's GPU work and the next one's, with the next one waiting",
            ["pool", "slot"],
            buckets=IDLE_GAP_BUCKETS,
            registry=registry,
        )


class SlotSpeed:
    """One slot's series of `WorkerSpeedMetrics`; compile counts are given as torch's running totals."""

    def __init__(self, families: WorkerSpeedMetrics, pool: str, slot: int) -> None:
        self.families, self.labels = families, (pool, str(slot))
        families.compilations.labels(*self.labels)
        families.cache_hits.labels(*self.labels)
        families.idle_gap.labels(*self.labels)
        self._misses = self._hits = 0
        self._gpu_free_since: float | None = None  # the last render's GPU work ended (monotonic)

    def warmed_up(self, seconds: float) -> None:
        self.families.warmup_seconds.labels(*self.labels).set(seconds)

    def compiled(self, misses: int, hits: int) -> None:
        """torch's totals so far (`fxgraph_cache_miss`, `fxgraph_cache_hit`); the counters take the rise."""
        self.families.compilations.labels(*self.labels).inc(max(0, misses - self._misses))
        self.families.cache_hits.labels(*self.labels).inc(max(0, hits - self._hits))
        self._misses, self._hits = max(misses, self._misses), max(hits, self._hits)

    def gpu_done(self, now: float) -> None:
        """A render's GPU work ended (its first finish stage, or its outcome): the GPU idles from here."""
        if self._gpu_free_since is None:
            self._gpu_free_since = now

    def render_started(self, now: float) -> None:
        """The next render started: the gap since the previous one's GPU work is observed (none before the
        slot's first render)."""
        if self._gpu_free_since is not None:
            self.families.idle_gap.labels(*self.labels).observe(max(0.0, now - self._gpu_free_since))
        self._gpu_free_since = None
