"""NumPy fast path for affinity propagation's message update: the same operations in place.

The portable version creates a temporary per operation and selects with
``where``; here one scratch chunk is reused, the matrices are updated in
place and the one entry per row that differs is written by fancy indexing.
Same arithmetic, same order, same numbers (tested against ``_affinity``).
"""

from __future__ import annotations

import numpy as np

from .._backend import row_chunks

__all__ = ["affinity_row_norms", "affinity_sweep"]


def affinity_sweep(S, A, R, colsum, damping, *, update_a, update_r, rows, xp, device):
    """See ``_affinity.affinity_sweep``."""
    n = S.shape[0]
    keep, step = damping, 1 - damping
    # Row 0 of the scratch carries the running column sums, so that one
    # reduction adds the chunk's rows to them in row order: the sums are
    # scikit-learn's sequential ``sum(axis=0)`` to the last bit.
    buffer = np.empty((min(rows, n) + 1, n), dtype=A.dtype)
    scratch = buffer[1:]
    diag_a = np.empty(n, dtype=A.dtype) if update_a else None
    diag_r = np.empty(n, dtype=A.dtype) if update_r else None
    new_colsum = np.zeros(n, dtype=A.dtype) if update_r else None
    for a, b in row_chunks(n, rows):
        t = scratch[:b - a]
        ri, di = np.arange(b - a), np.arange(a, b)
        Ac, Rc = A[a:b], R[a:b]
        if update_a:
            dA = Rc[ri, di] - colsum[a:b]
            np.maximum(Rc, 0.0, out=t)
            t -= colsum
            np.maximum(t, 0.0, out=t)
            t[ri, di] = dA
            t *= step
            Ac *= keep
            Ac -= t
            diag_a[a:b] = Ac[ri, di]
        if update_r:
            Sc = S[a:b]
            np.add(Ac, Sc, out=t)
            best = t.argmax(axis=1)
            Y = t[ri, best]
            t[ri, best] = -np.inf
            Y2 = t.max(axis=1)
            np.subtract(Sc, Y[:, None], out=t)
            t[ri, best] = Sc[ri, best] - Y2
            t *= step
            Rc *= keep
            Rc += t
            diag_r[a:b] = Rc[ri, di]
            np.maximum(Rc, 0.0, out=t)
            t[ri, di] = diag_r[a:b]
            buffer[0] = new_colsum
            np.sum(buffer[:b - a + 1], axis=0, out=new_colsum)
    return diag_a, diag_r, new_colsum


def affinity_row_norms(X, *, xp):
    """``|x|^2`` of every row, summed as scikit-learn's ``row_norms`` sums them (einsum)."""
    return np.einsum("ij,ij->i", X, X)
