"""Reference implementations in pure Array API: the default and the oracle.

Every fast path in the sibling modules must give the same answer as these.
"""

from __future__ import annotations

import numpy as np

from .._backend import (
    acc_dtype,
    chunk_rows,
    get_device,
    is_cpu,
    itemsize,
    row_chunks,
    to_numpy,
    working_budget,
)


def assign_tile(src, offset, C, *, work, index_dtype, with_sse, xp):
    """Nearest centre of each row of ``src - offset`` (a tile of pixels).

    ``src`` (rows of any real or integer dtype) is cast to ``work`` and
    centred by ``offset``; ``C`` holds centred centres. Returns the labels in
    ``index_dtype`` and, with ``with_sse``, the sum of the squared distances
    (a 0-d array in the widest float), else None. Ties as ``nearest_centre``.
    """
    from . import nearest_centre

    x = xp.astype(src, work)
    x -= offset  # in place: the tile's float copy is its largest scratch array
    labels, dist2 = nearest_centre(x, C, xp=xp)
    sse = xp.sum(dist2, dtype=acc_dtype(xp, get_device(x))) if with_sse else None
    return xp.astype(labels, index_dtype), sse


def row_sq_norms(X, *, xp):
    """Squared Euclidean norm of each row of a dense X, X's dtype."""
    return xp.sum(X * X, axis=1)


def sq_distances(X, C, *, xp, x_sq=None, c_sq=None):
    """Squared Euclidean distances, ``(n, k)``, as |x|^2 - 2 x.c + |c|^2 >= 0.

    Not chunked: callers pass a chunk of rows.
    """
    if x_sq is None:
        x_sq = xp.sum(X * X, axis=1)
    if c_sq is None:
        c_sq = xp.sum(C * C, axis=1)
    d = X @ C.T
    if x_sq.dtype == d.dtype == c_sq.dtype:
        # In place: the same sums in the same order, three fewer n x k temporaries.
        d *= -2
        d += x_sq[:, None]
        d += c_sq[None, :]
    else:
        d = x_sq[:, None] - 2 * d + c_sq[None, :]
    return xp.clip(d, min=0)


def nearest_centre(X, C, *, xp, x_sq=None):
    """Label of the nearest centre and its squared distance, for every row.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    C : array of shape (n_centres, n_features), same dtype and device as X.
    x_sq : array of shape (n_samples,), optional
        Precomputed squared row norms of ``X``.

    Returns
    -------
    labels : integer array of shape (n_samples,)
        Index of the nearest centre (the lowest index among exact ties).
    dist2 : array of shape (n_samples,), X's dtype
    """
    n, k = X.shape[0], C.shape[0]
    c_sq = xp.sum(C * C, axis=1)
    rows = chunk_rows(n, 4 * k * itemsize(xp, X.dtype), xp=xp, device=get_device(X))
    labels, dist2 = [], []
    for a, b in row_chunks(n, rows):
        xc = X[a:b, ...]
        xs = x_sq[a:b] if x_sq is not None else None
        d = sq_distances(xc, C, xp=xp, x_sq=xs, c_sq=c_sq)
        labels.append(xp.argmin(d, axis=1))
        dist2.append(xp.min(d, axis=1))
    if len(labels) == 1:
        return labels[0], dist2[0]
    return xp.concat(labels), xp.concat(dist2)


_SCREEN_COLS = 64


def identical_row_map(C, *, xp):
    """For each row of a small host array, the index of the first identical row.

    Returns a NumPy integer array of shape (n_rows,), or None when all rows
    differ (the common case). ``-0.0`` and ``0.0`` count as equal, as they
    give equal distances. Reads ``C`` back to the host.
    """
    rows = to_numpy(C) + 0.0  # a copy with -0.0 turned into 0.0
    if rows.shape[0] < 2:
        return None
    # Identical rows share their first value: sorted by it, no two neighbours
    # equal settles the common case in one short sort, without np.unique's
    # machinery (a lexicographic sort of 256 x 64 centres cost 0.7 ms).
    first = np.sort(rows[:, 0])
    if not np.any(first[1:] == first[:-1]):
        return None
    if rows.shape[1] > _SCREEN_COLS:
        # Wide rows (sparse text: d in the tens of thousands): identical rows agree
        # on every column, so if they all differ on the few columns where they
        # vary most, they all differ (exact); a full comparison costs ~100 ms.
        spread = np.ptp(rows, axis=0)
        cols = np.argpartition(spread, -_SCREEN_COLS)[-_SCREEN_COLS:]
        if np.unique(rows[:, cols], axis=0).shape[0] == rows.shape[0]:
            return None
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    if first.shape[0] == rows.shape[0]:
        return None
    return first[inverse.reshape(-1)]


