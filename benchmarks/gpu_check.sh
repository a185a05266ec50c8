#!/usr/bin/env bash
# One GPU run: the CuPy / CUDA tests, a default fit, issue 13 and 16 rows, the GPU-size benchmarks.
# Each section has its own timeout (620 s in all; typically well under): run it with the
# device tool's full 600 s; tables are written as they go, so a cut run keeps the finished ones.
#
# Runs from the source tree (PYTHONPATH=., no install). Wheels carried in a
# git-ignored .whl/ folder (array-api-compat, array-api-strict,
# fast-pytorch-kmeans, flash-kmeans) are installed into /tmp/site first.
# JSON, table and one PNG (all workloads) go to $OUT when set, else benchmarks/results/.
# Usage: bash benchmarks/gpu_check.sh [extra `python -m benchmarks` arguments]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" > /dev/null; then
    "$PY" -m pip install --quiet --no-index --no-deps --no-compile --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
DEST=${OUT:-benchmarks/results}
mkdir -p "$DEST"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import xkmeans, numpy, sklearn; print('xkmeans from', xkmeans.__file__)" || exit 1

echo "== CuPy / CUDA tests (kernel parity first: the first run compiles the kernels)"
timeout 120 "$PY" -m pytest -q -x tests/test_cuda_parity.py -p no:cacheprovider
parity_rc=$?
timeout 60 "$PY" -m pytest -q tests -k "cupy or cuda" --ignore=tests/test_cuda_parity.py \
    -p no:cacheprovider --continue-on-collection-errors
tests_rc=$?
[ "$tests_rc" = 5 ] && tests_rc=0  # no test selected is not a failure here
[ "$parity_rc" != 0 ] && tests_rc=$parity_rc

echo "== Default KMeans(16).fit on 16.7M colour pixels"
timeout 30 "$PY" -m benchmarks.gpu_fit | tee "$DEST/gpu-fit.md"

echo "== GaussianMixture 1M x 16, 32 components, and the scores on CuPy (sklearn beside it)"
timeout 60 "$PY" -m benchmarks.mixture --size gpu --device cupy --iters 5 | tee "$DEST/mixture-gpu.md"

echo "== Issue 16 rows: k-means|| vs k-means++, pruned vs plain Lloyd, sparse X (CuPy)"
timeout 90 "$PY" -m benchmarks.gpu_advanced --lib cupy | tee "$DEST/advanced-gpu.md"

echo "== Issue 13 rows: k-NN graphs, spectral, mini-batch, memmap stream, quantize (CuPy)"
timeout 120 "$PY" -m benchmarks.gpu_jobs --lib cupy --isolate --budget 80 --job-timeout 25 | tee "$DEST/jobs-gpu.md"

echo "== GPU benchmarks"
timeout 140 "$PY" -m benchmarks --size gpu --json "$DEST/bench-gpu.json" \
    --plot "$DEST/bench-gpu.png" "$@" \
    | tee "$DEST/bench-gpu.md"
bench_rc=${PIPESTATUS[0]}

echo "tests rc=$tests_rc, benchmarks rc=$bench_rc"
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
