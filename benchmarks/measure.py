"""Clocks, memory trackers, float64 inertia and the hardware floor."""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
import tracemalloc

import numpy as np

# ---------------------------------------------------------------- clocks


def timed(fn, sync):
    """``(seconds, result)`` of ``fn()``, the device synchronised before each clock read."""
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out


def median(values):
    return statistics.median(values) if values else None


# ---------------------------------------------------------------- memory


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _malloc_trim():
    """Give freed heap pages back to the OS so that RSS growth shows new use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def track_memory(method: str):
    """Peak extra memory (bytes) while the block runs: ``with track_memory(m) as peak:``.

    ``peak["bytes"]`` is filled on exit. Methods: 'tracemalloc' (NumPy
    allocations on the host), 'rss' (growth of the resident set, sampled
    every millisecond: an underestimate when freed pages are reused),
    'cupy' (bytes in use in CuPy's default memory pool, read at each
    allocation) and 'torch-cuda' (``torch.cuda.max_memory_allocated``).
    """
    peak = {"bytes": None, "method": method}
    if method == "tracemalloc":
        tracemalloc.start()
        try:
            yield peak
        finally:
            peak["bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    elif method == "rss":
        _malloc_trim()
        base = _rss_bytes()
        if base is None:
            yield peak
            return
        top = [base]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                top[0] = max(top[0], _rss_bytes() or 0)
                stop.wait(0.001)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield peak
        finally:
            stop.set()
            thread.join()
            top[0] = max(top[0], _rss_bytes() or 0)
            peak["bytes"] = top[0] - base
    elif method == "cupy":
        import cupy

        pool = cupy.get_default_memory_pool()
        base = pool.used_bytes()
        top = [base]

        def alloc(size):
            mem = pool.malloc(size)
            top[0] = max(top[0], pool.used_bytes())
            return mem

        cupy.cuda.set_allocator(alloc)
        try:
            yield peak
        finally:
            cupy.cuda.set_allocator(pool.malloc)
            peak["bytes"] = top[0] - base
    elif method == "torch-cuda":
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        try:
            yield peak
        finally:
            torch.cuda.synchronize()
            peak["bytes"] = torch.cuda.max_memory_allocated() - base
    else:
        yield peak


# ---------------------------------------------------------------- inertia


def inertia64(X: np.ndarray, C: np.ndarray, *, gpu: str | None = None):
    """``(inertia, labels)`` of centres ``C`` on ``X``, all in float64.

    Computed by the harness, not by the implementation under test: on the
    host with NumPy, or, when ``gpu`` names 'cupy' or 'torch', in float64 on
    the GPU (the host's single-threaded NumPy would need minutes for
    16.7 M x 256 pairs). Labels come back as a host int64 array.
    """
    C = np.asarray(C, dtype=np.float64)
    n, k = X.shape[0], C.shape[0]
    rows = max(1, (64 << 20) // (8 * k))
    if gpu == "cupy":
        import cupy as xp

        to_host = xp.asnumpy
    elif gpu == "torch":
        import torch

        def xp_chunk(a):
            return torch.as_tensor(a, dtype=torch.float64, device="cuda")

        Cd = xp_chunk(C)
        c_sq = (Cd * Cd).sum(1)
        total = torch.zeros((), dtype=torch.float64, device="cuda")
        labels = np.empty(n, dtype=np.int64)
        for a in range(0, n, rows):
            x = xp_chunk(X[a : a + rows])
            dist = (x * x).sum(1)[:, None] - 2 * x @ Cd.T + c_sq
            val, lab = dist.clamp_min(0).min(1)
            total += val.sum()
            labels[a : a + rows] = lab.cpu().numpy()
        return float(total), labels
    else:
        xp, to_host = np, np.asarray
    Cd = xp.asarray(C)
    c_sq = (Cd * Cd).sum(1)
    total = 0.0
    labels = np.empty(n, dtype=np.int64)
    for a in range(0, n, rows):
        x = xp.asarray(X[a : a + rows], dtype=xp.float64)
        dist = x @ (-2 * Cd.T)
        dist += c_sq
        dist += (x * x).sum(1)[:, None]
        lab = dist.argmin(1)
        total += float(xp.maximum(xp.take_along_axis(dist, lab[:, None], 1), 0).sum())
        labels[a : a + rows] = to_host(lab)
    return total, labels


def scores(y, labels) -> dict:
    """ARI and accuracy after Hungarian matching of clusters to classes."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import adjusted_rand_score, confusion_matrix

    cm = confusion_matrix(y, labels)
    rows, cols = linear_sum_assignment(-cm)
    return {
        "ari": float(adjusted_rand_score(y, labels)),
        "accuracy": float(cm[rows, cols].sum() / len(y)),
    }


