"""KMeans and MiniBatchKMeans on Dask arrays: the loop on the client, the data where it lives.

A ``dask.array.Array`` whose chunks are NumPy (or CuPy) arrays is fitted
without moving its rows. The estimators route here when X is a Dask array
(``is_dask_array``, a check on the type's module that never imports Dask);
this module imports Dask only inside its functions, so ``import xkmeans``
stays light without it.

Shape of a ``KMeans`` fit:

1. Validation and statistics, once: X (and ``sample_weight``) are persisted;
   one pass returns, per row chunk, its array library, row count, column
   sums and centred sums of squares, and whether it holds NaN or infinity.
   Mixed chunk libraries are refused here. The mean (for centring, as the
   in-memory fit does) and the mean feature variance (for ``tol``) are
   combined on the client in chunk order.
2. The centred data are persisted once (the raw persisted copy is then
   released); every later pass reads them where they are.
3. Each Lloyd iteration is one task per row chunk, on the worker holding
   it: labels against the current centres (``nearest_centre``), the k x d
   weighted sums and counts (``grouped_sum``), the inertia, the number of
   changed labels (the chunk's previous labels stay on its worker) and the
   chunk's k farthest points (for empty clusters). One task sums these
   partials in chunk index order (deterministic: the same result for any
   scheduler, worker count or timing) and the one small result comes back
   to the client, which moves the centres exactly as ``_lloyd.lloyd`` does.
4. A final pass labels every row against the final centres: ``labels_`` is
   a Dask array with X's row chunks (persisted), ``inertia_`` a float.

Partials cross between workers as small host NumPy arrays, whatever the
chunks are, so CuPy chunks (a dask-cuda cluster) run the same code; that
path is written but has not been measured.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np

from ._kmeans_parallel import N_ROUNDS, OVERSAMPLING

__all__ = [
    "is_dask_array",
    "kmeans_fit",
    "minibatch_fit",
    "predict",
    "score",
    "transform",
]

#: k-means++ on the data runs on at most this many rows (or 50 per cluster).
INIT_SAMPLE = 20_000

#: Called on the client as ``_after_iteration(i)`` after each Lloyd iteration
#: (tests use it to restart a worker at a known point of a fit).
_after_iteration = None

_CHUNK_LIBRARIES = ("numpy", "cupy")


def is_dask_array(X) -> bool:
    """True for a ``dask.array.Array`` (checked without importing Dask)."""
    return type(X).__module__.startswith("dask") and hasattr(X, "__dask_graph__") and hasattr(
        X, "chunks")


# ------------------------------------------------------------------- chunk tasks
# Plain functions of one chunk: they run on the workers (or the threads of
# the local scheduler) and return small host arrays.


def _library(a) -> str:
    return type(a).__module__.split(".")[0]


def _ns(a):
    import array_api_compat

    return array_api_compat.array_namespace(a), array_api_compat.device(a)


def _on_chunk(C, X):
    """The (small, host) array C in X's library, on X's device, in X's dtype."""
    xp, dev = _ns(X)
    return xp.asarray(np.asarray(C, dtype=X.dtype), device=dev)


def _chunk_stats(X, w):
    """Library, dtype, rows, float64 column sums and centred squares, flags."""
    from ._backend import to_numpy

    out = {"library": _library(X), "type": type(X).__name__, "dtype": str(X.dtype),
           "rows": int(X.shape[0]), "cols": int(X.shape[1]) if X.ndim == 2 else -1}
    if out["library"] not in _CHUNK_LIBRARIES or X.ndim != 2 or X.shape[0] == 0:
        return out
    Xh = X.astype("float64")
    s = Xh.sum(axis=0)
    m = s / X.shape[0]
    out["sum"] = to_numpy(s)
    out["m2"] = to_numpy(((Xh - m) ** 2).sum(axis=0))
    finite = _isfinite_all(Xh).item()
    out["nonfinite"] = not bool(finite)
    out["has_nan"] = bool(_isnan_any(Xh).item())
    if w is not None:
        wh = w.astype("float64")
        out["w_min"] = float(wh.min().item())
        out["w_sum"] = float(wh.sum().item())
        out["w_finite"] = bool(_isfinite_all(wh).item())
    return out


def _isfinite_all(a):
    xp, _ = _ns(a)
    return xp.all(xp.isfinite(a))


def _isnan_any(a):
    xp, _ = _ns(a)
    return xp.any(xp.isnan(a))


def _subtract(X, mean):
    return X - _on_chunk(mean, X)


def _cast(X, dtype):
    xp, _ = _ns(X)
    return xp.astype(X, getattr(xp, dtype))


