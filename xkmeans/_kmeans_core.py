"""The restarts of a k-means fit on validated arrays, without scikit-learn.

``KMeans`` validates its input and parameters with scikit-learn's helpers and
then runs what is here: centring and the tolerance's scale, restarts and the
choice of the best run. ``ArrayKMeans`` runs the same on an array its caller
has already checked (the pixels a palette is fitted on), so that colour
quantization on a GPU never imports scikit-learn (about 1-2 s of start-up).
Both follow the protocol ``_kmeans_batch.fit_many`` batches.
"""

from __future__ import annotations

import dataclasses
import warnings

from ._backend import acc_dtype, check_random_state, get_device, get_namespace
from ._init import kmeans_plusplus
from ._lloyd import lloyd, same_clustering
from ._primitives import row_sq_norms

__all__ = ["ArrayKMeans"]


@dataclasses.dataclass(frozen=True)
class Prepared:
    """One fit's validated inputs, shared by its restarts."""

    X: object  # centred (dense), unit rows (cosine) or as given (sparse)
    w: object  # sample weights or None
    init: object  # the init parameter, an array centred like X
    init_w: object  # weights the init draws with
    x_sq: object  # squared row norms of X
    tol: float  # scaled by the data's variance
    X_mean: object  # what was subtracted, or None
    zero: object  # cosine: the all-zero rows, else None
    n_init: int
    rng: object
    xp: object
    device: object


def centred(X, *, xp, acc):
    """``(X - mean, mean)``, the mean summed in ``acc`` and cast to X's dtype."""
    mean = xp.astype(xp.sum(X, axis=0, dtype=acc) / X.shape[0], X.dtype)
    return X - mean, mean


def scaled_tol(tol, X, x_sq=None, *, xp, acc):
    """``tol`` times the mean variance of the features of dense X (scikit-learn's
    scale). For centred X, from its row norms ``x_sq``: the mean of |x|^2 less
    the squared norm of the (rounding-sized) remaining mean, without a float64
    copy of X."""
    if tol == 0:
        return 0.0
    n, d = X.shape
    if x_sq is None:
        return float(xp.mean(xp.var(xp.astype(X, acc), axis=0))) * tol
    mean = xp.sum(X, axis=0, dtype=acc) / n
    total = xp.sum(x_sq, dtype=acc) / n - xp.sum(mean * mean)
    return max(float(total), 0.0) / d * tol


def warn_few_clusters(labels, n_clusters, *, xp, stacklevel):
    """scikit-learn's warning when fewer distinct labels than clusters came out."""
    distinct = xp.unique_values(labels).shape[0]
    if distinct < n_clusters:
        from sklearn.exceptions import ConvergenceWarning  # only now: a slow import

        warnings.warn(
            f"Number of distinct clusters ({distinct}) found smaller than "
            f"n_clusters ({n_clusters}). Possibly due to duplicate points in X.",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )


class RestartsMixin:
    """``n_init`` runs of the loop from fresh initial centres; the best kept."""

    def _loop(self, prep):
        """The Lloyd loop this fit runs."""
        return lloyd

    def _restarts(self, prep):
        """The best of ``n_init`` runs ``(labels, inertia, centres, n_iter)``."""
        best = None
        for _ in range(prep.n_init):
            run = self._run(prep, self._initial_centres(prep))
            best = self._keep_best(best, run, xp=prep.xp)
        return best

    def _run(self, prep, centres):
        """One run of the loop from ``centres``: ``(labels, inertia, centres, n_iter)``."""
        return self._loop(prep)(
            prep.X, prep.w, centres, x_sq=prep.x_sq, max_iter=self.max_iter, tol=prep.tol,
            verbose=self.verbose, xp=prep.xp, spherical=prep.zero is not None)

    def _keep_best(self, best, run, *, xp):
        """The better of two runs ``(labels, inertia, centres, n_iter)``, as
        scikit-learn keeps it: a later run only if its inertia is lower and
        its clustering differs."""
        if best is None or (
            run[1] < best[1] and not same_clustering(run[0], best[0], self.n_clusters, xp=xp)
        ):
            return run
        return best


class ArrayKMeans(RestartsMixin):
    """K-means++ and Lloyd's loop on a dense float array already checked by the
    caller (finite, 2-D, at least ``n_clusters`` rows): what ``KMeans`` with the
    same parameters computes from it, without scikit-learn.

    Sets ``cluster_centers_``, ``labels_``, ``inertia_`` and ``n_iter_``.
    """

    verbose = 0

    def __init__(self, n_clusters, *, random_state, n_init=1, max_iter=300, tol=1e-4):
        self.n_clusters, self.random_state = n_clusters, random_state
        self.n_init, self.max_iter, self.tol = n_init, max_iter, tol

    def _validate_params(self):
        """Parameters are the caller's (checked before)."""

    def fit(self, X):
        prep = self._prepare(X, None)
        return self._finish(prep, self._restarts(prep))

    def _prepare(self, X, sample_weight):
        xp, device = get_namespace(X), get_device(X)
        if X.shape[0] < self.n_clusters:
            msg = f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}."
            raise ValueError(msg)
        acc = acc_dtype(xp, device)
        X, mean = centred(X, xp=xp, acc=acc)
        x_sq = row_sq_norms(X, xp=xp)
        return Prepared(X, sample_weight, "k-means++", sample_weight, x_sq,
                        scaled_tol(self.tol, X, x_sq, xp=xp, acc=acc), mean, None,
                        self.n_init, check_random_state(self.random_state), xp, device)

    def _initial_centres(self, prep):
        centres, _ = kmeans_plusplus(prep.X, self.n_clusters, x_sq=prep.x_sq,
                                     weights=prep.init_w, rng=prep.rng, xp=prep.xp)
        return centres

    def _finish(self, prep, best):
        labels, inertia, centres, n_iter = best
        warn_few_clusters(labels, self.n_clusters, xp=prep.xp, stacklevel=3)
        self.cluster_centers_ = centres + prep.X_mean
        self.labels_, self.inertia_, self.n_iter_ = labels, inertia, n_iter
        return self
