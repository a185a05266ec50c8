"""AffinityPropagation: scikit-learn's message passing, once against the Array API.

The n x n similarity, responsibility and availability matrices are inherent
to the algorithm (scikit-learn holds them too); they live on X's device and
every update walks them in row chunks, so the temporaries stay within the
working-memory budget. Before anything n x n is allocated, the memory it
needs is checked against what the device has free.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state as sk_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _primitives as prims
from ._backend import (
    acc_dtype,
    chunk_rows,
    free_memory,
    is_array,
    is_cpu,
    itemsize,
    row_chunks,
    to_numpy,
)
from ._config import get_config
from ._primitives._affinity import eye, set_diag_block
from ._sparse import as_sparse_rows, is_sparse, is_sparse_input
from ._validation import _beside, check_same_backend, check_X

__all__ = ["AffinityPropagation"]


# --- memory -----------------------------------------------------------------


def _check_memory(n, s_dtype, acc, *, xp, device):
    """Raise MemoryError naming the size when the n x n matrices cannot fit."""
    per_entry = itemsize(xp, s_dtype) + 2 * itemsize(xp, acc)
    need = n * n * per_entry + int(get_config()["working_memory"] * 2**20)  # + chunks
    free = free_memory(xp, device)
    if free is None or need <= free:
        return
    msg = (
        f"AffinityPropagation needs about {need / 2**30:.2f} GiB for its n_samples x "
        f"n_samples matrices (n_samples={n}: similarities in {s_dtype}, responsibilities "
        f"and availabilities in {acc}), but only {free / 2**30:.2f} GiB is free on "
        f"{device}. Fit a subsample (the memory grows as n_samples squared), or use a "
        "clustering that does not hold all pairs (KMeans, MeanShift with bin_seeding, "
        "DBSCAN)."
    )
    raise MemoryError(msg)


# --- similarities --------------------------------------------------------------


def _budget_rows(n, dtype, *, xp, device, copies):
    return chunk_rows(n, copies * n * itemsize(xp, dtype), xp=xp, device=device)


# On a CPU, the message update runs many elementwise passes over each chunk:
# chunks whose scratch stays in the cache (about 2 MiB) run them
# faster than the budget's bigger tiles (measured, n = 5000: 0.16 s a pass
# with 52 rows, 0.6 s with 1024).
_CPU_TEMP_BYTES = 1 << 21


def _message_rows(n, dtype, *, xp, device):
    size = itemsize(xp, dtype)
    cap = max(4, _CPU_TEMP_BYTES // (n * size)) if is_cpu(xp, device) else None
    return chunk_rows(n, 8 * n * size, xp=xp, device=device, cap=cap)


def _neg_sq_euclidean(X, *, xp, device):
    """``-euclidean_distances(X, squared=True)`` as scikit-learn computes it.

    scikit-learn forms ``max((-2 x.y + |x|^2) + |y|^2, 0)``, zeros the
    diagonal and negates; ``min((2 x.y - |x|^2) - |y|^2, 0)`` is the same
    number exactly, in fewer passes. Computed in the widest float
    (scikit-learn upcasts float32 too), returned in X's dtype.
    """
    acc = acc_dtype(xp, device)
    n = X.shape[0]
    Xa = xp.astype(X, acc, copy=False)
    x_sq = prims.affinity_row_norms(Xa, xp=xp)
    X2 = 2 * Xa  # 2 x.y exactly: scaling by 2 does not round
    S = xp.empty((n, n), dtype=X.dtype, device=device)
    rows = _budget_rows(n, acc, xp=xp, device=device, copies=3)
    for a, b in row_chunks(n, rows):
        s = xp.minimum((X2[a:b, ...] @ Xa.T - x_sq[a:b, None]) - x_sq[None, :], 0.0)
        s = set_diag_block(s, a, b, xp.zeros((b - a,), dtype=acc, device=device),
                           xp=xp, eye=eye(b - a, xp=xp, device=device))
        S[a:b, :] = xp.astype(s, X.dtype, copy=False)
    return S


def _median(S, *, xp, device):
    """``numpy.median`` of all entries (the mean of the two middle ones when even).

    Exact, without sorting all n^2 values: a sorted strided sample brackets
    the middle ranks, one chunked pass counts the values below the bracket
    and gathers those inside it, and only those are sorted. A bracket that
    misses (strange value patterns) falls back to sorting everything.
    """
    flat = xp.reshape(S, (-1,))
    m = flat.shape[0]
    lo_rank, hi_rank = (m - 1) // 2, m // 2
    sample = xp.sort(flat[::max(1, m // 65536)])
    s = sample.shape[0]
    margin = 8 * int(s ** 0.5) + 8
    pos = lo_rank * s // m
    bounds = xp.stack([sample[max(0, pos - margin)], sample[min(s - 1, pos + margin)]])
    lo, hi = bounds[0], bounds[1]
    below = xp.zeros((), dtype=xp.int64, device=device)
    inside = []
    for a, b in row_chunks(m, chunk_rows(m, 4 * itemsize(xp, S.dtype), xp=xp, device=device)):
        part = flat[a:b]
        below = below + xp.sum(xp.astype(part < lo, xp.int64))
        inside.append(part[(part >= lo) & (part <= hi)])
    below = int(below)
    inside = xp.sort(xp.concat(inside))
    if not (below <= lo_rank and hi_rank < below + inside.shape[0]):
        inside, below = xp.sort(flat), 0
    return (inside[lo_rank - below] + inside[hi_rank - below]) / 2


def _all_equal(S, preference, *, xp, device):
    """scikit-learn's test: every preference equal and every off-diagonal similarity equal."""
    n = S.shape[0]
    same_pref = xp.all(preference == xp.reshape(preference, (-1,))[0])
    ref = S[0, 1]
    same_sim = xp.asarray(True, device=device)
    rows = _budget_rows(n, S.dtype, xp=xp, device=device, copies=2)
    for a, b in row_chunks(n, rows):
        block = S[a:b, :] == ref
        block[:, a:b] = block[:, a:b] | eye(b - a, xp=xp, device=device)
        same_sim = same_sim & xp.all(block)
    return bool(same_pref & same_sim)


