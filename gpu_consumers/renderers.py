"""Which renderer a worker runs, by the model name it serves (the name slots advertise to the scheduler)."""

from __future__ import annotations

from pathlib import Path

from gpu_consumers.render.base import Renderer
from reelstream.errors import ConfigurationError


def make_renderer(model: str, device: str, model_dir: str | None) -> Renderer:
    """No I/O here: weights load in `Renderer.load()` at worker start-up."""
    from gpu_consumers.render.mochi import MochiRenderer, tiny_mochi_renderer

    if model == "tiny-mochi":
        return tiny_mochi_renderer(device=device)
    if model == "mochi-1":
        if not model_dir:
            raise ConfigurationError(
                "the mochi-1 renderer needs REELSTREAM_MODEL_DIR (a local diffusers folder)"
            )
        return MochiRenderer(lambda: _load_mochi(Path(model_dir)), device=device, name=model)
    raise ConfigurationError(f"no renderer for model {model!r}")


def _load_mochi(model_dir: Path):  # type: ignore[no-untyped-def]
    import torch
    from diffusers import MochiPipeline

    if not (model_dir / "model_index.json").is_file():
        raise ConfigurationError(f"{model_dir} is not a diffusers model folder (no model_index.json)")
    return MochiPipeline.from_pretrained(  # type: ignore[no-untyped-call]
        model_dir, torch_dtype=torch.bfloat16, local_files_only=True
    )
