#!/usr/bin/env bash
# One GPU session in 8 minutes: the renderer's GPU tests, then the full-size Mochi benchmark.
#   bash bench/run_on_gpu.sh [bench/mochi_gpu.py options]
# Budget (TOTAL_S, default 480 s): the tests get at most TESTS_TIMEOUT (60 s); the bench gets what is left,
# less a margin, as its --budget-s (each of its phases is skipped, with a JSON line saying so, when it would
# not fit). Python packages the GPU image lacks (diffusers, PyAV, torchao) may sit in .whl/ as wheels; they
# are installed to a scratch folder first. Results land in $OUT (default /tmp/reelstream-gpu): gpu-tests.log,
# bench.log and bench.jsonl (one JSON line per measurement; copy it to bench/results/ with the card's name).
# CPU check of the same code: python bench/mochi_gpu.py --dry-run (tests/unit/bench runs it).
set -u
START=$SECONDS
TOTAL_S=${TOTAL_S:-480}
OUT=${OUT:-/tmp/reelstream-gpu}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=.:${PYTHONPATH:-} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch, diffusers, transformers; print("torch", torch.__version__, "diffusers", diffusers.__version__, "transformers", transformers.__version__)'
timeout "${TESTS_TIMEOUT:-60}" python3 -m pytest --noconftest -p no:asyncio -p no:cacheprovider -o addopts= \
  -W ignore::pytest.PytestConfigWarning -m gpu -q -rs tests/integration/test_tiny_mochi.py tests/gpu/test_fp8.py 2>&1 | tee "$OUT/gpu-tests.log"
BUDGET=$((TOTAL_S - (SECONDS - START) - 30))  # 30 s: interpreter start, building the model, the table
echo "bench budget: ${BUDGET} s of ${TOTAL_S} s"
timeout "$((BUDGET + 25))" python3 bench/mochi_gpu.py --budget-s "$BUDGET" --json "$OUT/bench.jsonl" "$@" 2>&1 | tee "$OUT/bench.log"
