"""The Gaussian mixture's EM loop, written once against the Array API.

Kernels for ``GaussianMixture`` (``_mixture.py``): the E-step and the
sufficient statistics of the M-step in one pass over row chunks (never an
``n_samples x n_components`` array beyond one chunk), the M-step on
``k x d x d`` arrays, and the loop, which reads one small array back per
iteration (the lower bound and the positive-definiteness flag).

Accuracy: the scatter of each component is accumulated around a shift (the
current means, which the E-step subtracts anyway) and corrected by the mean's
move, so there is no cancellation between ``sum r x x^T`` and ``n mu mu^T``.
Sums over chunks, covariances and their factors are held in the widest float
the device offers; the E-step runs in X's dtype.
"""

from __future__ import annotations

import dataclasses
import math

from ._backend import acc_dtype, chunk_rows, get_device, itemsize, row_chunks, to_numpy
from ._mixture_primitives import (
    NotPositiveDefinite,
    cholesky,
    logsumexp,
    precision_cholesky,
    solve_triangular,
)

__all__ = [
    "Mixture",
    "from_precisions",
    "from_responsibilities",
    "log_prob_chunks",
    "not_positive_definite_message",
    "run_em",
]

_LOG_2PI = math.log(2 * math.pi)


def not_positive_definite_message(dtype, xp) -> str:
    """scikit-learn's message when a covariance cannot be factored."""
    msg = (
        "Fitting the mixture model failed because some components have "
        "ill-defined empirical covariance (for instance caused by singleton "
        "or collapsed samples). Try to decrease the number of components, "
        "increase reg_covar, or scale the input data."
    )
    if dtype == xp.float32:
        msg += (
            " The numerical accuracy can also be improved by passing float64"
            " data instead of float32."
        )
    return msg


@dataclasses.dataclass(frozen=True)
class Mixture:
    """A mixture's parameters, on X's device, in the accumulation dtype.

    Shapes of ``covariances`` and ``prec_chol`` follow ``cov_type`` as in
    scikit-learn: (k, d, d) 'full', (d, d) 'tied', (k, d) 'diag', (k,)
    'spherical'.
    """

    cov_type: str
    weights: object
    means: object
    covariances: object
    prec_chol: object

    def log_det(self, xp):
        """log det of each component's precision Cholesky factor, shape (k,)."""
        pc, d = self.prec_chol, self.means.shape[1]
        if self.cov_type in ("full", "tied"):
            return xp.sum(xp.log(xp.linalg.diagonal(pc)), axis=-1)
        if self.cov_type == "diag":
            return xp.sum(xp.log(pc), axis=1)
        return d * xp.log(pc)

    def for_estep(self, dtype, xp):
        """(means, prec_chol, log_norm) in ``dtype``: what the E-step reads.

        ``log_norm[k] = log w_k + log det U_k - d/2 log(2 pi)``.
        """
        d = self.means.shape[1]
        log_norm = xp.log(self.weights) + self.log_det(xp) - 0.5 * d * _LOG_2PI
        return (xp.astype(self.means, dtype), xp.astype(self.prec_chol, dtype),
                xp.astype(log_norm, dtype))

    def precisions(self, xp):
        pc = self.prec_chol
        if self.cov_type in ("full", "tied"):
            return pc @ xp.matrix_transpose(pc)
        return pc * pc


def _rows_per_chunk(X, k, *, xp, device):
    d = X.shape[1]
    per_row = itemsize(xp, X.dtype) * (4 * k * d + 6 * k + d)
    return chunk_rows(X.shape[0], per_row, xp=xp, device=device)


def _weighted_log_prob(Xc, params, cov_type, *, xp):
    """``log w_k + log N(x | mu_k, Sigma_k)`` as (k, rows), and the rows' offsets
    from the means (k, rows, d), squared for 'diag' and 'spherical': what the
    scatter sums need."""
    means, pc, log_norm = params
    D = Xc[None, :, :] - means[:, None, :]
    if cov_type in ("full", "tied"):
        Y = D @ pc
        maha = xp.sum(Y * Y, axis=2)
    else:
        D = D * D
        if cov_type == "diag":
            maha = (D @ (pc * pc)[:, :, None])[:, :, 0]
        else:
            maha = xp.sum(D, axis=2) * (pc * pc)[:, None]
    return log_norm[:, None] - 0.5 * maha, D


def log_prob_chunks(X, mixture, *, xp, device):
    """``(start, stop, weighted log-prob (k, rows), log-likelihood (rows,))`` per chunk."""
    params = mixture.for_estep(X.dtype, xp)
    rows = _rows_per_chunk(X, params[0].shape[0], xp=xp, device=device)
    for a, b in row_chunks(X.shape[0], rows):
        wlp, _ = _weighted_log_prob(X[a:b, ...], params, mixture.cov_type, xp=xp)
        yield a, b, wlp, logsumexp(wlp, axis=0, xp=xp)


