"""The load visualization's histograms: render seconds by clip length and by prompt length.

Labels are bounded classes (never a job's numbers): frames and prompt words each fall in one of a few
ranges, so the histogram holds at most 4 × 5 label sets. The scheduler observes a job when it succeeds,
from its status (started to succeeded); the dashboard `reelstream-long-jobs` plots the classes against
render seconds, next to the long-job estimator's accuracy.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from schemas.events import JobState, JobStatus

FRAME_CLASSES = ((31, "0-31"), (85, "32-85"), (169, "86-169"))  # more: "170+"
PROMPT_WORD_CLASSES = ((15, "0-15"), (31, "16-31"), (63, "32-63"), (127, "64-127"))  # more: "128+"
FRAME_CLASS_NAMES = (*(name for _, name in FRAME_CLASSES), "170+")
PROMPT_WORD_CLASS_NAMES = (*(name for _, name in PROMPT_WORD_CLASSES), "128+")
RENDER_BUCKETS = (1, 5, 10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)


def frames_class(frames: int) -> str:
    return next((name for limit, name in FRAME_CLASSES if frames <= limit), FRAME_CLASS_NAMES[-1])


def prompt_words_class(words: int) -> str:
    return next((name for limit, name in PROMPT_WORD_CLASSES if words <= limit), PROMPT_WORD_CLASS_NAMES[-1])


def render_load_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "reelstream_render_load_seconds",
        "Render time of succeeded jobs by clip length and prompt length class (the load visualization)",
        ["frames", "prompt_words"],
        buckets=RENDER_BUCKETS,
        registry=registry,
    )


def render_sample(status: JobStatus) -> tuple[str, str, float] | None:
    """A succeeded job's (frames class, prompt words class, render seconds: started to succeeded); None for
    a job without both times or without parameters. The histogram and ingest's `GET /v1/stats/render-load`
    (ingest.render_load) both read jobs through it, so they class them alike."""
    started = status.state_times.get(JobState.RUNNING.value)
    ended = status.state_times.get(JobState.SUCCEEDED.value)
    if status.params is None or started is None or ended is None:
        return None
    words = status.prompt_words if status.prompt_words is not None else len(status.prompt.split())
    frames = frames_class(status.params.num_frames)
    return frames, prompt_words_class(words), max((ended - started).total_seconds(), 0.0)


def observe_render_load(histogram: Histogram, status: JobStatus) -> None:
    """A succeeded job's render time (started to succeeded) in its classes; others are skipped."""
    sample = render_sample(status)
    if sample is not None:
        histogram.labels(sample[0], sample[1]).observe(sample[2])
