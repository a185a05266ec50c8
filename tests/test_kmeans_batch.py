"""Many KMeans fits at once (``fit_many``): each estimator ends as its own fit leaves it.

On CPU backends the batched loop is driven by ``LoopedBatchPlan`` (the
reference the CUDA batch kernels are checked against in
``test_cuda_parity.py``); without it, CPU fits run one after another.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import blobs

from xkmeans import KMeans
from xkmeans._kmeans_batch import LoopedBatchPlan, fit_many


def _problems():
    """Blobs of different sizes and shapes of convergence, and duplicate-heavy data
    whose random init picks identical rows (empty clusters, refilled)."""
    a, _ = blobs(n=200, d=3, centres=4, seed=1)
    b, _ = blobs(n=90, d=3, centres=5, seed=2, spread=2.0)
    c, _ = blobs(n=150, d=3, centres=3, seed=3, spread=4.0)
    dup = np.repeat(blobs(n=6, d=3, centres=6, seed=4)[0], 15, axis=0)
    return [a, b, c, dup]


def _estimators(max_iter=(300, 300, 3, 300)):
    return [
        KMeans(4, random_state=0, n_init=2),
        KMeans(4, random_state=np.random.RandomState(5), n_init=3, tol=0.0),
        KMeans(4, random_state=1, n_init=1, max_iter=max_iter[2]),
        KMeans(4, random_state=2, n_init=4, init="random"),
    ]


def _check_same_fit(backend, batched, alone, X):
    assert batched.n_iter_ == alone.n_iter_
    assert batched._n_init == alone._n_init
    backend.check_array(batched.cluster_centers_, dtype=backend.dtype)
    backend.check_array(batched.labels_)
    np.testing.assert_array_equal(backend.to_numpy(batched.labels_),
                                  backend.to_numpy(alone.labels_))
    np.testing.assert_allclose(backend.to_numpy(batched.cluster_centers_),
                               backend.to_numpy(alone.cluster_centers_),
                               rtol=backend.rtol, atol=backend.rtol)
    assert batched.inertia_ == pytest.approx(alone.inertia_, rel=backend.rtol)
    assert batched.n_features_in_ == alone.n_features_in_ == X.shape[1]


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_batched_loop_gives_each_fit_its_own_result(backend):
    Xs = [backend.asarray(X) for X in _problems()]
    plans = []

    def factory(*args, **kwargs):
        plans.append(LoopedBatchPlan(*args, **kwargs))
        return plans[-1]

    batched = fit_many(_estimators(), Xs, plan_factory=factory)
    assert len(plans) == 1 and len(plans[0].Xs) == 2 + 3 + 1 + 4  # every restart
    for est, alone, X in zip(batched, _estimators(), Xs):
        _check_same_fit(backend, est, alone.fit(X), X)
    # The duplicate-heavy problem refilled an empty cluster and still found 4.
    assert np.unique(backend.to_numpy(batched[3].labels_)).size == 4
    assert batched[2].n_iter_ == 3  # its own max_iter, while the others went on


def test_without_a_batched_plan_each_fit_runs_alone(backend):
    # CPU backends have no batched kernels: the same draws and loops as fit.
    Xs = [backend.asarray(X) for X in _problems()[:3]]
    for est, alone, X in zip(fit_many(_estimators()[:3], Xs), _estimators()[:3], Xs):
        alone.fit(X)
        assert est.n_iter_ == alone.n_iter_ and est.inertia_ == alone.inertia_
        np.testing.assert_array_equal(backend.to_numpy(est.cluster_centers_),
                                      backend.to_numpy(alone.cluster_centers_))


def test_fits_a_plan_cannot_batch_run_alone():
    X = [p.astype(np.float64) for p in _problems()[:2]]
    mixed = [KMeans(3, random_state=0, n_init=1), KMeans(4, random_state=0, n_init=1)]
    plans = []
    fit_many(mixed, X, plan_factory=lambda *a, **k: plans.append(1))
    assert not plans  # different k: no batched plan asked for
    for est, Xi, k in zip(mixed, X, (3, 4)):
        alone = KMeans(k, random_state=0, n_init=1).fit(Xi)
        np.testing.assert_array_equal(est.cluster_centers_, alone.cluster_centers_)


def test_invalid_parameters_fail_before_any_fit():
    X = _problems()[:2]
    ests = [KMeans(3, random_state=0), KMeans(0)]
    with pytest.raises(ValueError, match="n_clusters"):
        fit_many(ests, X)
    assert not hasattr(ests[0], "cluster_centers_")
