"""CuPy fast paths for sparse (CSR) X: ``cupyx.scipy.sparse`` (cuSPARSE).

The nearest-centre search is the portable one, whose sparse-dense product
is already cuSPARSE (``csr_matmul``). Written, not measured: no GPU was at
hand when these were added.
"""

from __future__ import annotations

from .._sparse import SparseRows


def sparse_grouped_sum(X, labels, weights, n_groups, *, xp):
    import cupy
    import cupyx.scipy.sparse as csp

    n = X.shape[0]
    w = cupy.ones(n) if weights is None else weights.astype(cupy.float64)
    onehot = csp.coo_matrix((w, (labels, cupy.arange(n))), shape=(n_groups, n)).tocsr()
    sums = (onehot @ X.to_native().astype(cupy.float64)).toarray()
    counts = cupy.bincount(labels, weights=w, minlength=n_groups)
    return sums, counts


def sparse_take_rows(X, idx, *, xp):
    import cupy

    sub = X.to_native()[cupy.asarray(idx)]
    return SparseRows(sub.indptr, sub.indices, sub.data, sub.shape, xp=xp, native=sub)


def sparse_to_dense(X, *, xp):
    return X.to_native().toarray()
