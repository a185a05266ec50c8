"""Many independent KMeans fits at once (the palettes of a batch of images).

``fit_many(estimators, Xs)`` fits ``estimators[i]`` on ``Xs[i]`` and leaves
each exactly as its own ``fit`` would: the same validation, the same draws
from its ``random_state``, the same iterations and attributes. Where the
backend has a batched Lloyd plan (CUDA kernels, ``lloyd_plan_batch``), the
iterations of every fit and every restart run together: two launches and one
small readback per iteration for the whole batch, instead of that per fit.
Elsewhere, or when the fits differ in ways the plan does not cover, each
estimator runs its own restarts (the same code as ``fit``).
"""

from __future__ import annotations

import dataclasses

from ._backend import acc_dtype, get_device, to_numpy
from ._lloyd import _means, converged, iteration_stats, lloyd, refill_empty, weighted_total
from ._primitives import grouped_sum, kernel_scope, lloyd_plan_batch, nearest_centre
from ._sparse import is_sparse

__all__ = ["fit_many"]


@dataclasses.dataclass(frozen=True)
class _Problem:
    """One Lloyd run of a batch: data (centred), weights, row norms and stopping rule."""

    X: object
    w: object
    x_sq: object
    tol: float
    max_iter: int


def fit_many(estimators, Xs, *, plan_factory=None):
    """Fit each KMeans estimator on its X; returns the estimators.

    ``plan_factory(Xs, weights, k, *, xp, device)`` replaces the backend's
    batched plan (tests drive the batched loop on CPU backends with
    :class:`LoopedBatchPlan`).
    """
    if not estimators:
        return estimators
    for est in estimators:
        est._validate_params()
    preps = [est._prepare(X, None) for est, X in zip(estimators, Xs)]
    if not _batchable(estimators, preps):  # each fit on its own
        for est, prep in zip(estimators, preps):
            est._finish(prep, est._restarts(prep))
        return estimators
    xp, device = preps[0].xp, preps[0].device
    # Every restart's initial centres, drawn in the order the fits would draw them.
    starts = [(i, est._initial_centres(prep))
              for i, (est, prep) in enumerate(zip(estimators, preps))
              for _ in range(prep.n_init)]
    problems = [_problem(estimators[i], preps[i]) for i, _ in starts]
    weights = None if problems[0].w is None else [p.w for p in problems]
    factory = plan_factory or lloyd_plan_batch
    plan = factory([p.X for p in problems], weights, estimators[0].n_clusters, xp=xp,
                   device=device)
    best = [None] * len(estimators)
    if plan is None:  # shapes the batched kernels do not take: one loop per restart
        runs = (estimators[i]._run(preps[i], c) for i, c in starts)
    else:
        runs = lloyd_many(problems, xp.stack([c for _, c in starts]), plan, xp=xp)
    for (i, _), run in zip(starts, runs):  # restarts in their order, as fit compares them
        best[i] = estimators[i]._keep_best(best[i], run, xp=xp)
    for est, prep, b in zip(estimators, preps, best):
        est._finish(prep, b)
    return estimators


def _problem(est, prep):
    return _Problem(prep.X, prep.w, prep.x_sq, prep.tol, est.max_iter)


def _batchable(estimators, preps):
    """True if one batched plan can run every fit's loop: plain Euclidean Lloyd on
    dense data of one library, device, dtype and width, one k, no verbose output,
    weights for all or for none."""
    first, p0 = estimators[0], preps[0]
    for est, prep in zip(estimators, preps):
        if (est.verbose or est._loop(prep) is not lloyd or prep.zero is not None
                or is_sparse(prep.X) or est.n_clusters != first.n_clusters
                or prep.xp is not p0.xp or prep.device != p0.device
                or prep.X.dtype != p0.X.dtype or prep.X.shape[1] != p0.X.shape[1]
                or (prep.w is None) != (p0.w is None)):
            return False
    return True


def lloyd_many(problems, centres, plan, *, xp):
    """Lloyd's loop of every problem from ``centres`` (n_problems, k, d), stepped together.

    Each problem stops as ``_lloyd.lloyd`` stops it (strict convergence,
    shift within its tol, or its max_iter) and then sits out the remaining
    steps; an empty cluster is refilled for that problem alone, as the loop
    does. Returns one ``(labels, inertia, centres, n_iter)`` per problem, each
    what ``lloyd`` on a device plan returns.
    """
    B = len(problems)
    device = get_device(problems[0].X)
    acc = acc_dtype(xp, device)
    active = [True] * B
    n_iter = [0] * B
    with kernel_scope(xp, device):
        i = 0
        while any(active):
            labels, new, _, stats = plan.step(centres, active)
            stats = to_numpy(stats).astype(float)  # the iteration's one readback, all problems
            for b, p in enumerate(problems):
                if not active[b]:
                    continue
                n_iter[b] = i + 1
                if stats[b, 2] > 0:
                    new[b, ...], stats[b, 1] = refill_empty(
                        p.X, p.w, labels[b], centres[b, ...], x_sq=p.x_sq, xp=xp)
                done, _ = converged(stats[b], p.tol, i, verbose=False)
                active[b] = not done and i + 1 < p.max_iter
            centres = new
            i += 1
        out = []
        for b, p in enumerate(problems):
            # Labels must match the returned centres (the plan's belong to the last input).
            C = centres[b, ...]
            labels, dist2 = nearest_centre(p.X, C, xp=xp, x_sq=p.x_sq)
            inertia = float(weighted_total(dist2, p.w, xp=xp, acc=acc))
            out.append((labels, inertia, C, n_iter[b]))
    return out


class LoopedBatchPlan:
    """A batched plan composed from the primitives, one problem after another.

    The reference the CUDA batch kernels are checked against, and what drives
    :func:`lloyd_many` on CPU backends in tests: each active problem gets
    ``nearest_centre``, ``grouped_sum`` and the means, as ``_lloyd.lloyd``
    composes them; an inactive problem's centres are passed through.
    """

    def __init__(self, Xs, weights, k, *, xp, device):
        self.Xs, self.weights, self.k, self.xp, self.device = Xs, weights, k, xp, device
        self.old = [None] * len(Xs)

    def step(self, centres, active):
        xp, acc = self.xp, acc_dtype(self.xp, self.device)
        labels, new, counts, stats = [], [], [], []
        for b, X in enumerate(self.Xs):
            C = centres[b, ...]
            if not active[b]:
                labels.append(self.old[b])
                new.append(C)
                counts.append(xp.zeros((self.k,), dtype=acc, device=self.device))
                stats.append(xp.zeros((3,), dtype=acc, device=self.device))
                continue
            w = None if self.weights is None else self.weights[b]
            lab, _ = nearest_centre(X, C, xp=xp)
            sums, cnt = grouped_sum(X, lab, w, self.k, xp=xp)
            means = _means(sums, cnt, X.dtype, xp=xp)
            stats.append(iteration_stats(lab, self.old[b], means, C, cnt, xp=xp, acc=acc))
            self.old[b] = lab
            labels.append(lab)
            new.append(means)
            counts.append(xp.astype(cnt, acc))
        return labels, xp.stack(new), xp.stack(counts), xp.stack(stats)
