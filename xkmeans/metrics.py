"""Scores of a clustering without ground truth, on any Array API backend.

``silhouette_samples``, ``silhouette_score``, ``calinski_harabasz_score`` and
``davies_bouldin_score`` with scikit-learn's definitions and signatures
(:mod:`sklearn.metrics`). Pairwise distances are computed in row chunks
sized from ``xkmeans.set_config(working_memory=...)``, never as an
``n_samples x n_samples`` matrix; sums are accumulated in the widest float
the device offers. X and labels stay on their device; the scores come back
as Python floats (one readback), ``silhouette_samples`` as an array in X's
namespace and device.
"""

from __future__ import annotations

import math
from numbers import Integral

import array_api_compat
import numpy as np
from sklearn.utils import check_array

from ._backend import (
    acc_dtype,
    check_random_state,
    chunk_rows,
    get_device,
    get_namespace,
    is_array,
    itemsize,
    row_chunks,
    to_numpy,
)
from ._config import get_config
from ._primitives import grouped_sum, sq_distances
from ._validation import _beside, check_finite

__all__ = [
    "calinski_harabasz_score",
    "davies_bouldin_score",
    "silhouette_samples",
    "silhouette_score",
]

_METRICS = ("euclidean", "precomputed")


# --- validation --------------------------------------------------------------

def _check_X(X, *, what="X"):
    """X as a 2-D real float array of its library, on its device: ``(X, xp, device)``."""
    if not is_array(X) or isinstance(X, np.ndarray):
        X = check_array(X, dtype=[np.float64, np.float32], input_name=what)
        xp = array_api_compat.array_namespace(X)
        return X, xp, get_device(X)
    xp, device = get_namespace(X), get_device(X)
    if X.ndim != 2:
        msg = f"Expected 2D array, got {X.ndim}D array instead: shape={tuple(X.shape)}."
        raise ValueError(msg)
    if not xp.isdtype(X.dtype, "real floating") or X.dtype not in (xp.float32, xp.float64):
        if xp.isdtype(X.dtype, "complex floating"):
            msg = f"Complex data not supported: got {X.dtype}."
            raise ValueError(msg)
        from ._backend import default_float

        X = xp.astype(X, default_float(xp, device))
    if X.shape[0] < 1 or X.shape[1] < 1:
        msg = f"Found array with shape {tuple(X.shape)}: at least one sample and feature needed."
        raise ValueError(msg)
    check_finite(X, xp=xp, what=what)
    return X, xp, device


def _encode(labels, X, *, xp, device):
    """Labels as codes 0..L-1 on X's device: ``(codes, n_labels)``.

    Labels that are an array must share X's library and device; lists and
    other sequences are converted (strings too, on NumPy).
    """
    n = X.shape[0]
    if array_api_compat.is_numpy_namespace(xp) and not is_array(labels):
        labels = np.asarray(labels)
    if isinstance(labels, np.ndarray) and array_api_compat.is_numpy_namespace(xp):
        if labels.ndim != 1 and not (labels.ndim == 2 and labels.shape[1] == 1):
            msg = f"labels should be a 1d array, got an array of shape {labels.shape} instead."
            raise ValueError(msg)
        labels = labels.reshape(-1)
        _check_lengths(n, labels.shape[0])
        values, codes = np.unique(labels, return_inverse=True)
        return codes.reshape(-1), values.shape[0]
    labels = _beside(labels, X, xp=xp, device=device)
    if labels.ndim != 1:
        msg = f"labels should be a 1d array, got an array of shape {tuple(labels.shape)} instead."
        raise ValueError(msg)
    _check_lengths(n, labels.shape[0])
    values, codes = xp.unique_inverse(labels)
    return xp.astype(codes, xp.int64), int(values.shape[0])


def _check_lengths(n, m):
    if n != m:
        msg = f"Found input variables with inconsistent numbers of samples: [{n}, {m}]"
        raise ValueError(msg)


def _check_number_of_labels(n_labels, n_samples):
    if not 1 < n_labels < n_samples:
        msg = (
            f"Number of labels is {n_labels}. Valid values are 2 to n_samples - 1 "
            "(inclusive)"
        )
        raise ValueError(msg)


def _check_metric(metric):
    if metric not in _METRICS:
        msg = (
            f"metric={metric!r} is not supported: xkmeans.metrics computes 'euclidean' "
            "distances, or takes metric='precomputed' distances. For other metrics use "
            "sklearn.metrics on NumPy arrays."
        )
        raise ValueError(msg)


