"""The GPU worker's part of the settings registry (its slot and renderer, the render levers, gangs, the
overlap of finishes): fields that reelstream.config.registry.Registry inherits, declared like the rest."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, field_validator

from reelstream.config.declare import DEV, SCHEDULER, WORKER, setting
from reelstream.models import DEV_MODEL

ATTENTION = Literal["auto", "cudnn", "flash", "efficient", "math"]
COMPILE = Literal["auto", "on", "off"]


class WorkerFields(BaseModel):
    """The REELSTREAM_* settings the GPU worker reads (see Registry for how values are loaded)."""

    slot: int | None = setting(
        None, "This worker's slot (= dispatch partition); --slot wins.", (WORKER,), ge=0
    )
    renderer: str = setting(DEV_MODEL, "The model this worker serves (a registered model id).", (WORKER,))
    device: str = setting("cpu", "Torch device of the renderer (cpu, cuda, cuda:N).", (WORKER,))
    heartbeat_seconds: float = setting(2.0, "Interval of the worker's heartbeats.", (WORKER,), unit="s", gt=0)
    worker_max_finishing: int = setting(
        1,
        "Renders a slot keeps in their finish (MP4 encode, verify, poster, upload) while its GPU renders the "
        "next job (no idle gap between renders); 0: a slot runs one render at a time, start to outcome.",
        (SCHEDULER, WORKER),
        ge=0,
        le=8,
    )
    model_dir: str | None = setting(None, "Folder of the mochi-1 diffusers weights.", (WORKER, DEV))
    model_id: str | None = setting(
        None, "Hub id of the mochi-1 weights, looked up in the local cache.", (WORKER,)
    )
    simulated_render_scale: float | None = setting(
        None, "Benchmarks only: simulate renders, the cost prior times this.", (WORKER,), gt=0
    )
    gang_rendezvous: str = setting(
        "tcp://127.0.0.1:{port}",
        "Where a gang's members meet: the leader's TCP store, {slot} the leader's slot, {port} the gang port "
        "base plus that slot (the chart: the leader pod's stable DNS name).",
        (WORKER,),
    )
    gang_port_base: int = setting(
        29500, "A gang's rendezvous port is this plus its leader's slot.", (WORKER,), ge=1, le=65000
    )
    gang_timeout_seconds: float = setting(
        120.0,
        "How long a gang member waits for the others at the rendezvous and in each collective: past it the "
        "attempt fails (a dead member must not hang the rest).",
        (WORKER,),
        unit="s",
        gt=0,
    )
    attention: ATTENTION = setting(
        "auto", "Attention kernel of the transformer's joint attention.", (WORKER,)
    )
    vae_tiling: bool = setting(
        True, "Decode the VAE in tiles (needed for full-size clips on 80 GB).", (WORKER,)
    )
    compile: COMPILE = setting(
        "auto",
        "torch.compile the transformer's blocks, warmed up on every shape the model serves before the slot "
        "takes work (auto: on for a CUDA device, off on the CPU).",
        (WORKER,),
    )
    compile_cache_dir: str | None = setting(
        None,
        "Persistent folder of inductor's and Triton's compile caches (shared by the node's workers); "
        "default: torch's folder under /tmp.",
        (WORKER, DEV),
    )
    tf32: bool = setting(True, "TF32 for float32 matmuls.", (WORKER,))
    cpu_offload: bool = setting(False, "Offload model parts to the CPU (required under 60 GB).", (WORKER,))
    fp8_linear: bool = setting(
        False,
        "torchao float8 (rowwise scales) for the transformer blocks' linear layers; needs the `gpu` extra "
        "(torchao) and compute capability 8.9+, else the worker refuses to start.",
        (WORKER,),
    )
    fp8_attention: bool = setting(
        False,
        "FP8 joint attention (q/k/v in float8_e4m3, per-head scales; FlashAttention-3's FP8 SDPA): Hopper "
        "with FlashAttention-3 installed, else the worker refuses to start.",
        (WORKER,),
    )

    @field_validator("compile", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        """on/off as every other switch spells them (true, 1, yes...), or auto."""
        text = str(value).strip().lower()
        return {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}.get(text, text)

    @field_validator("gang_rendezvous")
    @classmethod
    def _rendezvous(cls, value: str) -> str:
        if not value.startswith("tcp://") or "{port}" not in value:
            raise ValueError("must be a tcp://host:{port} template")
        return value
