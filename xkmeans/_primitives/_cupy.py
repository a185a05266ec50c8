"""CuPy fast paths: CUDA kernels (``lloyd.cu``) for the E- and M-steps.

Low dimensions (d <= 16, centres in shared memory): one fused kernel per
iteration assigns every point, counts changed labels and adds its sums, then
a one-block kernel turns the sums into means and the convergence statistics.
Higher dimensions: cuBLAS GEMM tiles with a fused argmin, then the same sums
and statistics. Sums are 64-bit fixed point (deterministic, see ``lloyd.cu``). With
``set_config(gpu_distances='tf32-certified' | 'tf32')`` the GEMM path's
iterations multiply on tensor cores; the final assignment (labels_, inertia_,
predict) is always exact.
Launch shapes come from ``_cuda_plan`` (plain Python, tested without a GPU).
"""

from __future__ import annotations

import functools
import importlib.resources
import threading
import warnings

import numpy as np

from .._backend import acc_dtype, get_device, working_budget
from .._config import GPU_DISTANCES, get_config
from . import _cuda_plan as plan

_KERNEL_PATHS = ("nearest_centre", "grouped_sum", "lloyd_plan", "self_kneighbors",
                 "minibatch_update")


def unavailable(name: str) -> bool:
    """True if the CUDA kernels cannot be compiled here (then the portable path runs)."""
    return name in _KERNEL_PATHS and not _compiles()


@functools.cache
def source(name: str = "lloyd.cu") -> str:
    return importlib.resources.files(__package__).joinpath(name).read_text()


