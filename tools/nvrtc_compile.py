"""Compile every CUDA source of xkmeans with NVRTC for one architecture (no GPU needed).

``python tools/nvrtc_compile.py compute_90`` prints a JSON list of failures
(name, options, log) for every specialisation the library builds: an error
or any warning is a failure. Run in its own process by
``tests/test_cuda_kernels.py``: loading NVRTC into the test process broke later
joblib memmap round trips in scikit-learn's estimator checks.
"""

from __future__ import annotations

import concurrent.futures
import json
import sys

from cuda.bindings import nvrtc

from xkmeans._primitives import _cuda_plan as plan
from xkmeans._primitives import _cupy

# Every dtype, weighting and label type; the dimensions where PPT changes and the ends.
DIMS = (1, 2, 3, 4, 5, 8, 9, plan.LOWD_MAX_DIM)
LLOYD = [
    plan.options(dtype, d, weighted, "int")
    for dtype in ("float32", "float64") for d in DIMS for weighted in (False, True)
] + [plan.options(dtype, 1, w, "int64") for dtype in ("float32", "float64") for w in (0, 1)]


def compile_one(name, options):
    src = _cupy.source(name).encode()
    err, prog = nvrtc.nvrtcCreateProgram(src, name.encode(), 0, [], [])
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        return f"nvrtcCreateProgram: {err}"
    opts = [o.encode() for o in options]
    (status,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
    _, size = nvrtc.nvrtcGetProgramLogSize(prog)
    log = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, log)
    nvrtc.nvrtcDestroyProgram(prog)
    log = log.decode(errors="replace").strip("\0 \n")
    if status != nvrtc.nvrtcResult.NVRTC_SUCCESS or "warning" in log.lower():
        return log or str(status)
    return None


def main(arch: str) -> int:
    jobs = [("lloyd.cu", (f"--gpu-architecture={arch}", *o)) for o in LLOYD]
    jobs += [("knn.cu", (f"--gpu-architecture={arch}", *o)) for o in plan.knn_variants()]
    jobs += [("knn.cu", (f"--gpu-architecture={arch}", *o)) for o in plan.knn_tile_variants()]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        logs = list(pool.map(lambda job: compile_one(*job), jobs))
    failures = [{"name": n, "options": list(o), "log": log}
                for (n, o), log in zip(jobs, logs) if log is not None]
    print(json.dumps({"compiled": len(jobs), "failures": failures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