def _check_precomputed(D, *, xp):
    n, m = D.shape
    if n != m:
        msg = f"A precomputed distance matrix must be square, got shape {(n, m)}."
        raise ValueError(msg)
    diag = xp.reshape(D, (-1,))[:: n + 1]
    atol = float(xp.finfo(D.dtype).eps) * 100
    if bool(to_numpy(xp.asarray(xp.any(xp.abs(diag) > atol)))):
        msg = (
            "The precomputed distance matrix contains non-zero elements on the "
            "diagonal. Use np.fill_diagonal(X, 0)."
        )
        raise ValueError(msg)


def _prepare(X, labels, metric):
    _check_metric(metric)
    X, xp, device = _check_X(X)
    if metric == "precomputed":
        _check_precomputed(X, xp=xp)
    codes, n_labels = _encode(labels, X, xp=xp, device=device)
    if not is_array(codes) or isinstance(codes, np.ndarray):
        codes = xp.asarray(codes, device=device)
    return X, codes, n_labels, xp, device


# --- silhouette --------------------------------------------------------------

def _distance_rows(Xc, X, x_sq, start, *, xp):
    """Euclidean distances from rows start.. (Xc) to every row of X, self-distance 0."""
    m = Xc.shape[0]
    d = xp.sqrt(sq_distances(Xc, X, xp=xp, x_sq=x_sq[start:start + m], c_sq=x_sq))
    # The diagonal lies in the square block of columns start..start+m.
    block = d[:, start:start + m]
    eye = xp.eye(m, dtype=xp.bool, device=get_device(X))
    d[:, start:start + m] = xp.where(eye, xp.zeros_like(block), block)
    return d


def _silhouette(X, codes, n_labels, metric, *, xp, device):
    n = X.shape[0]
    _check_number_of_labels(n_labels, n)
    acc = acc_dtype(xp, device)
    ones = xp.ones((n, 1), dtype=acc, device=device)
    counts = grouped_sum(ones, codes, None, n_labels, xp=xp)[1]
    if metric == "euclidean":
        # Centred: |x|^2 - 2 x.y + |y|^2 loses less to cancellation.
        X = X - xp.astype(xp.mean(xp.astype(X, acc), axis=0), X.dtype)
        x_sq = xp.sum(X * X, axis=1)
    groups = xp.arange(n_labels, device=device)
    # Distances summed per cluster as one matrix product with the (n, n_labels)
    # one-hot matrix when it is small beside the budget (a BLAS call instead of
    # a scatter over a transposed chunk), else by grouped sums.
    onehot = None
    if n * n_labels * itemsize(xp, acc) <= get_config()["working_memory"] * 2**20 // 8:
        onehot = xp.astype(codes[:, None] == groups[None, :], acc)
    per_row = itemsize(xp, acc) * (3 * n + 4 * n_labels)
    rows = chunk_rows(n, per_row, xp=xp, device=device)
    sil = []
    for a, b in row_chunks(n, rows):
        if metric == "euclidean":
            D = _distance_rows(X[a:b, ...], X, x_sq, a, xp=xp)
        else:
            D = X[a:b, ...]
        if onehot is not None:
            S = xp.astype(D, acc, copy=False) @ onehot
        else:  # (n_labels, rows) -> (rows, n_labels)
            S = xp.matrix_transpose(grouped_sum(xp.matrix_transpose(D), codes, None, n_labels,
                                                xp=xp)[0])
        own = codes[a:b][:, None] == groups[None, :]
        n_own = xp.sum(xp.where(own, counts[None, :], xp.zeros_like(S)), axis=1) - 1
        intra = xp.sum(xp.where(own, S, xp.zeros_like(S)), axis=1)
        intra = intra / xp.where(n_own > 0, n_own, xp.ones_like(n_own))
        inter = xp.min(xp.where(own, xp.full_like(S, math.inf), S / counts[None, :]), axis=1)
        top = xp.maximum(intra, inter)
        s = (inter - intra) / xp.where(top > 0, top, xp.ones_like(top))
        # Singletons score 0, as do samples with a = b = 0 (scikit-learn's nan_to_num).
        sil.append(xp.where((n_own > 0) & (top > 0), s, xp.zeros_like(s)))
    return sil[0] if len(sil) == 1 else xp.concat(sil)


