"""NumPy fast paths for the pruned Lloyd primitives (same answers as ``_bounds``)."""

from __future__ import annotations

import numpy as np

from .._backend import chunk_rows
from ._numpy import _kernel_context, _n_threads, _pool


def nearest_two(X, C, *, xp, x_sq=None):
    """The portable computation in cache-sized tiles, on all cores.

    Each tile is one single-threaded BLAS product plus in-place passes; the
    tiles run on scikit-learn's thread count (NumPy releases the GIL), which
    beats one multi-threaded product followed by single-threaded passes.
    """
    n, k = X.shape[0], C.shape[0]
    X = np.ascontiguousarray(X)
    C = np.ascontiguousarray(C, dtype=X.dtype)
    if x_sq is None:
        x_sq = np.einsum("ij,ij->i", X, X)
    c_sq = np.einsum("ij,ij->i", C, C)
    CT = np.ascontiguousarray(-2 * C.T)  # exact: a power of two
    labels = np.empty(n, dtype=np.int64)
    d1 = np.empty(n, dtype=X.dtype)
    d2 = np.empty(n, dtype=X.dtype)
    rows = chunk_rows(n, 2 * k * X.dtype.itemsize, xp=xp, device="cpu", cap=1 << 13)

    def tile(a, b):
        # |x|^2 is the same for every centre: added to the two kept values only.
        d = X[a:b] @ CT
        d += c_sq
        lab = np.argmin(d, axis=1)
        r = np.arange(b - a)
        np.add(d[r, lab], x_sq[a:b], out=d1[a:b])
        if k > 1:
            d[r, lab] = np.inf
            np.add(d.min(axis=1), x_sq[a:b], out=d2[a:b])
        else:
            d2[a:b] = np.inf
        labels[a:b] = lab

    blocks = [(a, min(a + rows, n)) for a in range(0, n, rows)]
    with _kernel_context():
        if len(blocks) < 2 or _n_threads() < 2:
            for a, b in blocks:
                tile(a, b)
        else:
            for f in [_pool().submit(tile, a, b) for a, b in blocks]:
                f.result()
    np.maximum(d1, 0, out=d1)
    np.maximum(d2, 0, out=d2)
    return labels, d1, d2


def mask_indices(mask, count, *, xp):
    return np.flatnonzero(mask)


def masked_assign(base, mask, values, *, xp, idx=None):
    # Integer positions touch only the updated rows; a mask is read whole.
    base[mask if idx is None else idx] = values
    return base


def nearest_group_mins(X, C, starts, *, xp, x_sq=None):
    """``nearest_two``'s tiles, with one minimum per group of centres."""
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
