"""NumPy / SciPy fast paths: in-place chunked distances, bincount and sparse sums."""

from __future__ import annotations

import numpy as np

from .._backend import chunk_rows, row_chunks

def nearest_centre(X, C, *, xp, x_sq=None):
    n, k = X.shape[0], C.shape[0]
    c_sq = np.einsum("ij,ij->i", C, C)
    if x_sq is None:
        x_sq = np.einsum("ij,ij->i", X, X)
    item = X.dtype.itemsize
    rows = chunk_rows(n, 4 * k * item, xp=xp, device="cpu")
    labels = np.empty(n, dtype=np.int64)
    dist2 = np.empty(n, dtype=X.dtype)
    buf = np.empty((rows, k), dtype=X.dtype)
    CT = np.ascontiguousarray(C.T)
    for a, b in row_chunks(n, rows):
        d = buf[: b - a]
        # Same expression and rounding as the portable version:
        # (|x|^2 - 2 x.c) + |c|^2, clipped at zero.
        np.matmul(X[a:b], CT, out=d)
        d *= -2
        d += x_sq[a:b, None]
        d += c_sq
        np.maximum(d, 0, out=d)
        lab = np.argmin(d, axis=1)
        labels[a:b] = lab
        dist2[a:b] = np.take_along_axis(d, lab[:, None], axis=1)[:, 0]
    return labels, dist2


def grouped_sum(X, labels, weights, n_groups, *, xp):
    n, d = X.shape
    counts = np.bincount(labels, weights=weights, minlength=n_groups).astype(np.float64)
    if d <= 8:
        w = None if weights is None else weights.astype(np.float64, copy=False)
        cols = [
            np.bincount(
                labels,
                weights=X[:, j] if w is None else X[:, j].astype(np.float64) * w,
                minlength=n_groups,
            )
            for j in range(d)
        ]
        return np.stack(cols, axis=1), counts
    import scipy.sparse as sp

    data = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    onehot = sp.csr_matrix((data, (labels, np.arange(n))), shape=(n_groups, n))
    sums = onehot @ X.astype(np.float64, copy=False)
    return np.asarray(sums), counts


def lloyd_step(X, weights, centres, *, xp):
    """One fused Lloyd iteration: E-step, M-step, empty-cluster relocation.

    Runs scikit-learn's compiled, OpenMP-parallel iteration
    (``lloyd_iter_chunked_dense``), which touches X once per iteration; NumPy
    alone cannot fuse the steps and re-reads an n x k tile several times.
    Its semantics are the loop's: labels against ``centres``, weighted means,
    empty clusters moved to the farthest points. Sums accumulate in X's dtype.

    Returns ``(labels, new_centres, weight_per_cluster)``.
    """
    from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense

    n, k = X.shape[0], centres.shape[0]
    X = np.ascontiguousarray(X)
    old = np.ascontiguousarray(centres, dtype=X.dtype)
    w = np.ones(n, dtype=X.dtype) if weights is None else np.ascontiguousarray(weights, X.dtype)
    new = np.empty_like(old)
    counts = np.empty(k, dtype=X.dtype)
    labels = np.empty(n, dtype=np.int32)
    shift = np.empty(k, dtype=X.dtype)
    lloyd_iter_chunked_dense(X, w, old, new, counts, labels, shift, _n_threads())
    return labels, new, counts


def _n_threads() -> int:
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return _openmp_effective_n_threads()