def _farthest(X, w, C, prev, n_far, offset, cfg):
    """The chunk's ``n_far`` rows farthest from their centre in C, as host arrays:
    (distance, global row index, row, weight, label), by distance descending
    then row index ascending (the in-memory loop's stable order). ``prev`` is
    the chunk's step result, whose labels were assigned against C."""
    from ._backend import to_numpy
    from ._config import config_context

    d = C.shape[1]
    m = X.shape[0]
    t = min(n_far, m)
    if t == 0:
        return (np.zeros(0), np.zeros(0, np.int64), np.zeros((0, d)), np.zeros(0),
                np.zeros(0, np.int64))
    xp, dev = _ns(X)
    with config_context(**cfg):
        labels = prev[0]
        diff = X - xp.take(_on_chunk(C, X), xp.astype(labels, xp.int64), axis=0)
        dist = to_numpy(xp.sum(diff * diff, axis=1)).astype(np.float64)
    if t < m:
        pick = np.argpartition(-dist, t - 1)[:t]
        # Rows tied with the last one picked may be left out arbitrarily;
        # keep every row at least that far, then order exactly.
        pick = np.flatnonzero(dist >= dist[pick].min())
    else:
        pick = np.arange(m)
    order = np.lexsort((pick, -dist[pick]))[:t]
    pick = pick[order]
    idx = xp.asarray(pick, device=dev)
    rows = to_numpy(xp.take(X, idx, axis=0)).astype(np.float64)
    wf = np.ones(t) if w is None else to_numpy(xp.take(w, idx)).astype(np.float64)
    lab = to_numpy(xp.take(labels, idx)).astype(np.int64)
    return (dist[pick], pick + offset, rows, wf, lab)


def _merge_farthest(fars, n_far):
    """The n_far farthest rows of all chunks (distance descending, then row index)."""
    dist, idx, rows, wf, lab = (np.concatenate([f[j] for f in fars]) for j in range(5))
    order = np.lexsort((idx, -dist))[:n_far]
    return rows[order], wf[order], lab[order]


def _lloyd_chunk(X, w, C, prev, fused_ok, with_inertia, cfg):
    """One chunk's share of a Lloyd iteration: ``(labels, partial)``.

    ``partial`` holds host float64 arrays: the weighted sums (k, d), the
    weight per cluster (k,), the weighted inertia against C (when asked)
    and the count of labels that differ from ``prev``'s. Host chunks run
    the backend's fused E+M step (scikit-learn's compiled Lloyd iteration
    on NumPy) where the loop would; elsewhere ``nearest_centre`` and
    ``grouped_sum``.
    """
    from ._backend import acc_dtype
    from ._config import config_context
    from ._lloyd import weighted_total
    from ._primitives import fused_lloyd_step, grouped_sum, nearest_centre

    k, d = C.shape
    m = X.shape[0]
    xp, dev = _ns(X)
    if m == 0:
        partial = (np.zeros((k, d)), np.zeros(k), 0.0, 0)
        return xp.zeros((0,), dtype=xp.int64, device=dev), partial
    with config_context(**cfg):
        Cx = _on_chunk(C, X)
        # (Fewer rows than clusters: the kernel's own relocation would fail.)
        fused = fused_lloyd_step(xp, dev) if fused_ok and m >= k else None
        sums = None
        if fused is not None:
            # Means and weights per cluster of this chunk; the kernel moves a
            # cluster that is empty *in this chunk* to a far point, so such
            # chunks take the composed sums below (labels are unaffected).
            ones = xp.ones((m,), dtype=X.dtype, device=dev) if w is None else w
            labels, means, counts = fused(X, ones, Cx, xp=xp)
            labels = xp.astype(labels, xp.int64)
            every = xp.unique_values(labels).shape[0] == k
            if every and (w is None or bool(_host(xp.all(counts > 0)))):
                sums = _host(xp.astype(means, xp.float64)) * _host(
                    xp.astype(counts, xp.float64))[:, None]
                counts = _host(xp.astype(counts, xp.float64))
        else:
            labels, _ = nearest_centre(X, Cx, xp=xp)
        if sums is None:
            sums, counts = grouped_sum(X, labels, w, k, xp=xp)
            sums = _host(sums).astype(np.float64)
            counts = _host(counts).astype(np.float64)
        inertia = 0.0
        if with_inertia:
            diff = X - xp.take(Cx, labels, axis=0)
            inertia = float(weighted_total(xp.sum(diff * diff, axis=1), w, xp=xp,
                                           acc=acc_dtype(xp, dev)))
        changed = m if prev is None else int(xp.count_nonzero(labels != prev[0]))
    return labels, (sums, counts, inertia, changed)


def _kpar_update(X, w, state, C, offset, cfg):
    """k-means|| on one chunk: each row's squared distance to its nearest
    candidate so far and that candidate's number (``offset`` + its index in
    C, the new candidates), and the chunk's total of ``w * d^2``."""
    from ._config import config_context
    from ._primitives import nearest_centre

    xp, _ = _ns(X)
    m = X.shape[0]
    if m == 0:
        return np.zeros(0), np.zeros(0, np.int64), 0.0
    with config_context(**cfg):
        labels, dist2 = nearest_centre(X, _on_chunk(C, X), xp=xp)
    dist2 = _host(dist2).astype(np.float64)
    labels = _host(labels).astype(np.int64) + offset
    if state is not None:
        closer = dist2 < state[0]
        dist2 = np.where(closer, dist2, state[0])
        labels = np.where(closer, labels, state[1])
    weighted = dist2 if w is None else dist2 * _host(w).astype(np.float64)
    return dist2, labels, float(weighted.sum())


