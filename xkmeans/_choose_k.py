"""choose_k: score a range of cluster counts with one criterion and pick one."""

from __future__ import annotations

import dataclasses
import math
from numbers import Integral

from ._backend import check_random_state
from ._kmeans import KMeans
from ._mixture import GaussianMixture
from .metrics import (
    _check_X,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

__all__ = ["KChoice", "choose_k"]

# method -> (estimator, how the best score is chosen, label of the score)
_METHODS = {
    "silhouette": ("kmeans", "max", "silhouette (higher is better)"),
    "calinski_harabasz": ("kmeans", "max", "Calinski-Harabasz (higher is better)"),
    "davies_bouldin": ("kmeans", "min", "Davies-Bouldin (lower is better)"),
    "inertia": ("kmeans", "elbow", "inertia (elbow)"),
    "bic": ("gmm", "min", "BIC (lower is better)"),
    "aic": ("gmm", "min", "AIC (lower is better)"),
}


@dataclasses.dataclass(frozen=True, repr=False)
class KChoice:
    """What :func:`choose_k` found: one row per k, and the k it picks.

    Attributes
    ----------
    method : str
        The criterion ('silhouette', 'calinski_harabasz', 'davies_bouldin',
        'inertia', 'bic' or 'aic').
    ks : tuple of int
        The numbers of clusters tried, ascending.
    scores : tuple of float
        The criterion for each k.
    best_k : int
        The chosen k: best score, or the elbow for 'inertia'.
    elbow : int or None
        The elbow of the score curve (the k farthest below the straight
        line from the first to the last score, both axes scaled to [0, 1]);
        computed for 'inertia', 'bic' and 'aic', None for the others.
    extra : dict of str to tuple of float
        Other per-k numbers the fits gave for free: ``inertia`` for k-means
        criteria, ``bic`` and ``aic`` for mixture criteria.
    best_estimator : KMeans or GaussianMixture
        The estimator fitted with ``best_k``.
    """

    method: str
    ks: tuple
    scores: tuple
    best_k: int
    elbow: int | None
    extra: dict
    best_estimator: object

    def as_dict(self) -> dict:
        """The table as ``{column: list}``: 'k', the method, then the extra columns.

        ``pandas.DataFrame(result.as_dict())`` makes it a data frame.
        """
        table = {"k": list(self.ks), self.method: list(self.scores)}
        table.update({name: list(values) for name, values in self.extra.items()
                      if name != self.method})
        return table

    def __repr__(self) -> str:
        table = self.as_dict()
        names = list(table)
        cells = [[_fmt(v) for v in table[name]] for name in names]
        widths = [max(len(name), *(len(c) for c in col)) for name, col in zip(names, cells)]
        lines = [f"KChoice(method={self.method!r}, best_k={self.best_k}"
                 + (f", elbow={self.elbow}" if self.elbow is not None else "") + ")"]
        lines.append("    " + "  ".join(n.rjust(w) for n, w in zip(names, widths)))
        for i, k in enumerate(self.ks):
            mark = " *  " if k == self.best_k else "    "
            lines.append(mark + "  ".join(col[i].rjust(w) for col, w in zip(cells, widths)))
        return "\n".join(lines)

    def plot(self, ax=None):
        """Draw the score against k and mark the chosen k (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure's axes when None.

        Returns
        -------
        ax : matplotlib Axes
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:
            msg = (
                "KChoice.plot() needs matplotlib, which is not installed: "
                "pip install 'xkmeans[plot]'"
            )
            raise ImportError(msg) from e
        if ax is None:
            _, ax = plt.subplots()
        ax.plot(self.ks, self.scores, marker="o")
        best = self.scores[self.ks.index(self.best_k)]
        ax.axvline(self.best_k, color="tab:red", linestyle="--", linewidth=1)
        ax.plot([self.best_k], [best], marker="o", color="tab:red",
                label=f"chosen k = {self.best_k}")
        ax.set_xlabel("number of clusters k")
        ax.set_ylabel(_METHODS[self.method][2])
        ax.set_xticks(list(self.ks))
        ax.legend()
        return ax


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def choose_k(X, ks=range(2, 11), *, method="silhouette", random_state=None,
             estimator_params=None, sample_size=10_000):
    """Fit one model per number of clusters and pick the best by one criterion.

    The helper to reach for first when k is unknown. For each k in ``ks``
    it fits :class:`KMeans` (criteria 'silhouette', 'calinski_harabasz',
    'davies_bouldin', 'inertia') or :class:`GaussianMixture` ('bic',
    'aic'), scores it, and returns a table-like :class:`KChoice` that
    prints as a table, converts to a dict (and so to a pandas DataFrame)
    and plots.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        NumPy, CuPy, PyTorch or any Array API array (or anything NumPy
        converts); every fit and score runs on its device.
    ks : iterable of int, default=range(2, 11)
        Numbers of clusters to try (sorted, duplicates dropped). At least
        2 for the k-means criteria other than 'inertia'; at most n_samples.
    method : {'silhouette', 'calinski_harabasz', 'davies_bouldin', \
'inertia', 'bic', 'aic'}, default='silhouette'
        'silhouette' (higher is better; k-means labels scored by
        :func:`xkmeans.metrics.silhouette_score`), 'calinski_harabasz'
        (higher is better), 'davies_bouldin' (lower is better),
        'inertia' (k-means inertia, which always falls as k grows: the
        chosen k is the elbow of the curve), 'bic' and 'aic' (a
        Gaussian mixture's information criteria, lower is better; BIC
        penalises parameters more and tends to choose fewer components).
    random_state : int, numpy.random.Generator, RandomState or None, default=None
        Seeds every fit (an int gives each k the same seed) and the
        silhouette subsample.
    estimator_params : dict, default=None
        More parameters for the estimator, e.g. ``{'n_init': 5}`` for
        KMeans or ``{'covariance_type': 'diag'}`` for GaussianMixture.
    sample_size : int or None, default=10_000
        'silhouette' only: score this many random samples (the same ones
        for every k), since the silhouette costs ``n_samples^2``; None
        scores all.

    Returns
    -------
    result : KChoice
        ``result.best_k`` is the chosen k; ``result.ks``,
        ``result.scores`` the table (``result.as_dict()``), ``result.elbow``
        the elbow of the curve for 'inertia', 'bic', 'aic';
        ``result.best_estimator`` the model fitted with ``best_k``;
        ``result.plot()`` draws the curve (needs matplotlib:
        ``pip install 'xkmeans[plot]'``).

    See Also
    --------
    KMeans, GaussianMixture
    xkmeans.metrics.silhouette_score : the default criterion.

    Notes
    -----
    No single criterion is right for all data. Silhouette, Calinski-Harabasz
    and Davies-Bouldin favour compact, well separated, round clusters (what
    k-means finds); BIC and AIC measure how well a mixture of Gaussians,
    possibly stretched ones, explains the data; the inertia elbow is a
    visual rule of thumb. Fits are independent, so their cost adds up:
    one k-means or mixture fit per k, plus the score.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import choose_k
    >>> rng = np.random.default_rng(0)
    >>> centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]])
    >>> X = np.concatenate([c + rng.normal(size=(50, 2)) for c in centres])
    >>> result = choose_k(X, range(2, 7), method="silhouette", random_state=0)
    >>> result.best_k
    4
    >>> result.best_estimator.cluster_centers_.shape
    (4, 2)
    >>> choose_k(X, range(1, 7), method="bic", random_state=0).best_k
    4
    >>> choose_k(X, range(1, 9), method="inertia", random_state=0).elbow
    4
    >>> sorted(result.as_dict())
    ['inertia', 'k', 'silhouette']
    """
    if method not in _METHODS:
        msg = (f"method={method!r} should be one of "
               f"{', '.join(map(repr, _METHODS))}.")
        raise ValueError(msg)
    kind, rule, _ = _METHODS[method]
    X = _check_X(X)[0]
    n = X.shape[0]
    ks = _check_ks(ks, n, method)
    if sample_size is not None and (not isinstance(sample_size, Integral) or sample_size < 2):
        msg = f"sample_size={sample_size!r} should be None or an int >= 2."
        raise ValueError(msg)
    params = dict(estimator_params or {})
    # An int seeds every fit alike; a Generator (or None) gives each its own draws.
    rng = check_random_state(random_state)
    seed = random_state if _is_int(random_state) else rng
    subsample_seed = int(rng.integers(2**31 - 1)) if seed is rng else random_state

    scores, extra, fitted = [], {}, {}
    for k in ks:
        if kind == "kmeans":
            est = KMeans(n_clusters=k, random_state=seed, **params).fit(X)
            labels = est.labels_
            extra.setdefault("inertia", []).append(float(est.inertia_))
            if method == "silhouette":
                size = None if sample_size is None or sample_size >= n else sample_size
                score = silhouette_score(X, labels, sample_size=size,
                                         random_state=subsample_seed)
            elif method == "calinski_harabasz":
                score = calinski_harabasz_score(X, labels)
            elif method == "davies_bouldin":
                score = davies_bouldin_score(X, labels)
            else:
                score = float(est.inertia_)
        else:
            est = GaussianMixture(n_components=k, random_state=seed, **params).fit(X)
            loglik = est.score(X) * n
            bic = -2 * loglik + est._n_parameters() * math.log(n)
            aic = -2 * loglik + 2 * est._n_parameters()
            extra.setdefault("bic", []).append(bic)
            extra.setdefault("aic", []).append(aic)
            score = bic if method == "bic" else aic
        scores.append(float(score))
        fitted[k] = est

    elbow = _elbow(ks, scores) if method in ("inertia", "bic", "aic") else None
    if rule == "elbow":
        best_k = elbow
    else:
        pick = max if rule == "max" else min
        best_k = ks[scores.index(pick(scores))]
    return KChoice(method, tuple(ks), tuple(scores), best_k, elbow,
                   {name: tuple(v) for name, v in extra.items()}, fitted[best_k])


def _check_ks(ks, n, method):
    try:
        given = list(ks)
    except TypeError as e:
        msg = f"ks={ks!r} should be an iterable of ints, e.g. range(2, 11)."
        raise TypeError(msg) from e
    values = sorted({int(k) for k in given if _is_int(k)})
    bad = [k for k in given if not _is_int(k)]
    low = 1 if method in ("inertia", "bic", "aic") else 2
    high = n if method in ("inertia", "bic", "aic") else n - 1
    if bad or not values or values[0] < low or values[-1] > high:
        msg = (
            f"ks={ks!r} should hold ints from {low} to {high} for method={method!r} "
            f"and n_samples={n}."
        )
        raise ValueError(msg)
    if method == "inertia" and len(values) < 3:
        msg = f"method='inertia' needs at least 3 values of k to find an elbow, got ks={values}."
        raise ValueError(msg)
    return values


def _is_int(k) -> bool:
    return isinstance(k, Integral) and not isinstance(k, bool)


def _elbow(ks, scores):
    """The k farthest below the chord from the first to the last point, both axes
    scaled to [0, 1] (the "kneedle" rule for a falling, flattening curve)."""
    if len(ks) < 3:
        return None
    lo, hi = min(scores), max(scores)
    span = (hi - lo) or 1.0
    first, last = (scores[0] - lo) / span, (scores[-1] - lo) / span
    best, best_gap = None, -math.inf
    for k, s in zip(ks, scores):
        x = (k - ks[0]) / (ks[-1] - ks[0])
        gap = first + (last - first) * x - (s - lo) / span
        if gap > best_gap:
            best, best_gap = k, gap
    return best

