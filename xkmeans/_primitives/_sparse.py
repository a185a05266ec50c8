"""Reference sparse (CSR) primitives in pure Array API: the default and the oracle.

X is a ``SparseRows`` (``xkmeans._sparse``); centres and outputs are dense.
The standard has no scatter: sums into a dense (rows x columns) result are
segment sums of sorted keys (``row * n_cols + col``), read off one
cumulative sum with ``searchsorted``. The fast paths in ``_sparse_numpy``,
``_sparse_torch`` and ``_sparse_cupy`` must give the same answers.
"""

from __future__ import annotations

from .._backend import acc_dtype, chunk_rows, get_device, itemsize, row_chunks, to_numpy
from .._sparse import SparseRows


def _segment_sums(values, indptr, *, xp):
    """Sums of ``values`` over the segments ``indptr[i]:indptr[i+1]``."""
    cs = xp.cumulative_sum(values, include_initial=True)
    return xp.take(cs, indptr[1:]) - xp.take(cs, indptr[:-1])


def _dense_from_keys(keys, values, size, *, xp):
    """A dense vector of ``size`` with ``values`` summed at integer ``keys``."""
    device = get_device(values)
    order = xp.argsort(keys, stable=True)
    keys = xp.take(keys, order)
    cs = xp.cumulative_sum(xp.take(values, order), include_initial=True)
    slots = xp.arange(size, dtype=keys.dtype, device=device)
    lo = xp.searchsorted(keys, slots, side="left")
    hi = xp.searchsorted(keys, slots, side="right")
    return xp.take(cs, hi) - xp.take(cs, lo)


def sparse_row_sq_norms(X, *, xp):
    """Squared Euclidean norm of each row, X's dtype (summed in the widest float)."""
    acc = acc_dtype(xp, X.device)
    v = xp.astype(X.data, acc)
    return xp.astype(_segment_sums(v * v, X.indptr, xp=xp), X.dtype)


def sparse_matmul(X, V, *, xp):
    """``X @ V`` (dense, X's rows x V's columns) for a chunk of sparse rows."""
    from . import csr_matmul

    return xp.astype(csr_matmul(X.indptr, X.indices, X.data, V, xp=xp), V.dtype)


def sparse_sq_distances(X, C, *, xp, x_sq=None, c_sq=None):
    """Squared Euclidean distances ``(n, k)`` as |x|^2 - 2 x.c + |c|^2 >= 0 (one chunk)."""
    if x_sq is None:
        x_sq = sparse_row_sq_norms(X, xp=xp)
    if c_sq is None:
        c_sq = xp.sum(C * C, axis=1)
    d = x_sq[:, None] - 2 * sparse_matmul(X, C.T, xp=xp) + c_sq[None, :]
    return xp.clip(d, min=0)


