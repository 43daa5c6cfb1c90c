"""Renderers for tests of the worker around the renderer seam: the GPU cannot be broken on purpose here."""

from __future__ import annotations

from gpu_consumers.render.base import CancelCheck, ProgressCallback, RenderedVideo, RenderRequest


class RaisingRenderer:
    """Every render raises `error` at once: a renderer failure (the worker reports it and takes the next
    dispatch), or DeviceLost (the worker reports the attempt and exits)."""

    settings: dict[str, str] = {}

    def __init__(self, name: str, error: Exception) -> None:
        self.name = name
        self._error = error

    def load(self) -> None:
        return None

    def render(
        self, request: RenderRequest, on_progress: ProgressCallback, is_canceled: CancelCheck
    ) -> RenderedVideo:
        raise self._error
