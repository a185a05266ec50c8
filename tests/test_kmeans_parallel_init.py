"""init='k-means||': determinism per seed on every backend, and quality."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKENDS, blobs

import xkmeans
from xkmeans import KMeans
from xkmeans._kmeans_parallel import kmeans_parallel


def _namespace(backend):
    import array_api_compat

    return array_api_compat.array_namespace(backend.asarray(np.zeros(1)))


def _indices(backend, X, k, seed, weights=None):
    xp = _namespace(backend)
    Xb = backend.asarray(X)
    wb = None if weights is None else backend.asarray(weights)
    centres, idx = kmeans_parallel(Xb, k, x_sq=xp.sum(Xb * Xb, axis=1), weights=wb,
                                   rng=np.random.default_rng(seed), xp=xp)
    backend.check_array(centres, dtype=backend.dtype, shape=(k, X.shape[1]))
    return backend.to_numpy(idx)


def _numpy(dtype):
    return next(b for b in BACKENDS if b.lib == "numpy" and b.dtype == dtype)


@pytest.mark.parametrize("weighted", [False, True])
def test_same_seed_same_centres_on_every_backend(backend, weighted):
    X, _ = blobs(400, 3, 12, seed=0, spread=1.0)
    w = np.random.default_rng(0).uniform(0.5, 2.0, 400) if weighted else None
    ref = _indices(_numpy(backend.dtype), X, 12, seed=3, weights=w)
    got = _indices(backend, X, 12, seed=3, weights=w)
    np.testing.assert_array_equal(got, ref)
    assert len(set(got.tolist())) == 12
    other = _indices(backend, X, 12, seed=4, weights=w)
    assert not np.array_equal(other, got)


def test_estimator_every_backend(backend):
    X, _ = blobs(300, 2, 5, seed=1)
    ref = KMeans(5, init="k-means||", random_state=0).fit(X.astype(backend.dtype))
    km = KMeans(5, init="k-means||", random_state=0).fit(backend.asarray(X))
    backend.check_array(km.cluster_centers_, dtype=backend.dtype, shape=(5, 2))
    np.testing.assert_allclose(backend.to_numpy(km.cluster_centers_), ref.cluster_centers_,
                               rtol=backend.rtol, atol=1e-6)
    assert km.n_iter_ == ref.n_iter_


def test_one_centre_per_blob():
    """Well separated blobs: k-means|| seeds every blob (greedy's guarantee too)."""
    X, y = blobs(2000, 5, 20, seed=2, spread=0.3, scale=20)
    idx = _indices(_numpy("float64"), X, 20, seed=0)
    assert sorted(y[idx].tolist()) == list(range(20))


def _datasets():
    rng = np.random.default_rng(0)
    yield "blobs", blobs(2000, 8, 30, seed=5, spread=3.0)[0], 30, 5
    yield "uniform", rng.uniform(size=(2000, 3)), 40, 5
    # Unequal spreads: greedy k-means++'s local trials matter most here.
    X, lab = blobs(2000, 4, 25, seed=9, spread=1.0)
    yield "unequal", X * rng.uniform(0.2, 3.0, size=25)[lab][:, None], 25, 5


@pytest.mark.parametrize(("name", "X", "k", "n_seeds"), list(_datasets()),
                         ids=["blobs", "uniform", "unequal"])
def test_fit_inertia_within_one_percent_of_kmeans_plusplus(name, X, k, n_seeds):
    """Averaged over seeds, a fit from k-means|| is within 1 % of one from greedy k-means++."""
    seeds = range(n_seeds)
    par = np.mean([KMeans(k, init="k-means||", random_state=s).fit(X).inertia_ for s in seeds])
    pp = np.mean([KMeans(k, init="k-means++", random_state=s).fit(X).inertia_ for s in seeds])
    assert par <= 1.01 * pp, (name, par / pp)


def test_integer_weights_like_repeated_rows():
    X, _ = blobs(200, 2, 6, seed=6, spread=1.0)
    w = np.random.default_rng(6).integers(1, 4, 200)
    Xr = np.repeat(X, w, axis=0)
    wi = _indices(_numpy("float64"), X, 6, seed=1, weights=w.astype(float))
    ri = _indices(_numpy("float64"), Xr, 6, seed=1)
    np.testing.assert_array_equal(X[wi], Xr[ri])


def test_few_distinct_rows():
    """Fewer distinct rows than clusters: falls back to greedy k-means++, no error."""
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]), 10, axis=0)
    with pytest.warns(Warning, match="distinct clusters"):
        km = KMeans(4, init="k-means||", random_state=0).fit(X)
    assert sorted(map(tuple, np.unique(km.cluster_centers_, axis=0))) == [
        (0.0, 0.0), (1.0, 1.0), (5.0, 5.0)]
    km = KMeans(3, init="k-means||", random_state=0).fit(X)
    assert km.inertia_ == 0


def test_zero_weights_never_chosen():
    X, _ = blobs(300, 2, 4, seed=7)
    w = np.ones(300)
    w[:150] = 0
    idx = _indices(_numpy("float64"), X, 4, seed=0, weights=w)
    assert (idx >= 150).all()


def test_n_init_auto_is_one_and_sparse():
    import scipy.sparse as sp

    X, _ = blobs(200, 6, 4, seed=8)
    X[X < 0] = 0
    km = KMeans(4, init="k-means||", random_state=0).fit(sp.csr_matrix(X))
    dense = KMeans(4, init="k-means||", random_state=0).fit(X)
    assert km.cluster_centers_.shape == (4, 6)
    assert km.inertia_ == pytest.approx(dense.inertia_, rel=1e-3)


def test_kmeans_plusplus_distance_table_picks_as_streamed():
    """Greedy k-means++ on few rows (the k-means|| candidates) reads a table
    of all their distances; with a budget too small for it, each step computes
    its candidates' distances: the same rows are chosen, weighted or not."""
    import array_api_compat.numpy as xp

    from xkmeans._init import kmeans_plusplus

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5))
    x_sq = (X * X).sum(axis=1)
    for weights in (None, rng.integers(1, 50, size=300).astype(np.float64)):
        picks = []
        for memory in (1024, 0.1):  # MiB: the table fits, then it does not
            with xkmeans.config_context(working_memory=memory):
                _, idx = kmeans_plusplus(X, 100, x_sq=x_sq, weights=weights,
                                         rng=np.random.default_rng(0), xp=xp)
            picks.append(idx.tolist())
        assert picks[0] == picks[1]
