"""CuPy fast paths: ``cupyx.scatter_add`` for grouped sums.

The fused kernels for the E- and M-steps (issue: GPU speed near the floor)
belong here too, behind the same signatures.
"""

from __future__ import annotations

from .._backend import acc_dtype, get_device


def grouped_sum(X, labels, weights, n_groups, *, xp):
    import cupy
    import cupyx

    acc = acc_dtype(xp, get_device(X))
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