@functools.cache
def _compiles() -> bool:
    try:
        _module(_device_id(), plan.options("float32", 3)).get_function("lowd_step")
    except Exception as e:  # noqa: BLE001 - any compiler failure: portable path, said once
        warnings.warn(
            f"xkmeans could not compile its CUDA kernels ({type(e).__name__}: {e}); "
            "CuPy arrays take the portable Array API path (same results, slower). "
            "CuPy needs NVIDIA's run-time compiler: pip install 'xkmeans[cuda12]'.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


def _device_id() -> int:
    import cupy

    return cupy.cuda.runtime.getDevice()


@functools.cache
def _module(device_id: int, options: tuple, name: str = "lloyd.cu"):
    # One module per device and specialisation; CuPy's disk cache keeps the
    # compile to the first run on a machine.
    import cupy

    del device_id  # part of the cache key: modules load per device
    return cupy.RawModule(code=source(name), options=options)


def _kernel(name, dtype, d=1, weighted=False, label="int"):
    opts = plan.options(np.dtype(dtype).name, d, weighted, label)
    return _module(_device_id(), opts).get_function(name)


@functools.cache
def _sm_count(device_id: int) -> int:
    import cupy

    return cupy.cuda.runtime.getDeviceProperties(device_id)["multiProcessorCount"]


def _budget() -> int:
    import cupy

    return working_budget(cupy, cupy.cuda.Device())


def _contiguous(X, dtype=None):
    import cupy

    return cupy.ascontiguousarray(X if dtype is None else X.astype(dtype, copy=False))


def _dummy(dtype):
    """A one-element array for a pointer argument the kernel does not read."""
    return _dummies(_device_id(), np.dtype(dtype).name)


@functools.cache
def _dummies(device_id, dtype):
    import cupy

    del device_id  # part of the cache key
    return cupy.zeros(1, dtype=dtype)


def _scales(X, weights):
    """Device float64 [scale of w*x, scale of w] for the fixed-point sums."""
    import cupy

    n = X.shape[0]
    xmax = cupy.maximum(X.max(), -X.min()) if X.size else cupy.zeros((), X.dtype)
    if weights is not None and weights.size:
        wmax = cupy.abs(weights).max()
    else:
        wmax = cupy.ones((), X.dtype)
    vmax = cupy.stack([xmax, wmax.astype(X.dtype)])
    scales = cupy.empty(2, dtype=np.float64)
    _kernel("fixed_scales", X.dtype)((1,), (1,), (vmax, np.float64(max(n, 1)), scales))
    return scales


def _gpu_distances(dtype) -> str:
    """The configured distance precision for this dtype ('exact' for float64)."""
    mode = get_config()["gpu_distances"]
    if mode not in GPU_DISTANCES:
        msg = f"gpu_distances={mode!r} should be one of {', '.join(map(repr, GPU_DISTANCES))}."
        raise ValueError(msg)
    return mode if np.dtype(dtype) == np.float32 else "exact"


@functools.cache
def _compute_types():
    """CuPy's (private) per-dtype GEMM compute-type switch: (module, default, tf32) or None."""
    try:
        from cupy._core import _routines_linalg as rl

        rl.get_compute_type(np.float32)
        return (rl, getattr(rl, "COMPUTE_TYPE_DEFAULT", 1), getattr(rl, "COMPUTE_TYPE_TF32", 7))
    except Exception:  # noqa: BLE001 - a CuPy without it: the caller decides
        return None


_COMPUTE_TYPE_LOCK = threading.Lock()


def _matmul(a, b, out, tf32):
    """``a @ b`` into ``out``: float32 in exact float32 (even under CUPY_TF32=1), or TF32.

    CuPy's compute type is process-wide, so it is set and restored under a lock.
    """
    import cupy

    types = _compute_types() if a.dtype == np.float32 else None
    if types is None:
        if tf32:
            _warn_no_tf32()
        return cupy.matmul(a, b, out=out)
    rl, default, tf32_code = types
    with _COMPUTE_TYPE_LOCK:
        before = rl.get_compute_type(np.float32)
        rl.set_compute_type(np.float32, tf32_code if tf32 else default)
        try:
            return cupy.matmul(a, b, out=out)
        finally:
            rl.set_compute_type(np.float32, before)


@functools.cache
def _warn_no_tf32():
    warnings.warn(
        "gpu_distances asks for TF32 products, but this CuPy cannot select them; "
        "distances are computed in float32.", RuntimeWarning, stacklevel=4)


class _Gemm:
    """Distances by cuBLAS GEMM tiles and a fused argmin (any d).

    ``mode`` 'exact' multiplies in float32 (or float64); 'tf32' on tensor
    cores; 'tf32-certified' on tensor cores with every row whose best two
    centres are within the TF32 error bound recomputed in float32.
    """

    def __init__(self, X, k, mode="exact"):
        import cupy

        self.X, self.n, self.d, self.k = X, X.shape[0], X.shape[1], k
        self.mode = mode
        if mode == "tf32-certified":
            self.x_sq = (X * X).sum(axis=1)
            self.flagged = cupy.empty(self.n, dtype=np.int64)
            self.n_flagged = cupy.zeros(1, dtype=np.uint32)
        self.rows = plan.gemm_rows(self.n, k, X.itemsize, _budget())
        self.D = cupy.empty((self.rows, k), dtype=X.dtype)
        self.canon = cupy.empty(k, dtype=np.int32)
        self.csq = cupy.empty(k, dtype=X.dtype)
        self.m2c = cupy.empty((k, self.d), dtype=X.dtype)
        self.sm = _sm_count(_device_id())

    def assign(self, C, labels, labels_old, changed, x_sq=None, dist2=None):

        X, k, d = self.X, self.k, self.d
        _kernel("centre_prep", X.dtype)(
            ((k + 127) // 128,), (128,), (C, np.int32(k), np.int32(d), self.canon, self.csq,
                                          self.m2c))
        has_old = labels_old is not None
        old = labels_old if has_old else _dummy(np.int32)
        certify = self.mode == "tf32-certified"
        if certify:
            self.n_flagged.fill(0)
            csq_max = self.csq.max()
            argmin = _kernel("argmin_rows_certify", X.dtype)
        else:
            argmin = _kernel("argmin_rows", X.dtype)
        want = dist2 is not None
        for a in range(0, self.n, self.rows):
            b = min(a + self.rows, self.n)
            D = self.D[: b - a]
            _matmul(X[a:b], self.m2c.T, D, tf32=self.mode != "exact")
            grid = (plan.warp_rows_grid(b - a, self.sm),)
            if certify:
                argmin(grid, (plan.BLOCK,), (
                    D, self.csq, self.canon, np.int32(b - a), np.int32(k), np.int32(d),
                    np.int64(a), old, np.int32(has_old), labels, self.x_sq, csq_max,
                    self.flagged, self.n_flagged, changed))
            else:
                argmin(grid, (plan.BLOCK,), (
                    D, self.csq, self.canon, np.int32(b - a), np.int32(k), np.int64(a),
                    old, np.int32(has_old), labels, np.int32(want),
                    x_sq if want else _dummy(X.dtype), dist2 if want else _dummy(X.dtype),
                    changed))
        if certify:
            _kernel("recompute_rows", X.dtype)(
                (plan.warp_rows_grid(self.n, self.sm),), (plan.BLOCK,), (
                    X, C, np.int32(k), np.int32(d), self.flagged, self.n_flagged, old,
                    np.int32(has_old), labels, changed))


def nearest_centre(X, C, *, xp, x_sq=None):
    import cupy

    with get_device(X):
        X = _contiguous(X)
        C = _contiguous(C, X.dtype)
        n, d = X.shape
        k = C.shape[0]
        labels = cupy.empty(n, dtype=np.int32)
        dist2 = cupy.empty(n, dtype=X.dtype)
        if n == 0:
            return labels.astype(np.int64), dist2
        if plan.use_lowd(k, d, X.itemsize):
            smem = plan.lowd_smem(k, d, X.itemsize, accumulate=False)
            grid = plan.lowd_grid(n, d, _sm_count(_device_id()))
            _kernel("lowd_assign", X.dtype, d)(
                (grid,), (plan.BLOCK,), (X, C, np.int64(n), np.int32(k), labels, dist2),
                shared_mem=smem)
        else:
            if x_sq is None:
                x_sq = (X * X).sum(axis=1)
            changed = cupy.zeros(1, dtype=np.uint64)
            _Gemm(X, k).assign(C, labels, None, changed, _contiguous(x_sq, X.dtype), dist2)
        return labels.astype(np.int64), dist2


nearest_centre.exact_ties = True  # strict < in index order; GEMM path maps via canon


def grouped_sum(X, labels, weights, n_groups, *, xp):
    import cupy

    device = get_device(X)
    acc = acc_dtype(xp, device)
    with device:
        X = _contiguous(X)
        n, d = X.shape
        W = None if weights is None else _contiguous(weights, X.dtype)
        labels = _contiguous(labels)
        if labels.dtype not in (np.int32, np.int64):
            labels = labels.astype(np.int64)
        scales = _scales(X, W)
        fixed = cupy.zeros((n_groups, d + 1), dtype=np.int64)
        if n:
            kern = _kernel("grouped_sum_fixed", X.dtype, 1, W is not None, labels.dtype.name)
            grid = plan.warp_rows_grid(n, _sm_count(_device_id()))
            kern((grid,), (plan.BLOCK,), (X, W if W is not None else _dummy(X.dtype), labels,
                                          np.int64(n),
                                          np.int32(d), scales, fixed))
        sums = fixed[:, :d].astype(np.float64) / scales[0]
        counts = fixed[:, d].astype(np.float64) / scales[1]
        return sums.astype(acc, copy=False), counts.astype(acc, copy=False)


class LloydPlan:
    """Lloyd iterations on one (X, weights, k): buffers and launch shapes made once.

    ``step(centres)`` runs one iteration in a few launches and returns
    ``(labels, new_centres, weight_per_cluster, stats)`` with ``stats`` a device
    float64 array [changed labels, squared centre shift, empty clusters]: the
    one thing the loop reads back. Empty clusters are left to the loop.
    """

    def __init__(self, X, weights, k):
        import cupy

        self.device = get_device(X)
        with self.device:
            self.X = _contiguous(X)
            self.W = None if weights is None else _contiguous(weights, self.X.dtype)
            n, d = self.X.shape
            self.n, self.d, self.k = n, d, k
            self.plan = plan.step_plan(n, d, k, self.X.itemsize,
                                       sm_count=_sm_count(_device_id()), budget_bytes=_budget())
            self.scales = _scales(self.X, self.W)
            self.acc = cupy.zeros((k, d + 1), dtype=np.int64)
            self.changed = cupy.zeros(1, dtype=np.uint64)
            self.labels = [cupy.empty(n, dtype=np.int32), cupy.empty(n, dtype=np.int32)]
            self.has_old = False
            self.gemm = (None if self.plan.lowd
                         else _Gemm(self.X, k, _gpu_distances(self.X.dtype)))

    def step(self, centres):
        import cupy

        X, W, k, d, n = self.X, self.W, self.k, self.d, self.n
        weighted = W is not None
        with self.device:
            C = _contiguous(centres, X.dtype)
            old, new = self.labels
            if self.plan.lowd:
                _kernel("lowd_step", X.dtype, d, weighted)(
                    (self.plan.grid,), (plan.BLOCK,),
                    (X, W if weighted else _dummy(X.dtype), C, np.int64(n), np.int32(k),
                     self.scales, old if self.has_old else _dummy(np.int32),
                     np.int32(self.has_old), new, self.acc, self.changed, np.int32(0),
                     _dummy(np.float64)),
                    shared_mem=self.plan.smem)
            else:
                self.gemm.assign(C, new, old if self.has_old else None, self.changed)
                _kernel("grouped_sum_fixed", X.dtype, 1, weighted, "int32")(
                    (self.plan.grid,), (plan.BLOCK,),
                    (X, W if weighted else _dummy(X.dtype), new, np.int64(n), np.int32(d),
                     self.scales, self.acc))
            C_new = cupy.empty_like(C)
            counts = cupy.empty(k, dtype=np.float64)
            stats = cupy.empty(3, dtype=np.float64)
            _kernel("finalize", X.dtype)(
                (1,), (plan.FINAL_THREADS,),
                (self.acc, np.int32(k), np.int32(d), self.scales, C, C_new, counts,
                 self.changed, stats))
            self.labels = [new, old]
            self.has_old = True
            return new, C_new, counts, stats


@functools.lru_cache(maxsize=8)
def _minibatch_workspace(device_id, k, d, batch, dtype):
    """Scratch buffers of a mini-batch step (written before they are read)."""
    import cupy

    grid = plan.lowd_grid(batch, d, _sm_count(device_id))
    return {"grid": grid,
            "labels": cupy.empty(batch, dtype=np.int32),
            "inertia": cupy.empty(grid, dtype=np.float64),
            "scales": cupy.empty(2, dtype=np.float64)}


def minibatch_update(X, weights, centres, counts, *, xp):
    """One mini-batch step in three launches (scales, fused assign + sums, update).

    Returns ``(new_centres, new_counts, stats)`` as ``minibatch_step`` does
    before reassignment, or None where the fused kernel does not take the
    shape (then the caller composes the primitives).
    """
    import cupy

    n, d = X.shape
    k = centres.shape[0]
    if X.dtype not in (np.float32, np.float64) or not plan.use_lowd(k, d, X.itemsize) or n == 0:
        return None
    with get_device(X):
        X = _contiguous(X)
        W = None if weights is None else _contiguous(weights, X.dtype)
        C = _contiguous(centres, X.dtype)
        counts = cupy.array(counts, dtype=np.float64)  # a copy: the kernel updates it
        ws = _minibatch_workspace(_device_id(), k, d, n, X.dtype.name)
        # Fresh sums per step (two memsets): a step interrupted between launches
        # cannot leave stale sums to the next one.
        acc = cupy.zeros((k, d + 1), dtype=np.int64)
        changed = cupy.zeros(1, dtype=np.uint64)
        weighted = W is not None
        _kernel("batch_scales", X.dtype)(
            (1,), (plan.FINAL_THREADS,),
            (X, W if weighted else X, np.int64(n), np.int32(d), np.int32(weighted),
             ws["scales"]))
        _kernel("lowd_step", X.dtype, d, weighted)(
            (ws["grid"],), (plan.BLOCK,),
            (X, W if weighted else _dummy(X.dtype), C, np.int64(n), np.int32(k), ws["scales"],
             _dummy(np.int32), np.int32(0), ws["labels"], acc, changed, np.int32(1),
             ws["inertia"]),
            shared_mem=plan.lowd_smem(k, d, X.itemsize))
        new = cupy.empty_like(C)
        stats = cupy.empty(5, dtype=np.float64)
        _kernel("minibatch_finalize", X.dtype)(
            (1,), (plan.FINAL_THREADS,),
            (acc, np.int32(k), np.int32(d), ws["scales"], C, new, counts, ws["inertia"],
             np.int32(ws["grid"]), changed, stats))
        return new, counts, stats


def lloyd_plan(X, weights, k, *, xp):
    if X.dtype not in (np.float32, np.float64):
        return None
    return LloydPlan(X, weights, k)


def self_kneighbors(X, k, *, xp):
    """Exact k-NN by ``knn.cu`` for k <= 65: the tiled kernel for d <= 16, else exact
    GEMM tiles merged by ``knn_tile_merge``; other shapes and dtypes: the portable path."""
    import cupy

    from . import _portable

    n, d = X.shape
    path = plan.knn_path(d, k, X.dtype.name)
    if path == "portable":
        return _portable.self_kneighbors(X, k, xp=xp)
    with get_device(X):
        # Centred, as every path does: distances between nearby points lose
        # less to rounding away from the origin.
        X = _contiguous(X - X.mean(axis=0, dtype=np.float64).astype(X.dtype))
        dist = cupy.empty((n, k), dtype=X.dtype)
        ind = cupy.empty((n, k), dtype=np.int64)
        if path == "gemm":
            _knn_gemm(X, k, dist, ind)
            return dist, ind
        opts = plan.knn_options(X.dtype.name, d, k)
        kern = _module(_device_id(), opts, "knn.cu").get_function("knn_lowd")
        tile = plan.knn_tile(d, X.itemsize)
        kern(((n + plan.BLOCK - 1) // plan.BLOCK,), (plan.BLOCK,),
             (X, np.int64(n), np.int32(k - 1), dist, ind), shared_mem=tile * d * X.itemsize)
        return dist, ind


def _knn_gemm(X, k, dist, ind):
    """``self_kneighbors`` for high d into dist, ind: per row chunk, exact GEMM tiles of
    the columns, each merged into the chunk's running k - 1 best by ``knn_tile_merge``
    (ping-pong lists), the last tile writing the output rows."""
    import cupy

    n, kk = X.shape[0], k - 1
    if kk == 0 or n == 0:
        dist[...] = 0
        ind[...] = cupy.arange(n, dtype=np.int64)[:, None]
        return
    p = plan.knn_tile_plan(n, k, X.itemsize, sm_count=_sm_count(_device_id()),
                           budget_bytes=_budget())
    kern = _module(_device_id(), plan.knn_tile_options(X.dtype.name, k),
                   "knn.cu").get_function("knn_tile_merge")
    x_sq = (X * X).sum(axis=1)
    G = cupy.empty(p.rows * p.cols, dtype=X.dtype)
    best = [(cupy.empty((p.rows, kk), dtype=X.dtype), cupy.empty((p.rows, kk), dtype=np.int64))
            for _ in range(2)]
    for a in range(0, n, p.rows):
        rows = min(p.rows, n - a)
        for t, c in enumerate(range(0, n, p.cols)):
            cols = min(p.cols, n - c)
            g = G[: rows * cols].reshape(rows, cols)
            _matmul(X[a:a + rows], X[c:c + cols].T, g, tf32=False)
            (pd, pi), (nd, ni) = best[t % 2], best[1 - t % 2]
            kern((p.grid,), (plan.BLOCK,), (
                g, x_sq, np.int32(rows), np.int32(cols), np.int64(a), np.int64(c),
                np.int32(kk), np.int32(t > 0), pd, pi, np.int32(c + cols >= n), nd, ni,
                dist, ind))


def k_smallest(D, k, *, xp):
    import cupy

    from ._portable import k_smallest_from_partition

    return k_smallest_from_partition(D, k, cupy.argpartition, xp=xp)


def csr_matmul(indptr, indices, data, V, *, xp):
    import cupyx.scipy.sparse as sp

    n = indptr.shape[0] - 1
    A = sp.csr_matrix((data.astype(V.dtype), indices, indptr), shape=(n, V.shape[0]))
    return A @ V