def first_of_identical(labels, C, *, xp):
    """``labels`` with each centre index replaced by the first identical centre's.

    Host arrays are checked on the host (nothing to do when all centres
    differ); device arrays are compared on the device, in chunks of centres,
    without a readback.
    """
    device = get_device(C)
    if is_cpu(xp, device):
        canon = identical_row_map(C, xp=xp)
        if canon is None:
            return labels
        return xp.take(xp.asarray(canon, dtype=labels.dtype, device=device), labels)
    k, d = C.shape
    rows = chunk_rows(k, k * d, xp=xp, device=device)
    canon = [
        xp.argmax(xp.astype(xp.all(C[a:b, None, :] == C[None, :, :], axis=2), xp.int8), axis=1)
        for a, b in row_chunks(k, rows)
    ]
    canon = canon[0] if len(canon) == 1 else xp.concat(canon)
    return xp.take(xp.astype(canon, labels.dtype), labels)


def grouped_sum(X, labels, weights, n_groups, *, xp):
    """Weighted sums of rows and of weights per label.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    labels : integer array of shape (n_samples,), values in [0, n_groups)
    weights : array of shape (n_samples,) or None (all ones)
    n_groups : int

    Returns
    -------
    sums : array of shape (n_groups, n_features)
    counts : array of shape (n_groups,)
        Both in the widest float the device offers, so that float32 data
        accumulate without drift.
    """
    device = get_device(X)
    acc = acc_dtype(xp, device)
    n, d = X.shape
    sums = xp.zeros((n_groups, d), dtype=acc, device=device)
    counts = xp.zeros((n_groups,), dtype=acc, device=device)
    groups = xp.arange(n_groups, device=device)
    rows = chunk_rows(n, 3 * n_groups * itemsize(xp, acc), xp=xp, device=device)
    for a, b in row_chunks(n, rows):
        onehot = xp.astype(labels[a:b, None] == groups[None, :], acc)
        if weights is not None:
            onehot = onehot * xp.astype(weights[a:b, None], acc)
        sums = sums + onehot.T @ xp.astype(X[a:b, ...], acc)
        counts = counts + xp.sum(onehot, axis=0)
    return sums, counts


def k_smallest_from_partition(D, k, argpartition, *, xp):
    """k smallest per row from a library's ``argpartition`` (fast paths share this).

    The partition gives the k candidates in no order; they are then sorted
    and ties at the boundary repaired exactly as the portable version does.
    """
    if k >= D.shape[1]:
        return k_smallest(D, k, xp=xp)
    cand = argpartition(D, k - 1, axis=1)[:, :k]
    vals, idx = sort_candidates(D, cand, xp=xp)
    return repair_ties(D, vals, idx, xp=xp)


def sort_candidates(D, cand, *, xp):
    """Order candidate columns of each row by (value, column index).

    ``cand`` holds, per row, the columns of the selected values in any
    order; the result puts the smallest value first and, among equal
    values, the lowest column first.
    """
    cand = xp.sort(cand, axis=1)
    vals = xp.take_along_axis(D, cand, axis=1)
    order = xp.argsort(vals, axis=1, stable=True)
    return xp.take_along_axis(vals, order, axis=1), xp.take_along_axis(cand, order, axis=1)


def repair_ties(D, vals, idx, *, xp):
    """Make a fast (value, index) selection break boundary ties by lowest index.

    A fast selection (``argpartition``, ``topk``) may keep any of several
    columns that tie with the k-th value. Rows where more than k values are
    <= the k-th one are recomputed with the stable portable selection; random
    floating data has none, so this costs one pass and one readback.
    """
    k = vals.shape[1]
    kth = vals[:, k - 1 : k]
    bad = xp.sum(xp.astype(D <= kth, xp.int32), axis=1) > k
    if not bool(xp.any(bad)):
        return vals, idx
    rows = xp.nonzero(bad)[0]
    fv, fi = k_smallest(xp.take(D, rows, axis=0), k, xp=xp)
    keep = ~bad[:, None]
    pos = xp.cumulative_sum(xp.astype(bad, xp.int64)) - 1
    pos = xp.clip(pos, min=0)
    vals = xp.where(keep, vals, xp.take(fv, pos, axis=0))
    idx = xp.where(keep, idx, xp.take(fi, pos, axis=0))
    return vals, idx


def k_smallest(D, k, *, xp):
    """The ``k`` smallest values of each row and their columns, ascending.

    Parameters
    ----------
    D : array of shape (n_rows, n_cols)
    k : int, 1 <= k <= n_cols

    Returns
    -------
    values : array of shape (n_rows, k), D's dtype
    indices : integer array of shape (n_rows, k)
        Columns of the values; among equal values the lowest column comes
        first, so the result is deterministic on every backend.

    Notes
    -----
    The standard has ``argsort`` (stable) but nothing like ``topk``: this
    reference sorts whole rows. Fast paths select first, then order.
    """
    idx = xp.argsort(D, axis=1, stable=True)[:, :k]
    return xp.take_along_axis(D, idx, axis=1), idx