@dataclasses.dataclass
class _Stats:
    """Sums over rows: responsibilities R (k,), ``sum r x`` (k, d), and the
    scatter around ``shift`` (k, d, d) / (d, d) / (k, d), in ``acc``."""

    resp: object = 0.0
    first: object = 0.0
    scatter: object = 0.0
    loglik: object = 0.0

    def add(self, resp, Xc, D, *, cov_type, acc, xp):
        """Add a chunk: ``D`` as ``_weighted_log_prob`` gives it, or None for
        the first pass (R and ``sum r x`` only)."""
        self.resp = self.resp + xp.astype(xp.sum(resp, axis=1), acc)
        self.first = self.first + xp.astype(resp @ Xc, acc)
        if D is None:
            return
        if cov_type in ("full", "tied"):
            S = xp.matrix_transpose(resp[:, :, None] * D) @ D
            if cov_type == "tied":
                S = xp.sum(S, axis=0)
        else:
            S = (resp[:, None, :] @ D)[:, 0, :]
        self.scatter = self.scatter + xp.astype(S, acc)


def _m_step(stats, shift, *, cov_type, reg_covar, n_samples, dtype, normalize, xp):
    """Weights, means and covariances from the sums, in ``acc``.

    ``shift`` is where the scatter was taken (acc); ``normalize`` divides the
    weights by their sum (EM), else by ``n_samples`` (scikit-learn's first
    M-step from initial responsibilities).

    scikit-learn divides by ``nk = R + e`` (``e = 10 eps``) rather than R.
    The corrections below make each covariance equal, in exact arithmetic,
    to the formula scikit-learn evaluates for that type: the ``e`` terms
    decide whether a collapsed component is positive definite (a singleton
    gets ~eps * x^2 for 'diag', 0 for 'full'), as they do there.
    """
    R = stats.resp
    e = 10 * float(xp.finfo(dtype).eps)
    nk = R + e
    means = stats.first / nk[:, None]
    delta = means - shift
    d = means.shape[1]
    if cov_type == "full":
        # sum r (x - mu)(x - mu)^T / nk, mu = sum r x / nk
        dd = delta[:, :, None] * delta[:, None, :]
        sd = shift[:, :, None] * delta[:, None, :]
        cov = (stats.scatter - (nk + e)[:, None, None] * dd
               - e * (sd + xp.matrix_transpose(sd))) / nk[:, None, None]
    elif cov_type == "tied":
        # (sum x x^T - sum nk mu mu^T) / sum nk
        moved = xp.matrix_transpose(nk[:, None] * delta) @ delta
        cov = (stats.scatter - moved + e * (xp.matrix_transpose(shift) @ shift)) / xp.sum(nk)
    else:
        # sum r x^2 / nk - mu^2
        cov = stats.scatter / nk[:, None] - delta * delta + e * shift * shift / nk[:, None]
        if cov_type == "spherical":
            cov = xp.mean(cov, axis=1)
    if cov_type in ("full", "tied"):
        cov = cov + reg_covar * xp.eye(d, dtype=R.dtype, device=get_device(R))
    else:
        cov = cov + reg_covar
    weights = nk / (xp.sum(nk) if normalize else n_samples)
    return weights, means, cov


def _factor(cov, cov_type, *, dtype, xp):
    """Precision Cholesky factors of ``cov`` and a 0-d "not positive definite" flag."""
    if cov_type in ("full", "tied"):
        try:
            return precision_cholesky(cov, xp=xp)
        except NotPositiveDefinite as e:
            raise ValueError(not_positive_definite_message(dtype, xp)) from e
    positive = cov > 0
    pc = 1 / xp.sqrt(xp.where(positive, cov, xp.ones_like(cov)))
    return pc, xp.any(~positive)


def _check_factor(bad, dtype, xp):
    """Reads ``bad`` back (one sync): for the initial factors only."""
    if bool(to_numpy(xp.asarray(bad))):
        raise ValueError(not_positive_definite_message(dtype, xp))


