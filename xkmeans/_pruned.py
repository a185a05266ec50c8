"""Exact pruned Lloyd: Hamerly's bounds skip most distance computations.

Each point keeps an upper bound ``u`` on the distance to its centre and a
lower bound ``l`` on the distance to every other centre. When the centres
move by ``delta_j``, ``u += delta_label`` and ``l -= max_{j != label}
delta_j``; a point whose ``u`` is below ``max(l, s_label)`` (``s_j``: half
the distance from centre j to its nearest other centre) cannot change
label, by the triangle inequality. Only the other points are gathered and
compared with every centre (``nearest_group_mins``: nearest and runner-up), so an
iteration late in a fit costs O(n) bound updates plus a small fraction of
Lloyd's O(n k d).

Why Hamerly (one lower bound per point, O(n) memory): Elkan's ``n x k``
lower bounds are an ``n x k`` array, which xkmeans never holds. Yinyang's
group bounds (``n x groups``, ``n_groups`` > 1 here) recompute fewer points
but update ``groups`` times more bounds per iteration; measured on a 2-core
CPU (before the fused NumPy path) they lost: colour 2M x 3, k=64: 36 s with
one group, 68 s with 6, 92 s with 16 (15.4, 10.4 and 7.7 full passes of
distances); embeddings 100k x 64, k=256: 3.0 s with one group, 3.3-4.8 s
with 25 (6.0 and 4.9 passes). Yinyang's local filter (distances to the
failing groups' centres only) cuts the embeddings' distance work to about
2.3 passes (simulated, 16 groups); a fused NumPy version of it (one small
product per group and block, one product over every centre where most groups
fail) still lost to the fused Hamerly path, paired with scikit-learn's Lloyd
in one run: embeddings 0.73x (8 groups) and 0.88x (16) against 0.67x, colour
1.7x (4 groups) and 2.8x (8) against 0.74x. The n x groups bound updates cost
more than the distances they save.

On host arrays Hamerly's second test (the point's own distance first) runs
too. Where the backend has a fused ``hamerly_refresh`` (NumPy), the bound
update and the recomputation of the failing points run in one pass of
cache-sized blocks on all cores, and ``predict_failures`` only keeps the
centres' moves; elsewhere they are the portable primitives' passes over n.

The labels are Lloyd's at every iteration, up to ties that rounding decides:
distances computed as |x|^2 - 2 x.c + |c|^2 are turned into bounds with a
slack of (d + 4) ulps of (|x| + max|c|)^2, and bound updates are rounded
outwards. Sums, means, shifts, convergence tests, empty-cluster relocation
and ``n_iter`` follow ``_lloyd.lloyd``. One readback per iteration: the
changed labels, the centre shift, the empty clusters and the number of
points whose bounds fail next (``mask_indices`` then needs no sync).
"""

from __future__ import annotations

import numpy as np

from ._backend import acc_dtype, chunk_rows, get_device, is_cpu, itemsize, row_chunks, to_numpy
from ._config import get_config
from ._lloyd import _means, _relocate_empty, converged, lloyd, weighted_total
from ._primitives import (
    bound_update,
    fused_hamerly_refresh,
    grouped_sum,
    kernel_scope,
    mask_indices,
    masked_assign,
    nearest_group_mins,
    serial_blas,
    sq_distances,
)
from ._sparse import is_sparse


def choose_loop(algorithm, X, n_clusters, *, spherical):
    """The loop a fit runs: ``pruned_lloyd`` for 'elkan' on dense Euclidean
    data with more than one cluster, else ``_lloyd.lloyd``. Both give the
    same iterations; see the module docstring."""
    if spherical or is_sparse(X) or n_clusters == 1:
        return lloyd
    return pruned_lloyd if algorithm == "elkan" else lloyd


def pruned_lloyd(X, weights, centres, *, x_sq, max_iter, tol, verbose, xp, spherical=False,
                 n_groups=1):
    """Lloyd's algorithm from ``centres`` with Hamerly's bounds (dense X).

    Same contract and results as ``_lloyd.lloyd``: returns ``labels, inertia
    (float), centres, n_iter (int)``. ``spherical`` must be False (cosine
    k-means runs ``_lloyd.lloyd``). ``n_groups`` > 1 keeps Yinyang's group
    lower bounds (``n_samples x n_groups``) instead of Hamerly's single one;
    measured slower on this CPU (see the module docstring), so not the default.
    """
    if spherical:
        msg = "pruned_lloyd runs Euclidean k-means only; use _lloyd.lloyd(spherical=True)."
        raise ValueError(msg)
    with kernel_scope(xp, get_device(X)):  # host kernels' settings once per run
        return _pruned_lloyd(X, weights, centres, x_sq=x_sq, max_iter=max_iter, tol=tol,
                             verbose=verbose, xp=xp, n_groups=n_groups)


