"""One Mochi video rendered by gangs of GPUs: CFG split and Ulysses sequence parallel, against one GPU.

    bash bench/run_on_gpus.sh                                   # on a multi-GPU machine (all its GPUs)
    python -m torch.distributed.run --standalone --nproc-per-node 8 bench/mochi_gang.py --gangs 1,2,8
    python -m torch.distributed.run --standalone --nproc-per-node 2 bench/mochi_gang.py \\
        --preset tiny --device cpu --gangs 1,2 --steps 2          # the same code on CPU (gloo), tiny model

Every process builds the same pipeline (full: Mochi-1's architecture with random bf16 weights, rank 0's
weights broadcast to all; tiny: the test model with 4 heads). For each gang size g, ranks 0..g-1 render one
video through the product's MochiRenderer with a GangContext (g = 1: alone, no gang) while the others wait;
the leader times each denoise step and the stages. One JSON line per gang size (and a setup line), on stdout
and appended to --json: seconds per step, denoise, decode and end-to-end seconds for the steps run, and the
end-to-end time derived for --target-steps (the default video's 64) from the measured per-step time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.distributed as dist

from gpu_consumers.render.base import DECODE, DENOISE, ENCODE_TEXT, RenderRequest
from gpu_consumers.render.gang import GangContext
from gpu_consumers.render.mochi import MochiRenderer
from gpu_consumers.render.options import MochiOptions
from gpu_consumers.render.parallel.plan import plan_gang
from gpu_consumers.render.tiny_mochi import build_tiny_mochi_pipeline

PROMPT = "a wide shot of a small red boat on the sea at sunset with the camera slow over the water"
SEED = 42
TINY_HEADS = 4
WAIT = datetime.timedelta(minutes=30)


def emit(out: Path | None, phase: str, **fields: Any) -> None:
    row = json.dumps({"phase": phase, **fields})
    print(row, flush=True)
    if out is not None:
        with out.open("a") as handle:
            handle.write(row + "\n")


def join_world(device_type: str) -> tuple[int, int, torch.device]:
    """Join the job's world from torchrun's environment; one GPU per process (NCCL), or gloo on CPU."""
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if device_type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        # the members of a small gang wait in a barrier while the render runs: well past NCCL's 10 minutes
        dist.init_process_group("nccl", device_id=torch.device("cuda", local), timeout=WAIT)
        return rank, world, torch.device("cuda", local)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=WAIT)
    return rank, world, torch.device("cpu")


def build_pipeline(preset: str, device: torch.device) -> Any:
    """The same weights on every rank: built from one seed, then rank 0's broadcast (exact either way)."""
    if preset == "full":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from mochi_gpu import build_full_pipeline

        pipe = build_full_pipeline(device)
    else:
        pipe = build_tiny_mochi_pipeline(heads=TINY_HEADS)
        pipe.to(device)
    with torch.no_grad():
        for model in (pipe.transformer, pipe.text_encoder, pipe.vae):
            for tensor in model.state_dict().values():
                dist.broadcast(tensor, src=0)
    return pipe


def render_once(
    renderer: MochiRenderer, request: RenderRequest, gang: GangContext | None, device: torch.device
) -> dict[str, Any]:
    """Render `request` as this member; the stage times as this member saw them."""
    marks: dict[tuple[str, int], float] = {}

    def on_progress(stage: str, step: int, total: int) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        marks[(stage, step)] = time.perf_counter()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    video = renderer.render(request, on_progress, lambda: False, gang=gang)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    ended = time.perf_counter()
    steps = request.num_inference_steps
    step_s = [
        marks[(DENOISE, i)] - marks[(DENOISE, i - 1) if i > 1 else (ENCODE_TEXT, 1)]
        for i in range(1, steps + 1)
    ]
    return {
        "frames": int(video.frames.shape[0]),
        "render_s": round(ended - started, 3),
        "encode_text_s": round(marks[(ENCODE_TEXT, 1)] - marks[(ENCODE_TEXT, 0)], 3),
        "denoise_s": round(marks[(DENOISE, steps)] - marks[(ENCODE_TEXT, 1)], 3),
        "decode_s": round(marks[(DECODE, 1)] - marks[(DECODE, 0)], 3),
        "step_s": [round(s, 3) for s in step_s],
        # the first step pays one-time costs (kernel selection, NCCL communicators): the median excludes it
        "seconds_per_step": round(statistics.median(step_s[1:] or step_s), 3),
        "peak_gib": round(torch.cuda.max_memory_allocated(device) / 1024**3, 2)
        if device.type == "cuda"
        else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda", help="cuda (NCCL, one GPU per process) or cpu (gloo)")
    parser.add_argument("--gangs", default="1,2,8", help="gang sizes to time, each at most the world size")
    parser.add_argument("--width", type=int, default=848)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=163)
    parser.add_argument("--steps", type=int, default=6, help="denoise steps run per video")
    parser.add_argument(
        "--target-steps", type=int, default=64, help="steps the derived end-to-end time is for"
    )
    parser.add_argument("--guidance", type=float, default=4.5)
    parser.add_argument("--attention", default="auto")
    parser.add_argument("--json", type=Path, default=None, help="append each result line here too")
    args = parser.parse_args(argv)
    if args.preset == "tiny":
        args.width, args.height, args.frames = min(args.width, 32), min(args.height, 32), min(args.frames, 7)
    rank, world, device = join_world(torch.device(args.device).type)
    out = args.json if rank == 0 else None
    try:
        started = time.perf_counter()
        pipe = build_pipeline(args.preset, device)
        heads = int(pipe.transformer.config.num_attention_heads)
        if rank == 0:
            emit(
                out,
                "setup",
                world_size=world,
                preset=args.preset,
                build_s=round(time.perf_counter() - started, 1),
                device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                heads=heads,
                torch=torch.__version__,
            )
        renderer = MochiRenderer(
            lambda: pipe,
            device=str(device),
            name="gang-bench",
            max_sequence_length=pipe.tokenizer.model_max_length,
            options=MochiOptions(attention=args.attention),
        )
        renderer.load()
        request = RenderRequest(
            prompt=PROMPT,
            negative_prompt=None,
            width=args.width,
            height=args.height,
            num_frames=args.frames,
            fps=30,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            seed=SEED,
        )
        for size in [int(g) for g in args.gangs.split(",") if g and int(g) <= world]:
            group = dist.new_group(list(range(size))) if 1 < size < world else dist.group.WORLD
            if rank < size:
                gang = GangContext(rank=rank, world_size=size, group=group) if size > 1 else None
                times = render_once(renderer, request, gang, device)
                if rank == 0:
                    plan = plan_gang(size, heads, guided=args.guidance > 1.0).describe()
                    derived = times["render_s"] + times["seconds_per_step"] * (args.target_steps - args.steps)
                    emit(
                        out,
                        "gang",
                        gang=size,
                        plan=plan,
                        width=args.width,
                        height=args.height,
                        num_frames=args.frames,
                        steps=args.steps,
                        **times,
                        **{f"render_s_at_{args.target_steps}_steps_derived": round(derived, 1)},
                    )
            dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
