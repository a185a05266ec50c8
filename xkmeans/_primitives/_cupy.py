"""CuPy fast paths: ``cupyx.scatter_add`` for grouped sums.

The fused kernels for the E- and M-steps (issue: GPU speed near the floor)
belong here too, behind the same signatures.
"""

from __future__ import annotations

from .._backend import acc_dtype, get_device


def grouped_sum(X, labels, weights, n_groups, *, xp):
    import cupy
    import cupyx

    device = get_device(X)
    acc = acc_dtype(xp, device)
    with device:  # new arrays go to X's GPU, not the current one
        Xa = X.astype(acc, copy=False)
        if weights is None:
            w = cupy.ones(X.shape[0], dtype=acc)
        else:
            w = weights.astype(acc, copy=False)
            Xa = Xa * w[:, None]
        counts = cupy.zeros(n_groups, dtype=acc)
        cupyx.scatter_add(counts, labels, w)
        sums = cupy.zeros((n_groups, X.shape[1]), dtype=acc)
        cupyx.scatter_add(sums, labels, Xa)
    return sums, counts


def k_smallest(D, k, *, xp):
    import cupy

    from ._portable import k_smallest_from_partition

    return k_smallest_from_partition(D, k, cupy.argpartition, xp=xp)


def csr_matmul(indptr, indices, data, V, *, xp):
    import cupyx.scipy.sparse as sp

    n = indptr.shape[0] - 1
    A = sp.csr_matrix((data.astype(V.dtype), indices, indptr), shape=(n, V.shape[0]))
    return A @ V
