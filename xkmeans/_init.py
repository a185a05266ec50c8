"""Initial centres: greedy k-means++, random rows, explicit arrays, callables.

Randomness flows host -> device: uniforms come from one host
``numpy.random.Generator`` and are scaled on the device, so a seed picks the
same rows on every backend and nothing is read back per candidate.
"""

from __future__ import annotations

import math

import numpy as np

from ._backend import acc_dtype, chunk_rows, get_device, itemsize, row_chunks
from ._config import get_config
from ._primitives import sq_distances, take_rows, to_dense
from ._sparse import is_sparse


def _weighted_pick(cum, u, *, xp, device):
    """Indices where host uniforms ``u`` (scaled by the total) fall in ``cum``."""
    total = cum[-1]
    targets = xp.asarray(u, dtype=cum.dtype, device=device) * total
    idx = xp.searchsorted(cum, targets)
    # (minimum, not clip: clip's checks cost more than the pick at small n)
    return xp.minimum(idx, xp.asarray(cum.shape[0] - 1, dtype=idx.dtype, device=device))


def _cumsum(v, *, xp, acc):
    return xp.cumulative_sum(xp.astype(v, acc))


def _first_index(n, weights, rng, *, xp, device, acc):
    # One uniform either way, so that integer weights pick the same point as
    # repeated rows would (the unweighted case is the cumsum of ones).
    u = rng.random(1)
    if weights is None:
        return xp.asarray([min(int(u[0] * n), n - 1)], device=device)
    return _weighted_pick(_cumsum(weights, xp=xp, acc=acc), u, xp=xp, device=device)


def kmeans_plusplus(X, n_clusters, *, x_sq, weights, rng, xp, n_local_trials=None):
    """Greedy k-means++ (D^2 sampling with local trials), as scikit-learn does it.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_clusters : int
    x_sq : array of shape (n_samples,)
        Squared row norms of X.
    weights : array of shape (n_samples,) or None
    rng : numpy.random.Generator
    n_local_trials : int, optional
        Candidates tried per centre; ``2 + int(log(n_clusters))`` by default.

    Returns
    -------
    centres : array of shape (n_clusters, n_features)
    indices : integer array of shape (n_clusters,)
        Rows of X chosen as centres.
    """
    n = X.shape[0]
    device = get_device(X)
    acc = acc_dtype(xp, device)
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    w = None if weights is None else xp.astype(weights, acc)
    first = _first_index(n, weights, rng, xp=xp, device=device, acc=acc)
    chosen = [first]
    closest = _dist_to(X, x_sq, _rows(X, first, xp=xp), xp=xp)[:, 0]
    rows = chunk_rows(n, 3 * n_local_trials * itemsize(xp, X.dtype), xp=xp, device=device)
    budget = get_config()["working_memory"] * 2**20
    # The candidates' distances are kept (n x n_local_trials, as scikit-learn
    # does) so that the chosen one's column updates ``closest`` without a
    # second pass over X; beyond half the memory budget they are recomputed.
    keep = n * n_local_trials * itemsize(xp, X.dtype) <= budget // 2
    # Fewer rows than the steps' candidates (k-means|| candidates): every
    # distance once, then each step is a handful of small operations instead
    # of a product per step.
    table = None
    small = n <= (n_clusters - 1) * n_local_trials
    if small and n * n * itemsize(xp, X.dtype) <= budget // 8 and not is_sparse(X):
        table = _dist_to(X, x_sq, X, xp=xp)
    for _ in range(1, n_clusters):
        weighted = closest if w is None else xp.astype(closest, acc) * w
        cand = _weighted_pick(
            _cumsum(weighted, xp=xp, acc=acc), rng.random(n_local_trials), xp=xp, device=device
        )
        if table is not None:
            d = xp.minimum(xp.take(table, cand, axis=0), closest[None, :])
            pots = xp.sum(xp.astype(d, acc) if w is None else xp.astype(d, acc) * w, axis=1)
            best = xp.reshape(xp.argmin(pots), (1,))
            chosen.append(xp.reshape(xp.take(cand, best), (1,)))
            closest = xp.take(d, best, axis=0)[0, :]
            continue
        cand_X = _rows(X, cand, xp=xp)
        # Potential of each candidate: sum of w * min(closest, d(x, candidate)).
        pots = xp.zeros((n_local_trials,), dtype=acc, device=device)
        kept = []
        for a, b in row_chunks(n, rows):
            d = xp.minimum(sq_distances(X[a:b, ...], cand_X, xp=xp, x_sq=x_sq[a:b]),
                           closest[a:b, None])
            if keep:
                kept.append(d)
            d = xp.astype(d, acc)
            if w is not None:
                d = d * w[a:b, None]
            pots = pots + xp.sum(d, axis=0)
        best = xp.reshape(xp.argmin(pots), (1,))
        best_idx = xp.reshape(xp.take(cand, best), (1,))
        chosen.append(best_idx)
        if keep:
            closest = xp.concat([xp.take(d, best, axis=1)[:, 0] for d in kept])
        else:
            closest = xp.minimum(
                closest, _dist_to(X, x_sq, _rows(X, best_idx, xp=xp), xp=xp)[:, 0]
            )
    indices = xp.concat(chosen)
    return _rows(X, indices, xp=xp), indices


def _rows(X, idx, *, xp):
    """Rows ``idx`` of X as a dense array (X may be sparse)."""
    return to_dense(take_rows(X, idx, xp=xp), xp=xp)


def _dist_to(X, x_sq, C, *, xp):
    """Squared distances (n, m) from every row to a few centres, chunked."""
    n = X.shape[0]
    rows = chunk_rows(n, 3 * C.shape[0] * itemsize(xp, X.dtype), xp=xp, device=get_device(X))
    parts = [sq_distances(X[a:b, ...], C, xp=xp, x_sq=x_sq[a:b]) for a, b in row_chunks(n, rows)]
    return parts[0] if len(parts) == 1 else xp.concat(parts)


def random_rows(X, n_clusters, *, weights, rng, xp):
    """``n_clusters`` distinct rows, drawn with probability proportional to weight.

    Unweighted draws happen entirely on the host. Weighted draws use
    Efraimidis-Spirakis keys ``log(u) / w`` (host uniforms, device keys) and
    keep the ``n_clusters`` largest.
    """
    n = X.shape[0]
    device = get_device(X)
    if weights is None:
        idx = rng.choice(n, size=n_clusters, replace=False)
        indices = xp.asarray(idx, device=device)
    else:
        acc = acc_dtype(xp, device)
        u = xp.asarray(rng.random(n), dtype=acc, device=device)
        w = xp.astype(weights, acc)
        keys = xp.where(w > 0, xp.log(u) / xp.where(w > 0, w, 1), -xp.inf)
        indices = xp.argsort(keys, descending=True, stable=True)[:n_clusters]
    return _rows(X, indices, xp=xp), indices


def legacy_random_state(rng: np.random.Generator) -> np.random.RandomState:
    """A RandomState for user callables written for scikit-learn's ``init``."""
    return np.random.RandomState(int(rng.integers(np.iinfo(np.int32).max)))