def _with_preference_and_noise(S, preference, rng, *, xp, device):
    """S with ``preference`` on its diagonal and scikit-learn's tiny noise added.

    The noise is ``(eps * S + 100 * tiny) * N(0, 1)`` with the standard
    normals drawn on the host from ``rng`` (a legacy RandomState, as
    scikit-learn draws them), row chunk by row chunk (the same stream as one
    n x n draw), in float64, and added in float64 where the device has it
    (scikit-learn adds a float64 noise to a float32 S the same way).
    """
    n = S.shape[0]
    acc = acc_dtype(xp, device)
    info = np.finfo(np.float32 if S.dtype == xp.float32 else np.float64)
    eps, tiny100 = float(info.eps), float(info.tiny * 100)
    pref = preference if preference.ndim == 0 else preference[:, None]
    rows = _budget_rows(n, acc, xp=xp, device=device, copies=4)
    for a, b in row_chunks(n, rows):
        on_diag = eye(b - a, xp=xp, device=device)
        Sc = S[a:b, :]
        p = pref if pref.ndim == 0 else pref[a:b, ...]
        Sc[:, a:b] = xp.where(on_diag, p, Sc[:, a:b])
        noise = xp.asarray(rng.standard_normal(size=(b - a, n)), dtype=acc, device=device)
        noise = xp.astype(eps * Sc + tiny100, acc, copy=False) * noise
        S[a:b, :] = xp.astype(xp.astype(Sc, acc, copy=False) + noise, S.dtype, copy=False)
    return S


# --- message passing -----------------------------------------------------------


