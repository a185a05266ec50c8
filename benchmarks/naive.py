"""The "straightforward" Lloyd loops of BENCHMARKS.md, the reference rows.

Each runs exactly ``max_iter`` iterations (no convergence test, so no
readback), in float32, on data already on the device:
E-step = chunked matrix-product distances and argmin, M-step = a scatter
add of the rows (NumPy: ``bincount`` per feature). An empty cluster keeps
its centre. Distances drop the constant |x|^2, which does not change argmin.
"""

from __future__ import annotations

import numpy as np

CPU_CHUNK_BYTES = 32 << 20
GPU_CHUNK_BYTES = 1 << 30


def _rows(k: int, budget: int) -> int:
    return max(1, budget // (4 * k))


def naive_numpy(X, C0, max_iter):
    n, d = X.shape
    k = C0.shape[0]
    C = C0.copy()
    rows = _rows(k, CPU_CHUNK_BYTES)
    labels = np.empty(n, dtype=np.intp)
    for _ in range(max_iter):
        CT2 = -2 * C.T
        c_sq = np.einsum("ij,ij->i", C, C)
        for a in range(0, n, rows):
            dist = X[a : a + rows] @ CT2
            dist += c_sq
            labels[a : a + rows] = np.argmin(dist, axis=1)
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, X[:, j], minlength=k) for j in range(d)], axis=1)
        filled = counts > 0
        C[filled] = (sums[filled] / counts[filled, None]).astype(C.dtype)
    return C, max_iter


def naive_torch(X, C0, max_iter):
    import torch

    n, d = X.shape
    k = C0.shape[0]
    C = C0.clone()
    rows = _rows(k, GPU_CHUNK_BYTES if X.is_cuda else CPU_CHUNK_BYTES)
    labels = torch.empty(n, dtype=torch.int64, device=X.device)
    for _ in range(max_iter):
        c_sq = (C * C).sum(dim=1)
        CT = C.T.contiguous()
        for a in range(0, n, rows):
            dist = torch.addmm(c_sq[None, :], X[a : a + rows], CT, alpha=-2)
            labels[a : a + rows] = torch.argmin(dist, dim=1)
        sums = torch.zeros((k, d), dtype=X.dtype, device=X.device).index_add_(0, labels, X)
        counts = torch.bincount(labels, minlength=k).to(X.dtype)
        C = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], C)
    return C, max_iter


def naive_cupy(X, C0, max_iter):
    import cupy
    import cupyx

    n, d = X.shape
    k = C0.shape[0]
    C = C0.copy()
    rows = _rows(k, GPU_CHUNK_BYTES)
    labels = cupy.empty(n, dtype=cupy.int64)
    for _ in range(max_iter):
        c_sq = (C * C).sum(axis=1)
        CT2 = -2 * C.T
        for a in range(0, n, rows):
            dist = X[a : a + rows] @ CT2
            dist += c_sq
            labels[a : a + rows] = cupy.argmin(dist, axis=1)
        sums = cupy.zeros((k, d), dtype=X.dtype)
        cupyx.scatter_add(sums, labels, X)
        counts = cupy.bincount(labels, minlength=k).astype(X.dtype)
        C = cupy.where(counts[:, None] > 0, sums / cupy.maximum(counts, 1)[:, None], C)
    return C, max_iter
