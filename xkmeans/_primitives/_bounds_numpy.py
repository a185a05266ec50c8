"""NumPy fast paths for the pruned Lloyd primitives (same answers as ``_bounds``)."""

from __future__ import annotations

import numpy as np

from .._backend import chunk_rows
from ._numpy import _kernel_context, _n_threads, _pool


def mask_indices(mask, count, *, xp):
    return np.flatnonzero(mask)


def masked_assign(base, mask, values, *, xp, idx=None):
    # Integer positions touch only the updated rows; a mask is read whole.
    base[mask if idx is None else idx] = values
    return base


def nearest_group_mins(X, C, starts, *, xp, x_sq=None):
    """Cache-sized tiles on all cores, one minimum per group of centres.

    Each tile is one single-threaded BLAS product plus in-place passes; the
    tiles run on scikit-learn's thread count (NumPy releases the GIL), which
    beats one multi-threaded product followed by single-threaded passes.
    |x|^2 is the same for every centre: it is added to the kept values only.
    """
    n, k = X.shape[0], C.shape[0]
    t = len(starts)
    X = np.ascontiguousarray(X)
    C = np.ascontiguousarray(C, dtype=X.dtype)
    if x_sq is None:
        x_sq = np.einsum("ij,ij->i", X, X)
    c_sq = np.einsum("ij,ij->i", C, C)
    CT = np.ascontiguousarray(-2 * C.T)
    pos = np.empty(n, dtype=np.int64)
    d1 = np.empty(n, dtype=X.dtype)
    mins = np.empty((n, t), dtype=X.dtype)
    rows = chunk_rows(n, 2 * k * X.dtype.itemsize, xp=xp, device="cpu", cap=1 << 13)
    # Segment minima over the groups' column ranges in one call.
    seg = np.asarray(starts, dtype=np.intp)

    def tile(a, b):
        d = X[a:b] @ CT
        d += c_sq
        p = np.argmin(d, axis=1)
        r = np.arange(b - a)
        np.add(d[r, p], x_sq[a:b], out=d1[a:b])
        d[r, p] = np.inf
        m = np.minimum.reduceat(d, seg, axis=1)
        m += x_sq[a:b, None]
        mins[a:b] = m
        pos[a:b] = p

    blocks = [(a, min(a + rows, n)) for a in range(0, n, rows)]
    with _kernel_context():
        if len(blocks) < 2 or _n_threads() < 2:
            for a, b in blocks:
                tile(a, b)
        else:
            for f in [_pool().submit(tile, a, b) for a, b in blocks]:
                f.result()
    np.maximum(d1, 0, out=d1)
    np.maximum(mins, 0, out=mins)
    return pos, d1, mins


def bound_update(u, l, labels, delta, drop, sep, round_out, *, xp):
    """The portable passes fused per cache-sized block, blocks on all cores."""
    n = u.shape[0]
    u2, l2 = np.empty_like(u), np.empty_like(l)
    mask = np.empty(n, dtype=bool)
    counts = []
    up, down = 1 + round_out, 1 - round_out

    def block(a, b):
        t = np.take(delta, labels[a:b])
        np.add(u[a:b], t, out=u2[a:b])
        u2[a:b] *= up
        np.subtract(l[a:b], drop, out=l2[a:b])
        l2[a:b] *= down
        bound = l2[a:b, 0] if l.shape[1] == 1 else l2[a:b].min(axis=1)
        np.take(sep, labels[a:b], out=t)
        np.maximum(t, bound, out=t)
        np.greater(u2[a:b], t, out=mask[a:b])
        return int(np.count_nonzero(mask[a:b]))

    blocks = [(a, min(a + _BOUND_BLOCK, n)) for a in range(0, n, _BOUND_BLOCK)]
    if len(blocks) < 2 or _n_threads() < 2:
        counts = [block(a, b) for a, b in blocks]
    else:
        counts = [f.result() for f in [_pool().submit(block, a, b) for a, b in blocks]]
    return u2, l2, mask, np.asarray(sum(counts))


# Rows per block of bound_update: its few float64 temporaries stay in L2.
_BOUND_BLOCK = 1 << 15