def _message_passing(S, *, damping, max_iter, convergence_iter, verbose, xp, device):
    """scikit-learn's iterations; returns (exemplar mask E, iterations run, converged).

    One boolean comes back to the host per iteration once ``convergence_iter``
    iterations have run (the convergence test).
    """
    n = S.shape[0]
    acc = acc_dtype(xp, device)
    A = xp.zeros((n, n), dtype=acc, device=device)
    R = xp.zeros((n, n), dtype=acc, device=device)
    rows = _message_rows(n, acc, xp=xp, device=device)
    history = xp.zeros((convergence_iter, n), dtype=xp.int32, device=device)
    _, diag_r, colsum = prims.affinity_sweep(S, A, R, None, damping, update_a=False,
                                             update_r=True, rows=rows, xp=xp, device=device)
    for it in range(max_iter):
        last = it == max_iter - 1
        diag_a, next_diag_r, next_colsum = prims.affinity_sweep(
            S, A, R, colsum, damping, update_a=True, update_r=not last,
            rows=rows, xp=xp, device=device)
        E = (diag_a + diag_r) > 0
        history[it % convergence_iter, :] = xp.astype(E, xp.int32)
        diag_r, colsum = next_diag_r, next_colsum
        if it >= convergence_iter:
            se = xp.sum(history, axis=0)
            steady = xp.all((se == convergence_iter) | (se == 0)) & xp.any(E)
            if bool(steady):
                if verbose:
                    print(f"Converged after {it} iterations.")
                return E, it + 1, True
    if verbose:
        print("Did not converge")
    return E, max_iter, False


def _exemplars_and_labels(S, E, *, xp, device):
    """scikit-learn's final assignment and exemplar refinement, on the device.

    Each sample joins its most similar exemplar; within each cluster the
    member with the largest summed similarity to the members becomes the
    exemplar (the first such member on ties); samples join those. Returns
    (sorted exemplar indices, labels in 0..K-1).
    """
    n = S.shape[0]
    I = xp.nonzero(E)[0]
    K = I.shape[0]
    rank = xp.cumulative_sum(xp.astype(E, xp.int64)) - 1
    c = xp.where(E, rank, _argmax_columns(S, I, xp=xp, device=device))
    # Summed similarity of each sample to the members of its cluster, by
    # column chunks, adding the rows in order as scikit-learn's sum does.
    rows = _budget_rows(n, S.dtype, xp=xp, device=device, copies=3)
    score = []
    for a, b in row_chunks(n, rows):
        same = c[:, None] == c[None, a:b]
        score.append(xp.sum(xp.where(same, S[:, a:b], 0), axis=0))
    score = score[0] if len(score) == 1 else xp.concat(score)
    # First best-scoring member of each cluster: order by score (descending,
    # ties by index), then stably by cluster.
    by_score = xp.argsort(-score, stable=True)
    order = xp.take(by_score, xp.argsort(xp.take(c, by_score), stable=True))
    starts = xp.searchsorted(xp.take(c, order), xp.arange(K, dtype=c.dtype, device=device))
    I = xp.take(order, starts)
    is_exemplar = xp.arange(n, device=device) == xp.take(I, c)
    c = xp.where(is_exemplar, c, _argmax_columns(S, I, xp=xp, device=device))
    centres = xp.sort(I)
    return centres, xp.searchsorted(centres, xp.take(I, c))


def _argmax_columns(S, cols, *, xp, device):
    """``argmax(S[:, cols], axis=1)`` in row chunks."""
    n, k = S.shape[0], cols.shape[0]
    rows = chunk_rows(n, 2 * k * itemsize(xp, S.dtype), xp=xp, device=device)
    out = [xp.argmax(xp.take(S[a:b, :], cols, axis=1), axis=1) for a, b in row_chunks(n, rows)]
    return out[0] if len(out) == 1 else xp.concat(out)