def _pruned_lloyd(X, weights, centres, *, x_sq, max_iter, tol, verbose, xp, n_groups):
    device = get_device(X)
    acc = acc_dtype(xp, device)
    n, k = X.shape[0], centres.shape[0]
    # Host arrays, unweighted: the cluster sums follow the points that changed
    # label (minus at the old label, plus at the new), in the widest float, so
    # an iteration costs about its changed points; counts stay exact integers.
    incremental = weights is None and is_cpu(xp, device)
    bounds = _Bounds(X, x_sq, centres, xp=xp, acc=acc, n_groups=n_groups, track=incremental)
    bounds.full(centres)
    mask, count = None, 0
    # Weighted host arrays: X in the summing dtype once, not once per full
    # M-step, where the copy fits the working-memory budget. (Incremental sums
    # need one full M-step only: no copy.)
    X_sum = X
    budget = get_config()["working_memory"] * 2**20
    if (is_cpu(xp, device) and not incremental and X.dtype != acc
            and n * X.shape[1] * itemsize(xp, acc) <= budget):
        X_sum = xp.astype(X, acc)
    sums = counts = None
    strict = False
    n_iter = 0
    for i in range(max_iter):
        n_iter = i + 1
        # Only the recomputed points can change label.
        changed = (bounds.refresh(centres, mask, count) if i > 0
                   else xp.asarray(n, dtype=acc, device=device))
        labels = bounds.labels
        if sums is None or not incremental or bounds.moved is None:
            sums, counts = grouped_sum(X_sum, labels, weights, k, xp=xp)
        elif bounds.moved:
            Xm, lo, ln = bounds.moved
            one = xp.ones((Xm.shape[0],), dtype=X.dtype, device=device)
            d_sums, d_counts = grouped_sum(xp.concat([Xm, Xm]), xp.concat([lo, ln]),
                                           xp.concat([-one, one]), k, xp=xp)
            sums, counts = sums + d_sums, counts + d_counts
        new = _means(sums, counts, X.dtype, xp=xp)
        shift = xp.sum(xp.astype(new - centres, acc) ** 2)
        n_empty = xp.sum(xp.astype(counts == 0, acc))
        mask, m = bounds.predict_failures(centres, new)
        stats = xp.stack([xp.astype(changed, acc), shift, n_empty, xp.astype(m, acc)])
        stats = to_numpy(stats).astype(float)  # the one readback of the iteration
        if stats[2] > 0:
            dist2 = dist_to_own(X, centres, labels, xp=xp)
            sums, counts = _relocate_empty(X_sum, weights, labels, dist2, sums, counts, xp=xp)
            new = _means(sums, counts, X.dtype, xp=xp)
            sums = None  # recomputed from the labels next time, as Lloyd does
            bounds.undo_predict()
            mask, m = bounds.predict_failures(centres, new)
            stats[1] = float(xp.sum(xp.astype(new - centres, acc) ** 2))
            stats[3] = float(m)
        if verbose:
            dist2 = dist_to_own(X, centres, labels, xp=xp)
            inertia = float(weighted_total(dist2, weights, xp=xp, acc=acc))
            print(f"Iteration {i}, inertia {inertia}.")
        centres = new
        count = int(stats[3])
        done, strict = converged(stats, tol, i, verbose=verbose)
        if done:
            break
    if not strict:  # labels must match the returned centres
        bounds.refresh(centres, mask, count)
    labels = bounds.labels
    dist2 = dist_to_own(X, centres, labels, xp=xp)
    inertia = float(weighted_total(dist2, weights, xp=xp, acc=acc))
    return labels, inertia, centres, n_iter


def dist_to_own(X, C, labels, *, xp):
    """|x - c_label|^2 for every row, computed directly (chunked), X's dtype."""
    n, d = X.shape
    rows = chunk_rows(n, 3 * d * itemsize(xp, X.dtype), xp=xp, device=get_device(X))
    parts = []
    for a, b in row_chunks(n, rows):
        diff = X[a:b, ...] - xp.take(C, labels[a:b], axis=0)
        parts.append(xp.sum(diff * diff, axis=1))
    return parts[0] if len(parts) == 1 else xp.concat(parts)


