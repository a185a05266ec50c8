#!/usr/bin/env bash
# Prints the xkmeans extra that brings CuPy for this machine's NVIDIA driver
# ("cuda12" or "cuda13"), or nothing when there is no NVIDIA GPU or CuPy is
# already importable. Used by `make demo` so that it runs on the GPU when one
# is present.
set -u
PY=${1:-python3}
command -v nvidia-smi > /dev/null 2>&1 || exit 0
nvidia-smi -L > /dev/null 2>&1 || exit 0
"$PY" -c "import cupy" > /dev/null 2>&1 && exit 0
major=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -n 1)
case "$major" in
    12) echo cuda12 ;;
    13|14|15) echo cuda13 ;;
    *) ;;
esac