def _affinity_propagation(S, preference, *, damping, max_iter, convergence_iter, verbose,
                          random_state, owned, xp, device):
    """The algorithm on a similarity matrix S (n x n; modified only if ``owned``).

    Returns (exemplar indices, labels, iterations, the S that was used).
    """
    n = S.shape[0]
    int_dtype = xp.int64
    if n == 1 or _all_equal(S, preference, xp=xp, device=device):
        warnings.warn(
            "All samples have mutually equal similarities. "
            "Returning arbitrary cluster center(s).",
            UserWarning,
            stacklevel=3,
        )
        first = to_numpy(xp.stack([xp.reshape(preference, (-1,))[0],
                                   xp.astype(S[0, n - 1], preference.dtype)]))
        if first[0] > first[1]:
            everyone = xp.arange(n, dtype=int_dtype, device=device)
            return everyone, everyone, 0, S
        return (xp.zeros((1,), dtype=int_dtype, device=device),
                xp.zeros((n,), dtype=int_dtype, device=device), 0, S)

    S = S if owned else xp.asarray(S, copy=True)
    S = _with_preference_and_noise(S, preference, random_state, xp=xp, device=device)
    E, n_iter, converged = _message_passing(
        S, damping=damping, max_iter=max_iter, convergence_iter=convergence_iter,
        verbose=verbose, xp=xp, device=device)
    if not bool(xp.any(E)):
        warnings.warn(
            "Affinity propagation did not converge and this model "
            "will not have any cluster centers.",
            ConvergenceWarning,
            stacklevel=3,
        )
        return (xp.zeros((0,), dtype=int_dtype, device=device),
                xp.full((n,), -1, dtype=int_dtype, device=device), n_iter, S)
    if not converged:
        warnings.warn(
            "Affinity propagation did not converge, this model "
            "may return degenerate cluster centers and labels.",
            ConvergenceWarning,
            stacklevel=3,
        )
    centres, labels = _exemplars_and_labels(S, E, xp=xp, device=device)
    return xp.astype(centres, int_dtype), xp.astype(labels, int_dtype), n_iter, S


