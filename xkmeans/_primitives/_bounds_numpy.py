"""NumPy fast paths for the pruned Lloyd primitives (same answers as ``_bounds``)."""

from __future__ import annotations

import numpy as np

from .._backend import chunk_rows
from ._numpy import _kernel_context, _n_threads, _pool
from ._portable import identical_row_map


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
        pos[a:b], d1[a:b], mins[a:b] = _tile_nearest(X[a:b], CT, c_sq, x_sq[a:b], seg)

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


def _tile_nearest(X, CT, c_sq, x_sq, seg):
    """Nearest column, its squared distance and per segment the nearest other
    one, for a few rows (one single-threaded product: the caller is a thread)."""
    d = X @ CT
    d += c_sq
    p = np.argmin(d, axis=1)
    r = np.arange(X.shape[0])
    d1 = d[r, p] + x_sq
    d[r, p] = np.inf
    m = np.minimum.reduceat(d, seg, axis=1)
    m += x_sq[:, None]
    return p, d1, m


def hamerly_refresh(X, x_sq, x_norm, C, labels, u, l, delta, drop, sep, *, slack, round_out,
                    track, xp):
    """``bound_update`` and the recomputation of the failing points, fused.

    Hamerly's bounds (``l`` of shape (n, 1)) are moved with the centres and
    the points whose bounds fail are recomputed, block by cache-sized block on
    all cores, so each block's bounds, masks and gathered rows stay in cache
    instead of a dozen passes over n. In a block, a failing point is first
    compared with its own centre (Hamerly's second test), then with every
    centre if it still fails; a block where most points fail is recomputed
    whole. ``labels``, ``u`` and ``l`` are updated in place, as the portable
    sequence (``bound_update``, ``nearest_group_mins``) would set them, with
    the same tie rule (the first of identical centres).

    Returns ``(changed, moved)``: the number of points that changed label and,
    with ``track``, ``(rows of X, old labels, new labels)`` of those points.
    """
    n = X.shape[0]
    X = np.ascontiguousarray(X)
    C = np.ascontiguousarray(C, dtype=X.dtype)
    CT = np.ascontiguousarray(-2 * C.T)
    c_sq = np.einsum("ij,ij->i", C, C)
    c_max = np.sqrt(np.max(np.einsum("ij,ij->i", C, C, dtype=u.dtype)))
    seg = np.zeros(1, dtype=np.intp)
    up, down = 1 + round_out, 1 - round_out
    lv = l[:, 0]
    canon = identical_row_map(C, xp=xp)

    # Rows per product: its n x k tile stays in cache.
    tile_rows = max(256, _TILE_BYTES // (C.shape[0] * X.itemsize))

    def recompute(rows):
        m = rows.stop - rows.start if isinstance(rows, slice) else rows.shape[0]
        if m > tile_rows:
            parts = [recompute(_sub(rows, a, min(a + tile_rows, m)))
                     for a in range(0, m, tile_rows)]
            return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
        pos, d1, mins = _tile_nearest(X[rows], CT, c_sq, x_sq[rows], seg)
        err = slack * (x_norm[rows] + c_max) ** 2
        new = pos if canon is None else canon[pos]
        return (new.astype(labels.dtype, copy=False), np.sqrt(np.maximum(d1, 0) + err),
                np.sqrt(np.maximum(np.maximum(mins[:, 0], 0) - err, 0)))

    def block(a, b):
        lab, ub, lb = labels[a:b], u[a:b], lv[a:b]
        t = np.take(delta, lab)
        ub += t
        ub *= up
        lb -= drop[0]
        lb *= down
        np.take(sep, lab, out=t)
        np.maximum(t, lb, out=t)
        fail = np.flatnonzero(ub > t)
        if 2 * fail.size > b - a:  # most fail: the whole block, no gathers
            fail = np.arange(b - a)
        elif fail.size:
            # Hamerly's second test: the point's own distance first.
            rows = fail + a
            diff = X[rows] - C[lab[fail]]
            own = np.sqrt(np.einsum("ij,ij->i", diff, diff).astype(u.dtype)) * (1 + slack)
            ub[fail] = own
            fail = fail[own > t[fail]]
        if fail.size == 0:
            return None
        new, ub[fail], lb[fail] = recompute(slice(a, b) if fail.size == b - a else fail + a)
        old = lab[fail]
        lab[fail] = new
        ch = np.flatnonzero(new != old)
        return fail[ch] + a, old[ch], new[ch]

    rows = min(max(_REFRESH_BYTES // (X.shape[1] * X.itemsize), 1 << 12), 1 << 17)
    blocks = [(a, min(a + rows, n)) for a in range(0, n, rows)]
    with _kernel_context():
        if len(blocks) < 2 or _n_threads() < 2:
            parts = [block(a, b) for a, b in blocks]
        else:
            parts = [f.result() for f in [_pool().submit(block, a, b) for a, b in blocks]]
    parts = [p for p in parts if p is not None and p[0].size]
    changed = sum(p[0].size for p in parts)
    if not track:
        return changed, None
    if not parts:
        return 0, ()
    rows, old, new = (np.concatenate(c) for c in zip(*parts, strict=True))
    return changed, (X[rows], old, new)


def _sub(rows, a, b):
    """Rows ``a:b`` of a slice or an index array."""
    if isinstance(rows, slice):
        return slice(rows.start + a, rows.start + b)
    return rows[a:b]


# Bytes of one distance tile (rows x centres) in hamerly_refresh's products
# (colour 2M x 3, k=64, every point failing: 185-245 ms at 4 MB, 265-355 ms
# untiled, 400-450 ms at 256 KB).
_TILE_BYTES = 1 << 22

# Bytes of X per block of hamerly_refresh: few enough rows that a block's
# bounds and gathered rows stay in cache, enough that NumPy's per-call cost is
# spread over many rows (narrow rows: measured 2-3x faster in blocks of 2**16
# rows than of 2**13 on colour data, d=3).
_REFRESH_BYTES = 1 << 20


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