def _kpar_pick(X, w, state, targets):
    """Rows whose cumulative ``w * d^2`` first reaches each target (distinct, host)."""
    from ._backend import to_numpy

    weighted = state[0] if w is None else state[0] * _host(w).astype(np.float64)
    cum = np.cumsum(weighted)
    idx = np.unique(np.clip(np.searchsorted(cum, targets), 0, cum.shape[0] - 1))
    xp, dev = _ns(X)
    return to_numpy(xp.take(X, xp.asarray(idx, device=dev), axis=0))


def _kpar_counts(w, state, n_cand):
    wh = None if w is None else _host(w).astype(np.float64)
    return np.bincount(state[1], weights=wh, minlength=n_cand).astype(np.float64)


def _sum_arrays_in_order(parts):
    total = None
    for p in parts:
        total = p.copy() if total is None else total + p
    return total


def _reduce_partials(partials):
    """Sum the chunks' partials in chunk index order (float64, deterministic)."""
    sums = counts = None
    inertia, changed = 0.0, 0
    for s, c, i, ch in partials:
        sums = s.copy() if sums is None else sums + s
        counts = c.copy() if counts is None else counts + c
        inertia += i
        changed += ch
    return {"sums": sums, "counts": counts, "inertia": inertia, "changed": changed}


def _labels_chunk(X, w, C, cfg, with_inertia):
    """Labels of one chunk against C and (optionally) its weighted inertia."""
    from ._backend import acc_dtype, to_numpy
    from ._config import config_context
    from ._lloyd import weighted_total
    from ._primitives import nearest_centre

    xp, dev = _ns(X)
    k = C.shape[0]
    if X.shape[0] == 0:
        return xp.zeros((0,), dtype=xp.int64, device=dev), 0.0, np.zeros(k, dtype=bool)
    with config_context(**cfg):
        labels, dist2 = nearest_centre(X, _on_chunk(C, X), xp=xp)
        labels = xp.astype(labels, xp.int64)
        if not with_inertia:
            return labels, 0.0, None
        inertia = float(weighted_total(dist2, w, xp=xp, acc=acc_dtype(xp, dev)))
    present = np.zeros(k, dtype=bool)
    present[to_numpy(xp.unique_values(labels))] = True  # k values at most leave the device
    return labels, inertia, present


def _predict_block(X, C, cfg):
    return _labels_chunk(X, None, C, cfg, False)[0]


def _transform_block(X, C, cfg):
    from ._config import config_context
    from ._primitives import sq_distances

    xp, _ = _ns(X)
    if X.shape[0] == 0:
        return xp.zeros((0, C.shape[0]), dtype=X.dtype, device=_ns(X)[1])
    with config_context(**cfg):
        return xp.sqrt(sq_distances(X, _on_chunk(C, X), xp=xp))


def _inertia_block(X, w, C, cfg):
    return _labels_chunk(X, w, C, cfg, True)[1]


def _take_rows(X, w, local):
    """Rows ``local`` of a chunk (and their weights) as host arrays."""
    from ._backend import to_numpy

    xp, dev = _ns(X)
    idx = xp.asarray(local, device=dev)
    rows = to_numpy(xp.take(X, idx, axis=0))
    return rows, None if w is None else to_numpy(xp.take(w, idx))


def _first(t):
    return t[0]


def _sum_in_order(values):
    total = 0.0
    for v in values:
        total += v
    return total


def _inertia_and_present(parts):
    """Inertia summed in chunk order and the number of clusters with a row."""
    total, present = 0.0, None
    for _, inertia, p in parts:
        total += inertia
        present = p if present is None else present | p
    return total, int(np.count_nonzero(present))


def _drop_labels(t):
    return None, t[1], t[2]


# ------------------------------------------------------------------ client side