def silhouette_samples(X, labels, *, metric="euclidean"):
    """Silhouette coefficient of each sample.

    For a sample, ``a`` is its mean distance to the other samples of its
    cluster and ``b`` the mean distance to the samples of the nearest other
    cluster; its coefficient is ``(b - a) / max(a, b)``, between -1 and 1
    (0 for a cluster of one sample). As :func:`sklearn.metrics.silhouette_samples`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or (n_samples, n_samples) \
if ``metric='precomputed'``
        Samples (or pairwise distances): NumPy, CuPy, PyTorch or any Array
        API array, or anything NumPy converts.
    labels : array of shape (n_samples,)
        Cluster of each sample, any values (2 to ``n_samples - 1`` distinct
        ones). An array must share X's library and device.
    metric : {'euclidean', 'precomputed'}, default='euclidean'
        Distances between samples; 'precomputed' takes X as the distance
        matrix (zero diagonal).

    Returns
    -------
    silhouette : array of shape (n_samples,)
        In X's namespace, device and floating dtype (accumulated in the
        widest float the device offers).

    See Also
    --------
    silhouette_score : their mean, optionally on a random subset.

    Notes
    -----
    Costs ``n_samples^2 * n_features`` operations, in row chunks of
    distances (``xkmeans.set_config(working_memory=...)``): memory stays
    bounded for any ``n_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans.metrics import silhouette_samples
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    >>> silhouette_samples(X, [0, 0, 1, 1, 1]).round(3).tolist()
    [0.909, 0.9, 0.842, 0.905, 0.87]
    """
    X, codes, n_labels, xp, device = _prepare(X, labels, metric)
    sil = _silhouette(X, codes, n_labels, metric, xp=xp, device=device)
    return xp.astype(sil, X.dtype)


def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None):
    """Mean silhouette coefficient of all samples, or of a random subset.

    As :func:`sklearn.metrics.silhouette_score`: 1 is best, near 0 means
    overlapping clusters, negative values samples in the wrong cluster.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or (n_samples, n_samples) \
if ``metric='precomputed'``
        Samples or pairwise distances.
    labels : array of shape (n_samples,)
        Cluster of each sample.
    metric : {'euclidean', 'precomputed'}, default='euclidean'
        See :func:`silhouette_samples`.
    sample_size : int, default=None
        Score this many samples, drawn without replacement (distances to
        the other drawn samples only), which costs ``sample_size^2`` instead
        of ``n_samples^2``. None scores all samples.
    random_state : int, numpy.random.Generator, RandomState or None, default=None
        Seeds the draw when ``sample_size`` is given: the first
        ``sample_size`` entries of a host ``numpy.random.Generator``
        permutation (so not scikit-learn's subset for the same int seed, but
        the same one on every backend).

    Returns
    -------
    silhouette : float

    See Also
    --------
    silhouette_samples : one coefficient per sample.
    choose_k : scores a range of k by silhouette (and other criteria).

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans.metrics import silhouette_score
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    >>> round(silhouette_score(X, [0, 0, 1, 1, 1]), 4)
    0.8851
    """
    if sample_size is not None and (
        not isinstance(sample_size, Integral) or isinstance(sample_size, bool) or sample_size < 1
    ):
        msg = f"sample_size={sample_size!r} should be None or an int >= 1."
        raise ValueError(msg)
    X, codes, n_labels, xp, device = _prepare(X, labels, metric)
    if sample_size is not None:
        rng = check_random_state(random_state)
        idx = xp.asarray(rng.permutation(X.shape[0])[:sample_size], device=device)
        X = xp.take(X, idx, axis=0)
        if metric == "precomputed":
            X = xp.take(X, idx, axis=1)
        # Re-encode: the subset may lack some clusters.
        values, codes = xp.unique_inverse(xp.take(codes, idx))
        codes, n_labels = xp.astype(codes, xp.int64), int(values.shape[0])
    sil = _silhouette(X, codes, n_labels, metric, xp=xp, device=device)
    return float(to_numpy(xp.asarray(xp.mean(sil))))


# --- Calinski-Harabasz and Davies-Bouldin ------------------------------------

def _centroids(X, codes, n_labels, *, xp, device):
    """Cluster means and sizes, in the accumulation dtype."""
    _check_number_of_labels(n_labels, X.shape[0])
    sums, counts = grouped_sum(X, codes, None, n_labels, xp=xp)
    return sums / counts[:, None], counts


