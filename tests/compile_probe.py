"""`python -m tests.compile_probe CACHE_DIR`: load the tiny renderer compiled, as a worker starts with
REELSTREAM_COMPILE=on and REELSTREAM_COMPILE_CACHE_DIR=CACHE_DIR, and print what its warm-up compiled (one
JSON line). A fresh process each time: dynamo's in-memory caches do not carry over, only the folder does."""

from __future__ import annotations

import dataclasses
import json
import sys

from gpu_consumers.render.compile_cache import use_compile_cache


def main(cache_dir: str) -> None:
    use_compile_cache(cache_dir)  # before torch compiles anything, as the worker's __main__ does
    from gpu_consumers.render.mochi import tiny_mochi_renderer
    from gpu_consumers.render.options import MochiOptions
    from gpu_consumers.renderers import warmup_requests
    from reelstream.models.mochi import TINY_MOCHI

    renderer = tiny_mochi_renderer(options=MochiOptions(compile=True))
    preview = warmup_requests(TINY_MOCHI)[-1]  # the smallest shape: the cache, not the model, is tested
    renderer.warmup = (dataclasses.replace(preview, guidance_scale=1.0),)
    renderer.load()
    (shape,) = renderer.warmed
    print(json.dumps({"seconds": shape.seconds, **dataclasses.asdict(shape.compiled)}))


if __name__ == "__main__":
    main(sys.argv[1])