class _Bounds:
    """Labels and bounds (distances, not squared) of every point.

    ``u``: upper bound on the distance to the point's centre; ``l``: per group
    of centres, a lower bound on the distance to any centre of the group
    other than the point's own (Yinyang's group filter; one group is
    Hamerly's bound).
    """

    def __init__(self, X, x_sq, C, *, xp, acc, n_groups, track=False):
        self.X, self.x_sq, self.xp, self.acc = X, x_sq, xp, acc
        d = X.shape[1]
        self.slack = (d + 4) * float(xp.finfo(X.dtype).eps)
        self.round_out = 2 * float(xp.finfo(acc).eps)
        self.x_norm = xp.sqrt(xp.astype(x_sq, acc))
        self.perm, self.starts = centre_groups(C, n_groups, xp=xp)
        self.labels = self.u = self.l = None
        self._before = None
        # With ``track``, the points the last refresh moved to another centre:
        # () (none) or (their rows of X, old labels, new labels); else None.
        self.track = track
        self.moved = None
        self.sep_c = None
        self.tighten = is_cpu(xp, get_device(X))
        # A backend's fused bound update and recomputation (Hamerly only):
        # predict_failures then just keeps the centres' moves for refresh.
        self.fused = fused_hamerly_refresh(xp) if n_groups <= 1 else None
        self._moves = None

    def _nearest(self, X, C, x_sq, x_norm):
        xp, acc = self.xp, self.acc
        labels, d1, mins = nearest_group_mins(X, C, self.perm, self.starts, xp=xp, x_sq=x_sq)
        c_max = xp.sqrt(xp.max(xp.sum(xp.astype(C, acc) ** 2, axis=1)))
        err = self.slack * (x_norm + c_max) ** 2
        u = xp.sqrt(xp.astype(d1, acc) + err)
        l = xp.sqrt(xp.clip(xp.astype(mins, acc) - err[:, None], min=0))  # inf stays inf
        return labels, u, l

    def full(self, C):
        """Labels and tight bounds from every point against every centre."""
        self.labels, self.u, self.l = self._nearest(self.X, C, self.x_sq, self.x_norm)

    def refresh(self, C, mask, count):
        """Recompute the ``count`` points of ``mask`` against every centre.

        Returns the number of labels that changed (a device scalar). The
        label array may be updated in place.
        """
        xp = self.xp
        device = get_device(self.labels)
        if self.fused is not None:
            changed, self.moved = self.fused(
                self.X, self.x_sq, self.x_norm, C, self.labels, self.u, self.l, *self._moves,
                self.sep_c, slack=self.slack, round_out=self.round_out, track=self.track, xp=xp)
            return xp.asarray(changed, dtype=self.acc, device=device)
        if count == 0:
            self.moved = ()
            return xp.asarray(0, dtype=self.acc, device=device)
        if 2 * count > self.X.shape[0]:  # gathering would cost more than it saves
            old = self.labels
            self.full(C)
            return self._moved(self.X, old, self.labels)
        idx = mask_indices(mask, count, xp=xp)
        Xm = xp.take(self.X, idx, axis=0)
        old = xp.take(self.labels, idx)
        x_sq, x_norm = xp.take(self.x_sq, idx), xp.take(self.x_norm, idx)
        lm = xp.take(self.l, idx, axis=0)
        fail = None
        if self.tighten:
            # Hamerly's second test on host arrays (its count is a host value):
            # the point's own distance first, all centres only if still failing.
            diff = Xm - xp.take(C, old, axis=0)
            um = xp.sqrt(xp.astype(xp.sum(diff * diff, axis=1), self.acc)) * (1 + self.slack)
            fail = um > xp.maximum(xp.min(lm, axis=1), xp.take(self.sep_c, old))
            sub = int(xp.count_nonzero(fail))
            if sub == 0:
                self.moved = ()
                self.u = masked_assign(self.u, mask, um, xp=xp, idx=idx)
                return xp.asarray(0, dtype=self.acc, device=device)
            j = mask_indices(fail, sub, xp=xp)
            old_all, old = old, xp.take(old, j)
            Xs, x_sq, x_norm = xp.take(Xm, j, axis=0), xp.take(x_sq, j), xp.take(x_norm, j)
            count = sub
        else:
            Xs = Xm
        lab, u, l = self._nearest(Xs, C, x_sq, x_norm)
        lab = xp.astype(lab, old.dtype)
        changed = self._moved(Xs, old, lab)
        if fail is not None:
            lab = masked_assign(old_all, fail, lab, xp=xp, idx=j)
            u = masked_assign(um, fail, u, xp=xp, idx=j)
            l = masked_assign(lm, fail, l, xp=xp, idx=j)
        self.labels = masked_assign(self.labels, mask, lab, xp=xp, idx=idx)
        self.u = masked_assign(self.u, mask, u, xp=xp, idx=idx)
        self.l = masked_assign(self.l, mask, l, xp=xp, idx=idx)
        return changed

    def _moved(self, X, old, new):
        """The number of rows whose label changed from ``old`` to ``new`` (a
        device scalar); with ``track``, keeps those rows in ``self.moved``."""
        xp = self.xp
        changed = xp.count_nonzero(new != old)
        self.moved = None
        if self.track:  # host arrays: the count is a host value
            m = int(changed)
            j = mask_indices(new != old, m, xp=xp)
            self.moved = (xp.take(X, j, axis=0), xp.take(old, j), xp.take(new, j)) if m else ()
        return changed

    def predict_failures(self, old, new):
        """Move the bounds with the centres; the points that may change label.

        Returns ``(mask, count)``, ``count`` a device scalar.
        """
        xp, acc = self.xp, self.acc
        self._before = (self.u, self.l)
        delta = xp.sqrt(xp.sum(xp.astype(new - old, acc) ** 2, axis=1))
        # Each group's bound drops by the group's largest move.
        moved = xp.take(delta, self.perm)
        ends = [*self.starts[1:], delta.shape[0]]
        drop = xp.stack([xp.max(moved[a:b]) for a, b in zip(self.starts, ends, strict=True)])
        with serial_blas(xp):  # a k x k product: threads cost more than they give
            self.sep_c = half_separation(new, xp=xp, acc=acc)
        if self.fused is not None:  # refresh moves the bounds and finds the failures
            self._moves = (delta, drop)
            return None, xp.asarray(0, device=get_device(delta))
        self.u, self.l, mask, count = bound_update(
            self.u, self.l, self.labels, delta, drop, self.sep_c, self.round_out, xp=xp)
        return mask, count

    def undo_predict(self):
        self.u, self.l = self._before
        self._moves = None