def csr_matmul(indptr, indices, data, V, *, xp):
    """Sparse (CSR) times dense: ``A @ V`` with A given by its CSR arrays.

    Parameters
    ----------
    indptr : integer array of shape (n_rows + 1,)
    indices, data : arrays of shape (nnz,), rows in order
    V : array of shape (n_cols, n_vectors)

    Returns
    -------
    array of shape (n_rows, n_vectors), in V's dtype.

    Notes
    -----
    Segment sums as differences of one cumulative sum, accumulated in the
    widest float the device offers to limit cancellation.
    """
    acc = acc_dtype(xp, get_device(V))
    contrib = xp.astype(data, acc)[:, None] * xp.astype(xp.take(V, indices, axis=0), acc)
    cs = xp.cumulative_sum(contrib, axis=0, include_initial=True)
    out = xp.take(cs, indptr[1:], axis=0) - xp.take(cs, indptr[:-1], axis=0)
    return xp.astype(out, V.dtype)


def self_kneighbors(X, k, *, xp):
    """Each row's ``k`` nearest rows of X itself, the row first, by brute force.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    k : int, 1 <= k <= n_samples

    Returns
    -------
    distances : array of shape (n_samples, k), X's dtype
        Euclidean distances, ascending; column 0 is the row itself (0.0).
    indices : integer array of shape (n_samples, k)
        Ties broken by the lowest index. Never more than one chunk of the
        n x n distance matrix exists at a time.
    """
    device = get_device(X)
    n = X.shape[0]
    acc = acc_dtype(xp, device)
    # Centring makes |x|^2 - 2 x.y + |y|^2 more accurate for nearby points.
    X = X - xp.astype(xp.mean(xp.astype(X, acc), axis=0), X.dtype)
    x_sq = xp.sum(X * X, axis=1)
    item = itemsize(xp, X.dtype)
    budget = working_budget(xp, device)
    # Whole rows of distances while the budget holds enough of them; else
    # column tiles, each row's k best merged tile after tile, so that a chunk
    # of rows never needs n distances at once. (A GPU's budget comes from its
    # memory, see working_budget.)
    tile = n if budget // (4 * n * item) >= _KNN_MIN_ROWS else max(
        k, budget // (4 * item * _KNN_MIN_ROWS))
    rows = min(n, max(1, budget // (4 * min(tile, n) * item)))
    dist, ind = [], []
    for a, b in row_chunks(n, rows):
        v, i = _k_nearest_rows(X, x_sq, a, b, k, tile, xp=xp)
        dist.append(xp.sqrt(xp.clip(v, min=0)))
        ind.append(i)
    if len(ind) == 1:
        return dist[0], ind[0]
    return xp.concat(dist), xp.concat(ind)


# Fewest rows per chunk before self_kneighbors tiles the columns.
_KNN_MIN_ROWS = 256


def _k_nearest_rows(X, x_sq, a, b, k, tile, *, xp):
    """Squared distances and indices of the k nearest rows of X to rows
    ``a:b`` (each row itself first), over column tiles of ``tile`` rows.

    Tiles are taken in column order and each merge is a stable sort of the
    kept k and the tile's k, so equal distances keep the lowest index.
    """
    from . import k_smallest as select

    n = X.shape[0]
    device = get_device(X)
    ids = xp.arange(a, b, device=device)
    best_v = best_i = None
    for c, e in row_chunks(n, tile):
        d = sq_distances(X[a:b, ...], X[c:e, ...], xp=xp, x_sq=x_sq[a:b], c_sq=x_sq[c:e])
        d = xp.where(xp.arange(c, e, device=device)[None, :] == ids[:, None], -1.0, d)
        v, i = select(d, min(k, e - c), xp=xp)
        i = xp.astype(i, xp.int64) + c
        if best_v is None:
            best_v, best_i = v, i
            continue
        v, i = xp.concat([best_v, v], axis=1), xp.concat([best_i, i], axis=1)
        order = xp.argsort(v, axis=1, stable=True)[:, :k]
        best_v = xp.take_along_axis(v, order, axis=1)
        best_i = xp.take_along_axis(i, order, axis=1)
    return best_v, best_i


def _scatter_min(target, value, base, *, xp):
    """``base`` with ``base[t] = min(base[t], value)`` for every (t, value) pair.

    The standard has no scatter: pairs are sorted by (target, value) and
    the first of each target is looked up with ``searchsorted``. Values are
    integers in [0, n) with n = base.shape[0].
    """
    n = base.shape[0]
    device = get_device(base)
    key = xp.sort(xp.astype(target, xp.int64) * n + xp.astype(value, xp.int64))
    t = key // n
    first = xp.concat([xp.ones((1,), dtype=xp.bool, device=device), t[1:] != t[:-1]])
    ut, uv = t[first], key[first] % n
    nodes = xp.arange(n, dtype=xp.int64, device=device)
    pos = xp.clip(xp.searchsorted(ut, nodes), max=ut.shape[0] - 1)
    found = xp.take(ut, pos) == nodes
    return xp.where(found, xp.minimum(base, xp.take(uv, pos)), base)


def connected_components(indptr, indices, *, xp):
    """Connected components of a symmetric graph given in CSR form.

    Returns
    -------
    n_components : int
    labels : integer array of shape (n_nodes,)
        Component of each node, numbered in order of their lowest node.

    Notes
    -----
    Min-label hooking with pointer jumping (Shiloach-Vishkin style): about
    log(n) rounds of two sorts, one readback each.
    """
    device = get_device(indices)
    n = indptr.shape[0] - 1
    nodes = xp.arange(n, dtype=xp.int64, device=device)
    deg = indptr[1:] - indptr[:-1]
    rows = xp.repeat(nodes, xp.astype(deg, xp.int64))
    cols = xp.astype(indices, xp.int64)
    p = nodes
    while True:
        m = _scatter_min(rows, xp.take(p, cols), p, xp=xp)
        q = _scatter_min(p, m, xp.minimum(p, m), xp=xp)
        q = xp.take(q, q)
        if not bool(xp.any(q != p)):
            break
        p = q
    roots = xp.unique_values(p)
    return int(roots.shape[0]), xp.searchsorted(roots, p)


def self_radius_neighbors(X, radius, *, xp, return_distance=True):
    """Every pair of rows of X at Euclidean distance ``<= radius``, as CSR arrays.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    radius : float, >= 0
    return_distance : bool
        Whether to return the distances (otherwise ``None`` in their place).

    Returns
    -------
    indptr : int64 array of shape (n_samples + 1,)
    indices : int64 array of shape (nnz,)
        Row ``i``'s neighbours, ascending, itself included.
    distances : array of shape (nnz,), X's dtype, or None

    Notes
    -----
    Per chunk of rows, |x|^2 - 2 x.y + |y|^2 on centred data (a matrix
    product) picks the candidates, with a margin that bounds its rounding;
    each candidate pair is then decided by the difference form
    sum_j (x_j - y_j)^2 in the widest float of the device, compared with
    radius^2, the arithmetic of scikit-learn's k-d tree. So the relation is
    symmetric and matches scikit-learn's except where the two sum the
    features in another order. Never more than one chunk of the n x n
    matrix exists at a time.
    """
    device = get_device(X)
    n, d = X.shape
    acc = acc_dtype(xp, device)
    r2 = float(radius) ** 2
    Xa = xp.astype(X, acc)
    Xc = X - xp.astype(xp.mean(Xa, axis=0), X.dtype)
    x_sq = xp.sum(Xc * Xc, axis=1)
    # Rounding of the expanded form: a few ulps of (d + 4) (|x|^2 + |y|^2).
    u = xp.finfo(X.dtype).eps
    margin = r2 * (1 + 4 * u) + 8 * (d + 4) * u * xp.max(x_sq)
    rows = chunk_rows(n, (2 * itemsize(xp, X.dtype) + 1) * n, xp=xp, device=device)
    out_r, out_c, out_d = [], [], []
    for a, b in row_chunks(n, rows):
        d2 = sq_distances(Xc[a:b, ...], Xc, xp=xp, x_sq=x_sq[a:b], c_sq=x_sq)
        r, c = xp.nonzero(d2 <= margin)
        del d2
        r = xp.astype(r, xp.int64) + a
        c = xp.astype(c, xp.int64)
        diff = xp.take(Xa, r, axis=0) - xp.take(Xa, c, axis=0)
        e2 = xp.sum(diff * diff, axis=1)
        keep = e2 <= r2
        out_r.append(r[keep])
        out_c.append(c[keep])
        if return_distance:
            out_d.append(xp.astype(xp.sqrt(e2[keep]), X.dtype))
    cat = (lambda parts: parts[0]) if len(out_r) == 1 else xp.concat
    r, c = cat(out_r), cat(out_c)
    indptr = xp.searchsorted(r, xp.arange(n + 1, dtype=xp.int64, device=device))
    return xp.astype(indptr, xp.int64), c, (cat(out_d) if return_distance else None)
