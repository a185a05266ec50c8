"""DBSCAN: density-based clustering on the radius-neighbour graph, on any backend.

scikit-learn finds every sample's eps-neighbourhood, marks the core samples
(at least ``min_samples`` of weight within ``eps``) and then grows clusters
by a depth-first search from each unlabelled core sample in index order.
The same labels follow from array operations: the clusters are the connected
components of the graph between core samples, numbered in the order of their
lowest core sample (the order scikit-learn's scan starts them); a non-core
sample within ``eps`` of a core sample joins the first of those clusters
(the first search to reach it), others are noise (-1).
"""

from __future__ import annotations

from typing import ClassVar

import array_api_compat.numpy
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN as _SkDBSCAN

from . import _primitives as prims
from ._backend import acc_dtype, chunk_rows, row_chunks
from ._radius import entry_rows
from ._sparse import is_sparse_input
from ._validation import _beside, _is_foreign_array, check_finite, check_X

__all__ = ["DBSCAN"]


def _precomputed_neighbors(D, eps, *, xp, device):
    """CSR arrays of ``D <= eps`` for a dense distance matrix, in row chunks."""
    n = D.shape[0]
    rows = chunk_rows(n, n, xp=xp, device=device)  # one boolean per entry
    out_r, out_c = [], []
    for a, b in row_chunks(n, rows):
        r, c = xp.nonzero(D[a:b, ...] <= eps)
        out_r.append(xp.astype(r, xp.int64) + a)
        out_c.append(xp.astype(c, xp.int64))
    r = out_r[0] if len(out_r) == 1 else xp.concat(out_r)
    c = out_c[0] if len(out_c) == 1 else xp.concat(out_c)
    indptr = xp.searchsorted(r, xp.arange(n + 1, dtype=xp.int64, device=device))
    return xp.astype(indptr, xp.int64), c


def _sklearn_neighbors(est, X):
    """CSR arrays of the eps-neighbourhoods scikit-learn's DBSCAN computes (NumPy/SciPy
    input, any metric it accepts, sparse matrices included)."""
    import warnings

    from scipy import sparse
    from sklearn.neighbors import NearestNeighbors, sort_graph_by_row_values

    if est.metric == "precomputed" and sparse.issparse(X):
        X = X.copy()  # a sample is its own neighbour: store the diagonal explicitly
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sparse.SparseEfficiencyWarning)
            X.setdiag(X.diagonal())
            X = sort_graph_by_row_values(X, warn_when_not_sorted=False)
    nn = NearestNeighbors(radius=est.eps, algorithm=est.algorithm, leaf_size=est.leaf_size,
                          metric=est.metric, metric_params=est.metric_params, p=est.p,
                          n_jobs=est.n_jobs).fit(X)
    neigh = nn.radius_neighbors(X, return_distance=False)
    lengths = np.fromiter((len(a) for a in neigh), dtype=np.int64, count=len(neigh))
    indptr = np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths)])
    indices = (np.concatenate(neigh).astype(np.int64) if len(neigh)
               else np.zeros(0, np.int64))
    return indptr, indices


