"""How far along a render attempt is, as one number from 0 to 1, and when a change is worth reporting.

Every phase of an attempt owns a span of the bar, in the order they run, so the bar moves on every denoise
step and again at decode, video encode and upload, on a CPU as on a GPU. Denoising owns most of the bar: it
is most of a real render's time. The last span ends below 1.0: only the success event reports 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpu_consumers.render.base import DECODE, DENOISE, ENCODE_TEXT, ENCODE_VIDEO, UPLOAD

# stage → (where its span starts, where it ends), in the order the stages run
PHASES: dict[str, tuple[float, float]] = {
    ENCODE_TEXT: (0.0, 0.05),
    DENOISE: (0.05, 0.80),
    DECODE: (0.80, 0.88),
    ENCODE_VIDEO: (0.88, 0.95),
    UPLOAD: (0.95, 0.99),
}
MIN_REPORTED_CHANGE = 0.05  # a move at least this large is reported even within the interval


def overall_progress(stage: str, step: int, total: int) -> float:
    """The attempt's progress when `stage` has done `step` of `total` (rounded to 4 places)."""
    start, end = PHASES[stage]
    done = min(max(step / total, 0.0), 1.0) if total > 0 else 1.0
    return round(start + (end - start) * done, 4)


@dataclass
class ReportPolicy:
    """Decides which progress callbacks become reports: every stage change and every stage's last step, any
    move of at least MIN_REPORTED_CHANGE, and otherwise at most one report per `interval` seconds (a render
    of thousands of quick steps must not flood the broker)."""

    interval: float
    _last_at: float | None = None
    _last_stage: str | None = None
    _last_progress: float = 0.0

    def should_report(self, stage: str, step: int, total: int, now: float) -> bool:
        progress = overall_progress(stage, step, total)
        due = (
            self._last_at is None
            or stage != self._last_stage
            or step >= total
            or progress - self._last_progress >= MIN_REPORTED_CHANGE
            or now - self._last_at >= self.interval
        )
        if due:
            self._last_at, self._last_stage, self._last_progress = now, stage, progress
        return due
