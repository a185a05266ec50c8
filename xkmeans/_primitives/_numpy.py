"""NumPy / SciPy fast paths: scikit-learn's compiled Lloyd kernel, bincount, sparse sums."""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings

import numpy as np

from .._backend import chunk_rows, row_chunks

# Fast paths that run scikit-learn's private compiled Lloyd kernel.
_NEEDS_SKLEARN_KERNEL = ("nearest_centre", "lloyd_step")


def unavailable(name: str) -> bool:
    """True if fast path ``name`` cannot run here (the registry then uses the portable one)."""
    return name in _NEEDS_SKLEARN_KERNEL and _sklearn_kernel() is None


@functools.cache
def _sklearn_kernel():
    """scikit-learn's ``lloyd_iter_chunked_dense`` if it imports and behaves, else None.

    It is private: any release may move it or change its signature. A tiny
    problem with a known answer checks both; on failure the portable path
    gives the same answer more slowly, and a warning says so once.
    """
    def load():
        from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        _openmp_effective_n_threads()
        return lloyd_iter_chunked_dense

    return checked_kernel(
        load, np.array([[0.0], [2.0], [10.0]]), "Lloyd kernel",
        "KMeans on NumPy and PyTorch CPU arrays gives the same results through "
        "the portable path, several times slower. Installing a scikit-learn "
        "version that xkmeans supports restores the fast path.")