def _chunk_rows(X, k, *, xp):
    # The product's nnz x k contributions and the n x k distances per chunk.
    nnz_per_row = max(1, -(-X.nnz // max(1, X.shape[0])))
    per_row = (2 * nnz_per_row + 4) * k * itemsize(xp, acc_dtype(xp, X.device))
    return chunk_rows(X.shape[0], per_row, xp=xp, device=X.device)


def sparse_nearest_centre(X, C, *, xp, x_sq=None):
    """Nearest centre per sparse row: ``(labels, squared distances)``; see ``nearest_centre``."""
    n, k = X.shape[0], C.shape[0]
    c_sq = xp.sum(C * C, axis=1)
    labels, dist2 = [], []
    for a, b in row_chunks(n, _chunk_rows(X, k, xp=xp)):
        xs = None if x_sq is None else x_sq[a:b]
        d = sparse_sq_distances(X[a:b], C, xp=xp, x_sq=xs, c_sq=c_sq)
        labels.append(xp.argmin(d, axis=1))
        dist2.append(xp.min(d, axis=1))
    if len(labels) == 1:
        return labels[0], dist2[0]
    return xp.concat(labels), xp.concat(dist2)


def sparse_grouped_sum(X, labels, weights, n_groups, *, xp):
    """Weighted sums of sparse rows and of weights per label (dense, widest float).

    Each stored value goes to key ``label[row] * n_features + column``; the
    keys are sorted and summed (duplicates included), then spread into the
    dense ``(n_groups, n_features)`` result.
    """
    device = X.device
    acc = acc_dtype(xp, device)
    n, d = X.shape
    rows = X.row_ids()
    lab = xp.astype(xp.take(labels, rows), xp.int64)
    keys = lab * d + xp.astype(X.indices, xp.int64)
    vals = xp.astype(X.data, acc)
    w = None if weights is None else xp.astype(weights, acc)
    if w is not None:
        vals = vals * xp.take(w, rows)
    sums = xp.reshape(_dense_from_keys(keys, vals, n_groups * d, xp=xp), (n_groups, d))
    ones = xp.ones((n,), dtype=acc, device=device) if w is None else w
    counts = _dense_from_keys(xp.astype(labels, xp.int64), ones, n_groups, xp=xp)
    return sums, counts


def sparse_take_rows(X, idx, *, xp):
    """Rows ``idx`` (an integer array, any order, repeats allowed) as a ``SparseRows``."""
    device = X.device
    idx = xp.astype(xp.asarray(idx, device=device), X.indptr.dtype)
    start = xp.take(X.indptr, idx)
    lengths = xp.take(X.indptr, idx + 1) - start
    zero = xp.zeros((1,), dtype=X.indptr.dtype, device=device)
    indptr = xp.concat([zero, xp.cumulative_sum(lengths)])
    host = to_numpy(indptr)  # the new nnz: one readback of a small array
    nnz = int(host[-1])
    pos = xp.arange(nnz, dtype=indptr.dtype, device=device)
    row = xp.searchsorted(indptr[1:], pos, side="right")
    src = xp.take(start, row) + (pos - xp.take(indptr, row))
    return SparseRows(indptr, xp.take(X.indices, src), xp.take(X.data, src),
                      (idx.shape[0], X.shape[1]), xp=xp, indptr_host=host)


def sparse_to_dense(X, *, xp):
    """A dense copy of (a few rows of) X, X's dtype."""
    n, d = X.shape
    acc = acc_dtype(xp, X.device)
    keys = xp.astype(X.row_ids(), xp.int64) * d + xp.astype(X.indices, xp.int64)
    flat = _dense_from_keys(keys, xp.astype(X.data, acc), n * d, xp=xp)
    return xp.astype(xp.reshape(flat, (n, d)), X.dtype)


def sparse_scale_rows(X, scale, *, xp):
    """``diag(scale) @ X``: each row's stored values times its factor."""
    return X.with_data(X.data * xp.astype(xp.take(scale, X.row_ids()), X.dtype))


def sparse_mean_variance(X, *, xp):
    """Mean over features of the (biased) variance of each column of sparse X."""
    from . import grouped_sum

    n = X.shape[0]
    zeros = xp.zeros((n,), dtype=xp.int64, device=X.device)
    s1, _ = grouped_sum(X, zeros, None, 1, xp=xp)
    s2, _ = grouped_sum(X.with_data(X.data * X.data), zeros, None, 1, xp=xp)
    m = s1[0, ...] / n
    return float(xp.mean(xp.clip(s2[0, ...] / n - m * m, min=0)))


def sparse_assigned_sq_distances(X, C, labels, *, xp, x_sq=None):
    """``|x - c_label|^2`` per row as |x|^2 - 2 x.c + |c|^2: one pass over the stored values."""
    acc = acc_dtype(xp, X.device)
    if x_sq is None:
        x_sq = sparse_row_sq_norms(X, xp=xp)
    d = C.shape[1]
    Ca = xp.astype(C, acc)
    rows = X.row_ids()
    lab = xp.astype(labels, xp.int64)
    flat = xp.reshape(Ca, (-1,))
    picked = xp.take(flat, xp.take(lab, rows) * d + xp.astype(X.indices, xp.int64))
    dots = _segment_sums(xp.astype(X.data, acc) * picked, X.indptr, xp=xp)
    c_sq = xp.take(xp.sum(Ca * Ca, axis=1), lab)
    return xp.astype(xp.clip(xp.astype(x_sq, acc) - 2 * dots + c_sq, min=0), X.dtype)
