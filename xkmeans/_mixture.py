"""GaussianMixture: validation, initialisation and restarts around the EM loop."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._backend import (
    acc_dtype,
    check_random_state,
    chunk_rows,
    get_device,
    get_namespace,
    itemsize,
    row_chunks,
    to_numpy,
)
from ._gaussian_em import (
    Mixture,
    from_precisions,
    from_responsibilities,
    log_prob_chunks,
    run_em,
)
from ._init import kmeans_plusplus
from ._kmeans import KMeans
from ._mixture_primitives import NotPositiveDefinite, cholesky
from ._validation import _beside, check_finite, check_same_backend, check_test_data, check_X

__all__ = ["GaussianMixture"]

_PRECISION_SHAPES = {
    "full": lambda k, d: (k, d, d),
    "tied": lambda k, d: (d, d),
    "diag": lambda k, d: (k, d),
    "spherical": lambda k, d: (k,),
}


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by expectation-maximisation, on any Array API backend.

    Each sample is modelled as drawn from one of ``n_components`` Gaussians
    with its own weight, mean and covariance. EM alternates between the
    posterior probability of each component for each sample (E-step) and the
    weights, means and covariances that best explain them (M-step), until the
    mean log-likelihood (the lower bound) moves less than ``tol``. Unlike
    k-means, components may be stretched and tilted ('full' covariances),
    and the model's likelihood gives BIC and AIC for choosing their number.
    Constructor, attributes and semantics follow
    :class:`sklearn.mixture.GaussianMixture`.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'full': each component has its own covariance matrix; 'tied': all
        share one; 'diag': each has its own diagonal covariance; 'spherical':
        each has its own single variance.
    tol : float, default=1e-3
        Convergence threshold: EM stops when the lower bound (mean
        log-likelihood per sample) changes by less than this.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of covariances, so
        that they stay positive definite.
    max_iter : int, default=100
        Number of EM iterations per initialisation (0: only initialise).
    n_init : int, default=1
        Number of initialisations; the one with the highest lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
default='kmeans'
        How initial responsibilities are drawn: 'kmeans' from the labels of
        :class:`xkmeans.KMeans` (``n_init=1``); 'k-means++' from k-means++
        seeds; 'random' uniformly at random; 'random_from_data' from
        ``n_components`` random samples.
    weights_init : array of shape (n_components,), default=None
        Initial weights (same library and device as X, or a list).
    means_init : array of shape (n_components, n_features), default=None
        Initial means.
    precisions_init : array, default=None
        Initial precisions (inverse covariances), of shape (n_components,)
        'spherical', (n_features, n_features) 'tied', (n_components,
        n_features) 'diag' or (n_components, n_features, n_features) 'full'.
    random_state : int, numpy.random.Generator, RandomState or None, default=None
        Seeds the one host random generator used for the initialisation and
        for :meth:`sample`; the same seed gives the same result on every backend.
    warm_start : bool, default=False
        When True, each ``fit`` starts from the previous solution (and
        ``n_init`` is ignored after the first).
    verbose : int, default=0
        1 prints the initialisation and iteration numbers; 2 also the change
        of the lower bound and the time taken.
    verbose_interval : int, default=10
        Iterations between two printed lines.

    Attributes
    ----------
    weights_ : array of shape (n_components,)
        Weight of each component.
    means_ : array of shape (n_components, n_features)
        Mean of each component.
    covariances_ : array
        Covariance of each component, shaped as ``precisions_init``.
    precisions_ : array
        Inverse of each covariance, same shape.
    precisions_cholesky_ : array
        Upper-triangular ``U`` with ``U @ U.T == precisions_`` (square roots
        for 'diag' and 'spherical'), same shape.
    converged_ : bool
        True when the best initialisation converged.
    n_iter_ : int
        EM iterations run by the best initialisation.
    lower_bound_ : float
        Lower bound (mean log-likelihood) reached by the best initialisation.
    lower_bounds_ : list of float
        Lower bound at each iteration of the best initialisation.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features, when X has string column names (pandas).

    See Also
    --------
    KMeans : hard assignments to round clusters; the default initialisation.
    choose_k : score a range of ``n_components`` by BIC or AIC.
    sklearn.mixture.GaussianMixture : the reference implementation.

    Notes
    -----
    Tested on NumPy, array-api-strict (several devices, float32-only ones
    included) and PyTorch on the CPU; CuPy and PyTorch CUDA run the same
    code where a GPU is present. Given the same ``weights_init``,
    ``means_init`` and ``precisions_init``, the fitted parameters, lower
    bound, BIC and AIC are scikit-learn's to 1e-6 relative in float64.

    All array work stays on X's device, in row chunks sized from
    ``xkmeans.set_config(working_memory=...)``: no ``n_samples x
    n_components`` array is held during ``fit`` (``predict_proba`` returns
    one, as asked). Per EM iteration one array of two numbers comes back to
    the host (the lower bound and whether a covariance failed to factor).
    Random draws are made on the host from one ``numpy.random.Generator``:
    uniform responsibilities ('random') travel to the device chunk by chunk,
    :meth:`sample` draws standard normals on the host and transforms them on
    the device.

    Covariances, their Cholesky factors and the sums behind them are
    computed in the widest float the device offers (float64 where there is
    one); the E-step runs in X's dtype, and the fitted attributes are in X's
    dtype. Triangular solves, which the Array API standard lacks, run
    SciPy's, PyTorch's or CuPy's where available, else a portable
    substitution.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> sorted(gm.means_.round(6).tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> labels = gm.predict(np.array([[0, 0], [12, 3]]))
    >>> bool(labels[0] != labels[1])
    True
    >>> gm.bic(X) < GaussianMixture(n_components=1).fit(X).bic(X)  # two groups, not one
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state", np.random.Generator],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # --- fitting -------------------------------------------------------------

    def fit(self, X, y=None):
        """Estimate the model's parameters with the EM algorithm.

        Runs ``n_init`` initialisations (one with ``warm_start`` after the
        first fit) and keeps the one with the highest lower bound; warns
        with ``ConvergenceWarning`` when it did not converge.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Training data: a NumPy, CuPy, PyTorch or other Array API array
            (or anything NumPy converts); at least 2 samples and
            ``n_components`` samples.
        y : Ignored

        Returns
        -------
        self : GaussianMixture
            Fitted estimator.
        """
        self._fit(X)
        return self

    def fit_predict(self, X, y=None):
        """Fit, then return the most probable component of each sample.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        labels : integer array of shape (n_samples,)
            In X's namespace and on its device; equal to ``fit(X).predict(X)``.
        """
        X = self._fit(X)
        return self._predict(X)

    def _fit(self, X):
        self._validate_params()
        X, xp, device = check_X(self, X, reset=True, min_samples=2)
        n, k = X.shape[0], self.n_components
        if n < k:
            msg = (
                "Expected n_samples >= n_components but got "
                f"n_components = {k}, n_samples = {n}"
            )
            raise ValueError(msg)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        start = None if do_init else self._fitted_mixture(X, xp, acc_dtype(xp, device))
        user = self._user_parameters(X, xp, device) if do_init else None
        rng = check_random_state(self.random_state)

        best, max_lower_bound = None, -math.inf
        for init in range(self.n_init if do_init else 1):
            self._print_init_begin(init)
            mixture = self._initial_mixture(X, rng, user, xp, device) if do_init else start
            lower_bound = -math.inf if do_init else self.lower_bound_
            if self.max_iter == 0:
                best = (mixture, 0, [], False)
                continue
            mixture, lower_bound, lower_bounds, converged, n_iter = run_em(
                X, mixture, lower_bound=lower_bound, reg_covar=self.reg_covar, tol=self.tol,
                max_iter=self.max_iter, xp=xp, device=device,
                on_iteration=self._print_iteration if self.verbose else None,
            )
            self._print_init_end(lower_bound, converged)
            if lower_bound > max_lower_bound or max_lower_bound == -math.inf:
                max_lower_bound = lower_bound
                best = (mixture, n_iter, lower_bounds, converged)

        mixture, n_iter, lower_bounds, converged = best
        if not converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._set_attributes(mixture, X.dtype, xp)
        self.converged_ = converged
        self.n_iter_ = n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = lower_bounds
        return X

    def _initial_mixture(self, X, rng, user, xp, device):
        weights, means, precisions = user
        if weights is not None and means is not None and precisions is not None:
            return dataclasses.replace(precisions, weights=weights, means=means)
        Xr, resp_of = self._initial_responsibilities(X, rng, xp, device)
        return from_responsibilities(
            Xr, resp_of, self.n_components, n_samples=X.shape[0],
            cov_type=self.covariance_type, reg_covar=self.reg_covar, xp=xp, device=device,
            weights=weights, means=means, precisions=precisions,
        )

    def _initial_responsibilities(self, X, rng, xp, device):
        """(rows, resp_of): the rows with nonzero responsibilities and a function
        giving those of rows a:b as a (n_components, b - a) array."""
        k, n = self.n_components, X.shape[0]
        if self.init_params == "kmeans":
            labels = KMeans(n_clusters=k, n_init=1, random_state=rng).fit(X).labels_
            groups = xp.arange(k, device=device)[:, None]
            return X, lambda a, b: xp.astype(labels[a:b][None, :] == groups, X.dtype)
        if self.init_params == "random":
            state = rng.bit_generator.state

            def resp_of(a, b):
                if a == 0:  # each pass over the rows replays the same draws
                    rng.bit_generator.state = state
                u = rng.uniform(size=(b - a, k))
                u /= u.sum(axis=1, keepdims=True)
                return xp.asarray(u.T.copy(), dtype=X.dtype, device=device)

            return X, resp_of
        if self.init_params == "random_from_data":
            idx = xp.asarray(rng.choice(n, size=k, replace=False), device=device)
            rows = xp.take(X, idx, axis=0)
        else:  # 'k-means++'
            rows, _ = kmeans_plusplus(X, k, x_sq=xp.sum(X * X, axis=1), weights=None,
                                      rng=rng, xp=xp)
        eye = xp.eye(k, dtype=X.dtype, device=device)
        return rows, lambda a, b: eye[:, a:b]

    def _user_parameters(self, X, xp, device, n_components=None):
        """weights_init, means_init, precisions_init checked as scikit-learn does,
        as (acc weights, acc means, Mixture from the precisions); None where not given."""
        k, d = n_components or self.n_components, X.shape[1]
        acc = acc_dtype(xp, device)
        weights = means = precisions = None
        if self.weights_init is not None:
            w = self._host_param(self.weights_init, X, xp, device, "weights_init")
            _check_shape(w, (k,), "weights")
            if np.any(w < 0.0) or np.any(w > 1.0):
                msg = (
                    # scikit-learn's exact words, its two values included in this order.
                    "The parameter 'weights' should be in the range [0, 1], but got "
                    f"max value {w.min():.5f}, min value {w.max():.5f}"
                )
                raise ValueError(msg)
            atol = 1e-6 if X.dtype == xp.float32 else 1e-8
            if not np.allclose(abs(1.0 - w.sum()), 0.0, atol=atol):
                msg = (
                    "The parameter 'weights' should be normalized, but got "
                    f"sum(weights) = {w.sum():.5f}"
                )
                raise ValueError(msg)
            weights = self._on_device(w, X, xp, device, acc)
        if self.means_init is not None:
            m = self._host_param(self.means_init, X, xp, device, "means_init")
            _check_shape(m, (k, d), "means")
            means = self._on_device(m, X, xp, device, acc)
        if self.precisions_init is not None:
            cov_type = self.covariance_type
            p = self._host_param(self.precisions_init, X, xp, device, "precisions_init")
            _check_shape(p, _PRECISION_SHAPES[cov_type](k, d), f"{cov_type} precision")
            _check_precisions(p, cov_type)
            precisions = from_precisions(
                self._on_device(p, X, xp, device, acc), None, None,
                cov_type=cov_type, dtype=X.dtype, xp=xp,
            )
        return weights, means, precisions

    @staticmethod
    def _host_param(value, X, xp, device, name):
        a = _beside(value, X, xp=xp, device=device)
        if not (xp.isdtype(a.dtype, "real floating") or xp.isdtype(a.dtype, "integral")):
            msg = f"{name} must be an array of real numbers, got dtype {a.dtype}."
            raise TypeError(msg)
        check_finite(a, xp=xp, what=name)
        return np.asarray(to_numpy(a), dtype=np.float64)

    @staticmethod
    def _on_device(a, X, xp, device, acc):
        # Rounded to X's dtype first, as scikit-learn's checks cast them to it.
        host = a.astype(np.float32 if X.dtype == xp.float32 else np.float64)
        return xp.astype(xp.asarray(host, device=device), acc)

    def _fitted_mixture(self, X, xp, acc):
        check_is_fitted(self)
        check_same_backend(X, self.means_, where=type(self).__name__, what="means_")
        return Mixture(
            self.covariance_type,
            *(xp.astype(a, acc) for a in (self.weights_, self.means_, self.covariances_,
                                         self.precisions_cholesky_)),
        )

    # scikit-learn's private hooks, kept so that code (and tests) written
    # against its GaussianMixture internals run unchanged.
    def _initialize(self, X, resp):
        """Parameters from responsibilities ``resp`` (n_samples, n_components), with
        the user's ``*_init`` taking precedence, as scikit-learn's ``_initialize``."""
        X, xp, device = check_X(self, X, reset=False)
        resp = _beside(resp, X, xp=xp, device=device)
        resp_t = xp.astype(xp.matrix_transpose(resp), X.dtype)
        k = resp_t.shape[0]
        weights, means, precisions = self._user_parameters(X, xp, device, n_components=k)
        mixture = from_responsibilities(
            X, lambda a, b: resp_t[:, a:b], k, n_samples=X.shape[0],
            cov_type=self.covariance_type, reg_covar=self.reg_covar, xp=xp, device=device,
            weights=weights, means=means, precisions=precisions,
        )
        self._set_attributes(mixture, X.dtype, xp)

    def _set_parameters(self, params):
        """Set ``(weights, means, covariances, precisions_cholesky)``, as scikit-learn's."""
        weights, means, covariances, prec_chol = params
        xp = get_namespace(means)
        dtype = means.dtype
        self._set_attributes(Mixture(self.covariance_type, weights, means, covariances,
                                     prec_chol), dtype, xp)

    def _set_attributes(self, mixture, dtype, xp):
        self.weights_ = xp.astype(mixture.weights, dtype)
        self.means_ = xp.astype(mixture.means, dtype)
        self.covariances_ = xp.astype(mixture.covariances, dtype)
        self.precisions_cholesky_ = xp.astype(mixture.prec_chol, dtype)
        self.precisions_ = xp.astype(mixture.precisions(xp), dtype)

    # --- inference -----------------------------------------------------------

    def _check_test_data(self, X, method):
        return check_test_data(self, X, method, fitted="means_")

    def _chunks(self, X):
        xp, device = get_namespace(X), get_device(X)
        mixture = self._fitted_mixture(X, xp, acc_dtype(xp, device))
        return log_prob_chunks(X, mixture, xp=xp, device=device), xp

    def _predict(self, X):
        chunks, xp = self._chunks(X)
        parts = [xp.argmax(wlp, axis=0) for _, _, wlp, _ in chunks]
        return parts[0] if len(parts) == 1 else xp.concat(parts)

    def predict(self, X):
        """Most probable component of each sample.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Same array library and device as the data the model was fitted on.

        Returns
        -------
        labels : integer array of shape (n_samples,)
            In X's namespace and on its device.
        """
        X, _, _ = self._check_test_data(X, "predict")
        return self._predict(X)

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        resp : array of shape (n_samples, n_components)
            Rows sum to 1; in X's namespace, device and dtype.
        """
        X, _, _ = self._check_test_data(X, "predict_proba")
        chunks, xp = self._chunks(X)
        parts = [xp.matrix_transpose(xp.exp(wlp - lse[None, :])) for _, _, wlp, lse in chunks]
        return parts[0] if len(parts) == 1 else xp.concat(parts)

    def score_samples(self, X):
        """Log-likelihood of each sample under the model.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        log_prob : array of shape (n_samples,)
            In X's namespace, device and dtype.
        """
        X, _, _ = self._check_test_data(X, "score_samples")
        chunks, xp = self._chunks(X)
        parts = [lse for _, _, _, lse in chunks]
        return parts[0] if len(parts) == 1 else xp.concat(parts)

    def score(self, X, y=None):
        """Mean log-likelihood per sample of X under the model.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        log_likelihood : float
            Summed in the widest float the device offers.
        """
        X, _, _ = self._check_test_data(X, "score")
        return self._mean_log_likelihood(X)

    def _mean_log_likelihood(self, X):
        chunks, xp = self._chunks(X)
        acc = acc_dtype(xp, get_device(X))
        total = sum(xp.sum(xp.astype(lse, acc)) for _, _, _, lse in chunks)
        return float(to_numpy(xp.asarray(total))) / X.shape[0]

    def _n_parameters(self):
        """Number of free parameters of the model."""
        d, k = self.means_.shape[1], self.n_components
        cov_params = {
            "full": k * d * (d + 1) / 2.0,
            "diag": k * d,
            "tied": d * (d + 1) / 2.0,
            "spherical": k,
        }[self.covariance_type]
        return int(cov_params + d * k + k - 1)

    def bic(self, X):
        """Bayesian information criterion of the model on X (lower is better).

        ``-2 * log-likelihood + n_parameters * log(n_samples)``.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        bic : float
        """
        X, _, _ = self._check_test_data(X, "bic")
        n = X.shape[0]
        return -2 * self._mean_log_likelihood(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X):
        """Akaike information criterion of the model on X (lower is better).

        ``-2 * log-likelihood + 2 * n_parameters``.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        aic : float
        """
        X, _, _ = self._check_test_data(X, "aic")
        return -2 * self._mean_log_likelihood(X) * X.shape[0] + 2 * self._n_parameters()

    def sample(self, n_samples=1):
        """Draw random samples from the fitted mixture.

        Component counts (multinomial) and standard normal draws come from
        a host generator seeded by ``random_state`` (so a seed gives the
        same samples on every backend); they are moved to the device once
        and transformed there.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to draw.

        Returns
        -------
        X : array of shape (n_samples, n_features)
            Samples, grouped by component, in the fitted namespace, device and dtype.
        y : integer array of shape (n_samples,)
            Component of each sample (ascending).
        """
        check_is_fitted(self)
        if n_samples < 1:
            msg = (
                f"Invalid value for 'n_samples': {n_samples} . The sampling requires at "
                "least one sample."
            )
            raise ValueError(msg)
        xp, device = get_namespace(self.means_), get_device(self.means_)
        dtype, acc = self.means_.dtype, acc_dtype(xp, device)
        k, d = self.means_.shape
        rng = check_random_state(self.random_state)
        w = np.asarray(to_numpy(self.weights_), dtype=np.float64)
        counts = rng.multinomial(n_samples, w / w.sum())
        z = xp.asarray(rng.standard_normal(size=(n_samples, d)), dtype=dtype, device=device)
        y = xp.asarray(np.repeat(np.arange(k), counts), device=device)
        scale = self._sampling_scale(xp, acc, dtype)
        rows = chunk_rows(n_samples, itemsize(xp, dtype) * (d * d + 3 * d),
                          xp=xp, device=device)
        parts = []
        for a, b in row_chunks(n_samples, rows):
            zc, yc = z[a:b, ...], y[a:b]
            if self.covariance_type == "full":
                step = (xp.take(scale, yc, axis=0) @ zc[:, :, None])[:, :, 0]
            elif self.covariance_type == "tied":
                step = zc @ xp.matrix_transpose(scale)
            elif self.covariance_type == "diag":
                step = zc * xp.take(scale, yc, axis=0)
            else:
                step = zc * xp.take(scale, yc, axis=0)[:, None]
            parts.append(xp.take(self.means_, yc, axis=0) + step)
        return (parts[0] if len(parts) == 1 else xp.concat(parts)), y

    def _sampling_scale(self, xp, acc, dtype):
        """Square roots of the covariances: Cholesky factors, or standard deviations."""
        cov = xp.astype(self.covariances_, acc)
        if self.covariance_type in ("full", "tied"):
            try:
                L, _ = cholesky(cov, xp=xp)
            except NotPositiveDefinite as e:
                msg = "covariances_ is not positive definite; refit the model."
                raise ValueError(msg) from e
            return xp.astype(L, dtype)
        return xp.astype(xp.sqrt(cov), dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags

    # --- verbose output (scikit-learn's lines) -------------------------------

    def _print_init_begin(self, init):
        if self.verbose >= 1:
            print(f"Initialization {init}")
        if self.verbose >= 2:
            self._init_prev_time = self._iter_prev_time = time.time()

    def _print_iteration(self, n_iter, change):
        if n_iter % self.verbose_interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        elif self.verbose >= 2:
            now = time.time()
            print(f"  Iteration {n_iter}\t time lapse {now - self._iter_prev_time:.5f}s"
                  f"\t ll change {change:.5f}")
            self._iter_prev_time = now

    def _print_init_end(self, lower_bound, converged):
        status = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {status}.")
        elif self.verbose >= 2:
            t = time.time() - self._init_prev_time
            print(f"Initialization {status}. time lapse {t:.5f}s\t lower bound "
                  f"{lower_bound:.5f}.")


def _check_shape(param, shape, name):
    if param.shape != tuple(shape):
        msg = (
            f"The parameter '{name}' should have the shape of {tuple(shape)}, "
            f"but got {param.shape}"
        )
        raise ValueError(msg)


def _check_precisions(p, cov_type):
    """scikit-learn's checks: positive entries, or symmetric positive-definite matrices."""
    if cov_type in ("diag", "spherical"):
        if np.any(p <= 0.0):
            msg = f"'{cov_type} precision' should be positive"
            raise ValueError(msg)
        return
    mats = p[None] if cov_type == "tied" else p
    for m in mats:
        if not (np.allclose(m, m.T) and np.all(np.linalg.eigvalsh(m) > 0.0)):
            msg = f"'{cov_type} precision' should be symmetric, positive-definite"
            raise ValueError(msg)