def checked_kernel(load, X, what, consequence):
    """A scikit-learn Lloyd kernel (``load()``) if it imports and behaves, else None.

    The kernels are private: any release may move them or change their
    signature. A tiny problem with a known answer (``X``, three rows of one
    feature, dense or sparse) checks both; on failure a warning names ``what``
    and says the ``consequence``, once (callers cache the result).
    """
    try:
        kernel = load()
        new, counts = np.empty((2, 1)), np.empty(2)
        labels, shift = np.empty(3, dtype=np.int32), np.empty(2)
        kernel(X, np.ones(3), np.array([[0.5], [9.0]]), new, counts, labels, shift, 1)
        if labels.tolist() != [0, 0, 1] or new.ravel().tolist() != [1.0, 10.0]:
            msg = f"unexpected result labels={labels.tolist()}, centres={new.ravel().tolist()}"
            raise ValueError(msg)
    except Exception as e:  # noqa: BLE001 - any failure means "do not use it"
        warnings.warn(
            f"xkmeans could not use scikit-learn's compiled {what} "
            f"(sklearn.cluster._k_means_lloyd, private; {type(e).__name__}: {e}). "
            f"{consequence}",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return kernel


def nearest_centre(X, C, *, xp, x_sq=None):
    """Labels from scikit-learn's compiled, parallel assignment; exact distances.

    The labels come from the E-step of ``lloyd_iter_chunked_dense`` (no
    n x k array); the squared distance to the chosen centre is then computed
    directly as |x - c|^2, one O(n d) pass instead of NumPy's several passes
    over an n x k tile.
    """
    X = np.ascontiguousarray(X)
    C = np.ascontiguousarray(C, dtype=X.dtype)
    labels, rows = _kernel_labels(X, C)
    dist2 = np.empty(X.shape[0], dtype=X.dtype)
    # Each thread's block holds its rows' |x - c| terms: the budget is shared.
    block = max(1, min(_BLOCK_ROWS, rows // _n_threads()))
    _in_threads(lambda a, b: _dist_to_chosen(X, C, labels, dist2, a, b), X.shape[0], block)
    return labels, dist2


def _kernel_labels(X, C, dtype=np.int64):
    """``(labels, rows)``: the E-step of scikit-learn's compiled Lloyd kernel
    (C-contiguous X and C of one dtype), in calls of ``rows`` rows. With
    ``dtype`` int32 the kernel writes the labels in place (no int64 copy)."""
    lloyd_iter_chunked_dense = _sklearn_kernel()
    n, k = X.shape[0], C.shape[0]
    labels = np.empty(n, dtype=dtype)
    direct = labels.dtype == np.int32
    # Scratch per row: the kernel's weights and int32 labels, |x - c| terms. The
    # kernel tiles for the cache itself (256 rows); each call has a fixed cost, so
    # calls are as large as the budget allows, up to 1M rows.
    rows = chunk_rows(n, 8 + 2 * X.shape[1] * X.dtype.itemsize, cap=1 << 20)
    ones = np.ones(min(rows, n), dtype=X.dtype)
    lab = None if direct else np.empty(min(rows, n), dtype=np.int32)
    shift = np.empty(k, dtype=X.dtype)
    with _kernel_context():
        for a, b in row_chunks(n, rows):
            m = b - a
            out = labels[a:b] if direct else lab[:m]
            lloyd_iter_chunked_dense(X[a:b], ones[:m], C, None, None, out, shift,
                                     _n_threads(), update_centers=False)
            if not direct:
                labels[a:b] = out
    return labels, rows


def assign_tile(src, offset, C, *, work, index_dtype, with_sse, xp):
    """The portable ``assign_tile``'s passes on all cores.

    The float copy of the tile (cast and centred in one pass), the labels
    (scikit-learn's compiled E-step) and, per block, the index cast and the
    squared errors (summed per block in float64, the blocks in order).
    """
    from ._portable import identical_row_map

    n = src.shape[0]
    X = _centred_copy(src, offset, work)
    C = np.ascontiguousarray(C, dtype=work)
    labels, _ = _kernel_labels(X, C, np.int32)
    canon = identical_row_map(C, xp=xp)  # the tie rule: first of identical centres
    out = np.empty(n, dtype=index_dtype)
    sse = {}

    def post(a, b):
        lab = labels[a:b] if canon is None else canon[labels[a:b]]
        out[a:b] = lab
        if with_sse:
            diff = X[a:b] - C[lab]
            sse[a] = np.einsum("ij,ij->i", diff, diff).sum(dtype=np.float64)

    _in_threads(post, n, _BLOCK_ROWS)
    total = np.asarray(sum(sse[a] for a in sorted(sse)), dtype=np.float64) if with_sse else None
    return out, total


# Rows whose values one inner loop of _centred_copy's subtraction covers.
_WIDE_ROWS = 512


def _centred_copy(src, offset, work):
    """``src - offset`` in ``work`` (both cast first, as the portable version).

    Subtracting a d-vector from (n, d) rows runs NumPy's inner loop over d
    elements at a time: 0.13 s for 16.7M colour pixels on 2 cores, against
    0.02 s for the cast and a subtraction over rows taken 512 at a time (the
    offset tiled to match), one thread: the pass is memory-bound.
    """
    n, d = src.shape
    X = np.empty((n, d), dtype=work)
    X[...] = src
    offset = np.asarray(offset, dtype=work)
    m = n - n % _WIDE_ROWS
    if m:
        wide = X[:m].reshape(-1, d * _WIDE_ROWS)
        np.subtract(wide, np.tile(offset, _WIDE_ROWS), out=wide)
    np.subtract(X[m:], offset, out=X[m:])
    return X


def _dist_to_chosen(X, C, labels, dist2, a, b):
    diff = X[a:b] - C[labels[a:b]]
    np.einsum("ij,ij->i", diff, diff, out=dist2[a:b])


# Rows per block of a threaded pass: a block's temporaries stay in L2.
_BLOCK_ROWS = 1 << 15


def _in_threads(fn, n, block):
    """``fn(a, b)`` over blocks of ``block`` rows on the threads of scikit-learn's kernel.

    NumPy's ufuncs and einsum release the GIL, so a pass that is one thread in
    NumPy runs on every core; blocks write disjoint rows.
    """
    blocks = [(a, min(a + block, n)) for a in range(0, n, block)]
    if len(blocks) < 2 or _n_threads() < 2:
        for a, b in blocks:
            fn(a, b)
        return
    for future in [_pool().submit(fn, a, b) for a, b in blocks]:
        future.result()


@functools.cache
def _pool():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(_n_threads(), thread_name_prefix="xkmeans")


def row_sq_norms(X, *, xp):
    # One pass, no n x d temporary.
    return np.einsum("ij,ij->i", X, X)


def grouped_sum(X, labels, weights, n_groups, *, xp):
    n, d = X.shape
    counts = np.bincount(labels, weights=weights, minlength=n_groups).astype(np.float64)
    if d <= 8:
        w = None if weights is None else weights.astype(np.float64, copy=False)
        cols = [
            np.bincount(
                labels,
                weights=X[:, j] if w is None else X[:, j].astype(np.float64) * w,
                minlength=n_groups,
            )
            for j in range(d)
        ]
        return np.stack(cols, axis=1), counts
    import scipy.sparse as sp

    data = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if X.dtype == np.float64:
        onehot = sp.csr_matrix((data, (labels, np.arange(n))), shape=(n_groups, n))
        return np.asarray(onehot @ X), counts
    # Narrower X: summed in float64 a block of rows at a time, so that no
    # float64 copy of X is made (a fresh 50 MB copy cost 20-60 ms here, most
    # of it the first touch of its pages).
    sums = np.zeros((n_groups, d))
    for a, b in row_chunks(n, _SUM_ROWS):
        onehot = sp.csr_matrix((data[a:b], (labels[a:b], np.arange(b - a))),
                               shape=(n_groups, b - a))
        sums += onehot @ X[a:b].astype(np.float64)
    return sums, counts


# Rows per float64 block of grouped_sum.
_SUM_ROWS = 1 << 14


def lloyd_step(X, weights, centres, *, xp):
    """One fused Lloyd iteration: E-step, M-step, empty-cluster relocation.

    Runs scikit-learn's compiled, OpenMP-parallel iteration
    (``lloyd_iter_chunked_dense``), which touches X once per iteration; NumPy
    alone cannot fuse the steps and re-reads an n x k tile several times.
    Its semantics are the loop's: labels against ``centres``, weighted means,
    empty clusters moved to the farthest points. Sums accumulate in X's dtype.

    Returns ``(labels, new_centres, weight_per_cluster)``.
    """
    lloyd_iter_chunked_dense = _sklearn_kernel()
    n, k = X.shape[0], centres.shape[0]
    X = np.ascontiguousarray(X)
    old = np.ascontiguousarray(centres, dtype=X.dtype)
    w = np.ones(n, dtype=X.dtype) if weights is None else np.ascontiguousarray(weights, X.dtype)
    new = np.empty_like(old)
    counts = np.empty(k, dtype=X.dtype)
    labels = np.empty(n, dtype=np.int32)
    shift = np.empty(k, dtype=X.dtype)
    with _kernel_context():
        lloyd_iter_chunked_dense(X, w, old, new, counts, labels, shift, _n_threads())
    return labels, new, counts


@functools.cache
def _n_threads() -> int:
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return _openmp_effective_n_threads()


@contextlib.contextmanager
def _kernel_context():
    """What scikit-learn's KMeans sets around its compiled iteration.

    Its OpenMP threads each call BLAS: a threaded BLAS on top oversubscribes the
    cores (2.5x slower on 100k x 64, k=256), so BLAS gets one thread. And its
    Array API dispatch is switched off: with ``array_api_dispatch=True`` the
    kernel's own helpers reject its memoryviews in scikit-learn 1.7.

    Re-entrant: inside an open context (a whole Lloyd loop opens one, see
    ``kernel_scope``) it costs nothing; setting and restoring the limits costs
    about 80 microseconds, several times a small fit's iteration.
    """
    if getattr(_scope, "depth", 0):
        _scope.depth += 1
        try:
            yield
        finally:
            _scope.depth -= 1
        return
    import sklearn

    with _blas_controller().limit(limits=1, user_api="blas"), \
            sklearn.config_context(array_api_dispatch=False):
        _scope.depth = 1
        try:
            yield
        finally:
            _scope.depth = 0


_scope = threading.local()


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def k_smallest(D, k, *, xp):
    from ._portable import k_smallest_from_partition

    return k_smallest_from_partition(D, k, np.argpartition, xp=xp)


def csr_matmul(indptr, indices, data, V, *, xp):
    import scipy.sparse as sp

    n = indptr.shape[0] - 1
    A = sp.csr_matrix((data, indices, indptr), shape=(n, V.shape[0]))
    return np.asarray(A @ V).astype(V.dtype, copy=False)


def self_kneighbors(X, k, *, xp):
    from ._portable import self_kneighbors as portable

    n, d = X.shape
    if d > 16 or n <= 256:
        return _brute_kneighbors(X, k, xp=xp)
    from scipy.spatial import cKDTree

    Xc = X - X.mean(axis=0, dtype=np.float64).astype(X.dtype)
    kq = min(n, k + 1)
    dist, ind = cKDTree(Xc).query(Xc, k=kq, workers=-1)
    dist, ind = np.atleast_2d(dist), np.atleast_2d(ind).astype(np.int64)
    # Put each row itself first, then order the rest by (distance, index).
    self_col = ind == np.arange(n)[:, None]
    missing = ~self_col.any(axis=1)
    self_col[missing, kq - 1] = True  # duplicates pushed it out: drop the last
    dist = dist[~self_col].reshape(n, kq - 1)
    ind = ind[~self_col].reshape(n, kq - 1)
    order = np.lexsort((ind, dist), axis=1)
    dist = np.take_along_axis(dist, order, 1)
    ind = np.take_along_axis(ind, order, 1)
    # Ties at the boundary (or a dropped candidate) leave the k-th neighbour
    # ambiguous: recompute those few rows exactly by brute force.
    m = k - 1
    if m > 0:
        if kq - 1 > m:
            bad = (dist[:, m - 1] == dist[:, m]) | missing
        else:
            bad = missing
        dist, ind = dist[:, :m], ind[:, :m]
    else:
        bad = np.zeros(n, dtype=bool)
    dist = np.concatenate([np.zeros((n, 1), X.dtype), dist.astype(X.dtype)], axis=1)
    ind = np.concatenate([np.arange(n)[:, None], ind], axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        d2 = ((X[rows, None, :] - X[None, :, :]) ** 2).sum(-1) if rows.size * n < 2**24 else None
        if d2 is None:
            return portable(X, k, xp=xp)
        d2[np.arange(rows.size), rows] = -1.0
        order = np.lexsort((np.broadcast_to(np.arange(n), d2.shape), d2), axis=1)[:, :k]
        ind[rows] = order
        dist[rows] = np.sqrt(np.clip(np.take_along_axis(d2, order, 1), 0, None))
    return dist, ind


def _brute_kneighbors(X, k, *, xp):
    # The portable computation, in place: per chunk of rows one GEMM (BLAS
    # threads), then the distances and the selection in blocks of rows on every
    # core (argpartition releases the GIL; single-threaded it was half the time).
    n = X.shape[0]
    X = X - X.mean(axis=0, dtype=np.float64).astype(X.dtype)
    x_sq = np.einsum("ij,ij->i", X, X)
    item = X.dtype.itemsize
    rows = chunk_rows(n, 4 * n * item, xp=xp, device="cpu")
    buf = np.empty((rows, n), dtype=X.dtype)
    XT = np.ascontiguousarray(X.T) * X.dtype.type(-2)  # exact: a power of two
    dist = np.empty((n, k), dtype=X.dtype)
    ind = np.empty((n, k), dtype=np.int64)
    block = max(1, _KNN_BLOCK_BYTES // (n * item))
    for a, b in row_chunks(n, rows):
        d = buf[: b - a]
        np.matmul(X[a:b], XT, out=d)

        def finish(s, e, a=a, d=d):
            blk = d[s:e]
            blk += x_sq[a + s:a + e, None]
            blk += x_sq
            v, i = _k_nearest_in_rows(blk, a + s, k, xp=xp)
            dist[a + s:a + e] = np.sqrt(np.maximum(v, 0))
            ind[a + s:a + e] = i

        _in_threads(finish, b - a, block)
    return dist, ind


# Distances per block of rows that _brute_kneighbors selects from on one thread.
_KNN_BLOCK_BYTES = 1 << 21
# Columns whose k-th smallest bounds a row's k-th smallest in _k_nearest_in_rows.
_KNN_PROBE = 1024


def _k_nearest_in_rows(D, row0, k, *, xp):
    """The k smallest of ``max(D, 0)`` per row, the row's own column (``row0 + r``)
    counted as -1 (first), by (value, column): the portable selection's result.

    A row's k-th smallest is at most the k-th smallest of its first columns, so
    only the values up to that bound (at least k per row, ties included) are
    gathered and sorted; for random data about k / 1024 of them. Much less
    work than a partition of every row (argpartition was half of the time).
    """
    m, n = D.shape
    self_cols = np.arange(row0, row0 + m)
    if n <= 4 * _KNN_PROBE:
        D = np.maximum(D, 0)
        D[np.arange(m), self_cols] = -1.0
        return k_smallest(D, k, xp=xp)
    # The row itself first, and always gathered (its computed distance may round
    # above the bound when duplicates of the row fill the first columns).
    D[np.arange(m), self_cols] = -1.0
    bound = np.partition(D[:, : max(_KNN_PROBE, 2 * k)], k - 1, axis=1)[:, k - 1]
    # flatnonzero of the mask: a tenth of the time of a 2-D nonzero.
    r, c = np.divmod(np.flatnonzero(D <= np.maximum(bound, 0)[:, None]), n)
    v = np.maximum(D[r, c], 0)
    v[c == self_cols[r]] = -1.0
    order = np.lexsort((c, v, r))
    r, c, v = r[order], c[order], v[order]
    pos = np.searchsorted(r, np.arange(m))[:, None] + np.arange(k)
    return v[pos], c[pos]


def connected_components(indptr, indices, *, xp):
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as cc

    n = indptr.shape[0] - 1
    A = sp.csr_matrix((np.ones(indices.shape[0], np.int8), indices, indptr), shape=(n, n))
    n_comp, labels = cc(A, directed=False)
    return int(n_comp), labels.astype(np.int64)


# SciPy's undirected search reads A + A^T: one triangle of a symmetric graph
# gives the same components (DBSCAN passes half the edges).
connected_components.symmetrizes = True


def laplacian_eigsh(indptr, indices, data, dinv, n_vectors, v0, tol, *, xp):
    """scikit-learn's spectral-embedding solver: ARPACK in shift-invert mode.

    Eigenvalues of L = I - D^-1/2 A D^-1/2 nearest a small negative shift
    (sigma = -1e-5, as scikit-learn uses: L is singular at 0), from a sparse LU
    factorisation of L - sigma I; returned in ascending order.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    n = dinv.shape[0]
    A = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    scale = sp.diags(dinv)
    laplacian = (sp.eye(n, format="csr") - scale @ A @ scale).tocsr()
    vals, vecs = eigsh(laplacian, k=n_vectors, sigma=-1e-5, which="LM", tol=tol, v0=v0)
    return vecs[:, np.argsort(vals)]


def self_radius_neighbors(X, radius, *, xp, return_distance=True):
    """SciPy's k-d tree pair search in low dimension; the portable search otherwise.

    ``cKDTree.query_pairs`` finds each pair once, in float64, by the same
    sum of squared coordinate differences against radius^2 as scikit-learn's
    k-d tree; both directions and each row itself are added and one sort of
    the int64 keys ``row * n + col`` lays them out as CSR.
    """
    from ._portable import self_radius_neighbors as portable

    n, d = X.shape
    if d > 16 or n <= 256:
        return portable(X, radius, xp=xp, return_distance=return_distance)
    from scipy.spatial import cKDTree

    pairs = cKDTree(X).query_pairs(float(radius), output_type="ndarray")
    m = pairs.shape[0]
    # Keys row * n + col of both directions and the diagonal, built in place
    # (large fresh temporaries cost more than the arithmetic).
    key = np.empty(2 * m + n, dtype=np.int64)
    i, j = pairs[:, 0], pairs[:, 1]
    np.multiply(i, n, out=key[:m])
    key[:m] += j
    np.multiply(j, n, out=key[m:2 * m])
    key[m:2 * m] += i
    del pairs, i, j
    np.multiply(np.arange(n, dtype=np.int64), n + 1, out=key[2 * m:])
    key.sort()
    indptr = np.searchsorted(key, np.arange(n + 1, dtype=np.int64) * n)
    cols = np.remainder(key, n, out=key)
    dist = None
    if return_distance:
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        Xa = X.astype(np.float64, copy=False)
        dist = np.sqrt(((Xa[rows] - Xa[cols]) ** 2).sum(axis=1)).astype(X.dtype)
    return indptr, cols, dist