def from_responsibilities(X, resp_of, n_components, *, n_samples, cov_type, reg_covar, xp,
                          device, weights=None, means=None, precisions=None):
    """The initial mixture from responsibilities, as scikit-learn's ``_initialize``.

    ``resp_of(a, b)`` gives the (k, b - a) responsibilities of rows a:b of X,
    the same on every call (it is called in two passes, each in row order:
    means, then the scatter around them). ``n_samples`` is the size of the
    data set (X may hold only the rows with nonzero responsibilities).
    ``weights``, ``means`` (acc arrays) and ``precisions`` (a ``Mixture``
    made by ``from_precisions``) replace what the responsibilities give, as
    the user's ``*_init`` do.
    """
    acc = acc_dtype(xp, device)
    n = X.shape[0]
    rows = _rows_per_chunk(X, n_components, xp=xp, device=device)
    first = _Stats()
    for a, b in row_chunks(n, rows):
        first.add(resp_of(a, b), X[a:b, ...], None, cov_type=cov_type, acc=acc, xp=xp)
    R = first.resp + 10 * xp.finfo(X.dtype).eps
    shift = xp.astype(xp.astype(first.first / R[:, None], X.dtype), acc)
    second = _Stats()
    shift_x = xp.astype(shift, X.dtype)
    for a, b in row_chunks(n, rows):
        Xc = X[a:b, ...]
        D = Xc[None, :, :] - shift_x[:, None, :]
        if cov_type in ("diag", "spherical"):
            D = D * D
        second.add(resp_of(a, b), Xc, D, cov_type=cov_type, acc=acc, xp=xp)
    w, mu, cov = _m_step(second, shift, cov_type=cov_type, reg_covar=reg_covar,
                         n_samples=n_samples, dtype=X.dtype, normalize=False, xp=xp)
    w = w if weights is None else weights
    mu = mu if means is None else means
    if precisions is not None:
        return dataclasses.replace(precisions, weights=w, means=mu)
    pc, bad = _factor(cov, cov_type, dtype=X.dtype, xp=xp)
    _check_factor(bad, X.dtype, xp)
    return Mixture(cov_type, w, mu, cov, pc)


def from_precisions(precisions, weights, means, *, cov_type, dtype, xp):
    """A mixture from user precisions (acc arrays), as scikit-learn's
    ``_compute_precision_cholesky_from_precisions``; covariances are their inverses."""
    if cov_type in ("full", "tied"):
        flipped = xp.flip(precisions, axis=(-2, -1))
        try:
            L, bad = cholesky(flipped, xp=xp)
        except NotPositiveDefinite as e:
            raise ValueError(not_positive_definite_message(dtype, xp)) from e
        _check_factor(bad, dtype, xp)
        pc = xp.flip(L, axis=(-2, -1))
        d = pc.shape[-1]
        eye = xp.eye(d, dtype=pc.dtype, device=get_device(pc))
        inv = solve_triangular(pc, eye, lower=False, xp=xp)  # U^-1
        cov = xp.matrix_transpose(inv) @ inv
    else:
        pc = xp.sqrt(precisions)
        cov = 1 / precisions
    return Mixture(cov_type, weights, means, cov, pc)


def _em_step(X, mixture, *, reg_covar, acc, xp, device):
    """One E-step + M-step pass: (new mixture, sum of log-likelihoods, bad flag)."""
    params = mixture.for_estep(X.dtype, xp)
    rows = _rows_per_chunk(X, params[0].shape[0], xp=xp, device=device)
    stats = _Stats()
    for a, b in row_chunks(X.shape[0], rows):
        Xc = X[a:b, ...]
        wlp, D = _weighted_log_prob(Xc, params, mixture.cov_type, xp=xp)
        lse = logsumexp(wlp, axis=0, xp=xp)
        stats.loglik = stats.loglik + xp.sum(xp.astype(lse, acc))
        resp = xp.exp(wlp - lse[None, :])
        stats.add(resp, Xc, D, cov_type=mixture.cov_type, acc=acc, xp=xp)
    shift = xp.astype(params[0], acc)
    w, mu, cov = _m_step(stats, shift, cov_type=mixture.cov_type, reg_covar=reg_covar,
                         n_samples=X.shape[0], dtype=X.dtype, normalize=True, xp=xp)
    pc, bad = _factor(cov, mixture.cov_type, dtype=X.dtype, xp=xp)
    return Mixture(mixture.cov_type, w, mu, cov, pc), stats.loglik, bad


def run_em(X, mixture, *, lower_bound, reg_covar, tol, max_iter, xp, device,
           on_iteration=None):
    """EM iterations from ``mixture`` until the lower bound moves less than ``tol``.

    Returns ``(mixture, lower_bound, lower_bounds, converged, n_iter)`` as
    scikit-learn's loop defines them: the lower bound of iteration i is the
    mean log-likelihood under the parameters before its M-step. Per
    iteration one array of two numbers comes back to the host.
    """
    acc = acc_dtype(xp, device)
    n = X.shape[0]
    lower_bounds = []
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        prev = lower_bound
        new, loglik, bad = _em_step(X, mixture, reg_covar=reg_covar, acc=acc, xp=xp,
                                    device=device)
        loglik, bad = to_numpy(xp.stack([loglik, xp.astype(bad, acc)]))
        if bad:
            raise ValueError(not_positive_definite_message(X.dtype, xp))
        mixture = new
        lower_bound = float(loglik) / n
        lower_bounds.append(lower_bound)
        change = lower_bound - prev
        if on_iteration is not None:
            on_iteration(n_iter, change)
        if abs(change) < tol:
            converged = True
            break
    return mixture, lower_bound, lower_bounds, converged, n_iter
