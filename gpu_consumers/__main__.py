"""`reelstream-worker --slot N`: one process per GPU slot."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile

from gpu_consumers.nvml import NvmlCollector
from gpu_consumers.render.base import DeviceLost, RenderStuck
from gpu_consumers.render.compile_cache import use_compile_cache
from gpu_consumers.renderers import make_renderer
from gpu_consumers.worker import Worker
from reelstream.config import or_exit
from reelstream.logs import configure_logging
from reelstream.metrics import Metrics
from reelstream.scratch import process_scratch, scratch_path
from reelstream.settings import WorkerSettings
from reelstream.tracing import configure_tracing

EXIT_DEVICE_LOST = 75  # EX_TEMPFAIL: restart this process


async def _serve(worker: Worker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.run(stop)
    except RenderStuck as exc:
        # its attempt was reported and committed, the clients closed; the render's thread cannot be
        # stopped, and asyncio.run would wait for it forever: end the process (its supervisor restarts it)
        logging.getLogger("gpu_consumers").critical("exiting: %s", exc.message)
        logging.shutdown()
        os._exit(EXIT_DEVICE_LOST)


def main() -> None:
    parser = argparse.ArgumentParser(prog="reelstream-worker")
    parser.add_argument(
        "--slot",
        type=int,
        default=None,
        help="GPU slot index = dispatch partition (default: REELSTREAM_SLOT)",
    )
    args = parser.parse_args()
    settings = or_exit("reelstream-worker", lambda: WorkerSettings.from_env(os.environ, slot=args.slot))
    configure_logging("reelstream-worker", settings.pipeline.log)
    configure_tracing("reelstream-worker", os.environ)
    use_compile_cache(settings.render.compile_cache_dir)  # before anything compiles
    renderer = or_exit(
        "reelstream-worker",
        lambda: make_renderer(settings.renderer, settings.device, settings.render, settings.pipeline.models),
    )
    metrics = Metrics(settings.pipeline.metrics.tenant_classes)
    if settings.device != "cpu":
        metrics.registry.register(NvmlCollector(settings.pool_id, settings.slot, settings.device))
    metrics.serve(settings.pipeline.metrics)
    # every temporary file of this process (a job's video and poster) goes in its scratch folder: removed
    # when it exits, and by the next start after a SIGKILL (reelstream.scratch)
    with process_scratch(scratch_path(f"worker-{settings.pipeline.app_prefix}-{settings.slot}")) as scratch:
        tempfile.tempdir = str(scratch)
        try:
            asyncio.run(_serve(Worker(settings, renderer, metrics)))
        except DeviceLost as exc:  # its attempt was reported; a fresh process gets a fresh CUDA context
            logging.getLogger("gpu_consumers").critical("exiting: %s", exc.message)
            sys.exit(EXIT_DEVICE_LOST)


if __name__ == "__main__":
    main()