class AffinityPropagation(ClusterMixin, BaseEstimator):
    """Affinity propagation clustering, on any Array API backend.

    Samples exchange two kinds of messages, responsibilities and
    availabilities, until a stable set of exemplars (samples that represent
    a cluster) emerges; each sample then joins its most similar exemplar. The
    number of clusters follows from the data and ``preference``. Constructor,
    attributes and results follow :class:`sklearn.cluster.AffinityPropagation`.

    Parameters
    ----------
    damping : float, default=0.5
        In [0.5, 1.0): how much of the previous messages each update keeps,
        to avoid oscillations.
    max_iter : int, default=200
        Maximum number of iterations.
    convergence_iter : int, default=15
        Number of iterations with no change in the set of exemplars that
        stops the iterations.
    copy : bool, default=True
        Accepted for compatibility with scikit-learn; the input is never
        modified (a precomputed matrix is copied before the noise is added).
    preference : float or array of shape (n_samples,), default=None
        How likely each sample is to be chosen as an exemplar; larger values
        give more clusters. When None, the median of the similarities.
    affinity : {'euclidean', 'precomputed'}, default='euclidean'
        'euclidean': negative squared Euclidean distances between samples;
        'precomputed': ``fit`` takes the similarity matrix itself.
    verbose : bool, default=False
        Print whether and when the iterations converged.
    random_state : int, RandomState instance or None, default=None
        Seeds the tiny noise added to the similarities to break ties. It is
        drawn on the host as scikit-learn draws it (a legacy
        ``numpy.random.RandomState``), so the same seed gives scikit-learn's
        exemplars, on every backend.

    Attributes
    ----------
    cluster_centers_indices_ : integer array of shape (n_clusters,)
        Indices of the exemplars, ascending (empty when none emerged).
    cluster_centers_ : array of shape (n_clusters, n_features)
        The exemplars (not with ``affinity='precomputed'``).
    labels_ : integer array of shape (n_samples,)
        Cluster of each sample (-1 for all when no exemplar emerged).
    affinity_matrix_ : array of shape (n_samples, n_samples)
        The similarities the iterations used: like scikit-learn's, with the
        preferences on the diagonal and the noise added.
    n_iter_ : int
        Number of iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features, when X has string column names (pandas).

    See Also
    --------
    MeanShift : Another clustering that finds the number of clusters.
    KMeans : Clustering into a given number of round clusters.
    sklearn.cluster.AffinityPropagation : the reference implementation.

    Notes
    -----
    The algorithm holds three n_samples x n_samples matrices
    (similarities in X's dtype, responsibilities and availabilities in the
    widest float the device offers, float64 as in scikit-learn), on X's
    device; ``fit`` checks that they fit in the memory free there (host
    memory for CPU arrays, GPU memory for CuPy and PyTorch CUDA) and raises
    ``MemoryError`` naming the size when they cannot. Every update walks
    them in row chunks sized from ``xkmeans.set_config(working_memory=...)``,
    availabilities and the next responsibilities in one pass, with
    scikit-learn's arithmetic in its order (on NumPy an in-place fast path;
    there the similarities, messages and exemplars are scikit-learn's to the
    last bit, so even runs that do not converge end on its exemplars).

    The tie-breaking noise is drawn on the host from ``random_state``,
    chunk by chunk, and moved to the device. Per iteration, once
    ``convergence_iter`` iterations have run, one boolean comes back (the
    convergence test). The final assignment and the refinement of the
    exemplars run on the device. Tested on NumPy, array-api-strict (several
    devices, a float32-only one included) and PyTorch on the CPU, with the
    same exemplars as scikit-learn; CuPy and PyTorch CUDA run the same code
    (unmeasured here).

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import AffinityPropagation
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 4], [4, 0]])
    >>> clustering = AffinityPropagation(random_state=5).fit(X)
    >>> clustering.labels_
    array([0, 0, 0, 1, 1, 1])
    >>> clustering.cluster_centers_
    array([[1., 2.],
           [4., 2.]])
    >>> clustering.predict(np.array([[0, 0], [4, 4]]))
    array([0, 1])
    """

    _parameter_constraints: ClassVar[dict] = {
        "damping": [Interval(Real, 0.5, 1.0, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "convergence_iter": [Interval(Integral, 1, None, closed="left")],
        "copy": ["boolean"],
        "preference": ["array-like", Interval(Real, None, None, closed="neither"), None],
        "affinity": [StrOptions({"euclidean", "precomputed"})],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        damping=0.5,
        max_iter=200,
        convergence_iter=15,
        copy=True,
        preference=None,
        affinity="euclidean",
        verbose=False,
        random_state=None,
    ):
        self.damping = damping
        self.max_iter = max_iter
        self.convergence_iter = convergence_iter
        self.copy = copy
        self.verbose = verbose
        self.preference = preference
        self.affinity = affinity
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the clustering from features, or from a similarity matrix.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), or (n_samples, n_samples)
            Samples, or similarities between samples with
            ``affinity='precomputed'``: a NumPy, CuPy, PyTorch or other
            Array API array (or anything NumPy converts). With
            ``affinity='euclidean'`` a SciPy, CuPy or PyTorch sparse matrix
            is accepted too; it is densified (the similarities are dense
            n x n anyway) and ``cluster_centers_`` are dense rows.
        y : Ignored

        Returns
        -------
        self : AffinityPropagation
            Fitted estimator.
        """
        self._validate_params()
        X, xp, device = check_X(self, X, reset=True, accept_sparse=self.affinity != "precomputed")
        if is_sparse(X):
            # The similarities are dense n x n whatever X is; the dense copy of X
            # (n x d) is smaller than they are unless d > n.
            _check_memory(max(X.shape), X.dtype, acc_dtype(xp, device), xp=xp, device=device)
            X = prims.to_dense(X, xp=xp)
        n = X.shape[0]
        if self.affinity == "precomputed" and X.shape[0] != X.shape[1]:
            msg = (
                "The matrix of similarities must be a square array. "
                f"Got {tuple(X.shape)} instead."
            )
            raise ValueError(msg)
        _check_memory(n, X.dtype, acc_dtype(xp, device), xp=xp, device=device)
        if self.affinity == "precomputed":
            S = X
        else:
            S = _neg_sq_euclidean(X, xp=xp, device=device)
        preference = self._preference(S, xp=xp, device=device)
        indices, labels, n_iter, S = _affinity_propagation(
            S, preference, damping=self.damping, max_iter=self.max_iter,
            convergence_iter=self.convergence_iter, verbose=self.verbose,
            random_state=sk_random_state(self.random_state),
            owned=self.affinity != "precomputed", xp=xp, device=device)
        self.affinity_matrix_ = S
        self.cluster_centers_indices_ = indices
        self.labels_ = labels
        self.n_iter_ = n_iter
        if self.affinity != "precomputed":
            self.cluster_centers_ = xp.take(X, indices, axis=0)
        elif hasattr(self, "cluster_centers_"):
            del self.cluster_centers_
        return self

    def _preference(self, S, *, xp, device):
        if self.preference is None:
            return _median(S, xp=xp, device=device)
        if isinstance(self.preference, Real):
            return xp.asarray(float(self.preference), dtype=S.dtype, device=device)
        pref = self.preference
        if not is_array(pref):  # a list: straight to S's dtype (a device may lack float64)
            host = np.float32 if S.dtype == xp.float32 else np.float64
            pref = xp.asarray(np.asarray(pref, dtype=host), device=device)
        pref = xp.astype(_beside(pref, S, xp=xp, device=device), S.dtype)
        n = S.shape[0]
        if pref.ndim > 1 or (pref.ndim == 1 and pref.shape[0] not in (1, n)):
            msg = (f"preference should be a float or an array of shape ({n},), got shape "
                   f"{tuple(pref.shape)}.")
            raise ValueError(msg)
        if pref.ndim == 1 and pref.shape[0] == 1:
            pref = pref[0]
        return pref

    def predict(self, X):
        """Index of the nearest exemplar for each sample.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Same array library and device as the data the model was fitted on.

        Returns
        -------
        labels : integer array of shape (n_samples,)
            In X's namespace and on its device; all -1 (with a
            ``ConvergenceWarning``) when the fit found no exemplar.
        """
        check_is_fitted(self)
        X, xp, device = check_X(self, X, reset=False, accept_sparse=True)
        if not hasattr(self, "cluster_centers_"):
            msg = "Predict method is not supported when affinity='precomputed'."
            raise ValueError(msg)
        centres = self.cluster_centers_
        if is_sparse_input(centres):  # set by hand to a sparse matrix, as scikit-learn allows
            if hasattr(centres, "tocsr"):
                centres = centres.tocsr()
            rows, cxp = as_sparse_rows(centres, name="cluster_centers_")
            centres = prims.to_dense(rows, xp=cxp)
        check_same_backend(X, centres, where="AffinityPropagation.predict",
                           what="cluster_centers_")
        if centres.shape[0] > 0:
            labels, _ = prims.nearest_centre(X, xp.astype(centres, X.dtype), xp=xp)
            return labels
        warnings.warn(
            "This model does not have any cluster centers "
            "because affinity propagation did not converge. "
            "Labeling every sample as '-1'.",
            ConvergenceWarning,
            stacklevel=2,
        )
        return xp.full((X.shape[0],), -1, dtype=xp.int64, device=device)

    def fit_predict(self, X, y=None):
        """Fit, then return ``labels_``; see :meth:`fit`."""
        return self.fit(X).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.affinity == "precomputed"
        tags.input_tags.sparse = self.affinity != "precomputed"
        tags.array_api_support = True
        return tags
