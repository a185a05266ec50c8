"""Reference implementations in pure Array API: the default and the oracle.

Every fast path in the sibling modules must give the same answer as these.
"""

from __future__ import annotations

from .._backend import acc_dtype, chunk_rows, get_device, itemsize, row_chunks


def sq_distances(X, C, *, xp, x_sq=None, c_sq=None):
    """Squared Euclidean distances, ``(n, k)``, as |x|^2 - 2 x.c + |c|^2 >= 0.

    Not chunked: callers pass a chunk of rows.
    """
    if x_sq is None:
        x_sq = xp.sum(X * X, axis=1)
    if c_sq is None:
        c_sq = xp.sum(C * C, axis=1)
    d = X @ C.T
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
