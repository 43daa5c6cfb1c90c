#!/usr/bin/env bash
# One multi-GPU session: one Mochi video rendered by gangs of 1, 2 (CFG split) and 8 (CFG split x Ulysses 4)
# GPUs of this machine, timed per step and end to end (bench/mochi_gang.py, launched by torchrun).
#   bash bench/run_on_gpus.sh [bench/mochi_gang.py options]     # default: --gangs 1,2,8, full size, 6 steps
#   NPROC=2 bash bench/run_on_gpus.sh --preset tiny --device cpu --gangs 1,2 --steps 2   # CPU dry run (gloo)
# Python packages the GPU image lacks (diffusers, PyAV) may sit in .whl/ as wheels; they are installed to a
# scratch folder first. Results land in $OUT (default /tmp/reelstream-gpus): bench log and JSON lines.
set -u
OUT=${OUT:-/tmp/reelstream-gpus}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=.:${PYTHONPATH:-} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  NPROC=${NPROC:-$(nvidia-smi -L | wc -l)}
fi
NPROC=${NPROC:-1}
"$PYTHON" -c 'import torch, diffusers; print("torch", torch.__version__, "diffusers", diffusers.__version__)'
timeout "${BENCH_TIMEOUT:-540}" "$PYTHON" -m torch.distributed.run --standalone --nproc-per-node "$NPROC" \
  bench/mochi_gang.py --json "$OUT/gang.jsonl" "$@" 2>&1 | tee "$OUT/gang-bench.log"
exit "${PIPESTATUS[0]}"