def centre_groups(C, n_groups, *, xp):
    """A permutation of the centres and the first index of each group.

    Groups of nearby centres from five Lloyd iterations on the centres
    themselves, on the host (k x d: one small readback at the start of a
    fit), started from evenly spaced centres; empty groups are dropped.
    """
    k = C.shape[0]
    device = get_device(C)
    if n_groups <= 1 or k < 2:
        return xp.arange(k, device=device), (0,)
    Cn = to_numpy(C).astype(np.float64)
    seeds = Cn[np.linspace(0, k - 1, n_groups).astype(np.intp)]
    for _ in range(5):
        lab = ((Cn[:, None, :] - seeds[None, :, :]) ** 2).sum(-1).argmin(axis=1)
        counts = np.bincount(lab, minlength=n_groups)
        sums = np.zeros_like(seeds)
        np.add.at(sums, lab, Cn)
        seeds = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], seeds)
    order = np.argsort(lab, kind="stable")
    counts = np.bincount(lab, minlength=n_groups)
    starts = tuple(int(s) for s in np.concatenate([[0], np.cumsum(counts)[:-1]])[counts > 0])
    return xp.asarray(order, dtype=xp.int64, device=device), starts


def half_separation(C, *, xp, acc):
    """Half the distance from each centre to its nearest other centre (a lower
    bound, computed in ``acc``); ``inf`` for a single centre."""
    k, d = C.shape
    device = get_device(C)
    C = xp.astype(C, acc)
    c_sq = xp.sum(C * C, axis=1)
    err = (d + 4) * float(xp.finfo(acc).eps) * 4 * xp.max(c_sq)
    ids = xp.arange(k, device=device)
    rows = chunk_rows(k, 3 * k * itemsize(xp, acc), xp=xp, device=device)
    parts = []
    for a, b in row_chunks(k, rows):
        dd = sq_distances(C[a:b, ...], C, xp=xp, x_sq=c_sq[a:b], c_sq=c_sq)
        dd = xp.where(ids[a:b, None] == ids[None, :], xp.inf, dd)
        parts.append(xp.min(dd, axis=1))
    near = parts[0] if len(parts) == 1 else xp.concat(parts)
    return xp.sqrt(xp.clip(near - err, min=0)) / 2
