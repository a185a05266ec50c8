"""KMeans: validation, randomness and restarts around the Lloyd loop."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.utils._param_validation import Interval, StrOptions

from . import _dask
from ._backend import (
    acc_dtype,
    check_random_state,
    chunk_rows,
    get_device,
    get_namespace,
    itemsize,
    row_chunks,
)
from ._init import kmeans_plusplus, legacy_random_state, random_rows
from ._kmeans_core import (
    Prepared,
    RestartsMixin,
    centred,
    scaled_tol,
    warn_few_clusters,
)
from ._kmeans_parallel import kmeans_parallel
from ._lloyd import weighted_total
from ._primitives import nearest_centre, row_sq_norms, sparse_mean_variance, sq_distances
from ._pruned import choose_loop
from ._sparse import is_sparse
from ._spherical import (
    cosine_from_sq,
    spherical_inputs,
    spherical_result,
    unit_init_centres,
    unit_rows,
    zero_rows_label,
)
from ._validation import (
    check_centres,
    check_sample_weight,
    check_test_data,
    check_X,
)

__all__ = ["KMeans"]


class _CentresMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin):
    """predict / transform / score shared by KMeans and MiniBatchKMeans."""

    def _check_test_data(self, X, method):
        return check_test_data(self, X, method, fitted="cluster_centers_", what="centres",
                               attributes="cluster_centers_", accept_sparse=True)

    def predict(self, X):
        """Index of the nearest centre for each sample.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Same array library and device as the data the model was fitted on.

        Returns
        -------
        labels : integer array of shape (n_samples,)
            In X's namespace and on its device.
        """
        if _dask.is_dask_array(X):
            return _dask.predict(self, X)
        X, xp, _ = self._check_test_data(X, "predict")
        zero = None
        if self._cosine:
            X, zero = unit_rows(X, xp=xp)
        labels, _ = nearest_centre(X, xp.astype(self.cluster_centers_, X.dtype), xp=xp)
        return labels if zero is None else zero_rows_label(labels, zero, xp=xp)

    def transform(self, X):
        """Euclidean distance from each sample to each centre.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        distances : array of shape (n_samples, n_clusters)
            In X's namespace, device and dtype. This is the one full
            ``n_samples x n_clusters`` array xkmeans builds: it is the output.
        """
        if _dask.is_dask_array(X):
            return _dask.transform(self, X)
        # The centres themselves: each centre's distance to itself is exactly
        # 0, as scikit-learn's euclidean_distances(X, X) makes it, not the
        # rounding residue of |x|^2 - 2 x.c + |c|^2.
        own = X is getattr(self, "cluster_centers_", None)
        X, xp, _ = self._check_test_data(X, "transform")
        D = self._transform(X, xp)
        if own:
            ids = xp.arange(D.shape[0], device=get_device(D))
            D = xp.where(ids[:, None] == ids[None, :], xp.zeros_like(D), D)
        return D

    @property
    def _cosine(self) -> bool:
        return getattr(self, "metric", "euclidean") == "cosine"

    def _transform(self, X, xp):
        if self._cosine:
            return self._cosine_transform(X, xp)
        C = xp.astype(self.cluster_centers_, X.dtype)
        rows = chunk_rows(
            X.shape[0], 3 * C.shape[0] * itemsize(xp, X.dtype), xp=xp, device=get_device(X)
        )
        parts = [xp.sqrt(sq_distances(X[a:b, ...], C, xp=xp)) for a, b in row_chunks(X.shape[0], rows)]
        return parts[0] if len(parts) == 1 else xp.concat(parts)

    def _cosine_transform(self, X, xp):
        X, zero = unit_rows(X, xp=xp)
        C = xp.astype(self.cluster_centers_, X.dtype)
        rows = chunk_rows(
            X.shape[0], 3 * C.shape[0] * itemsize(xp, X.dtype), xp=xp, device=get_device(X)
        )
        parts = [cosine_from_sq(sq_distances(X[a:b, ...], C, xp=xp), zero[a:b], xp=xp)
                 for a, b in row_chunks(X.shape[0], rows)]
        return parts[0] if len(parts) == 1 else xp.concat(parts)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of X on the fitted centres.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        score : float
            ``-sum(w * squared distance to the nearest centre)``.
        """
        if _dask.is_dask_array(X):
            return _dask.score(self, X, sample_weight)
        X, xp, device = self._check_test_data(X, "score")
        w = check_sample_weight(sample_weight, X, xp=xp, device=device)
        zero = None
        if self._cosine:
            X, zero = unit_rows(X, xp=xp)
        _, dist2 = nearest_centre(X, xp.astype(self.cluster_centers_, X.dtype), xp=xp)
        if zero is not None:
            dist2 = cosine_from_sq(dist2, zero, xp=xp)
        return -float(weighted_total(dist2, w, xp=xp, acc=acc_dtype(xp, device)))

    @property
    def _n_features_out(self):
        return self.cluster_centers_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.input_tags.sparse = True
        return tags


