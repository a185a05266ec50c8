"""Portable primitives for the pruned (bounded) Lloyd iteration.

The standard has no scatter and no ``topk``; these do what the pruned loop
needs with what it has: the nearest centre of some rows and, per group of
centres, the nearest other one, the indices of
a mask whose size is already known on the host (no readback), and writing
values back at a mask's positions.
"""

from __future__ import annotations

import itertools

from .._backend import chunk_rows, get_device, itemsize, row_chunks
from ._portable import sq_distances


def mask_indices(mask, count, *, xp):
    """Ascending indices of the ``count`` True entries of a 1-d boolean mask.

    ``count`` is known on the host (read back with other statistics), so no
    data-dependent shape and no extra synchronisation: the i-th True entry
    is where the running count first reaches i + 1.
    """
    device = get_device(mask)
    running = xp.cumulative_sum(xp.astype(mask, xp.int64))
    targets = xp.arange(1, count + 1, dtype=xp.int64, device=device)
    return xp.searchsorted(running, targets)


def masked_assign(base, mask, values, *, xp, idx=None):
    """``base`` with its ``mask`` positions replaced by ``values`` (in order).

    ``values`` has one row per True entry of ``mask`` (at least one); ``idx``,
    optional, holds those positions (``mask_indices``) for fast paths that
    scatter. The caller owns ``base``: fast paths write into it.
    """
    pos = xp.clip(xp.cumulative_sum(xp.astype(mask, xp.int64)) - 1, min=0)
    full = xp.take(values, pos, axis=0)
    m = mask if base.ndim == 1 else mask[:, None]
    return xp.where(m, full, base)


def nearest_group_mins(X, C, starts, *, xp, x_sq=None):
    """Nearest centre and, per group of centres, the nearest other one.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    C : array of shape (n_centres, n_features)
        Centres ordered by group: group g is ``C[starts[g]:starts[g + 1]]``.
    starts : tuple of int
        First centre of each group (host integers, ``starts[0] == 0``).

    Returns
    -------
    pos : integer array of shape (n_samples,)
        Row of C of the nearest centre (lowest among exact ties).
    d1 : array of shape (n_samples,), X's dtype
        Its squared distance.
    mins : array of shape (n_samples, n_groups), X's dtype
        Per group, the smallest squared distance to a centre other than
        ``pos`` (``inf`` for a group holding only that centre).
    """
    n, k = X.shape[0], C.shape[0]
    device = get_device(X)
    c_sq = xp.sum(C * C, axis=1)
    cols = xp.arange(k, device=device)
    bounds = [*starts, k]
    rows = chunk_rows(n, 5 * k * itemsize(xp, X.dtype), xp=xp, device=device)
    out = ([], [], [])
    for a, b in row_chunks(n, rows):
        d = sq_distances(X[a:b, ...], C, xp=xp, x_sq=None if x_sq is None else x_sq[a:b],
                         c_sq=c_sq)
        pos = xp.argmin(d, axis=1)
        out[0].append(pos)
        out[1].append(xp.min(d, axis=1))
        rest = xp.where(cols[None, :] == pos[:, None], xp.inf, d)
        out[2].append(xp.stack([xp.min(rest[:, s:e], axis=1)
                                for s, e in itertools.pairwise(bounds)], axis=1))
    if n == 0 or len(out[0]) == 1:
        return tuple(p[0] for p in out)
    return tuple(xp.concat(p) for p in out)


def bound_update(u, l, labels, delta, drop, sep, round_out, *, xp):
    """Move the bounds with the centres; the points whose bounds fail.

    Parameters
    ----------
    u : array of shape (n,)
        Upper bounds on each point's distance to its centre.
    l : array of shape (n, n_groups)
        Lower bounds on the distance to the other centres, per group.
    labels : integer array of shape (n,)
    delta : array of shape (n_centres,)
        How far each centre moved.
    drop : array of shape (n_groups,)
        The largest move in each group.
    sep : array of shape (n_centres,)
        Half the distance from each centre to its nearest other centre.
    round_out : float
        Relative widening of the bounds that covers the updates' rounding.

    Returns
    -------
    u, l : new arrays, the moved bounds
    mask : boolean array of shape (n,)
        ``u > max(min(l), sep[label])``: the points that may change label.
    count : integer device scalar, the number of True entries of ``mask``
    """
    u = (u + xp.take(delta, labels)) * (1 + round_out)
    l = (l - drop[None, :]) * (1 - round_out)
    bound = xp.min(l, axis=1) if l.shape[1] > 1 else l[:, 0]
    mask = u > xp.maximum(bound, xp.take(sep, labels))
    return u, l, mask, xp.count_nonzero(mask)
