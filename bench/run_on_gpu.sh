#!/usr/bin/env bash
# One GPU session, start to finish: the renderer tests on CUDA, then the full-size Mochi benchmark.
#   bash bench/run_on_gpu.sh [bench/mochi_gpu.py options]
# Python packages the GPU image lacks (diffusers, PyAV) may sit in .whl/ as wheels; they are installed
# to a scratch folder first. Results land in $OUT (default /tmp/reelstream-gpu): test log, bench log, JSON lines.
set -u
OUT=${OUT:-/tmp/reelstream-gpu}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=.:${PYTHONPATH:-} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch, diffusers, transformers; print("torch", torch.__version__, "diffusers", diffusers.__version__, "transformers", transformers.__version__)'
timeout "${TESTS_TIMEOUT:-150}" python3 -m pytest --noconftest -p no:asyncio -p no:cacheprovider -o addopts= \
  -W ignore::pytest.PytestConfigWarning -m gpu -q -rs tests/integration/test_tiny_mochi.py tests/gpu/test_fp8.py 2>&1 | tee "$OUT/gpu-tests.log"
timeout "${BENCH_TIMEOUT:-520}" python3 bench/mochi_gpu.py --json "$OUT/bench.jsonl" "$@" 2>&1 | tee "$OUT/bench.log"
