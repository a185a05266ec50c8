"""MeanShift and estimate_bandwidth: every seed climbs at once, one batched step per iteration.

scikit-learn moves one seed at a time (a radius query, then the mean of the
points found). Here all still-moving seeds take their step together: for a
chunk of points x the active seeds, which points lie within ``bandwidth``,
then one matrix product gives each seed's sum and count. A seed stops on
scikit-learn's rule (it moved at most ``1e-3 * bandwidth``, found no point,
or reached ``max_iter``), so each ends where scikit-learn's would. The few
converged centres then go through scikit-learn's post-processing on the host.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state as sk_random_state
from sklearn.utils._param_validation import Interval, validate_params

from . import _primitives as prims
from ._backend import (
    acc_dtype,
    chunk_rows,
    is_array,
    itemsize,
    row_chunks,
    to_numpy,
)
from ._validation import _beside, check_test_data, check_X

__all__ = ["MeanShift", "estimate_bandwidth"]

# Up to this many features the squared distance is summed feature by feature,
# (x_j - c_j)^2 in order, as scikit-learn's k-d tree does (same membership
# decisions at the bandwidth's edge, and exactly 0 for identical points);
# beyond it, |x|^2 - 2 x.c + |c|^2 by matrix product, as its brute force does.
_DIRECT_MAX_FEATURES = 16


def _sq_distances(A, B, *, xp):
    """Squared Euclidean distances between the rows of A and of B, ``(len(A), len(B))``."""
    if A.shape[1] > _DIRECT_MAX_FEATURES:
        return prims.sq_distances(A, B, xp=xp)
    d2 = None
    for j in range(A.shape[1]):
        diff = A[:, j:j + 1] - B[:, j][None, :]
        d2 = diff * diff if d2 is None else d2 + diff * diff
    return d2


class _Validator(BaseEstimator):
    """Stands in for an estimator when a function validates X."""


@validate_params(
    {
        "X": ["array-like"],
        "quantile": [Interval(Real, 0, 1, closed="both")],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def estimate_bandwidth(X, *, quantile=0.3, n_samples=None, random_state=0, n_jobs=None):
    """Estimate the bandwidth to use with the mean-shift algorithm.

    The mean, over the samples, of the distance from each sample to its
    ``k``-th nearest sample (itself counted first), ``k = int(n_samples *
    quantile)`` (at least 1): the number ``sklearn.cluster.estimate_bandwidth``
    returns for the same arguments. Quadratic in the number of samples; use
    ``n_samples`` to estimate from a random subset.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Input points: NumPy, CuPy, PyTorch or other Array API array.
    quantile : float, default=0.3
        Between 0 and 1; 0.5 uses the median distance to the other samples.
    n_samples : int, default=None
        Number of samples to use, drawn at random; all when None.
    random_state : int, RandomState instance or None, default=0
        Draws the subset exactly as scikit-learn does (a legacy
        ``numpy.random.RandomState`` permutation, on the host; only the
        indices move to X's device).
    n_jobs : int, default=None
        Accepted for compatibility with scikit-learn; unused.

    Returns
    -------
    bandwidth : float
        The estimated bandwidth (a NumPy float64 scalar).

    See Also
    --------
    MeanShift : Mean-shift clustering, which calls this when ``bandwidth=None``.

    Notes
    -----
    Each chunk of rows gets its distances to every sample (never the whole
    n x n matrix) and the ``k_smallest`` primitive picks the k-th; distances
    are computed in the widest float the device offers. One array of
    ``n_samples`` distances comes back to the host, where it is summed in
    scikit-learn's order.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import estimate_bandwidth
    >>> X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    >>> round(float(estimate_bandwidth(X, quantile=0.5)), 6)
    1.619129
    """
    X, xp, device = check_X(_Validator(), X, reset=True)
    return _estimate_bandwidth(X, quantile, n_samples, random_state, xp=xp, device=device)


def _estimate_bandwidth(X, quantile, n_samples, random_state, *, xp, device):
    if n_samples is not None:
        rng = sk_random_state(random_state)
        idx = rng.permutation(X.shape[0])[:n_samples]
        X = xp.take(X, xp.asarray(idx, device=device), axis=0)
    n = X.shape[0]
    k = max(1, int(n * quantile))
    acc = acc_dtype(xp, device)
    Xa = xp.astype(X, acc)
    rows = chunk_rows(n, 6 * n * itemsize(xp, acc), xp=xp, device=device)
    kth = []
    for a, b in row_chunks(n, rows):
        vals, _ = prims.k_smallest(_sq_distances(Xa[a:b, ...], Xa, xp=xp), k, xp=xp)
        kth.append(xp.sqrt(vals[:, k - 1]))
    dist = to_numpy(kth[0] if len(kth) == 1 else xp.concat(kth)).astype(np.float64)
    # scikit-learn adds up batches of 500 queries.
    total = 0.0
    for a in range(0, n, 500):
        total += dist[a:a + 500].sum()
    return np.float64(total / n)


def _bin_seeds(X, bin_size, min_bin_freq, *, xp, device):
    """scikit-learn's ``get_bin_seeds`` on X's device.

    Rows are rounded to a grid of spacing ``bin_size``; the grid points with
    at least ``min_bin_freq`` rows become seeds, in the order of their first
    row, as float32 multiples of ``bin_size`` (scikit-learn builds them in
    float32 whatever X's dtype), returned in X's dtype.
    """
    if bin_size == 0:
        return X
    B = xp.round(X / bin_size)
    n, d = B.shape
    order = xp.arange(n, device=device)
    for j in reversed(range(d)):  # lexicographic, stable: equal rows keep their order
        order = xp.take(order, xp.argsort(xp.take(B[:, j], order), stable=True))
    Bs = xp.take(B, order, axis=0)
    first = xp.ones((1,), dtype=xp.bool, device=device)
    starts = xp.nonzero(xp.concat([first, xp.any(Bs[1:, ...] != Bs[:-1, ...], axis=1)]))[0]
    ends = xp.concat([starts[1:], xp.asarray([n], dtype=starts.dtype, device=device)])
    keep = (ends - starts) >= min_bin_freq
    starts = starts[keep]
    # The stable sort put each bin's first row first: order bins by that row.
    starts = xp.take(starts, xp.argsort(xp.take(order, starts)))
    if starts.shape[0] == n:
        warnings.warn(
            f"Binning data failed with provided bin_size={bin_size:f}, using data "
            "points as seeds.",
            UserWarning,
            stacklevel=4,
        )
        return X
    seeds = xp.astype(xp.take(Bs, starts, axis=0), xp.float32) * bin_size
    return xp.astype(seeds, X.dtype)


def _window_sums(X1, C, bw2, *, xp, device, acc):
    """Sum and count of the points within ``sqrt(bw2)`` of each row of C.

    ``X1`` is X with a column of ones appended, so that one product per chunk
    gives both. Returns an array of shape ``(len(C), n_features + 1)`` in
    ``acc``: the sums, then the counts.
    """
    n, d1 = X1.shape
    m = C.shape[0]
    rows = chunk_rows(n, 5 * m * itemsize(xp, X1.dtype), xp=xp, device=device)
    out = xp.zeros((m, d1), dtype=acc, device=device)
    for a, b in row_chunks(n, rows):
        Xc = X1[a:b, ...]
        W = xp.astype(_sq_distances(Xc[:, :-1], C, xp=xp) <= bw2, X1.dtype)
        out = out + xp.astype(W.T @ Xc, acc, copy=False)
    return out


def _climb(X, seeds, bandwidth, max_iter, *, xp, device):
    """Move every seed to the mean of the points within ``bandwidth`` until it stops.

    Returns host arrays ``(means, counts, seed index)`` of the seeds, in the
    order they stopped, and the iteration at which the last one stopped.
    """
    acc = acc_dtype(xp, device)
    n, d = X.shape
    X1 = xp.concat([X, xp.ones((n, 1), dtype=X.dtype, device=device)], axis=1)
    bw2 = float(bandwidth) ** 2
    thresh = 1e-3 * float(bandwidth)
    C = seeds
    ids = xp.arange(seeds.shape[0], device=device)
    means, counts, done_ids = [], [], []
    it = 0
    while True:
        sc = _window_sums(X1, C, bw2, xp=xp, device=device, acc=acc)
        cnt = sc[:, d]
        empty = cnt == 0
        new = xp.astype(sc[:, :d] / xp.where(empty, 1.0, cnt)[:, None], X.dtype)
        new = xp.where(empty[:, None], C, new)
        shift = xp.sqrt(xp.sum((new - C) * (new - C), axis=1))
        stop = empty | (shift <= thresh) | (it == max_iter)
        # Stopped seeds first; the one readback of the iteration is how many.
        order = xp.argsort(xp.astype(~stop, xp.int8), stable=True)
        n_stop = int(xp.sum(xp.astype(stop, xp.int64)))
        if n_stop:
            fin = order[:n_stop]
            means.append(xp.take(new, fin, axis=0))
            counts.append(xp.take(cnt, fin))
            done_ids.append(xp.take(ids, fin))
        if n_stop == C.shape[0]:
            break
        rest = order[n_stop:]
        C, ids = xp.take(new, rest, axis=0), xp.take(ids, rest)
        it += 1
    means, counts, done_ids = (to_numpy(xp.concat(p)) for p in (means, counts, done_ids))
    return means, counts.astype(np.int64), done_ids, it


def _unique_centres(means, counts, seed_ids, bandwidth):
    """scikit-learn's post-processing of the converged seeds, on the host.

    Seeds that reached identical means count once (with the intensity of the
    last such seed, as a dict keyed by the mean keeps it); centres are sorted
    by (number of points within bandwidth, coordinates), descending; each
    kept centre removes the later ones within ``bandwidth`` of it.
    """
    order = np.argsort(seed_ids, kind="stable")
    means, counts = means[order], counts[order]
    found = counts > 0
    means, counts = means[found] + 0.0, counts[found]  # + 0.0: -0.0 keys equal 0.0
    uniq, inverse = np.unique(means, axis=0, return_inverse=True)
    last = np.full(uniq.shape[0], -1)
    np.maximum.at(last, inverse.reshape(-1), np.arange(means.shape[0]))
    intensity = counts[last]
    keys = tuple(uniq[:, j] for j in reversed(range(uniq.shape[1]))) + (intensity,)
    sorted_centres = uniq[np.lexsort(keys)[::-1]]
    c64 = sorted_centres.astype(np.float64)
    bw2 = float(bandwidth) ** 2
    unique = np.ones(c64.shape[0], dtype=bool)
    for i in range(c64.shape[0]):
        if unique[i]:
            diff = c64[i + 1:] - c64[i]
            d2 = np.zeros(diff.shape[0])
            for j in range(diff.shape[1]):  # in feature order, as the k-d tree sums
                d2 += diff[:, j] * diff[:, j]
            unique[i + 1:] &= d2 > bw2
    return sorted_centres[unique]


class MeanShift(ClusterMixin, BaseEstimator):
    """Mean shift clustering with a flat kernel, on any Array API backend.

    Each seed moves to the mean of the samples within ``bandwidth`` of it
    until it stops moving; the points where seeds settle, with
    near-duplicates removed, are the cluster centres, and each sample joins
    its nearest centre. The number of clusters follows from the data and the
    bandwidth. Constructor, attributes and results follow
    :class:`sklearn.cluster.MeanShift`.

    Parameters
    ----------
    bandwidth : float, default=None
        Radius of the flat kernel. When None, :func:`estimate_bandwidth` of X
        (quadratic in the number of samples).
    seeds : array of shape (n_seeds, n_features), default=None
        Starting points of the kernels (same library and device as X, or a
        list). When None: the grid points of ``bin_seeding``, or every sample.
    bin_seeding : bool, default=False
        Start from the points of a grid of spacing ``bandwidth`` that hold
        at least ``min_bin_freq`` samples, instead of from every sample:
        far fewer seeds, much faster. Ignored when ``seeds`` is given.
    min_bin_freq : int, default=1
        With ``bin_seeding``, only grid points with at least this many
        samples become seeds.
    cluster_all : bool, default=True
        When True every sample gets the label of its nearest centre; when
        False, samples farther than ``bandwidth`` from every centre get -1.
    n_jobs : int, default=None
        Accepted for compatibility with scikit-learn; unused (all seeds
        already move together).
    max_iter : int, default=300
        Maximum number of iterations per seed.

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        Coordinates of the cluster centres, in X's namespace, device and dtype.
    labels_ : integer array of shape (n_samples,)
        Cluster of each sample (-1 for orphans when ``cluster_all=False``).
    n_iter_ : int
        Largest number of iterations performed by a seed.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features, when X has string column names (pandas).

    See Also
    --------
    estimate_bandwidth : A bandwidth from the distances to the k-th neighbour.
    KMeans : Clustering into a given number of round clusters.
    sklearn.cluster.MeanShift : the reference implementation.

    Notes
    -----
    scikit-learn moves one seed at a time with a radius query per step;
    here every still-moving seed takes its step at once: the samples are
    visited in row chunks (sized from ``xkmeans.set_config(working_memory=
    ...)``) against the active seeds, a mask of who lies within
    ``bandwidth`` and one matrix product give each seed's sum and count.
    Nothing of size n_samples x n_seeds is held beyond a chunk. A seed stops
    as in scikit-learn (it moved at most ``1e-3 * bandwidth``, found no
    sample, or reached ``max_iter``), so in float64 the centres agree with
    scikit-learn's to rounding and the labels are the same.

    Per iteration one integer (how many seeds stopped) comes back to the
    host. At the end the seeds' resting points (n_seeds x n_features) come
    back for scikit-learn's post-processing: identical points counted once,
    sorted by the number of samples within ``bandwidth``, and centres within
    ``bandwidth`` of a better one removed. Labels are computed on the device.
    With ``bin_seeding`` the grid is built on the device too.

    The cost per iteration is n_samples x n_active_seeds distances:
    ``bin_seeding=True`` (or a few ``seeds``) keeps it small; every sample
    as a seed makes each iteration quadratic. Tested on NumPy,
    array-api-strict (several devices, a float32-only one included) and
    PyTorch on the CPU; CuPy and PyTorch CUDA run the same code (unmeasured
    here).

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import MeanShift
    >>> X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    >>> clustering = MeanShift(bandwidth=2).fit(X)
    >>> clustering.labels_
    array([1, 1, 1, 0, 0, 0])
    >>> clustering.cluster_centers_.round(2)
    array([[3.33, 6.  ],
           [1.33, 0.67]])
    >>> clustering.predict(np.array([[0, 0], [5, 5]]))
    array([1, 0])
    """

    _parameter_constraints: ClassVar[dict] = {
        "bandwidth": [Interval(Real, 0, None, closed="neither"), None],
        "seeds": ["array-like", None],
        "bin_seeding": ["boolean"],
        "min_bin_freq": [Interval(Integral, 1, None, closed="left")],
        "cluster_all": ["boolean"],
        "n_jobs": [Integral, None],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        bandwidth=None,
        seeds=None,
        bin_seeding=False,
        min_bin_freq=1,
        cluster_all=True,
        n_jobs=None,
        max_iter=300,
    ):
        self.bandwidth = bandwidth
        self.seeds = seeds
        self.bin_seeding = bin_seeding
        self.cluster_all = cluster_all
        self.min_bin_freq = min_bin_freq
        self.n_jobs = n_jobs
        self.max_iter = max_iter

    def fit(self, X, y=None):
        """Perform mean-shift clustering.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Samples to cluster: NumPy, CuPy, PyTorch or other Array API array.
        y : Ignored

        Returns
        -------
        self : MeanShift
            Fitted estimator.
        """
        self._validate_params()
        X, xp, device = check_X(self, X, reset=True)
        bandwidth = self.bandwidth
        if bandwidth is None:
            bandwidth = _estimate_bandwidth(X, 0.3, None, 0, xp=xp, device=device)
        bandwidth = float(bandwidth)
        seeds = self._initial_seeds(X, bandwidth, xp=xp, device=device)
        means, counts, seed_ids, n_iter = _climb(X, seeds, bandwidth, self.max_iter,
                                                 xp=xp, device=device)
        self.n_iter_ = n_iter
        if not np.any(counts > 0):
            msg = (
                f"No point was within bandwidth={bandwidth:f} of any seed. Try a different "
                "seeding strategy                              or increase the bandwidth."
            )
            raise ValueError(msg)
        centres = _unique_centres(means, counts, seed_ids, bandwidth)
        self.cluster_centers_ = xp.asarray(centres, dtype=X.dtype, device=device)
        labels, dist2 = prims.nearest_centre(X, self.cluster_centers_, xp=xp)
        if not self.cluster_all:
            labels = xp.where(dist2 <= float(bandwidth) ** 2, labels,
                              xp.asarray(-1, dtype=labels.dtype, device=device))
        self.labels_ = labels
        return self

    def _initial_seeds(self, X, bandwidth, *, xp, device):
        if self.seeds is None:
            if self.bin_seeding:
                return _bin_seeds(X, bandwidth, self.min_bin_freq, xp=xp, device=device)
            return X
        seeds = self.seeds
        if not is_array(seeds):  # a list: straight to X's dtype (a device may lack float64)
            host = np.float32 if X.dtype == xp.float32 else np.float64
            seeds = xp.asarray(np.asarray(seeds, dtype=host), device=device)
        seeds = _beside(seeds, X, xp=xp, device=device)
        if seeds.ndim != 2 or seeds.shape[1] != X.shape[1] or seeds.shape[0] == 0:
            msg = (
                f"seeds should be an array of shape (n_seeds, {X.shape[1]}) with "
                f"n_seeds >= 1, got shape {tuple(seeds.shape)}."
            )
            raise ValueError(msg)
        return xp.astype(seeds, X.dtype)

    def predict(self, X):
        """Index of the nearest cluster centre for each sample.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Same array library and device as the data the model was fitted on.

        Returns
        -------
        labels : integer array of shape (n_samples,)
            In X's namespace and on its device.
        """
        X, xp, _ = check_test_data(self, X, "predict", fitted="cluster_centers_",
                                   attributes="cluster_centers_")
        labels, _ = prims.nearest_centre(X, xp.astype(self.cluster_centers_, X.dtype), xp=xp)
        return labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags
