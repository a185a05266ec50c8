"""NumPy / SciPy fast paths for sparse (CSR) X: scikit-learn's compiled sparse Lloyd kernel.

``lloyd_iter_chunked_sparse`` is scikit-learn's own sparse iteration (private,
like the dense one in ``_numpy``): the same availability check, a tiny
problem with a known answer, and the portable path answers if it fails.
"""

from __future__ import annotations

import functools

import numpy as np

from .._sparse import SparseRows
from ._numpy import _kernel_context, _n_threads, checked_kernel

_NEEDS_SKLEARN_KERNEL = ("sparse_nearest_centre", "sparse_lloyd_step")


def unavailable(name: str) -> bool:
    """True if fast path ``name`` cannot run here (the registry then uses the portable one)."""
    return name in _NEEDS_SKLEARN_KERNEL and _sklearn_kernel() is None


@functools.cache
def _sklearn_kernel():
    """scikit-learn's ``lloyd_iter_chunked_sparse`` if it imports and behaves, else None."""
    import scipy.sparse as sp

    def load():
        from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_sparse

        return lloyd_iter_chunked_sparse

    return checked_kernel(
        load, sp.csr_matrix(np.array([[0.0], [2.0], [10.0]])), "sparse Lloyd kernel",
        "KMeans on sparse SciPy input gives the same results through the "
        "portable path, several times slower.")


def _kernel_ready(X):
    """X's arrays as the kernel takes them (int32 indices), or None if they do not fit."""
    indptr, indices = X.indptr, X.indices
    if indices.dtype != np.int32 or indptr.dtype != np.int32:
        if max(X.nnz, X.shape[1]) >= np.iinfo(np.int32).max:
            return None
        indptr, indices = indptr.astype(np.int32), indices.astype(np.int32)
    if indptr is X.indptr and indices is X.indices and X.data.flags.c_contiguous:
        return X
    return SparseRows(indptr, indices, np.ascontiguousarray(X.data), X.shape, xp=X.xp,
                      indptr_host=X.indptr_host)


def _dot_chosen(X, C, labels):
    """``x . c_label`` per row, one pass over the stored values."""
    rows = X.row_ids()
    vals = X.data.astype(np.float64) * C[labels[rows], X.indices]
    return np.bincount(rows, weights=vals, minlength=X.shape[0])


def sparse_nearest_centre(X, C, *, xp, x_sq=None):
    """Labels from scikit-learn's sparse E-step; distances |x|^2 - 2 x.c + |c|^2."""
    Xk = _kernel_ready(X)
    if Xk is None:
        from ._sparse import sparse_nearest_centre as portable

        return portable(X, C, xp=xp, x_sq=x_sq)
    n, k = X.shape[0], C.shape[0]
    C = np.ascontiguousarray(C, dtype=X.dtype)
    lab = np.empty(n, dtype=np.int32)
    shift = np.empty(k, dtype=X.dtype)
    with _kernel_context():
        _sklearn_kernel()(Xk, np.ones(n, dtype=X.dtype), C, None, None, lab, shift,
                          _n_threads(), update_centers=False)
    labels = lab.astype(np.int64)
    if x_sq is None:
        x_sq = sparse_row_sq_norms(X, xp=xp)
    c_sq = np.einsum("ij,ij->i", C, C, dtype=np.float64)
    d = x_sq.astype(np.float64) - 2 * _dot_chosen(X, C, labels) + c_sq[labels]
    return labels, np.maximum(d, 0).astype(X.dtype)


def sparse_lloyd_step(X, weights, centres, *, xp):
    """One fused sparse Lloyd iteration (E-step, M-step, empty-cluster relocation).

    scikit-learn's ``lloyd_iter_chunked_sparse``; returns ``(labels,
    new_centres, weight_per_cluster)`` as ``_numpy.lloyd_step`` does. X's
    indices must fit int32 (``fused_lloyd_step`` checks).
    """
    Xk = _kernel_ready(X)
    n, k = X.shape[0], centres.shape[0]
    old = np.ascontiguousarray(centres, dtype=X.dtype)
    w = np.ones(n, dtype=X.dtype) if weights is None else np.ascontiguousarray(weights, X.dtype)
    new = np.empty_like(old)
    counts = np.empty(k, dtype=X.dtype)
    labels = np.empty(n, dtype=np.int32)
    shift = np.empty(k, dtype=X.dtype)
    with _kernel_context():
        _sklearn_kernel()(Xk, w, old, new, counts, labels, shift, _n_threads())
    return labels, new, counts


def sparse_grouped_sum(X, labels, weights, n_groups, *, xp):
    import scipy.sparse as sp

    n = X.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    onehot = sp.csr_matrix((w, (labels, np.arange(n))), shape=(n_groups, n))
    sums = (onehot @ X.to_native().astype(np.float64)).toarray()
    counts = np.bincount(labels, weights=w, minlength=n_groups)
    return sums, counts


def sparse_row_sq_norms(X, *, xp):
    sq = X.data.astype(np.float64) ** 2
    return np.bincount(X.row_ids(), weights=sq, minlength=X.shape[0]).astype(X.dtype)


def sparse_take_rows(X, idx, *, xp):
    sub = X.to_native()[np.asarray(idx)]
    return SparseRows(sub.indptr, sub.indices, sub.data, sub.shape, xp=xp,
                      indptr_host=sub.indptr, native=sub)


def sparse_to_dense(X, *, xp):
    return X.to_native().toarray()
