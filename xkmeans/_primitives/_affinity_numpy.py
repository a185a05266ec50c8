"""NumPy fast path for affinity propagation's message update: the same operations in place.

The portable version creates a temporary per operation and selects with
``where``; here one scratch chunk is reused, the matrices are updated in
place and the one entry per row that differs is written by fancy indexing.
Same arithmetic, same order, same numbers (tested against ``_affinity``).
PyTorch tensors in host memory run it on NumPy views of their memory (no
copy); CUDA tensors take the portable path.
"""

from __future__ import annotations

import numpy as np

from .._backend import row_chunks

__all__ = ["affinity_row_norms", "affinity_sweep"]


def _host_views(xp, device, arrays):
    """NumPy views of host arrays (PyTorch CPU tensors share their memory), else None."""
    if all(a is None or isinstance(a, np.ndarray) for a in arrays):
        return arrays, None
    if getattr(device, "type", None) != "cpu":
        return None, None
    import torch

    return [None if a is None else a.numpy() for a in arrays], torch.from_numpy


def affinity_sweep(S, A, R, colsum, damping, *, update_a, update_r, rows, xp, device):
    """See ``_affinity.affinity_sweep``."""
    views, back = _host_views(xp, device, [S, A, R, colsum])
    if views is None:
        from ._affinity import affinity_sweep as portable

        return portable(S, A, R, colsum, damping, update_a=update_a, update_r=update_r,
                        rows=rows, xp=xp, device=device)
    out = _sweep(*views, damping, update_a=update_a, update_r=update_r, rows=rows)
    return out if back is None else tuple(None if o is None else back(o) for o in out)


def _sweep(S, A, R, colsum, damping, *, update_a, update_r, rows):
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
    views, back = _host_views(xp, getattr(X, "device", "cpu"), [X])
    if views is None:
        return xp.sum(X * X, axis=1)
    norms = np.einsum("ij,ij->i", views[0], views[0])
    return norms if back is None else back(norms)
