"""MiniBatchKMeans: the k-means objective on random mini-batches, streamable.

Two parts, kept apart: the array math of one mini-batch step
(``minibatch_step``, ``_reassign``, ``_reassign_flag``: device arrays in,
device arrays out, no host logic) and the estimator (validation, host
randomness, early stopping, where the data lives). The data sources
(``_Resident``, ``_HostStream``) hide whether a batch is gathered on the
device or on the host and then moved.

No step waits for the device. Whether a step reassigns centres is decided on
the device (a centre with zero count, or ``10 * n_clusters`` samples since
the last reassignment, scikit-learn's rule), so the host draws candidate
rows for every step and the device uses them only where the flag is set.
The early-stopping statistics of ``_STATS_WINDOW`` successive steps are
stacked on the device and read back at once; the host then replays
scikit-learn's stopping test over them in order. When it fires at a step
inside the window, the centres and counts kept after that step (references
to the per-step arrays, k x d each) are restored and the steps computed
after it are dropped: the fit ends exactly as a step-by-step readback would
have ended it, with the same attributes and verbose lines.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _dask
from ._backend import (
    _float_dtypes,
    acc_dtype,
    backend_name,
    check_random_state,
    chunk_rows,
    get_device,
    is_cpu,
    itemsize,
    namespace_for_device,
    row_chunks,
    to_numpy,
)
from ._init import kmeans_plusplus, legacy_random_state, random_rows
from ._kmeans import _CentresMixin, resolve_n_init
from ._lloyd import weighted_total
from ._primitives import (
    fused_minibatch_update,
    grouped_sum,
    nearest_centre,
    row_sq_norms,
    sparse_mean_variance,
    sq_distances,
    take_rows,
    to_dense,
)
from ._sparse import is_sparse, is_sparse_input
from ._spherical import (
    cosine_assignment,
    cosine_from_sq,
    unit_centres,
    unit_init_centres,
    unit_rows,
)
from ._transfer import pinned_mover
from ._validation import (
    _is_foreign_array,
    check_centres,
    check_same_backend,
    check_sample_weight,
    check_X,
)

__all__ = ["MiniBatchKMeans", "minibatch_step"]

# Host batch indices are drawn this many at a time (a block of steps).
_INDEX_BLOCK = 1 << 16

# Steps whose early-stopping statistics are read back together (one sync).
# ``MiniBatchKMeans._stats_window`` overrides it (tests use 1).
_STATS_WINDOW = 16


# --------------------------------------------------------------------------- kernels


def minibatch_step(X, weights, centres, counts, *, candidates, ratio, with_shift, xp,
                   reassign=None):
    """One mini-batch update, scikit-learn's ``_mini_batch_step``, on the device.

    Each centre moves to the weighted mean of everything it has absorbed so
    far: ``c <- (c * n_c + sum_batch(w x)) / (n_c + sum_batch(w))``, so its
    learning rate is its batch weight over its running count. Centres that
    get no weight keep their place.

    Parameters
    ----------
    X : array of shape (batch, n_features)
    weights : array of shape (batch,) or None
    centres : array of shape (n_clusters, n_features), X's dtype
    counts : array of shape (n_clusters,), widest float
        Running weight of each centre.
    candidates : integer array of shape (m,) or None
        Distinct random rows of X for reassigned centres (drawn on the host);
        None skips reassignment this step.
    ratio : float
        ``reassignment_ratio``.
    with_shift : bool
        Compute the squared centre shift (needed when ``tol > 0``).
    reassign : boolean 0-d array or None, default=None
        Device flag (see ``_reassign_flag``): the candidates are used only
        where it is True. None reassigns whenever ``candidates`` is given.

    Returns
    -------
    centres, counts : updated arrays
    stats : array of shape (5,), widest float
        ``[sum w*d2, sum w, squared shift, reassigned, zero counts]``, read
        back once by the caller.
    """
    device = get_device(X)
    acc = acc_dtype(xp, device)
    fused = fused_minibatch_update(X, weights, centres, counts, xp=xp, device=device)
    if fused is not None:  # GPU: three kernel launches, statistics on the device
        new, new_counts, stats = fused
        if candidates is None:
            return new, new_counts, stats
        moved, new_counts, n_moved = _reassign(X, new, new_counts, candidates, ratio, xp=xp,
                                               flag=reassign)
        old = xp.astype(centres, acc)
        shift = xp.sum((xp.astype(moved, acc) - old) ** 2) if with_shift else stats[2] * 0
        stats = xp.stack([stats[0], stats[1], shift, xp.astype(n_moved, acc),
                          xp.sum(xp.astype(new_counts == 0, acc))])
        return moved, new_counts, stats
    labels, dist2 = nearest_centre(X, centres, xp=xp)
    sums, wsum = grouped_sum(X, labels, weights, centres.shape[0], xp=xp)
    old = xp.astype(centres, acc)
    new_counts = counts + wsum
    hit = wsum > 0
    safe = xp.where(hit, new_counts, xp.ones_like(new_counts))
    new = xp.where(hit[:, None], (old * counts[:, None] + sums) / safe[:, None], old)
    zero = xp.zeros((), dtype=acc, device=device)
    n_moved = zero
    if candidates is not None:
        new, new_counts, n_moved = _reassign(X, new, new_counts, candidates, ratio, xp=xp,
                                             flag=reassign)
    shift = xp.sum((new - old) ** 2) if with_shift else zero
    stats = xp.stack([
        weighted_total(dist2, weights, xp=xp, acc=acc),
        xp.sum(wsum),
        shift,
        xp.astype(n_moved, acc),
        xp.sum(xp.astype(new_counts == 0, acc)),
    ])
    return xp.astype(new, X.dtype), new_counts, stats


def _reassign(X, centres, counts, candidates, ratio, *, xp, flag=None):
    """Move starving centres onto random batch rows (sklearn's reassignment).

    Centres whose count is below ``ratio * max(count)`` (at most half the
    batch, the lowest counts first) take the next unused candidate row, in
    cluster order; their counts are raised to the smallest kept count so that
    they are not reassigned again at once. ``flag`` (a device boolean, or
    None for True) gates the whole move. All on the device: no readback.
    """
    device = get_device(X)
    k = counts.shape[0]
    half = int(0.5 * X.shape[0])
    move = counts < ratio * xp.max(counts)
    if flag is not None:
        move = move & flag
    n_move = xp.sum(xp.astype(move, xp.int64))
    rank = xp.argsort(xp.argsort(counts, stable=True), stable=True)
    limit = xp.where(
        n_move > half,  # == (n_move > 0.5 * batch) for integers
        xp.asarray(half, dtype=xp.int64, device=device),
        xp.asarray(k, dtype=xp.int64, device=device),
    )
    move = move & (rank < limit)
    slot = xp.cumulative_sum(xp.astype(move, xp.int64)) - 1
    slot = xp.clip(slot, min=0, max=candidates.shape[0] - 1)
    rows = to_dense(take_rows(X, xp.take(candidates, slot), xp=xp), xp=xp)
    centres = xp.where(move[:, None], xp.astype(rows, centres.dtype), centres)
    inf = xp.asarray(math.inf, dtype=counts.dtype, device=device)
    floor = xp.min(xp.where(move, inf, counts))
    counts = xp.where(move & (floor < inf), floor, counts)
    return centres, counts, xp.sum(xp.astype(move, xp.int64))


def _reassign_flag(counts, n_since, batch, *, xp):
    """scikit-learn's ``_random_reassign`` on the device.

    ``n_since`` (int64, 0-d) grows by ``batch`` first; the step reassigns when
    a centre has zero count or ``n_since >= 10 * n_clusters``, and then
    ``n_since`` restarts at 0. Returns ``(flag, n_since)``.
    """
    grown = n_since + batch
    flag = xp.any(counts == 0) | (grown >= 10 * counts.shape[0])
    return flag, xp.where(flag, xp.zeros_like(grown), grown)


def _reassign_replay(n_since, n_zero, batch, k):
    """The host's copy of ``_reassign_flag`` (read-back zero counts): (flag, n_since)."""
    n_since += batch
    if n_zero > 0 or n_since >= 10 * k:
        return True, 0
    return False, n_since


# ----------------------------------------------------------------------- data sources


class _Resident:
    """Data already in the compute namespace, on the compute device."""

    streaming = False
    cosine = False  # rows already on the unit sphere (metric='cosine')

    def __init__(self, X, w, xp, device):
        self.X, self.w, self.xp, self.device = X, w, xp, device
        self.n, self.d = X.shape
        self.dtype = X.dtype

    def rows(self, idx):
        """Rows ``idx`` (host integers) and their weights, on the device."""
        xp = self.xp
        i = xp.asarray(idx, device=self.device)
        wb = None if self.w is None else xp.take(self.w, i)
        return take_rows(self.X, i, xp=xp), wb

    def batches(self, indices):
        """``rows(idx)`` for each host index array of ``indices``, in order."""
        for idx in indices:
            yield self.rows(idx)

    def whole(self):
        return self.X, self.w

    def chunks(self, rows):
        for a, b in row_chunks(self.n, rows):
            yield self.X[a:b, ...], None if self.w is None else self.w[a:b]

    def gather(self, parts):
        """Per-chunk results as one array of the compute namespace."""
        return parts[0] if len(parts) == 1 else self.xp.concat(parts)


class _HostStream:
    """Host (NumPy, memmap) data fitted on another device: batches move one at a time.

    ``prefetch``: ``batches`` gathers the next batch on a worker thread while
    the caller computes on this one (see ``batches``).
    """

    streaming = True
    cosine = False

    def __init__(self, X, w, xp, device, dtype, *, prefetch=True):
        self.X, self.w, self.xp, self.device, self.dtype = X, w, xp, device, dtype
        self.n, self.d = X.shape
        self.prefetch = prefetch

    def _move(self, a):
        return self.xp.asarray(np.array(a, dtype=self.X.dtype), device=self.device)

    def _gather(self, idx, into=(None, None)):
        """Host rows ``idx`` and their weights (NumPy), into ``into``'s arrays if given."""
        wh = None if self.w is None else np.take(self.w, idx, out=into[1])
        return np.take(self.X, idx, axis=0, out=into[0]), wh

    def _place(self, Xh, wh, movers=(None, None)):
        """Gathered host rows on the device, through the movers where given."""
        return tuple(None if a is None else self._move(a) if m is None else m.move(a)
                     for a, m in zip((Xh, wh), movers))

    def rows(self, idx):
        return self._place(*self._gather(idx))

    def batches(self, indices):
        """``rows(idx)`` for each host index array of ``indices``, in order.

        With ``prefetch``, one worker thread gathers the next batch on the
        host (``np.take`` on X: page faults and disk reads on a memmap) while
        the caller computes on this one; on CuPy the batches then move through
        pinned buffers on a side stream (``_transfer.PinnedPingPong``), and a
        batch stays valid until the one after next is handed out. Same
        batches, same bits, either way. Close the generator when done: its
        ``finally`` stops the worker; an error of the worker is raised here.
        """
        if not self.prefetch:
            for idx in indices:
                yield self.rows(idx)
            return
        movers = (pinned_mover(self.xp, self.device),
                  None if self.w is None else pinned_mover(self.xp, self.device))
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xkmeans-prefetch")
        try:
            pending = None
            for idx in indices:
                into = (None if movers[0] is None else movers[0].staging((len(idx), self.d),
                                                                        self.X.dtype),
                        None if movers[1] is None else movers[1].staging((len(idx),),
                                                                        self.w.dtype))
                ahead = pool.submit(self._gather, idx, into)
                if pending is not None:
                    yield self._place(*pending.result(), movers)
                pending = ahead
            if pending is not None:
                yield self._place(*pending.result(), movers)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for m in movers:
                if m is not None:
                    m.close()

    def whole(self):
        """All of X moved at once (``partial_fit``: X is one batch)."""
        return self._move(self.X), None if self.w is None else self._move(self.w)

    def chunks(self, rows):
        for a, b in row_chunks(self.n, rows):
            yield self._move(self.X[a:b]), None if self.w is None else self._move(self.w[a:b])

    def gather(self, parts):
        """Per-chunk results brought back to the host as one NumPy array."""
        return np.concatenate([to_numpy(p) for p in parts])


class _UnitHostStream(_HostStream):
    """A host stream whose rows are scaled to unit norm once moved (metric='cosine')."""

    def _place(self, Xh, wh, movers=(None, None)):
        Xb, wb = super()._place(Xh, wh, movers)
        return unit_rows(Xb, xp=self.xp)[0], wb

    def whole(self):
        Xb, wb = super().whole()
        return unit_rows(Xb, xp=self.xp)[0], wb

    def chunks(self, rows):
        for Xc, wc in super().chunks(rows):
            yield unit_rows(Xc, xp=self.xp)[0], wc


def _batch_indices(rng, n, batch, n_steps):
    """Each step's batch: sorted host indices, drawn ``_INDEX_BLOCK`` at a time."""
    block_steps = max(1, _INDEX_BLOCK // batch)
    for start in range(0, n_steps, block_steps):
        size = (min(block_steps, n_steps - start), batch)
        yield from np.sort(rng.integers(0, n, size=size), axis=1)


def _target_dtype(xp, device, np_dtype):
    floats = _float_dtypes(xp, device)
    if np_dtype.name not in floats:
        msg = (
            f"X has dtype {np_dtype.name}, which device={device!r} of "
            f"{backend_name(xp)} does not support. Pass float32 data."
        )
        raise ValueError(msg)
    return floats[np_dtype.name]


def _chunk_rows_for(data, k):
    # A moved copy of the row, widened temporaries (variance) and k distances.
    acc = acc_dtype(data.xp, data.device)
    per_row = (3 * data.d + 4 * k) * itemsize(data.xp, acc)
    return chunk_rows(data.n, per_row)


def _labels_inertia(data, centres):
    """Labels of all rows and the weighted inertia (one readback), chunk by chunk."""
    xp = data.xp
    acc = acc_dtype(xp, data.device)
    if not data.streaming:
        labels, dist2 = nearest_centre(data.X, centres, xp=xp)
        if data.cosine:
            labels, dist2 = cosine_assignment(data.X, labels, dist2, xp=xp)
        return labels, float(weighted_total(dist2, data.w, xp=xp, acc=acc))
    parts, total = [], xp.zeros((), dtype=acc, device=data.device)
    for Xc, wc in data.chunks(_chunk_rows_for(data, centres.shape[0])):
        lab, dist2 = nearest_centre(Xc, centres, xp=xp)
        if data.cosine:
            lab, dist2 = cosine_assignment(Xc, lab, dist2, xp=xp)
        parts.append(lab)
        total = total + weighted_total(dist2, wc, xp=xp, acc=acc)
    return data.gather(parts), float(total)


def _mean_variance(data):
    """Mean over features of the variance of X, in chunks (shifted sums)."""
    xp = data.xp
    if is_sparse(data.X):
        return sparse_mean_variance(data.X, xp=xp)
    acc = acc_dtype(xp, data.device)
    shift = s1 = s2 = None
    for Xc, _ in data.chunks(_chunk_rows_for(data, 1)):
        Xc = xp.astype(Xc, acc)
        if shift is None:
            shift = Xc[0, ...]
            s1 = s2 = xp.zeros_like(shift)
        Xc = Xc - shift
        s1 = s1 + xp.sum(Xc, axis=0)
        s2 = s2 + xp.sum(Xc * Xc, axis=0)
    m = s1 / data.n
    return float(xp.mean(xp.clip(s2 / data.n - m * m, min=0)))


# -------------------------------------------------------------------------- estimator


class MiniBatchKMeans(_CentresMixin, BaseEstimator):
    """Mini-batch k-means on any Array API backend, streamable from the host.

    Each step assigns a random batch of samples to their nearest centre and
    moves every centre towards the mean of what it absorbed, with a
    per-centre learning rate (its batch weight over its running count).
    Centres that starve are moved onto random samples, and the fit stops
    early when the smoothed batch inertia stops improving. Semantics follow
    :class:`sklearn.cluster.MiniBatchKMeans`, except for ``sample_weight``
    (see Notes).

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters (centres) to form.
    init : {'k-means++', 'random'}, callable or array of shape \
(n_clusters, n_features), default='k-means++'
        How to choose initial centres, on ``init_size`` random samples:
        greedy k-means++, ``n_clusters`` random rows, an explicit array, or a
        callable ``init(X, n_clusters, random_state)``.
    max_iter : int, default=100
        Maximum number of passes over the data (epochs) before stopping,
        independently of early stopping: ``max_iter * n_samples //
        batch_size`` steps at most.
    batch_size : int, default=1024
        Samples per mini-batch.
    verbose : int, default=0
        Print the batch inertia at each step when > 0.
    compute_labels : bool, default=True
        After fitting, assign every sample and compute ``labels_`` and
        ``inertia_`` on the whole data set (one more pass).
    random_state : int, numpy.random.Generator, RandomState or None, default=None
        Seeds the one host random generator used for every draw (inits,
        batches, reassignments): a seed gives the same result on every backend.
    tol : float, default=0.0
        Stop when the squared centre shift of a step is ``<= tol`` times the
        mean feature variance. 0 disables this test.
    max_no_improvement : int or None, default=10
        Stop when the exponentially smoothed batch inertia has not improved
        for this many consecutive steps. None disables this test.
    init_size : int, default=None
        Samples drawn (with replacement) to run each initialisation on and to
        compare initialisations; ``3 * batch_size`` (at least
        ``3 * n_clusters``) by default.
    n_init : 'auto' or int, default='auto'
        Initialisations tried; the one with the lowest inertia on an
        ``init_size`` validation sample is kept. 'auto' means 3 for 'random'
        and callables, 1 otherwise.
    reassignment_ratio : float, default=0.01
        Centres whose running count falls below this fraction of the largest
        count are moved onto random samples of the batch.
    device : device object or None, default=None
        Where to compute when X is a host array (NumPy, ``numpy.memmap``,
        list): ``'cpu'`` (NumPy), a ``torch.device``, a ``cupy.cuda.Device`` or
        an ``array_api_strict.Device``. None computes in X's own library and
        on its device. See Notes on streaming.
    metric : {'euclidean', 'cosine'}, default='euclidean'
        'cosine': spherical mini-batch k-means, as ``KMeans(metric='cosine')``:
        each batch's rows are scaled to unit norm, samples go to the centre
        of largest cosine similarity and each centre is scaled back to unit
        norm after every step; ``inertia_``, ``score`` and ``transform`` use
        the cosine distance ``1 - cos``, and zero rows get label 0.

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        Centres, in X's namespace, device and dtype (on ``device`` when set).
    labels_ : integer array of shape (n_samples,)
        Labels of the training samples (when ``compute_labels``). Host NumPy
        when X was a host array fitted on ``device``.
    inertia_ : float
        Weighted sum of squared distances to the nearest centre: on all of
        X with ``compute_labels``, else the smoothed batch inertia times the
        total weight. After ``partial_fit``: on that batch.
    n_iter_ : int
        Passes over the data started (``ceil(n_steps_ * batch_size / n_samples)``).
    n_steps_ : int
        Mini-batch steps done.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features, when X has string column names (pandas).

    See Also
    --------
    KMeans : full-batch Lloyd iterations.
    sklearn.cluster.MiniBatchKMeans : the reference implementation.

    Notes
    -----
    Cost. A step costs about its batch, not the data set: batch indices are
    drawn on the host with ``Generator.integers`` (uniform, with
    replacement, a block of steps at a time, each batch's indices sorted for
    memory locality) and only indices move to the device, where the batch is
    gathered. ``sample_weight`` enters the update (each sample adds ``w x``
    to its centre's sum and ``w`` to its count) instead of the draw
    (scikit-learn draws with ``p = w / sum(w)``, an O(n_samples) operation per
    step); both give the weighted running mean in expectation.
    Reassignment runs entirely on the device: the decision (an empty
    centre, or ``10 * n_clusters`` samples since the last one) is a device
    flag, and candidate rows are drawn on the host for every step and used
    only where the flag is set. Early stopping needs a few statistics per
    step (batch inertia, centre shift, reassigned and empty centres); they
    are read back once every 16 steps, not at every step, and the host
    replays scikit-learn's stopping test over them in order. When it fires
    inside such a window, the centres and counts after that step are
    restored, so the fit stops with the same decisions, attributes
    (``n_steps_``, ``n_iter_``, centres) and verbose output as if it had read
    every step.

    Streaming. Two ways to fit data that does not fit in device memory:

    - ``MiniBatchKMeans(device=...).fit(X)`` with X a host array or
      ``numpy.memmap``: each batch is gathered on the host and moved to
      ``device`` alone; initialisation, the tolerance and the final labels
      also go in chunks sized by ``xkmeans.set_config(working_memory=...)``.
      ``predict``, ``transform`` and ``score`` accept host arrays the same
      way and return host NumPy arrays (and device arrays for device input).
    - ``partial_fit`` on successive chunks from any source (files, a
      generator, a database cursor); with ``device`` set, host chunks are
      moved one at a time.

    Host memory stays bounded by the batch and the chunk size, plus the
    outputs asked for (``labels_``: one integer per sample).

    Tested on NumPy, array-api-strict (several devices, float32-only ones
    included), PyTorch on the CPU and, where a GPU is present, CuPy; host
    data streamed to array-api-strict and PyTorch devices.

    Dask arrays (``pip install 'xkmeans[dask]'``): ``fit`` makes the same host
    draws as for in-memory data and gathers each block of batches' rows from
    the chunks that hold them (one Dask computation per block); the steps
    run on the client, so a seed gives the same centres as in memory.
    ``labels_`` is then a Dask array; ``predict`` and ``transform`` are lazy.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import MiniBatchKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 0], [4, 4],
    ...               [4, 5], [0, 1], [2, 2], [3, 2], [5, 5], [1, -1]])
    >>> km = MiniBatchKMeans(n_clusters=2, random_state=0, batch_size=6,
    ...                      n_init="auto").fit(X)
    >>> km.cluster_centers_.shape
    (2, 2)
    >>> km = MiniBatchKMeans(n_clusters=2, random_state=0, batch_size=6)
    >>> km = km.partial_fit(X[:6]).partial_fit(X[6:])
    >>> km.predict(np.array([[0, 0], [4, 4]])).shape
    (2,)

    Host data (here a NumPy array; a ``numpy.memmap`` works the same) fitted
    batch by batch on a chosen device, e.g. ``device=torch.device("cuda")``:

    >>> km = MiniBatchKMeans(n_clusters=2, random_state=0, device="cpu").fit(X)
    >>> km.labels_.shape
    (12,)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
        "compute_labels": ["boolean"],
        "random_state": ["random_state", np.random.Generator],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_no_improvement": [Interval(Integral, 0, None, closed="left"), None],
        "init_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "reassignment_ratio": [Interval(Real, 0, None, closed="left")],
        "device": "no_validation",
        "metric": [StrOptions({"euclidean", "cosine"})],
    }

    # Steps per readback of the stopping statistics; None: ``_STATS_WINDOW``.
    # Private (tests set 1 to compare with a step-by-step readback).
    _stats_window = None
    # Host data streamed to a device: gather the next batch on a worker thread
    # meanwhile (``_HostStream.batches``). None: only where the device is not
    # the host's CPU; on a CPU target the worker competes with the step for the
    # same cores, and on a 2-core machine it cost 0.2-0.3 ms a step for no
    # gain (benchmarks/minibatch_cpu.py --stream). Private (tests set both).
    _prefetch = None

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        max_iter=100,
        batch_size=1024,
        verbose=0,
        compute_labels=True,
        random_state=None,
        tol=0.0,
        max_no_improvement=10,
        init_size=None,
        n_init="auto",
        reassignment_ratio=0.01,
        device=None,
        metric="euclidean",
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.device = device
        self.metric = metric

    # ------------------------------------------------------------------ inputs

    def _streams(self, X) -> bool:
        # Sparse X is fitted where it lives (its library and device).
        return self.device is not None and not _is_foreign_array(X) and not is_sparse_input(X)

    def _data(self, X, sample_weight, *, reset):
        """Validate X and weights; return the data source for the computation."""
        if self._streams(X):
            X, np_xp, _ = check_X(self, X, reset=reset)
            w = check_sample_weight(sample_weight, X, xp=np_xp, device="cpu")
            xp = namespace_for_device(self.device)
            prefetch = self._prefetch
            if prefetch is None:
                prefetch = not is_cpu(xp, self.device)
            return self._on_sphere(_HostStream(
                X, w, xp, self.device, _target_dtype(xp, self.device, X.dtype),
                prefetch=prefetch))
        X, xp, device = check_X(self, X, reset=reset, accept_sparse=True)
        if self.device is not None:
            target = namespace_for_device(self.device)
            if backend_name(target) != backend_name(xp) or device != self.device:
                msg = (
                    f"X is a {backend_name(xp)} array on {device!r} but device="
                    f"{self.device!r}; xkmeans never moves device data. Pass a host "
                    "(NumPy) array to stream it, or an array already on that device."
                )
                raise ValueError(msg)
        w = check_sample_weight(sample_weight, X, xp=xp, device=device)
        return self._on_sphere(_Resident(X, w, xp, device))

    def _on_sphere(self, data):
        """``metric='cosine'``: the data source's rows scaled to unit norm."""
        if not self._cosine:
            return data
        if data.streaming:  # each moved batch or chunk is normalised on the device
            data = _UnitHostStream(data.X, data.w, data.xp, data.device, data.dtype,
                                   prefetch=data.prefetch)
        else:
            data = _Resident(unit_rows(data.X, xp=data.xp)[0], data.w, data.xp, data.device)
        data.cosine = True
        return data

    def _check_params_vs_input(self, n_samples):
        if n_samples < self.n_clusters:
            msg = f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            raise ValueError(msg)
        self._batch_size = min(self.batch_size, n_samples)
        init_size = self.init_size
        if init_size is None:
            init_size = 3 * self._batch_size
            if init_size < self.n_clusters:
                init_size = 3 * self.n_clusters
        elif init_size < self.n_clusters:
            warnings.warn(
                f"init_size={init_size} should be larger than n_clusters="
                f"{self.n_clusters}. Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning,
                stacklevel=3,
            )
            init_size = 3 * self.n_clusters
        self._init_size = min(init_size, n_samples)
        self._n_init = resolve_n_init(self, default=3, stacklevel=4)

    def _best_init(self, data, Xv, wv, rng, *, acc):
        """Of ``n_init`` initialisations, the centres with the lowest inertia on
        the validation rows ``Xv`` (weights ``wv``), as scikit-learn compares them."""
        xp = data.xp
        best = None
        for i in range(self._n_init):
            if self.verbose:
                print(f"Init {i + 1}/{self._n_init} with method {self.init}")
            centres = self._init_centres(data, rng)
            if data.cosine:
                centres = unit_init_centres(centres, xp=xp)
            _, d2 = nearest_centre(Xv, centres, xp=xp)
            inertia = float(weighted_total(d2, wv, xp=xp, acc=acc))
            if self.verbose:
                print(f"Inertia for init {i + 1}/{self._n_init}: {inertia}")
            if best is None or inertia < best[1]:
                best = (centres, inertia)
        return best[0]

    def _init_centres(self, data, rng):
        """Initial centres from ``init_size`` random rows (host-drawn indices)."""
        xp, device, k = data.xp, data.device, self.n_clusters
        if self._init_size < data.n:
            Xi, wi = data.rows(np.sort(rng.integers(0, data.n, self._init_size)))
        else:
            Xi, wi = data.rows(np.arange(data.n))
        if data.cosine:  # zero rows have no direction: never initial centres
            zero = row_sq_norms(Xi, xp=xp) == 0
            if bool(xp.any(zero)):
                keep = xp.astype(~zero, Xi.dtype)
                wi = keep if wi is None else wi * keep
        init = self.init
        if isinstance(init, str) and init == "k-means++":
            x_sq = row_sq_norms(Xi, xp=xp)
            return kmeans_plusplus(Xi, k, x_sq=x_sq, weights=wi, rng=rng, xp=xp)[0]
        if isinstance(init, str) and init == "random":
            return random_rows(Xi, k, weights=wi, rng=rng, xp=xp)[0]
        if callable(init):
            Xu = Xi.to_native() if is_sparse(Xi) else Xi  # the user's kind of matrix
            centres = init(Xu, k, random_state=legacy_random_state(rng))
            return check_centres(centres, Xi, k, xp=xp, device=device, what="init(X)")
        if data.streaming and isinstance(init, np.ndarray):
            init = xp.asarray(init, device=device)
        return check_centres(init, Xi, k, xp=xp, device=device)

    # --------------------------------------------------------------------- fit

    def fit(self, X, y=None, sample_weight=None):
        """Compute the centres on X by mini-batches.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Training data: a NumPy, CuPy, PyTorch or other Array API array,
            a ``numpy.memmap`` (streamed to ``device`` when set), or anything
            NumPy converts.
        y : Ignored
        sample_weight : array of shape (n_samples,), default=None
            Non-negative weight of each sample (same library and device as
            X). Used in the updates, not in the draw of batches (see Notes).

        Returns
        -------
        self : MiniBatchKMeans
            Fitted estimator.
        """
        self._validate_params()
        if _dask.is_dask_array(X):  # batches gathered from the chunks; see _dask
            return _dask.minibatch_fit(self, X, sample_weight)
        data = self._data(X, sample_weight, reset=True)
        xp, device = data.xp, data.device
        n = data.n
        self._check_params_vs_input(n)
        rng = check_random_state(self.random_state)
        acc = acc_dtype(xp, device)
        tol = 0.0 if self.tol == 0 else _mean_variance(data) * self.tol
        k, B = self.n_clusters, self._batch_size

        # Inits are compared on one validation sample, as scikit-learn does.
        Xv, wv = data.rows(np.sort(rng.integers(0, n, self._init_size)))
        centres = self._best_init(data, Xv, wv, rng, acc=acc)

        counts = xp.zeros((k,), dtype=acc, device=device)
        self._reset_convergence()
        n_steps = (self.max_iter * n) // B
        # Independent streams: the batch draws do not depend on reassignments.
        batch_rng, reassign_rng = (np.random.default_rng(s) for s in rng.integers(2**63, size=2))
        batches = data.batches(_batch_indices(batch_rng, n, B, n_steps))
        window = max(1, int(self._stats_window or _STATS_WINDOW))
        # Device state of the reassignment rule; the host replays it from the
        # read-back zero counts (same rule, same numbers).
        n_since_dev = xp.zeros((), dtype=xp.int64, device=device)
        n_since, n_zero = 0, k
        kept = []  # per step of the open window: (stats, centres, counts), on the device
        last = 0
        try:
            for step in range(n_steps):
                if step % window == 0:
                    cands = self._candidate_rows(min(window, n_steps - step), B, reassign_rng,
                                                 xp=xp, device=device)
                Xb, wb = next(batches)
                flag, n_since_dev = _reassign_flag(counts, n_since_dev, B, xp=xp)
                centres, counts, stats = minibatch_step(
                    Xb, wb, centres, counts,
                    candidates=None if cands is None else cands[step % window, ...],
                    ratio=self.reassignment_ratio, with_shift=tol > 0, xp=xp, reassign=flag,
                )
                if data.cosine:  # spherical: the running means back on the sphere
                    centres = unit_centres(centres, centres, xp=xp)
                kept.append((stats, centres, counts))
                if len(kept) < window and step < n_steps - 1:
                    continue
                # One readback for the window, then the stopping test step by step.
                rows = to_numpy(xp.stack([s for s, _, _ in kept]))
                first = step + 1 - len(kept)
                stop = None
                for i in range(len(kept)):
                    _, n_since = _reassign_replay(n_since, n_zero, B, k)
                    n_zero = int(rows[i, 4])
                    if self.verbose and rows[i, 3] > 0:
                        print(f"[MiniBatchKMeans] Reassigning {int(rows[i, 3])} cluster centers.")
                    if self._converged(first + i, n_steps, n, B, rows[i], tol):
                        stop = i
                        break
                last = first + (len(kept) - 1 if stop is None else stop)
                if stop is not None:  # roll back to the state after the stopping step
                    _, centres, counts = kept[stop]
                    break
                kept = []
        finally:  # stops the prefetching worker, if any
            batches.close()
        self._counts = counts
        self._n_since_last_reassign = n_since
        self._n_zero = n_zero
        self.cluster_centers_ = centres
        self.n_steps_ = last + 1
        self.n_iter_ = math.ceil((last + 1) * B / n)
        if self.compute_labels:
            self.labels_, self.inertia_ = _labels_inertia(data, centres)
        else:
            total_w = float(n if data.w is None else xp.sum(xp.astype(data.w, acc)))
            ewa = self._ewa_inertia if self._ewa_inertia is not None else self._last_inertia
            # Unit rows: |x - c|^2 = 2 (1 - cos), the cosine inertia is half of it.
            self.inertia_ = ewa * total_w / (2 if data.cosine else 1)
        return self

    def _candidate_rows(self, steps, batch, rng, *, xp, device):
        """Candidate rows for reassigned centres, for ``steps`` steps, or None.

        One host draw of distinct batch positions per step (whether or not
        the device then reassigns), moved to the device as one
        ``(steps, m)`` array. None when ``reassignment_ratio`` is 0 (nothing
        is ever moved) or the batch is too small.
        """
        m = min(self.n_clusters, int(0.5 * batch))
        if self.reassignment_ratio <= 0 or m == 0:
            return None
        draws = np.stack([rng.choice(batch, size=m, replace=False) for _ in range(steps)])
        return xp.asarray(draws, device=device)

    def _reset_convergence(self):
        self._ewa_inertia = None
        self._ewa_inertia_min = None
        self._no_improvement = 0
        self._last_inertia = 0.0

    def _converged(self, step, n_steps, n_samples, batch_size, stats, tol):
        """scikit-learn's ``_mini_batch_convergence`` on the read-back stats."""
        # Mean weighted squared distance of the batch (sklearn: sum / batch_size
        # with weights in the draw; here the weights are in the sum).
        batch_inertia = stats[0] / stats[1] if stats[1] > 0 else math.nan
        step += 1
        if not math.isnan(batch_inertia):
            self._last_inertia = batch_inertia
        if step == 1:
            if self.verbose:
                print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}")
            return False
        if not math.isnan(batch_inertia):
            if self._ewa_inertia is None:
                self._ewa_inertia = batch_inertia
            else:
                alpha = min(batch_size * 2.0 / (n_samples + 1), 1.0)
                self._ewa_inertia = self._ewa_inertia * (1 - alpha) + batch_inertia * alpha
        if self.verbose:
            print(
                f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                f"{batch_inertia}, ewa inertia: {self._ewa_inertia}"
            )
        if tol > 0.0 and stats[2] <= tol:
            if self.verbose:
                print(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self._ewa_inertia is None:
            return False
        if self._ewa_inertia_min is None or self._ewa_inertia < self._ewa_inertia_min:
            self._no_improvement = 0
            self._ewa_inertia_min = self._ewa_inertia
        else:
            self._no_improvement += 1
        if self.max_no_improvement is not None and self._no_improvement >= self.max_no_improvement:
            if self.verbose:
                print(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            return True
        return False

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centres with one mini-batch.

        The first call initialises the centres from this batch; later calls
        must have the same number of features and come from the same array
        library and device (or be host arrays when ``device`` is set).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            One batch, from any source.
        y : Ignored
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        self : MiniBatchKMeans
            Updated estimator.
        """
        if _dask.is_dask_array(X):
            msg = (
                "MiniBatchKMeans.partial_fit takes one batch in memory; got a Dask array. "
                "Pass X.compute() (one batch), or fit the whole Dask array with fit."
            )
            raise TypeError(msg)
        has_centres = hasattr(self, "cluster_centers_")
        if not has_centres:
            self._validate_params()
        data = self._data(X, sample_weight, reset=not has_centres)
        xp, device = data.xp, data.device
        if getattr(self, "_random_state", None) is None:
            self._random_state = check_random_state(self.random_state)
        rng = self._random_state
        self.n_steps_ = getattr(self, "n_steps_", 0)
        if not has_centres:
            self._check_params_vs_input(data.n)
            self.cluster_centers_ = self._init_centres(data, rng)
            if data.cosine:
                self.cluster_centers_ = unit_init_centres(self.cluster_centers_, xp=xp)
            self._counts = xp.zeros((self.n_clusters,), dtype=acc_dtype(xp, device),
                                    device=device)
            self._n_since_last_reassign = 0
            self._n_zero = self.n_clusters
        else:
            if not data.streaming:
                check_same_backend(data.X, self.cluster_centers_,
                                   where="MiniBatchKMeans.partial_fit", what="centres")
            if data.dtype != self.cluster_centers_.dtype:
                self.cluster_centers_ = xp.astype(self.cluster_centers_, data.dtype)
        Xb, wb = data.whole()
        # As in fit: candidates drawn every step, used only when the rule says so.
        reassign, self._n_since_last_reassign = _reassign_replay(
            self._n_since_last_reassign, self._n_zero, self._batch_size, self.n_clusters)
        cand = self._candidate_rows(1, data.n, rng, xp=xp, device=device)
        self.cluster_centers_, self._counts, stats = minibatch_step(
            Xb, wb, self.cluster_centers_, self._counts,
            candidates=None if cand is None or not reassign else cand[0, ...],
            ratio=self.reassignment_ratio, with_shift=False, xp=xp,
        )
        if data.cosine:
            self.cluster_centers_ = unit_centres(self.cluster_centers_, self.cluster_centers_,
                                                 xp=xp)
        stats = to_numpy(stats)
        self._n_zero = int(stats[4])
        if self.verbose and stats[3] > 0:
            print(f"[MiniBatchKMeans] Reassigning {int(stats[3])} cluster centers.")
        if self.compute_labels:
            self.labels_, self.inertia_ = _labels_inertia(data, self.cluster_centers_)
        self.n_steps_ += 1
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the labels of X; see :meth:`fit`."""
        self.fit(X, sample_weight=sample_weight)
        if self.compute_labels:
            return self.labels_
        return self.predict(X)

    # ------------------------------------------------- host input on a device model

    def _host_data(self, X, sample_weight=None):
        check_is_fitted(self, "cluster_centers_")
        return self._data(X, sample_weight, reset=False)

    def predict(self, X):
        """Index of the nearest centre for each sample.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Same library and device as the fitted centres, or a host array
            (streamed in chunks) when ``device`` is set.

        Returns
        -------
        labels : integer array of shape (n_samples,)
            In X's namespace and on its device (host NumPy for host input).
        """
        if not self._streams(X):
            return super().predict(X)
        data = self._host_data(X)
        return _labels_inertia(data, xp_cast(data, self.cluster_centers_))[0]

    def transform(self, X):
        """Euclidean distance from each sample to each centre.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            As for :meth:`predict`.

        Returns
        -------
        distances : array of shape (n_samples, n_clusters)
            In X's namespace, device and dtype (host NumPy for host input).
        """
        if not self._streams(X):
            return super().transform(X)
        data = self._host_data(X)
        C = xp_cast(data, self.cluster_centers_)
        rows = _chunk_rows_for(data, C.shape[0])
        parts = [_distances(data, Xc, C) for Xc, _ in data.chunks(rows)]
        return data.gather(parts)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of X on the fitted centres.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            As for :meth:`predict`.
        y : Ignored
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        if not self._streams(X):
            return super().score(X, sample_weight=sample_weight)
        data = self._host_data(X, sample_weight)
        return -_labels_inertia(data, xp_cast(data, self.cluster_centers_))[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _distances(data, Xc, C):
    """What ``transform`` returns: Euclidean, or cosine distances for metric='cosine'."""
    d2 = sq_distances(Xc, C, xp=data.xp)
    if data.cosine:
        return cosine_from_sq(d2, row_sq_norms(Xc, xp=data.xp) == 0, xp=data.xp)
    return data.xp.sqrt(d2)


def xp_cast(data, centres):
    """The fitted centres in the data's compute dtype."""
    return data.xp.astype(centres, data.dtype)