def _core_clusters(indptr, indices, core, *, symmetric, xp, device):
    """Cluster id of every core sample (other entries meaningless) and the count.

    Connected components of the core-core graph; ``connected_components``
    numbers them by lowest node and every non-core sample is a component of
    its own, so ranking the components that hold core samples numbers the
    clusters by their lowest core sample, as scikit-learn's scan does.
    """
    n = core.shape[0]
    nodes = xp.arange(n, dtype=xp.int64, device=device)
    rows = entry_rows(indptr, xp=xp)
    cols = xp.astype(indices, xp.int64, copy=False)
    both = xp.take(core, rows) & xp.take(core, cols)
    if symmetric:
        if prims.components_from_one_triangle(xp):
            both = both & (cols > rows)
        cc_indptr = xp.searchsorted(rows[both], xp.concat([nodes, nodes[-1:] + 1]))
        cc_indices = cols[both]
    else:  # a precomputed matrix may not be symmetric: join both directions
        r, c = rows[both], cols[both]
        key = xp.sort(xp.concat([r * n + c, c * n + r]))
        cc_indptr = xp.searchsorted(key // n, xp.concat([nodes, nodes[-1:] + 1]))
        cc_indices = key % n
    if cc_indices.shape[0]:
        _, comp = prims.connected_components(cc_indptr, cc_indices, xp=xp)
        comp = xp.astype(comp, xp.int64, copy=False)
    else:  # no two core samples are neighbours (the portable search needs an edge)
        comp = nodes
    roots = xp.unique_values(comp[core])
    return xp.searchsorted(roots, comp), int(roots.shape[0]), rows, cols


def _dbscan_labels(indptr, indices, weights, min_samples, *, symmetric, xp, device):
    """``(labels, core_sample_indices)`` from the eps-neighbourhoods in CSR form."""
    n = indptr.shape[0] - 1
    if weights is None:
        counts = indptr[1:] - indptr[:-1]
    else:
        acc = acc_dtype(xp, device)
        ones = xp.ones((indices.shape[0],), dtype=acc, device=device)
        counts = prims.csr_matmul(indptr, indices, ones,
                                  xp.reshape(xp.astype(weights, acc), (n, 1)), xp=xp)[:, 0]
    core = counts >= min_samples
    core_idx = xp.astype(xp.nonzero(core)[0], xp.int64)
    cid, n_clusters, rows, cols = _core_clusters(indptr, indices, core, symmetric=symmetric,
                                                 xp=xp, device=device)
    labels = xp.where(core, cid, xp.asarray(-1, dtype=xp.int64, device=device))
    # Non-core samples in a core sample's neighbourhood: the first cluster wins.
    border = xp.take(core, rows) & ~xp.take(core, cols)
    target = cols[border]
    if n_clusters and target.shape[0]:
        key = xp.sort(target * n_clusters + xp.take(cid, rows[border]))
        t = key // n_clusters
        true = xp.ones((1,), dtype=xp.bool, device=device)
        first = xp.concat([true, t[1:] != t[:-1]])
        t, c = t[first], key[first] % n_clusters
        nodes = xp.arange(n, dtype=xp.int64, device=device)
        pos = xp.clip(xp.searchsorted(t, nodes), max=t.shape[0] - 1)
        found = (xp.take(t, pos) == nodes) & ~core
        labels = xp.where(found, xp.take(c, pos), labels)
    return labels, core_idx


def _is_euclidean(est) -> bool:
    if est.metric_params:
        return False
    return est.metric in ("euclidean", "l2") or (est.metric == "minkowski"
                                                  and est.p in (None, 2))


class DBSCAN(ClusterMixin, BaseEstimator):
    """Density-based spatial clustering of applications with noise, on any backend.

    Core samples have at least ``min_samples`` samples (or that much
    ``sample_weight``) within distance ``eps``, themselves included;
    clusters are the groups of core samples linked through such
    neighbourhoods, plus the non-core samples within ``eps`` of them; the
    rest is noise. The labels, core samples and components of
    ``sklearn.cluster.DBSCAN`` with the same parameters, including the
    cluster numbering and which cluster a sample between two clusters
    joins.

    Parameters
    ----------
    eps : float, default=0.5
        Largest distance between two samples for one to count in the other's
        neighbourhood (included: ``<= eps``). Must be > 0.
    min_samples : int, default=5
        Samples (or total weight) in a neighbourhood for its centre to be a
        core sample, the sample itself included.
    metric : str or callable, default='euclidean'
        'euclidean' (also 'l2', and 'minkowski' with ``p`` None or 2) and
        'precomputed' (X is a distance matrix) run on every backend. Any
        other metric scikit-learn accepts works on NumPy and SciPy sparse
        input, through scikit-learn's neighbour search.
    metric_params : dict, default=None
        Keyword arguments of the metric (scikit-learn's neighbour search).
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        Accepted as scikit-learn does; the Euclidean search picks its own
        (a k-d tree for NumPy data with at most 16 features, chunked brute
        force elsewhere); used by the scikit-learn search for other metrics.
    leaf_size : int, default=30
        As ``algorithm``.
    p : float, default=None
        Power of the Minkowski metric; None or 2 is Euclidean.
    n_jobs : int, default=None
        As ``algorithm``.

    Attributes
    ----------
    core_sample_indices_ : int64 array of shape (n_core_samples,)
        Indices of the core samples, ascending.
    components_ : array of shape (n_core_samples, n_features)
        The core samples (rows of X).
    labels_ : int64 array of shape (n_samples,)
        Cluster of each sample, numbered from 0 in the order of each
        cluster's lowest core sample; -1 for noise.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features, when X has string column names (pandas).

    See Also
    --------
    radius_neighbors_graph : The eps-neighbourhood graph itself.
    MeanShift : Another clustering that finds the number of clusters.
    sklearn.cluster.DBSCAN : the reference implementation.

    Notes
    -----
    Steps, each written once against the Array API: the neighbourhoods as a
    CSR graph (the ``self_radius_neighbors`` primitive: row chunks of the
    distance matrix, never all of it; SciPy's k-d tree for NumPy data in low
    dimension), weighted neighbour counts (a sparse product), connected
    components of the core-core graph (min-label hooking with pointer
    jumping, one readback per round; SciPy on NumPy), then the labels by
    sorting. Neighbours are decided as scikit-learn's k-d tree decides them,
    ``sum_j (x_j - y_j)^2 <= eps^2`` in float64 (float32 on a device
    without float64); only distances equal to ``eps`` to the last bit may be
    decided otherwise (scikit-learn's brute-force search, which it uses above
    15 features, rounds differently too). With non-integer weights the
    neighbour counts are sums in another order than scikit-learn's: a count
    equal to ``min_samples`` to the last bit is a tie.

    A precomputed matrix is read row by row (``X[i, j] <= eps`` puts j in
    i's neighbourhood, as in scikit-learn); if it is not symmetric the core
    samples are linked in either direction, where scikit-learn's search
    follows rows only. Memory: the neighbourhood graph (about ``n *
    mean neighbours`` int64 entries, as scikit-learn holds) plus one chunk of
    distances. Tested on NumPy, array-api-strict and PyTorch (CPU); CuPy and
    PyTorch CUDA run the same code (unmeasured).

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import DBSCAN
    >>> X = np.array([[1, 2], [2, 2], [2, 3], [8, 7], [8, 8], [25, 80]])
    >>> clustering = DBSCAN(eps=3, min_samples=2).fit(X)
    >>> clustering.labels_
    array([ 0,  0,  0,  1,  1, -1])
    >>> clustering.core_sample_indices_
    array([0, 1, 2, 3, 4])
    """

    _parameter_constraints: ClassVar[dict] = dict(_SkDBSCAN._parameter_constraints)

    def __init__(
        self,
        eps=0.5,
        *,
        min_samples=5,
        metric="euclidean",
        metric_params=None,
        algorithm="auto",
        leaf_size=30,
        p=None,
        n_jobs=None,
    ):
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.metric_params = metric_params
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.n_jobs = n_jobs

    def fit(self, X, y=None, sample_weight=None):
        """Find the core samples and clusters of X.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), or (n_samples, n_samples)
            Samples, or distances between samples with
            ``metric='precomputed'``: a NumPy, CuPy, PyTorch or other Array
            API array, or a SciPy sparse matrix (then through scikit-learn's
            neighbour search).
        y : Ignored
        sample_weight : array of shape (n_samples,), default=None
            Weight of each sample in its neighbours' counts (X's library and
            device); a sample of weight at least ``min_samples`` is a core
            sample by itself, a negative weight can keep a neighbour from
            being one. Default: weight 1.

        Returns
        -------
        self : DBSCAN
            Fitted estimator.
        """
        self._validate_params()
        if is_sparse_input(X) and not _is_foreign_array(X):
            return self._fit_host_search(X, sample_weight)
        X, xp, device = check_X(self, X, reset=True)
        if self.metric == "precomputed":
            if bool(xp.any(X < 0)):
                msg = "Negative values in data passed to X."
                raise ValueError(msg)
            if X.shape[0] != X.shape[1]:
                msg = ("Precomputed matrix must be square. "
                       f"Input is a {X.shape[0]}x{X.shape[1]} matrix.")
                raise ValueError(msg)
        weights = self._sample_weight(sample_weight, X, xp=xp, device=device)
        if self.metric == "precomputed":
            indptr, indices = _precomputed_neighbors(X, self.eps, xp=xp, device=device)
            symmetric = False
        elif _is_euclidean(self):
            indptr, indices, _ = prims.self_radius_neighbors(X, self.eps, xp=xp,
                                                             return_distance=False)
            symmetric = True
        elif isinstance(X, np.ndarray):
            indptr, indices = _sklearn_neighbors(self, X)
            symmetric = False
        else:
            msg = (f"metric={self.metric!r} (with these metric_params and p) needs NumPy "
                   "input; on other array libraries DBSCAN supports metric='euclidean' "
                   "and 'precomputed'.")
            raise ValueError(msg)
        labels, core_idx = _dbscan_labels(indptr, indices, weights, self.min_samples,
                                          symmetric=symmetric, xp=xp, device=device)
        self.labels_ = labels
        self.core_sample_indices_ = core_idx
        self.components_ = xp.take(X, core_idx, axis=0)
        return self

    def _fit_host_search(self, X, sample_weight):
        """SciPy sparse input: scikit-learn's validation and neighbour search."""
        from sklearn.utils.validation import _check_sample_weight, validate_data

        X = validate_data(self, X, accept_sparse="csr")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        indptr, indices = _sklearn_neighbors(self, X)
        labels, core_idx = _dbscan_labels(indptr, indices, sample_weight, self.min_samples,
                                          symmetric=False, xp=array_api_compat.numpy,
                                          device="cpu")
        self.labels_ = labels
        self.core_sample_indices_ = core_idx
        self.components_ = (X[core_idx].copy() if core_idx.shape[0]
                            else np.empty((0, X.shape[1])))
        return self

    @staticmethod
    def _sample_weight(sample_weight, X, *, xp, device):
        """scikit-learn's rules: any finite real numbers (negative allowed), X's dtype."""
        if sample_weight is None:
            return None
        if isinstance(X, np.ndarray):
            from sklearn.utils.validation import _check_sample_weight

            return _check_sample_weight(sample_weight, X)
        n = X.shape[0]
        if isinstance(sample_weight, (int, float)) and not isinstance(sample_weight, bool):
            return xp.full((n,), float(sample_weight), dtype=X.dtype, device=device)
        sw = _beside(sample_weight, X, xp=xp, device=device)
        if sw.ndim != 1 or sw.shape[0] != n:
            msg = f"sample_weight.shape == {tuple(sw.shape)}, expected ({n},)!"
            raise ValueError(msg)
        sw = xp.astype(sw, X.dtype)
        check_finite(sw, xp=xp, what="sample_weight")
        return sw

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return ``labels_``; see :meth:`fit`.

        Returns
        -------
        labels : int64 array of shape (n_samples,)
            Cluster of each sample, -1 for noise.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags
