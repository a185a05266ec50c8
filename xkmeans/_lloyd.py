"""One run of Lloyd's EM loop on validated, centred data (array math only).

The estimator (``_kmeans.py``) owns validation, randomness and restarts;
this module owns the iterations. Each iteration reads back one small array
of statistics: the number of changed labels, the centre shift and the
number of empty clusters (a second readback follows only when a cluster
is empty). Backends with a fused E+M step (NumPy) run it instead of the two
primitives.
"""

from __future__ import annotations

from ._backend import acc_dtype, get_device, to_numpy
from ._primitives import (
    fused_lloyd_step,
    grouped_sum,
    has_identical_rows,
    kernel_scope,
    lloyd_plan,
    nearest_centre,
    sparse_assigned_sq_distances,
)
from ._sparse import is_sparse
from ._spherical import unit_centres


def weighted_total(v, weights, *, xp, acc):
    """sum(w * v) accumulated in ``acc`` (a device scalar)."""
    v = xp.astype(v, acc)
    return xp.sum(v if weights is None else v * xp.astype(weights, acc))


def _relocate_empty(X, weights, labels, dist2, sums, counts, *, xp):
    """Move each empty cluster to one of the points farthest from its centre.

    As scikit-learn does: the farthest points (by distance to their current
    centre) leave their clusters and seed the empty ones. The sums are
    recomputed from the relabelled points rather than corrected by
    subtraction, so no cluster is left with a rounding residue (fixed-point
    GPU sums are scaled to the rows they are given).
    """
    if float(xp.max(dist2)) == 0:
        # Every point sits on its centre: more clusters than distinct points.
        # Relocating is pointless, and scikit-learn skips it.
        return sums, counts
    n_groups = counts.shape[0]
    empty = xp.nonzero(counts == 0)[0]
    far = xp.argsort(dist2, descending=True, stable=True)[: empty.shape[0]]
    order = xp.argsort(far)
    far_sorted = xp.take(far, order)
    rows = xp.arange(labels.shape[0], dtype=far.dtype, device=get_device(labels))
    pos = xp.clip(xp.searchsorted(far_sorted, rows), max=far.shape[0] - 1)
    moved = xp.take(far_sorted, pos) == rows
    target = xp.take(xp.astype(empty, labels.dtype), xp.take(order, pos))
    return grouped_sum(X, xp.where(moved, target, labels), weights, n_groups, xp=xp)


def refill_empty(X, weights, labels, centres, *, x_sq, xp, spherical=False, dist2=None,
                 sums=None, counts=None):
    """An iteration's new centres when a cluster came out empty, and their
    squared shift (float): the farthest points seed the empty clusters.

    ``labels`` are the iteration's (nearest of ``centres``); ``dist2``, ``sums``
    and ``counts`` are recomputed when not given (a device plan gives none).
    """
    if sums is None:
        _, dist2 = nearest_centre(X, centres, xp=xp, x_sq=x_sq)
        sums, counts = grouped_sum(X, labels, weights, centres.shape[0], xp=xp)
    sums, counts = _relocate_empty(X, weights, labels, dist2, sums, counts, xp=xp)
    new = _means(sums, counts, X.dtype, xp=xp)
    if spherical:
        new = unit_centres(new, centres, xp=xp)
    acc = acc_dtype(xp, get_device(X))
    return new, float(xp.sum(xp.astype(new - centres, acc) ** 2))


def iteration_stats(labels, labels_old, new, centres, counts, *, xp, acc):
    """What a device plan reports of an iteration, as an ``acc`` array: [changed
    labels (all of them on the first), squared centre shift, empty clusters]."""
    device = get_device(new)
    if labels_old is None:
        changed = xp.asarray(float(labels.shape[0]), dtype=acc, device=device)
    else:
        changed = xp.asarray(xp.count_nonzero(labels != labels_old), dtype=acc, device=device)
    shift = xp.sum(xp.astype(new - centres, acc) ** 2)
    return xp.stack([changed, shift, xp.sum(xp.astype(counts == 0, acc))])


def _means(sums, counts, dtype, *, xp):
    """Sums divided by weights; a cluster still empty takes the centre of the
    heaviest cluster (the first of them), as scikit-learn's ``_average_centers``."""
    safe = xp.where(counts > 0, counts, xp.ones_like(counts))
    means = sums / safe[:, None]
    heaviest = xp.take(means, xp.reshape(xp.argmax(counts), (1,)), axis=0)
    return xp.astype(xp.where((counts > 0)[:, None], means, heaviest), dtype)


def converged(stats, tol, i, *, verbose):
    """``(done, strict)`` from an iteration's read-back ``[changed, shift, ...]``:
    scikit-learn's tests, strict (no label changed) first, then shift <= tol."""
    if stats[0] == 0:
        if verbose:
            print(f"Converged at iteration {i}: strict convergence.")
        return True, True
    if stats[1] <= tol:
        if verbose:
            print(f"Converged at iteration {i}: center shift {stats[1]} within tolerance {tol}.")
        return True, False
    return False, False


def lloyd(X, weights, centres, *, x_sq, max_iter, tol, verbose, xp, spherical=False):
    """Run Lloyd's algorithm from ``centres`` until convergence.

    Stops on strict convergence (no label changed) or when the squared
    centre shift is ``<= tol`` (already scaled by the data's variance), as
    scikit-learn's ``_kmeans_single_lloyd`` does, then re-assigns so that
    labels match the returned centres. ``spherical``: X's rows are unit (or
    zero) vectors and each new centre is scaled back onto the unit sphere
    (cosine k-means, see ``_spherical``).

    Returns
    -------
    labels, inertia (float), centres, n_iter (int)
    """
    with kernel_scope(xp, get_device(X)):  # host kernels' settings once per run
        return _lloyd(X, weights, centres, x_sq=x_sq, max_iter=max_iter, tol=tol,
                      verbose=verbose, xp=xp, spherical=spherical)


def _lloyd(X, weights, centres, *, x_sq, max_iter, tol, verbose, xp, spherical):
    device = get_device(X)
    acc = acc_dtype(xp, device)
    k = centres.shape[0]
    fused = fused_lloyd_step(xp, device, X=X)
    # GPU arrays: CUDA kernels, a few launches and one readback per iteration.
    plan = lloyd_plan(X, weights, k, xp=xp, device=device) if fused is None else None
    if fused is not None and weights is None:
        weights_or_ones = xp.ones((X.shape[0],), dtype=X.dtype, device=device)
    else:
        weights_or_ones = weights
    labels_old = None
    strict = False
    n_iter = 0
    for i in range(max_iter):
        n_iter = i + 1
        # The fused kernel's BLAS breaks ties between identical centres by
        # rounding, which depends on the CPU; the composed step gives the
        # first of them, everywhere. (Host arrays: the check costs O(k d).)
        use_fused = fused is not None and not has_identical_rows(centres, xp=xp)
        dist2 = sums = None
        if plan is not None:
            # Statistics computed on the device; empty clusters left to us.
            labels, new, counts, stats = plan.step(centres)
        elif use_fused:
            # Relocates empty clusters itself.
            labels, new, counts = fused(X, weights_or_ones, centres, xp=xp)
        else:
            labels, dist2 = nearest_centre(X, centres, xp=xp, x_sq=x_sq)
            sums, counts = grouped_sum(X, labels, weights, k, xp=xp)
            new = _means(sums, counts, X.dtype, xp=xp)
        if spherical:
            new = unit_centres(new, centres, xp=xp)
            if plan is not None:  # the device's shift was of the raw means
                shift = xp.sum(xp.astype(new - centres, stats.dtype) ** 2)
                stats = xp.stack([stats[0], shift, stats[2]])
        if plan is None:
            stats = iteration_stats(labels, labels_old, new, centres, counts, xp=xp, acc=acc)
        stats = to_numpy(stats).astype(float)  # the one readback of the iteration
        if stats[2] > 0 and not use_fused:
            new, stats[1] = refill_empty(X, weights, labels, centres, x_sq=x_sq, xp=xp,
                                         spherical=spherical, dist2=dist2, sums=sums,
                                         counts=counts)
        if verbose:
            if dist2 is None:
                _, dist2 = nearest_centre(X, centres, xp=xp, x_sq=x_sq)
            inertia = float(weighted_total(dist2, weights, xp=xp, acc=acc))
            print(f"Iteration {i}, inertia {inertia}.")
        centres = new
        done, strict = converged(stats, tol, i, verbose=verbose)
        if done:
            break
        labels_old = labels
    if strict and fused is not None and is_sparse(X):
        # Labels unchanged, so the fused step's labels are those of the final
        # centres (as scikit-learn reads them): only the distances are missing.
        labels = xp.astype(labels, xp.int64)
        dist2 = sparse_assigned_sq_distances(X, centres, labels, xp=xp, x_sq=x_sq)
    elif not strict or fused is not None or plan is not None:
        # Labels must match the returned centres; fused steps give no distances.
        labels, dist2 = nearest_centre(X, centres, xp=xp, x_sq=x_sq)
    inertia = float(weighted_total(dist2, weights, xp=xp, acc=acc))
    return labels, inertia, centres, n_iter


def same_clustering(a, b, n_clusters, *, xp) -> bool:
    """True if label arrays ``a`` and ``b`` are equal up to a permutation."""
    pairs = xp.astype(a, xp.int64) * n_clusters + xp.astype(b, xp.int64)
    n_pairs = xp.unique_values(pairs).shape[0]
    return n_pairs == xp.unique_values(a).shape[0] == xp.unique_values(b).shape[0]