# ---------------------------------------------------------------- the floor


def _best(fn, sync, repeats):
    fn()
    return min(timed(fn, sync)[0] for _ in range(repeats))


def cpu_floor(quick: bool = False) -> dict:
    """Host memory bandwidth (bytes read + written, all cores) and float32 matmul rate."""
    from concurrent.futures import ThreadPoolExecutor

    n_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    nbytes = (64 if quick else 512) << 20
    a = np.ones(nbytes // 4, dtype=np.float32)
    b = np.empty_like(a)
    parts = np.array_split(np.arange(a.size), n_threads)
    bounds = [(p[0], p[-1] + 1) for p in parts if p.size]
    with ThreadPoolExecutor(n_threads) as pool:
        def copy():
            # np.copyto releases the GIL, so the threads copy in parallel.
            list(pool.map(lambda ab: np.copyto(b[ab[0]:ab[1]], a[ab[0]:ab[1]]), bounds))

        t_copy = _best(copy, lambda: None, 3 if quick else 5)
    m = 1024 if quick else 2048
    A = np.random.default_rng(0).standard_normal((m, m), dtype=np.float32)
    t_mm = _best(lambda: A @ A, lambda: None, 3 if quick else 5)
    return {
        "device": "cpu",
        "threads": n_threads,
        "bandwidth_Bps": 2 * nbytes / t_copy,
        "fp32_flops": 2 * m**3 / t_mm,
        "tf32_flops": None,
        "copy_bytes": nbytes,
        "matmul_n": m,
    }


def gpu_floor(lib: str, quick: bool = False) -> dict:
    """Device-to-device copy bandwidth and float32 (and TF32) matmul rates."""
    nbytes = (256 if quick else 1024) << 20
    m = 4096 if quick else 8192
    out = {"device": "gpu", "copy_bytes": nbytes, "matmul_n": m, "tf32_flops": None}
    if lib == "cupy":
        import cupy

        def sync():
            cupy.cuda.Device().synchronize()

        a = cupy.ones(nbytes // 4, dtype=cupy.float32)
        b = cupy.empty_like(a)
        out["bandwidth_Bps"] = 2 * nbytes / _best(lambda: cupy.copyto(b, a), sync, 10)
        A = cupy.asarray(np.random.default_rng(0).standard_normal((m, m), dtype=np.float32))
        out["fp32_flops"] = 2 * m**3 / _best(lambda: A @ A, sync, 5)
        del a, b, A
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            sync = torch.cuda.synchronize
            if "bandwidth_Bps" not in out:
                a = torch.ones(nbytes // 4, dtype=torch.float32, device="cuda")
                b = torch.empty_like(a)
                out["bandwidth_Bps"] = 2 * nbytes / _best(lambda: b.copy_(a), sync, 10)
                del a, b
            A = torch.randn((m, m), dtype=torch.float32, device="cuda")
            old = torch.backends.cuda.matmul.allow_tf32
            try:
                if "fp32_flops" not in out:
                    torch.backends.cuda.matmul.allow_tf32 = False
                    out["fp32_flops"] = 2 * m**3 / _best(lambda: A @ A, sync, 5)
                torch.backends.cuda.matmul.allow_tf32 = True
                out["tf32_flops"] = 2 * m**3 / _best(lambda: A @ A, sync, 5)
            finally:
                torch.backends.cuda.matmul.allow_tf32 = old
            del A
    return out


def floor_seconds(n: int, d: int, k: int, hw: dict, *, tf32: bool = False):
    """Lower bound on one Lloyd iteration: max(bytes / bandwidth, flops / rate).

    Bytes: X read once (n d float32). Flops: 2 n k d for the distance
    products plus 2 n k for adding |c|^2 and comparing, i.e. 8 per
    (point, centre) pair at d = 3, as in BENCHMARKS.md.
    """
    rate = hw.get("tf32_flops") if tf32 else hw.get("fp32_flops")
    if rate is None or hw.get("bandwidth_Bps") is None:
        return None
    return max(4 * n * d / hw["bandwidth_Bps"], (2 * n * k * d + 2 * n * k) / rate)
