"""CuPy fast path: Lloyd iterations of many independent problems per launch.

The palettes of a batch of images are many small k-means problems with the
same k and d. ``lowd_step_batched`` and ``finalize_batched`` (``lloyd.cu``) run
one iteration of all of them in two launches, block rows of the grid per
problem, with the single-problem kernels' arithmetic (fixed-point sums), so
each problem gets the bits its own ``LloydPlan`` would give. Launch shapes
come from ``_cuda_plan``.
"""

from __future__ import annotations

import numpy as np

from .._backend import get_device
from . import _cuda_plan as plan
from ._cupy import _contiguous, _device_id, _dummy, _kernel, _scales, _sm_count
from ._cupy import unavailable as _unavailable


def unavailable(name: str) -> bool:
    return _unavailable("lloyd_plan")


class LloydBatchPlan:
    """Lloyd iterations of problems ``Xs[p]`` (same k, d and dtype) on one device.

    ``step(C, active)`` runs one iteration of the problems whose ``active[p]``
    is true, from centres ``C`` of shape (n_problems, k, d), and returns
    ``(labels, new_centres, weight_per_cluster, stats)``: a list of each
    problem's int32 labels (views, valid until the step after next), the new
    centres (n_problems, k, d; an inactive problem's copied through), the
    weights (n_problems, k) and ``stats`` (n_problems, 3) float64, per problem
    [changed labels, squared centre shift, empty clusters], as ``LloydPlan``.
    """

    def __init__(self, Xs, weights, k, grid):
        import cupy

        self.device = get_device(Xs[0])
        with self.device:
            Xs = [_contiguous(X) for X in Xs]
            self.X = cupy.concatenate(Xs)
            self.W = None if weights is None else cupy.concatenate(
                [_contiguous(w, self.X.dtype) for w in weights])
            sizes = np.array([X.shape[0] for X in Xs], dtype=np.int64)
            self.bounds = np.concatenate([[0], np.cumsum(sizes)])
            self.offsets = cupy.asarray(self.bounds)
            self.k, self.d, self.grid = k, self.X.shape[1], grid
            self.n_problems = len(Xs)
            self.scales = cupy.stack([
                _scales(X, None if weights is None else self.W[a:b])
                for X, a, b in zip(Xs, self.bounds[:-1], self.bounds[1:])])
            self.acc = cupy.zeros((self.n_problems, k, self.d + 1), dtype=np.int64)
            self.changed = cupy.zeros(self.n_problems, dtype=np.uint64)
            n = self.X.shape[0]
            self.labels = [cupy.empty(n, dtype=np.int32), cupy.empty(n, dtype=np.int32)]
            self.has_old = False
            self._active = (None, None)  # (host tuple, device int32 copy)

    def _active_flags(self, active):
        import cupy

        key = tuple(bool(a) for a in active)
        if self._active[0] != key:  # moved only when a problem stops
            self._active = (key, cupy.asarray(np.array(key, dtype=np.int32)))
        return self._active[1]

    def step(self, C, active):
        import cupy

        X, W, k, d, B = self.X, self.W, self.k, self.d, self.n_problems
        weighted = W is not None
        with self.device:
            C = _contiguous(C, X.dtype)
            flags = self._active_flags(active)
            old, new = self.labels
            _kernel("lowd_step_batched", X.dtype, d, weighted)(
                (self.grid, B), (plan.BLOCK,),
                (X, W if weighted else _dummy(X.dtype), C, self.offsets, np.int32(k),
                 self.scales, old if self.has_old else _dummy(np.int32),
                 np.int32(self.has_old), new, self.acc, self.changed, flags),
                shared_mem=plan.lowd_smem(k, d, X.itemsize))
            C_new = cupy.empty_like(C)
            counts = cupy.empty((B, k), dtype=np.float64)
            stats = cupy.empty((B, 3), dtype=np.float64)
            _kernel("finalize_batched", X.dtype)(
                (B,), (plan.FINAL_THREADS,),
                (self.acc, np.int32(k), np.int32(d), self.scales, C, C_new, counts,
                 self.changed, stats, flags))
            self.labels = [new, old]
            self.has_old = True
            views = [new[a:b] for a, b in zip(self.bounds[:-1], self.bounds[1:])]
            return views, C_new, counts, stats


def lloyd_plan_batch(Xs, weights, k, *, xp):
    """A ``LloydBatchPlan``, or None where the batched kernels do not take the shapes
    (then each problem runs its own loop)."""
    X0 = Xs[0]
    d = X0.shape[1]
    if X0.dtype not in (np.float32, np.float64) or not plan.use_lowd(k, d, X0.itemsize):
        return None
    grid = plan.batched_grid(max(X.shape[0] for X in Xs), d, len(Xs),
                             _sm_count(_device_id()))
    if grid is None:
        return None
    return LloydBatchPlan(Xs, weights, k, grid)