def _per_sample_to_centroid(X, codes, centroids, *, xp, device, squared):
    """Distance (or its square) of each sample to its cluster's centroid, by chunks."""
    acc = centroids.dtype
    rows = chunk_rows(X.shape[0], 3 * X.shape[1] * itemsize(xp, acc), xp=xp, device=device)
    for a, b in row_chunks(X.shape[0], rows):
        diff = xp.astype(X[a:b, ...], acc) - xp.take(centroids, codes[a:b], axis=0)
        d2 = xp.sum(diff * diff, axis=1)
        yield a, b, d2 if squared else xp.sqrt(d2)


def calinski_harabasz_score(X, labels):
    """Calinski-Harabasz score: between-cluster over within-cluster dispersion.

    ``B (n - k) / (W (k - 1))`` with ``B`` the size-weighted squared
    distances of cluster means to the overall mean and ``W`` the squared
    distances of samples to their cluster mean; higher is better. As
    :func:`sklearn.metrics.calinski_harabasz_score` (1.0 when ``W`` is 0).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    labels : array of shape (n_samples,)
        Cluster of each sample (2 to ``n_samples - 1`` distinct values).

    Returns
    -------
    score : float

    See Also
    --------
    davies_bouldin_score, silhouette_score

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans.metrics import calinski_harabasz_score
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    >>> round(calinski_harabasz_score(X, [0, 0, 1, 1, 1]), 4)
    158.76
    """
    X, codes, n_labels, xp, device = _prepare(X, labels, "euclidean")
    centroids, counts = _centroids(X, codes, n_labels, xp=xp, device=device)
    n = X.shape[0]
    mean = xp.sum(centroids * counts[:, None], axis=0) / n
    extra = xp.sum(counts * xp.sum((centroids - mean) ** 2, axis=1))
    intra = sum(xp.sum(d2) for _, _, d2 in _per_sample_to_centroid(
        X, codes, centroids, xp=xp, device=device, squared=True))
    extra, intra = (float(v) for v in to_numpy(xp.stack([extra, xp.asarray(intra)])))
    if intra == 0.0:
        return 1.0
    return extra * (n - n_labels) / (intra * (n_labels - 1.0))


def davies_bouldin_score(X, labels):
    """Davies-Bouldin score: mean over clusters of the worst similarity ratio.

    For clusters i and j, ``(s_i + s_j) / d_ij`` with ``s`` the mean
    distance of a cluster's samples to its centroid and ``d_ij`` the
    distance between centroids; each cluster takes its largest ratio, and
    the score is their mean. Lower is better, 0 the minimum. As
    :func:`sklearn.metrics.davies_bouldin_score`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    labels : array of shape (n_samples,)
        Cluster of each sample (2 to ``n_samples - 1`` distinct values).

    Returns
    -------
    score : float

    See Also
    --------
    calinski_harabasz_score, silhouette_score

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans.metrics import davies_bouldin_score
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    >>> round(davies_bouldin_score(X, [0, 0, 1, 1, 1]), 4)
    0.1111
    """
    X, codes, n_labels, xp, device = _prepare(X, labels, "euclidean")
    centroids, counts = _centroids(X, codes, n_labels, xp=xp, device=device)
    acc = centroids.dtype
    intra = xp.zeros((n_labels,), dtype=acc, device=device)
    for a, b, dist in _per_sample_to_centroid(X, codes, centroids, xp=xp, device=device,
                                              squared=False):
        intra = intra + grouped_sum(dist[:, None], codes[a:b], None, n_labels, xp=xp)[0][:, 0]
    intra = intra / counts
    # Centroid distances (n_labels x n_labels), from differences, in row chunks.
    rows = chunk_rows(n_labels, 2 * n_labels * centroids.shape[1] * itemsize(xp, acc),
                      xp=xp, device=device)
    worst, far = [], []
    for a, b in row_chunks(n_labels, rows):
        diff = centroids[a:b, None, :] - centroids[None, :, :]
        cd = xp.sqrt(xp.sum(diff * diff, axis=2))
        far.append(xp.any(cd > 1e-8))
        ratio = (intra[a:b, None] + intra[None, :]) / xp.where(cd == 0, xp.full_like(cd, math.inf),
                                                               cd)
        worst.append(xp.max(ratio, axis=1))
    worst = worst[0] if len(worst) == 1 else xp.concat(worst)
    flags = xp.stack([xp.astype(xp.any(xp.abs(intra) > 1e-8), acc),
                      xp.astype(xp.any(xp.stack(far)), acc), xp.mean(worst)])
    spread, separated, score = (float(v) for v in to_numpy(flags))
    if not spread or not separated:
        return 0.0
    return score
