"""The loop's GPU branches, driven on the CPU by NumPy stand-ins for the CUDA plans.

CI has no GPU, so the kernels themselves are checked by NVRTC and by
``test_cuda_parity.py`` on a GPU machine; here the Python around them (how
``lloyd`` uses a device plan's statistics, relocates empty clusters, and
re-assigns at the end; how ``minibatch_step`` uses a fused update) is run
with stand-ins that follow the kernels' contracts, and must give the same
fits as the composed primitives.
"""

from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest
from conftest import blobs

import xkmeans
from xkmeans import _lloyd, _minibatch
from xkmeans._primitives import grouped_sum, nearest_centre


class _NumpyPlan:
    """What _cupy.LloydPlan.step returns: int32 labels, means, weights, [changed, shift, empty]."""

    def __init__(self, X, weights, k):
        self.X, self.w, self.k, self.old = X, weights, k, None
        self.steps = 0

    def step(self, centres):
        self.steps += 1
        labels, _ = nearest_centre(self.X, centres, xp=npx)
        sums, counts = grouped_sum(self.X, labels, self.w, self.k, xp=npx)
        safe = np.where(counts > 0, counts, 1.0)
        new = (sums / safe[:, None]).astype(self.X.dtype)
        changed = self.X.shape[0] if self.old is None else np.count_nonzero(labels != self.old)
        shift = float(((new - centres).astype(np.float64) ** 2).sum())
        self.old = labels
        stats = np.array([changed, shift, np.count_nonzero(counts == 0)], dtype=np.float64)
        return labels.astype(np.int32), new, counts, stats


@pytest.fixture
def numpy_plan(monkeypatch):
    plans = []

    def make(X, weights, k, *, xp, device):
        plans.append(_NumpyPlan(X, weights, k))
        return plans[-1]

    monkeypatch.setattr(_lloyd, "lloyd_plan", make)
    monkeypatch.setattr(_lloyd, "fused_lloyd_step", lambda xp, device, X=None: None)
    return plans


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lloyd_with_a_device_plan_fits_as_the_composed_loop(numpy_plan, weighted, dtype):
    X, _ = blobs(n=900, d=3, centres=6, seed=4, spread=1.0, scale=4.0)
    X = X.astype(dtype)
    w = np.random.default_rng(0).uniform(0.5, 2, size=900) if weighted else None
    init = np.concatenate([X[:5], np.full((2, 3), 1e3, dtype=dtype)])  # two clusters empty
    km = xkmeans.KMeans(7, init=init, n_init=1).fit(X, sample_weight=w)
    assert numpy_plan and numpy_plan[0].steps == km.n_iter_
    with xkmeans.config_context(fast_paths=False):
        ref = xkmeans.KMeans(7, init=init, n_init=1).fit(X, sample_weight=w)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-6)
    assert km.n_iter_ == ref.n_iter_
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-5)
    assert len(np.unique(km.labels_)) == 7  # the empty clusters were relocated


def test_minibatch_step_with_a_fused_update_matches_the_composed_step(monkeypatch):
    X, _ = blobs(n=512, d=3, centres=8, seed=1)
    counts = np.zeros(8)
    C0 = X[:8].copy()
    cand = np.arange(20, 30)
    ref = _minibatch.minibatch_step(X, None, C0, counts, candidates=cand, ratio=0.5,
                                    with_shift=True, xp=npx)

    def fused(X, weights, centres, counts, *, xp, device):
        # The kernel's contract: the update before reassignment, stats[3] == 0.
        new, new_counts, stats = ref_no_reassign
        return new, new_counts, stats

    ref_no_reassign = _minibatch.minibatch_step(X, None, C0, counts, candidates=None,
                                                ratio=0.5, with_shift=True, xp=npx)
    monkeypatch.setattr(_minibatch, "fused_minibatch_update", fused)
    out = _minibatch.minibatch_step(X, None, C0, counts, candidates=cand, ratio=0.5,
                                    with_shift=True, xp=npx)
    for a, b in zip(out, ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert ref[2][3] > 0  # the case exercises reassignment