class _DaskData:
    """A validated, persisted Dask array: its chunks, statistics and row offsets.

    Also the data source ``MiniBatchKMeans`` draws its samples from: ``rows``
    gathers host rows by global index (one computation for all chunks).
    """

    streaming = False
    cosine = False

    def __init__(self, X, w, stats, *, centre):
        import array_api_compat.numpy as np_xp

        self.xp, self.device = np_xp, "cpu"  # where the client's small arrays live
        self.n, self.d = (int(s) for s in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.sizes = [int(c) for c in X.chunks[0]]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self.library = stats["library"]
        self.mean = stats["mean"].astype(self.dtype)
        self.mean_variance = stats["mean_variance"]
        self.w_total = stats["w_total"]
        self.chunk_w = stats["chunk_w"]
        self.centred = centre
        if centre:
            X = X.map_blocks(_subtract, self.mean, dtype=X.dtype)
        self.X = X
        self.w = w
        self.persist()

    def persist(self):
        import dask

        if self.w is None:
            (self.X,) = dask.persist(self.X)
        else:
            self.X, self.w = dask.persist(self.X, self.w)
        self.blocks = list(self.X.to_delayed().ravel())
        self.wblocks = [None] * len(self.blocks) if self.w is None else list(
            self.w.to_delayed().ravel())

    def chunk_meta(self, dtype, ndim=1):
        """An empty array of the chunks' library (the meta of a derived Dask array)."""
        if self.library == "cupy":
            import cupy

            return cupy.empty((0,) * ndim, dtype=dtype)
        return np.empty((0,) * ndim, dtype=dtype)

    def rows(self, idx):
        """Rows ``idx`` (host global indices) and their weights, as host NumPy arrays."""
        import dask

        idx = np.asarray(idx, dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        tasks, where = [], []
        for b, (a, z) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            lo, hi = np.searchsorted(sorted_idx, [a, z])
            if hi > lo:
                tasks.append(dask.delayed(_take_rows, pure=True)(
                    self.blocks[b], self.wblocks[b], sorted_idx[lo:hi] - a))
                where.append((lo, hi))
        parts = dask.compute(*tasks)
        Xs = np.empty((idx.shape[0], self.d), dtype=self.dtype)
        ws = None if self.w is None else np.empty(idx.shape[0], dtype=self.dtype)
        for (lo, hi), (r, wr) in zip(where, parts):
            Xs[order[lo:hi]] = r
            if ws is not None:
                ws[order[lo:hi]] = wr
        return Xs, ws

    def row_array(self, steps, prefix):
        """The first item of each chunk's task result, as one Dask array with X's
        row chunks (empty chunks kept: ``da.concatenate`` would drop them)."""
        import dask.array as da
        from dask.base import tokenize
        from dask.highlevelgraph import HighLevelGraph

        name = f"{prefix}-{tokenize(*[s.key for s in steps])}"
        dsk = {(name, i): (_first, s.key) for i, s in enumerate(steps)}
        graph = HighLevelGraph.from_collections(name, dsk, dependencies=steps)
        return da.Array(graph, name, chunks=(tuple(self.sizes),), dtype=np.int64,
                        meta=self.chunk_meta(np.int64))

    def labels_and_inertia(self, C, cfg):
        """Labels of every row (a persisted Dask array with X's row chunks) and
        the weighted inertia (float, summed in chunk order)."""
        import dask

        steps = [dask.delayed(_labels_chunk, pure=False)(b, wb, C, cfg, True)
                 for b, wb in zip(self.blocks, self.wblocks)]
        labels = self.row_array(steps, "xkmeans-labels")
        # Only the inertia and k flags per chunk move, not the labels.
        small = [dask.delayed(_drop_labels)(s) for s in steps]
        total = dask.delayed(_inertia_and_present)(small)
        labels, total = dask.persist(labels, total)
        inertia, distinct = total.compute()
        return labels, float(inertia), distinct


def _check_dask_X(est, X, *, reset):
    """Shape and dtype checks that need no computation; returns X as float 2-D,
    one chunk across the columns."""
    from ._validation import check_2d

    name = type(est).__name__
    check_2d(X, name)
    kind = np.dtype(X.dtype).kind
    if kind == "c":
        msg = f"Complex data not supported: got {X.dtype}. {name} accepts real numbers only."
        raise ValueError(msg)
    if kind in "iub" or (kind == "f" and X.dtype not in (np.float32, np.float64)):
        X = X.map_blocks(_cast, "float64", dtype=np.float64)
    elif kind != "f":
        msg = f"Unsupported dtype {X.dtype}: {name} accepts real numbers (float, int, bool)."
        raise TypeError(msg)
    n_features = X.shape[1]
    if n_features < 1:
        msg = (f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a "
               f"minimum of 1 is required by {name}.")
        raise ValueError(msg)
    if reset:
        est.n_features_in_ = n_features
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    elif n_features != est.n_features_in_:
        msg = (f"X has {n_features} features, but {name} is expecting "
               f"{est.n_features_in_} features as input.")
        raise ValueError(msg)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X


def _check_dask_weights(sample_weight, X):
    import dask.array as da

    if sample_weight is None:
        return None
    n = X.shape[0]
    if np.isscalar(sample_weight):
        return da.full((n,), float(sample_weight), dtype=X.dtype, chunks=(X.chunks[0],))
    if not is_dask_array(sample_weight):
        sample_weight = np.asarray(sample_weight)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n:
        msg = f"sample_weight.shape == {tuple(sample_weight.shape)}, expected ({n},)!"
        raise ValueError(msg)
    if np.dtype(sample_weight.dtype).kind not in "fiub":
        msg = f"sample_weight must be real numbers, got dtype {sample_weight.dtype}."
        raise TypeError(msg)
    if not is_dask_array(sample_weight):
        sample_weight = da.from_array(sample_weight, chunks=(X.chunks[0],))
    sample_weight = sample_weight.astype(X.dtype)
    if sample_weight.chunks[0] != X.chunks[0]:
        sample_weight = sample_weight.rechunk((X.chunks[0],))
    return sample_weight


def _mixed_chunks_message(stats):
    kinds = {}
    for i, s in enumerate(stats):
        kinds.setdefault(f"{s['library']}.{s['type']}", []).append(i)
    found = "; ".join(f"{kind} (chunks {', '.join(map(str, idx[:5]))}"
                      f"{', ...' if len(idx) > 5 else ''})" for kind, idx in kinds.items())
    return found, kinds


def prepare(est, X, sample_weight, *, reset, centre, min_samples=1):
    """Validate and persist X (and weights); one pass of statistics; ``_DaskData``."""
    import dask

    name = type(est).__name__
    X = _check_dask_X(est, X, reset=reset)
    if any(math.isnan(c) for c in X.chunks[0]):
        X = X.persist()
        X.compute_chunk_sizes()
    w = _check_dask_weights(sample_weight, X)
    X, w = dask.persist(X, w) if w is not None else (dask.persist(X)[0], None)
    wblocks = [None] * X.numblocks[0] if w is None else list(w.to_delayed().ravel())
    tasks = [dask.delayed(_chunk_stats, pure=True)(b, wb)
             for b, wb in zip(X.to_delayed().ravel(), wblocks)]
    stats = dask.compute(*tasks)
    found, kinds = _mixed_chunks_message(stats)
    if len(kinds) > 1:
        msg = (
            f"X is a Dask array whose chunks are of different array types: {found}. "
            f"{name} needs every chunk from one array library (NumPy, or CuPy on a "
            "dask-cuda cluster); convert them first, e.g. X.map_blocks(numpy.asarray) "
            "or X.map_blocks(cupy.asarray)."
        )
        raise TypeError(msg)
    library = stats[0]["library"]
    if library not in _CHUNK_LIBRARIES:
        msg = (
            f"X is a Dask array of {found}; {name} accepts Dask arrays whose chunks "
            "are dense NumPy or CuPy arrays."
        )
        raise TypeError(msg)
    dtypes = {s["dtype"] for s in stats}
    if dtypes != {str(np.dtype(X.dtype))} or any(s["cols"] != X.shape[1] for s in stats):
        msg = (
            f"X's chunks do not match its declared dtype {X.dtype} and shape "
            f"{X.shape}: found chunk dtypes {sorted(dtypes)}. Rebuild the Dask array "
            "with the right meta (map_blocks(..., dtype=...))."
        )
        raise ValueError(msg)
    n = sum(s["rows"] for s in stats)
    if n < min_samples:
        msg = (f"Found array with {n} sample(s) (shape={tuple(X.shape)}) while a "
               f"minimum of {min_samples} is required by {name}.")
        raise ValueError(msg)
    full = [s for s in stats if s["rows"] > 0]
    if any(s["has_nan"] for s in full):
        msg = "Input X contains NaN."
        raise ValueError(msg)
    if any(s["nonfinite"] for s in full):
        msg = f"Input X contains infinity or a value too large for {X.dtype}."
        raise ValueError(msg)
    if w is not None:
        if not all(s["w_finite"] for s in full):
            msg = "Input sample_weight contains NaN or infinity."
            raise ValueError(msg)
        if min(s["w_min"] for s in full) < 0:
            msg = "Negative values in data passed to sample_weight: weights must be >= 0."
            raise ValueError(msg)
        w_total = sum(s["w_sum"] for s in full)
        if not w_total > 0:
            msg = "sample_weight sums to zero: at least one weight must be positive."
            raise ValueError(msg)
    else:
        w_total = float(n)
    # Chan et al.'s pairwise combination of the chunks' means and centred
    # squares, in chunk order: the column variances without a second pass.
    total = np.zeros(X.shape[1])
    for s in full:
        total = total + s["sum"]
    mean = total / n
    m2 = np.zeros(X.shape[1])
    for s in full:
        m2 = m2 + s["m2"] + s["rows"] * (s["sum"] / s["rows"] - mean) ** 2
    chunk_w = np.array([s.get("w_sum", float(s["rows"])) for s in stats], dtype=np.float64)
    summary = {"library": library, "mean": mean, "chunk_w": chunk_w,
               "mean_variance": float(np.mean(np.maximum(m2 / n, 0))), "w_total": w_total}
    return _DaskData(X, w, summary, centre=centre)


def _config():
    from ._config import get_config

    return dict(get_config())


def _init_centres(est, data, init, rng):
    """Initial centres (host, centred frame) for KMeans on a Dask array.

    'random': the rows ``rng.choice(n, k, replace=False)`` draws, as the
    in-memory fit draws them (weighted: drawn from the sample below).
    'k-means++': greedy k-means++ on a uniform sample of ``max(INIT_SAMPLE,
    50 * k)`` rows drawn without replacement (their weights kept); all of X
    when it is smaller, then exactly the in-memory initialisation.
    A callable gets the same sample. Explicit arrays are used as given.
    """
    import array_api_compat.numpy as np_xp

    from ._init import kmeans_plusplus, legacy_random_state, random_rows
    from ._primitives import row_sq_norms
    from ._validation import check_centres

    k, n = est.n_clusters, data.n
    if not isinstance(init, str) and not callable(init):
        return init
    if isinstance(init, str) and init == "random" and data.w is None:
        idx = rng.choice(n, size=k, replace=False)
        return data.rows(idx)[0]
    if isinstance(init, str) and init == "k-means||":
        centres = kmeans_parallel(data, k, rng, _config())
        if centres is not None:
            return centres
    m = min(n, max(INIT_SAMPLE, 50 * k))
    if m < n:
        Xs, ws = data.rows(np.sort(rng.choice(n, size=m, replace=False)))
    else:
        Xs, ws = data.rows(np.arange(n))
    if isinstance(init, str) and init == "k-means++":
        return kmeans_plusplus(Xs, k, x_sq=row_sq_norms(Xs, xp=np_xp), weights=ws, rng=rng,
                               xp=np_xp)[0]
    if isinstance(init, str) and init == "k-means||":  # too few candidates: k-means++
        return kmeans_plusplus(Xs, k, x_sq=row_sq_norms(Xs, xp=np_xp), weights=ws, rng=rng,
                               xp=np_xp)[0]
    if isinstance(init, str) and init == "random":
        return random_rows(Xs, k, weights=ws, rng=rng, xp=np_xp)[0]
    centres = init(Xs, k, random_state=legacy_random_state(rng))
    return np.asarray(check_centres(_host(centres), Xs, k, xp=np_xp, device="cpu",
                                    what="init(X)"))


def kmeans_parallel(data, k, rng, cfg, *, n_rounds=N_ROUNDS, oversampling=OVERSAMPLING):
    """k-means|| over all chunks (Bahmani et al.), as ``_kmeans_parallel`` does in memory.

    Each of ``n_rounds`` rounds draws ``oversampling * k`` uniforms on the
    host; the chunks' totals of ``w * d^2`` (one small result) say which chunk
    each falls in, and each chunk turns its share into rows by its own
    cumulative sum; the new candidates' rows come back and every chunk
    updates its rows' nearest candidate. Candidates are then weighted by the
    (sample) weight of the rows nearest to them and greedy weighted
    k-means++ on the client picks the k centres. Returns host centres, or
    None when there would be too few candidates (the caller then falls back
    to k-means++ on a sample).
    """
    import array_api_compat.numpy as np_xp
    import dask

    from ._init import kmeans_plusplus
    from ._primitives import row_sq_norms, serial_blas

    n = data.n
    n_draws = max(1, round(oversampling * k))
    if n_draws * n_rounds + 1 <= k or n <= k:
        return None
    u = rng.random(1)
    if data.w is None:
        first = [min(int(u[0] * n), n - 1)]
        cand = data.rows(first)[0]
    else:  # the first row drawn with probability proportional to its weight
        cand = _pick_rows(data, [(wb, None) for wb in data.wblocks], data.chunk_w, u, cfg)
        cand = cand[:1]
    parts = [cand]
    n_cand = 0
    states = [None] * len(data.blocks)
    for r in range(n_rounds + 1):
        Cd = dask.delayed(np.ascontiguousarray(cand), pure=True)
        steps = [dask.delayed(_kpar_update, pure=False, nout=3)(b, wb, st, Cd, n_cand, cfg)
                 for b, wb, st in zip(data.blocks, data.wblocks, states)]
        totals = dask.delayed(list)([st[2] for st in steps])
        *states, totals = dask.persist(*steps, totals)
        n_cand += cand.shape[0]
        if r == n_rounds:
            break
        totals = np.asarray(totals.compute(), dtype=np.float64)
        cand = _pick_rows(data, list(zip(data.wblocks, states)), totals,
                          rng.random(n_draws), cfg)
        if cand.shape[0] == 0:  # every d^2 is 0: nothing left to find
            break
        parts.append(cand)
    if n_cand < k:
        return None
    counts = dask.delayed(_sum_arrays_in_order)(
        [dask.delayed(_kpar_counts, pure=False)(wb, st, n_cand)
         for wb, st in zip(data.wblocks, states)]).compute()
    cand_X = np.concatenate(parts)[:n_cand]
    with serial_blas(np_xp):
        _, local = kmeans_plusplus(cand_X, k, x_sq=row_sq_norms(cand_X, xp=np_xp),
                                   weights=counts, rng=rng, xp=np_xp)
    return cand_X[np.asarray(local)]


def _pick_rows(data, per_chunk, totals, u, cfg):
    """Rows drawn with probability proportional to each chunk's weights: the
    uniforms ``u`` scaled by the grand total, split by the chunks' totals."""
    import dask

    del cfg
    cum = np.cumsum(totals)
    targets = u * cum[-1]
    which = np.clip(np.searchsorted(cum, targets, side="right"), 0, len(totals) - 1)
    tasks = []
    for b, (wb, st) in enumerate(per_chunk):
        mine = targets[which == b] - (cum[b] - totals[b])
        if mine.size and data.sizes[b] > 0:
            if st is None:  # the first draw: weights alone
                st = dask.delayed(_weights_state)(wb)
            tasks.append(dask.delayed(_kpar_pick, pure=False)(data.blocks[b], wb, st,
                                                                np.sort(mine)))
    rows = dask.compute(*tasks)
    if not rows:
        return np.zeros((0, data.d), dtype=data.dtype)
    return np.concatenate(rows)


def _weights_state(w):
    return np.ones(w.shape[0]), None


def _host(a):
    """A (small) array of any library as NumPy; other objects (lists) as they are."""
    import array_api_compat

    from ._backend import to_numpy

    if isinstance(a, (np.ndarray, np.generic)):
        return np.asarray(a)
    if not array_api_compat.is_array_api_obj(a):
        return a
    return to_numpy(a)


def lloyd(data, C, *, max_iter, tol, verbose, cfg, callback=None):
    """Lloyd's loop over the chunks of ``data`` from host centres C (centred frame).

    The semantics of ``_lloyd.lloyd``: strict convergence when no label
    changed, else stop when the squared centre shift is ``<= tol``; empty
    clusters take the farthest points (by distance to their centre, largest
    first, ties by row index). Returns ``(centres, n_iter)``; the caller
    labels the rows against the returned centres.
    """
    import dask

    from ._primitives import has_identical_rows

    dtype = data.dtype
    prev = [None] * len(data.blocks)
    n_iter = 0
    for i in range(max_iter):
        n_iter = i + 1
        Cd = dask.delayed(np.ascontiguousarray(C), pure=True)
        # As the in-memory loop: identical centres take the composed step,
        # whose ties go to the first of them on every CPU.
        fused_ok = not has_identical_rows(C, xp=data.xp)
        steps = [
            dask.delayed(_lloyd_chunk, pure=False, nout=2)(b, wb, Cd, p, fused_ok,
                                                           bool(verbose), cfg)
            for b, wb, p in zip(data.blocks, data.wblocks, prev)
        ]
        total = dask.delayed(_reduce_partials, pure=False)([s[1] for s in steps])
        *steps, total = dask.persist(*steps, total)
        r = total.compute()  # the one small result of the iteration
        sums, counts = r["sums"], r["counts"]
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            # The in-memory loop's relocation: the farthest points (by distance
            # to their centre) leave their clusters, one per empty cluster, in
            # cluster order. A second small result, on such iterations only.
            fars = [dask.delayed(_farthest, pure=False)(b, wb, Cd, st, empty.size, int(off), cfg)
                    for b, wb, st, off in zip(data.blocks, data.wblocks, steps,
                                              data.offsets[:-1])]
            far = dask.delayed(_merge_farthest, pure=False)(fars, empty.size).compute()
            for e, x, wf, lab in zip(empty, *far):
                sums[lab] -= wf * x
                counts[lab] -= wf
                sums[e] = wf * x
                counts[e] = wf
        safe = np.where(counts > 0, counts, 1.0)
        new = (sums / safe[:, None]).astype(dtype)
        shift = float(np.sum((new - C).astype(np.float64) ** 2))
        if verbose:
            print(f"Iteration {i}, inertia {r['inertia']}.")
        C = new
        prev = steps
        if callback is not None:
            callback(i)
        if r["changed"] == 0:
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            break
        if shift <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {shift} within tolerance {tol}.")
            break
    return C, n_iter


def _to_chunk_library(C, data):
    if data.library == "cupy":
        import cupy

        return cupy.asarray(C)
    return C


def kmeans_fit(est, X, sample_weight):
    """``KMeans.fit`` on a Dask array (see the module docstring)."""
    from sklearn.exceptions import ConvergenceWarning

    from ._backend import check_random_state
    from ._kmeans import resolve_n_init

    if est._cosine:
        msg = "KMeans(metric='cosine') does not accept Dask arrays yet; use metric='euclidean'."
        raise ValueError(msg)
    if est.algorithm == "elkan" and est.n_clusters == 1:
        warnings.warn("algorithm='elkan' doesn't make sense for a single cluster. "
                      "Using 'lloyd' instead.", RuntimeWarning, stacklevel=3)
    data = prepare(est, X, sample_weight, reset=True, centre=True)
    k = est.n_clusters
    if data.n < k:
        msg = f"n_samples={data.n} should be >= n_clusters={k}."
        raise ValueError(msg)
    init = est.init
    if not isinstance(init, str) and not callable(init):
        import array_api_compat.numpy as np_xp

        from ._validation import check_centres

        probe = np.zeros((1, data.d), dtype=data.dtype)
        init = np.asarray(check_centres(_host(init), probe, k, xp=np_xp, device="cpu"))
        init = init.astype(data.dtype) - data.mean
    n_init = resolve_n_init(est, default=10, stacklevel=4)
    rng = check_random_state(est.random_state)
    tol = data.mean_variance * est.tol
    cfg = _config()
    best = None
    for _ in range(n_init):
        C = np.asarray(_init_centres(est, data, init, rng), dtype=data.dtype)
        if est.verbose:
            print("Initialization complete")
        C, n_iter = lloyd(data, C, max_iter=est.max_iter, tol=tol, verbose=est.verbose,
                          cfg=cfg, callback=_after_iteration)
        labels, inertia, distinct = data.labels_and_inertia(C, cfg)
        if best is None or inertia < best[1]:
            best = (labels, inertia, C, n_iter, distinct)
    labels, inertia, C, n_iter, distinct = best
    inertia_present = (distinct,)
    if inertia_present[0] < k:
        warnings.warn(
            f"Number of distinct clusters ({inertia_present[0]}) found smaller than "
            f"n_clusters ({k}). Possibly due to duplicate points in X.",
            ConvergenceWarning,
            stacklevel=3,
        )
    est.cluster_centers_ = _to_chunk_library(C + data.mean, data)
    est.labels_ = labels
    est.inertia_ = inertia
    est.n_iter_ = n_iter
    return est


def minibatch_fit(est, X, sample_weight):
    """``MiniBatchKMeans.fit`` on a Dask array.

    Sampling: the same host draws as the in-memory fit (uniform row indices
    with replacement, a block of up to 65,536 rows of successive batches at
    a time, each batch sorted); the rows of a whole block are gathered from
    the chunks that hold them in one Dask computation and the steps run on
    the client. So a seed gives the same centres as the in-memory fit on the
    same data, and only the sampled rows leave the workers.
    """
    from ._backend import check_random_state
    from ._minibatch import _INDEX_BLOCK, _reassign_replay, minibatch_step

    if est._cosine:
        msg = ("MiniBatchKMeans(metric='cosine') does not accept Dask arrays yet; use "
               "metric='euclidean'.")
        raise ValueError(msg)
    data = prepare(est, X, sample_weight, reset=True, centre=False)
    xp = data.xp
    n = data.n
    est._check_params_vs_input(n)
    rng = check_random_state(est.random_state)
    tol = 0.0 if est.tol == 0 else data.mean_variance * est.tol
    k, B = est.n_clusters, est._batch_size
    acc = np.float64

    Xv, wv = data.rows(np.sort(rng.integers(0, n, est._init_size)))
    # The client's rows are host NumPy arrays: so are the initial centres.
    centres = est._best_init(data, Xv, wv, rng, acc=acc)

    counts = np.zeros((k,), dtype=acc)
    est._reset_convergence()
    n_since, n_zero = 0, k
    n_steps = (est.max_iter * n) // B
    batch_rng, reassign_rng = (np.random.default_rng(s) for s in rng.integers(2**63, size=2))
    block_steps = max(1, _INDEX_BLOCK // B)
    step = 0
    for step in range(n_steps):
        j = step % block_steps
        if j == 0:
            size = (min(block_steps, n_steps - step), B)
            block = np.sort(batch_rng.integers(0, n, size=size), axis=1)
            # One gather for the whole block: its distinct rows, host side.
            uniq = np.unique(block)
            Xblock, wblock = data.rows(uniq)
        pos = np.searchsorted(uniq, block[j])
        Xb = Xblock[pos]
        wb = None if wblock is None else wblock[pos]
        # Candidates drawn at every step, as the in-memory fit draws them.
        reassign, n_since = _reassign_replay(n_since, n_zero, B, k)
        cand = est._candidate_rows(1, B, reassign_rng, xp=xp, device="cpu")
        centres, counts, stats = minibatch_step(
            Xb, wb, centres, counts, candidates=None if cand is None or not reassign else cand[0],
            ratio=est.reassignment_ratio, with_shift=tol > 0, xp=xp,
        )
        stats = np.asarray(stats)
        n_zero = int(stats[4])
        if est.verbose and stats[3] > 0:
            print(f"[MiniBatchKMeans] Reassigning {int(stats[3])} cluster centers.")
        if est._converged(step, n_steps, n, B, stats, tol):
            break
    est._counts = counts
    est._n_since_last_reassign = n_since
    est._n_zero = n_zero
    est.cluster_centers_ = _to_chunk_library(centres, data)
    est.n_steps_ = step + 1
    est.n_iter_ = math.ceil((step + 1) * B / n)
    if est.compute_labels:
        est.labels_, est.inertia_, _ = data.labels_and_inertia(centres, _config())
    else:
        ewa = est._ewa_inertia if est._ewa_inertia is not None else est._last_inertia
        est.inertia_ = ewa * data.w_total
    return est


def _fitted_centres(est, X, method):
    from sklearn.utils.validation import check_is_fitted

    from ._backend import to_numpy

    check_is_fitted(est, "cluster_centers_")
    if getattr(est, "_cosine", False):
        msg = f"{type(est).__name__}(metric='cosine').{method} does not accept Dask arrays yet."
        raise ValueError(msg)
    X = _check_dask_X(est, X, reset=False)
    return X, np.ascontiguousarray(to_numpy(est.cluster_centers_)).astype(X.dtype)


def predict(est, X):
    """Lazy labels of a Dask array (int64, X's row chunks)."""
    X, C = _fitted_centres(est, X, "predict")
    meta = _meta_like(X, np.int64, 1)
    return X.map_blocks(_predict_block, C, _config(), dtype=np.int64, drop_axis=1, meta=meta)


def transform(est, X):
    """Lazy distances to the centres (X's row chunks, one column chunk)."""
    X, C = _fitted_centres(est, X, "transform")
    meta = _meta_like(X, X.dtype, 2)
    return X.map_blocks(_transform_block, C, _config(), dtype=X.dtype,
                        chunks=(X.chunks[0], (C.shape[0],)), meta=meta)


def score(est, X, sample_weight=None):
    """Opposite of the weighted inertia (computed now, summed in chunk order)."""
    import dask

    X, C = _fitted_centres(est, X, "score")
    w = _check_dask_weights(sample_weight, X)
    blocks = X.to_delayed().ravel()
    wblocks = [None] * len(blocks) if w is None else w.to_delayed().ravel()
    cfg = _config()
    parts = [dask.delayed(_inertia_block, pure=True)(b, wb, C, cfg)
             for b, wb in zip(blocks, wblocks)]
    return -float(dask.compute(dask.delayed(_sum_in_order)(parts))[0])


def _meta_like(X, dtype, ndim):
    meta = getattr(X, "_meta", None)
    if meta is not None and _library(meta) == "cupy":
        mod = sys.modules["cupy"]
        return mod.empty((0,) * ndim, dtype=dtype)
    return np.empty((0,) * ndim, dtype=dtype)