def resolve_n_init(estimator, *, default, stacklevel):
    """scikit-learn's ``n_init='auto'``: 1 for k-means++ and arrays, ``default``
    for 'random' and callables; an explicit array forces 1 (with a warning)."""
    init, n_init = estimator.init, estimator.n_init
    init_is_array = not isinstance(init, str) and not callable(init)
    if n_init == "auto":
        random_like = callable(init) or (isinstance(init, str) and init == "random")
        n_init = default if random_like else 1
    if init_is_array and n_init != 1:
        warnings.warn(
            "Explicit initial center position passed: performing only one init "
            f"in {type(estimator).__name__} instead of n_init={n_init}.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
        n_init = 1
    return n_init


class KMeans(RestartsMixin, _CentresMixin, BaseEstimator):
    """K-means clustering by Lloyd's EM loop, on any Array API backend.

    Repeats two steps until the centres stop moving: assign each sample to
    its nearest centre (E-step), then move each centre to the weighted mean
    of its samples (M-step). Several restarts (``n_init``) keep the run
    with the lowest inertia. Semantics follow
    :class:`sklearn.cluster.KMeans`.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters (centres) to form.
    init : {'k-means++', 'k-means||', 'random'}, callable or array of shape \
(n_clusters, n_features), default='k-means++'
        'k-means++': greedy k-means++ (D^2 sampling with ``2 + log(k)``
        local trials per centre), ``n_clusters`` passes over X.
        'k-means||': Bahmani et al.'s scalable k-means++ (an xkmeans
        extension): 5 rounds, each drawing ``2 * n_clusters`` candidates by
        D^2 sampling, candidates weighted by the points nearest to them,
        then greedy k-means++ on the weighted candidates; 6 passes over X,
        for large ``n_clusters``. 'random': ``n_clusters`` distinct rows,
        drawn with probability proportional to ``sample_weight``. An array:
        the initial centres (same library and device as X). A callable:
        ``init(X, n_clusters, random_state)`` returning such an array,
        called on the mean-centred data with a ``numpy.random.RandomState``.
    n_init : 'auto' or int, default='auto'
        Number of runs from different initialisations; the best inertia is
        kept. 'auto' means 1 for 'k-means++' or an array, and 10 for
        'random' or a callable, as in scikit-learn.
    max_iter : int, default=300
        Maximum number of Lloyd iterations per run.
    tol : float, default=1e-4
        Convergence tolerance on the squared shift of the centres between
        two iterations, relative to the mean variance of the features.
    verbose : int, default=0
        Print the inertia at each iteration when > 0.
    random_state : int, numpy.random.Generator, RandomState or None, default=None
        Seeds the one host random generator used for all random draws; the
        same seed gives the same result on every backend.
    copy_x : bool, default=True
        Accepted for scikit-learn compatibility. xkmeans never modifies X:
        it always works on a mean-centred copy.
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        The EM algorithm. 'elkan' runs exact pruned Lloyd: the same
        iterations, labels, centres, ``n_iter_`` and ``inertia_`` as
        'lloyd' (up to ties that rounding decides), with triangle-inequality
        bounds that skip most distance computations. xkmeans uses Hamerly's
        bounds (one upper and one lower bound per sample, O(n_samples)
        memory), not Elkan's ``n_samples x n_clusters`` lower bounds, which
        it never allocates. Dense Euclidean data only: sparse X and
        ``metric='cosine'`` run 'lloyd'. As in scikit-learn, 'elkan' with
        ``n_clusters=1`` warns (``RuntimeWarning``) that 'lloyd' is used
        instead.
    metric : {'euclidean', 'cosine'}, default='euclidean'
        'euclidean': k-means, as in scikit-learn. 'cosine': spherical
        k-means, for TF-IDF rows and embeddings compared by angle. Rows are
        scaled to unit norm, each sample goes to the centre with the largest
        dot product (cosine similarity) and each centre is the mean of its
        samples scaled back to unit norm; the data are never centred.
        ``cluster_centers_`` are unit vectors, ``inertia_`` and ``score`` use
        the cosine distance ``1 - cos(x, c)`` and ``transform`` returns it.
        Zero rows (no direction) get label 0 and distance 1 to every centre;
        they are never drawn as initial centres and move no centre. A new
        keyword with scikit-learn's behaviour as default, so scikit-learn's
        ``KMeans`` signature works unchanged.

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        Centres, in X's namespace, device and dtype.
    labels_ : integer array of shape (n_samples,)
        Label of each training sample, matching ``cluster_centers_``.
    inertia_ : float
        Sum of (weighted) squared distances of samples to their centre
        (``metric='cosine'``: of cosine distances ``1 - cos``).
    n_iter_ : int
        Lloyd iterations run by the best run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features, when X has string column names (pandas).

    See Also
    --------
    MiniBatchKMeans : the same objective on random mini-batches.
    sklearn.cluster.KMeans : the reference implementation.

    Notes
    -----
    Tested on NumPy, array-api-strict (several devices, float32-only ones
    included), PyTorch on the CPU and, where a GPU is present, CuPy. All
    array work stays on X's device; per iteration, three scalars come back
    to the host (changed labels, centre shift, empty clusters). Random draws
    are made on the host and moved to the device.

    On NumPy (and PyTorch CPU tensors, through zero-copy views) each
    iteration runs scikit-learn's compiled, multi-threaded Lloyd step, so
    speed and results match :class:`sklearn.cluster.KMeans` from the same
    initial centres; like it, float32 data are summed in float32 there.
    Other backends accumulate the cluster sums in float64 where the device
    has it. ``xkmeans.config_context(fast_paths=False)`` runs the portable
    Array API code instead.

    Memory: distances are computed in row chunks sized from
    ``xkmeans.set_config(working_memory=...)`` (MiB), so no
    ``n_samples x n_clusters`` matrix is held, except the one ``transform``
    returns.

    Sparse X (SciPy CSR/CSC/COO matrices and arrays, ``cupyx.scipy.sparse``,
    PyTorch sparse tensors) is converted to CSR once and never densified:
    distances are ``|x|^2 - 2 X C^T + |c|^2`` with a sparse-dense product, the
    M-step a sparse grouped sum; centres are dense, in the namespace of X's
    stored values. As in scikit-learn, sparse data are not centred. On SciPy
    input each iteration runs scikit-learn's compiled sparse Lloyd kernel
    (same results from the same initial centres). Tested on SciPy and
    PyTorch CPU sparse; the CuPy and PyTorch CUDA sparse paths are written
    but were not measured.

    Dask arrays (``pip install 'xkmeans[dask]'``): a ``dask.array.Array`` of
    NumPy (or CuPy) chunks is fitted where it lives, on Dask's current
    scheduler (threads, or a ``dask.distributed`` cluster): each iteration is
    one task per row chunk, and only the k x d partial sums move, added in
    chunk order. ``cluster_centers_`` is then a NumPy (CuPy) array,
    ``labels_`` a Dask array with X's row chunks, ``predict`` and
    ``transform`` are lazy. See the user guide's page on Dask.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_.tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> km.predict(np.array([[0, 0], [12, 3]])).tolist() == [
    ...     km.labels_[0], km.labels_[3]]
    True

    Sparse input, and cosine (spherical) k-means:

    >>> import scipy.sparse as sp
    >>> Xs = sp.csr_matrix([[1.0, 0, 0], [2.0, 0.1, 0], [0, 0, 3.0], [0, 0.2, 1.0]])
    >>> km = KMeans(n_clusters=2, metric="cosine", random_state=0).fit(Xs)
    >>> km.labels_[0] == km.labels_[1] != km.labels_[2] == km.labels_[3]
    np.True_
    >>> np.linalg.norm(km.cluster_centers_, axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "k-means||", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state", np.random.Generator],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
        "metric": [StrOptions({"euclidean", "cosine"})],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        metric="euclidean",
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.metric = metric

    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Training data: a NumPy, CuPy, PyTorch or other Array API array
            (or anything NumPy converts). Integer and boolean data become
            the device's default float.
        y : Ignored
        sample_weight : array of shape (n_samples,), default=None
            Non-negative weight of each sample (same library and device as
            X). Integer weights are equivalent to repeating rows.

        Returns
        -------
        self : KMeans
            Fitted estimator.
        """
        self._validate_params()
        if _dask.is_dask_array(X):  # the loop on the client, the data on the cluster
            return _dask.kmeans_fit(self, X, sample_weight)
        prep = self._prepare(X, sample_weight)
        return self._finish(prep, self._restarts(prep))

    def _loop(self, prep):
        """The Lloyd loop this fit runs (plain, or pruned for 'elkan')."""
        return choose_loop(self.algorithm, prep.X, self.n_clusters,
                           spherical=prep.zero is not None)

    def _prepare(self, X, sample_weight):
        """Validated, centred data and what every restart shares (a ``Prepared``)."""
        X, xp, device = check_X(self, X, reset=True, accept_sparse=True)
        if self.algorithm == "elkan" and self.n_clusters == 1:
            # scikit-learn's warning (KMeans._check_params_vs_input); both run Lloyd here.
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. "
                "Using 'lloyd' instead.",
                RuntimeWarning,
                stacklevel=3,
            )
        w = check_sample_weight(sample_weight, X, xp=xp, device=device)
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            msg = f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            raise ValueError(msg)
        init = self.init
        init_is_array = not isinstance(init, str) and not callable(init)
        if init_is_array:
            init = check_centres(init, X, self.n_clusters, xp=xp, device=device)
        n_init = resolve_n_init(self, default=10, stacklevel=4)
        self._n_init = n_init  # the resolved count, under scikit-learn's private name
        rng = check_random_state(self.random_state)
        acc = acc_dtype(xp, device)

        # Centre the data for more accurate |x|^2 - 2 x.c + |c|^2 distances
        # (not sparse data: centring would fill it in, as in scikit-learn).
        X_mean = zero = None
        init_w = w
        if self._cosine:  # unit rows (never centred); see _spherical
            X, zero, init_w = spherical_inputs(X, w, self.n_clusters, xp=xp)
        elif not is_sparse(X):
            X, X_mean = centred(X, xp=xp, acc=acc)
            if init_is_array:
                init = init - X_mean
        x_sq = row_sq_norms(X, xp=xp)
        if is_sparse(X):
            tol = sparse_mean_variance(X, xp=xp) * self.tol if self.tol else 0.0
        else:
            tol = scaled_tol(self.tol, X, x_sq if X_mean is not None else None, xp=xp, acc=acc)
        return Prepared(X, w, init, init_w, x_sq, tol, X_mean, zero, n_init, rng, xp,
                         device)

    def _initial_centres(self, prep):
        """One restart's initial centres (draws from ``prep.rng``)."""
        centres = self._init_centres(prep.X, prep.init, x_sq=prep.x_sq, weights=prep.init_w,
                                     rng=prep.rng, xp=prep.xp, device=prep.device)
        if prep.zero is not None:
            centres = unit_init_centres(centres, xp=prep.xp)
        if self.verbose:
            print("Initialization complete")
        return centres

    def _finish(self, prep, best):
        """Fitted attributes from the best run."""
        xp = prep.xp
        labels, inertia, centres, n_iter = best
        if prep.zero is not None:
            labels, inertia = spherical_result(labels, inertia, prep.zero, prep.w, xp=xp)

        warn_few_clusters(labels, self.n_clusters, xp=xp, stacklevel=3)
        self.cluster_centers_ = centres if prep.X_mean is None else centres + prep.X_mean
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return ``labels_``; see :meth:`fit`."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return :meth:`transform` of X; see :meth:`fit`."""
        self.fit(X, sample_weight=sample_weight)
        if _dask.is_dask_array(X):
            return _dask.transform(self, X)
        X, xp, _ = check_X(self, X, reset=False, accept_sparse=True)
        return self._transform(X, xp)


    def _init_centroids(self, X, x_squared_norms, init, random_state, sample_weight,
                        init_size=None, n_centroids=None):
        """Initial centres as scikit-learn's private ``_init_centroids`` gives them
        (its signature), for code and tests written against its KMeans; dense X."""
        xp, device = get_namespace(X), get_device(X)
        rng = check_random_state(random_state)
        x_sq, weights = x_squared_norms, sample_weight
        if init_size is not None and init_size < X.shape[0]:
            idx = xp.asarray(rng.integers(0, X.shape[0], init_size), device=device)
            X, x_sq, weights = (xp.take(a, idx, axis=0) for a in (X, x_sq, weights))
        if not isinstance(init, str) and not callable(init):
            init = check_centres(init, X, n_centroids or self.n_clusters, xp=xp, device=device)
        k, self.n_clusters = self.n_clusters, n_centroids or self.n_clusters
        try:
            return self._init_centres(X, init, x_sq=x_sq, weights=weights, rng=rng, xp=xp,
                                      device=device)
        finally:
            self.n_clusters = k

    def _init_centres(self, X, init, *, x_sq, weights, rng, xp, device):
        k = self.n_clusters
        if isinstance(init, str) and init == "k-means++":
            centres, _ = kmeans_plusplus(X, k, x_sq=x_sq, weights=weights, rng=rng, xp=xp)
        elif isinstance(init, str) and init == "k-means||":
            centres, _ = kmeans_parallel(X, k, x_sq=x_sq, weights=weights, rng=rng, xp=xp)
        elif isinstance(init, str) and init == "random":
            centres, _ = random_rows(X, k, weights=weights, rng=rng, xp=xp)
        elif callable(init):
            Xu = X.to_native() if is_sparse(X) else X  # the user's kind of matrix
            centres = init(Xu, k, random_state=legacy_random_state(rng))
            centres = check_centres(centres, X, k, xp=xp, device=device, what="init(X)")
        else:
            centres = init
        return centres
