"""KMeans on every backend: sklearn parity, cross-backend reproducibility, semantics."""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pytest
from conftest import blobs
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans as SKKMeans
from sklearn.datasets import load_digits, load_iris

from xkmeans import KMeans


def _data(backend, n=400, d=3, seed=0):
    X, _ = blobs(n=n, d=d, centres=5, seed=seed, spread=2.0, scale=4.0)
    return X.astype(backend.dtype)


@pytest.mark.parametrize("init_rows", [(0, 50, 100, 150, 200, 250)])
def test_parity_with_sklearn_explicit_init(backend, init_rows):
    X = _data(backend)
    init = X[list(init_rows)]
    ref = SKKMeans(len(init_rows), init=init, n_init=1, max_iter=300, tol=1e-4).fit(X)
    km = KMeans(len(init_rows), init=backend.asarray(init), n_init=1).fit(backend.asarray(X))
    np.testing.assert_array_equal(backend.to_numpy(km.labels_), ref.labels_)
    np.testing.assert_allclose(backend.to_numpy(km.cluster_centers_), ref.cluster_centers_,
                               rtol=backend.rtol, atol=backend.rtol)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=backend.rtol)
    assert km.n_iter_ == ref.n_iter_


def test_fitted_attributes_follow_input(backend):
    X = _data(backend)
    km = KMeans(4, random_state=0).fit(backend.asarray(X))
    backend.check_array(km.cluster_centers_, dtype=backend.dtype, shape=(4, 3))
    backend.check_array(km.labels_, shape=(X.shape[0],))
    assert isinstance(km.inertia_, float)
    assert isinstance(km.n_iter_, int)
    assert km.n_features_in_ == 3
    Xb = backend.asarray(X[:10])
    backend.check_array(km.predict(Xb), shape=(10,))
    backend.check_array(km.transform(Xb), dtype=backend.dtype, shape=(10, 4))
    backend.check_array(km.fit_transform(Xb), dtype=backend.dtype, shape=(10, 4))
    backend.check_array(km.fit_predict(Xb), shape=(10,))


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_same_seed_same_result_on_every_backend(backend, init):
    X = _data(backend, seed=3)
    ref = KMeans(5, init=init, n_init=2, random_state=7).fit(X)
    km = KMeans(5, init=init, n_init=2, random_state=7).fit(backend.asarray(X))
    np.testing.assert_array_equal(backend.to_numpy(km.labels_), ref.labels_)
    np.testing.assert_allclose(backend.to_numpy(km.cluster_centers_), ref.cluster_centers_,
                               rtol=backend.rtol, atol=backend.rtol)


def test_predict_transform_score_match_sklearn(backend):
    X = _data(backend)
    init = X[:4]
    ref = SKKMeans(4, init=init, n_init=1).fit(X)
    km = KMeans(4, init=backend.asarray(init), n_init=1).fit(backend.asarray(X))
    Y = _data(backend, n=50, seed=9)
    Yb = backend.asarray(Y)
    np.testing.assert_array_equal(backend.to_numpy(km.predict(Yb)), ref.predict(Y))
    np.testing.assert_allclose(backend.to_numpy(km.transform(Yb)), ref.transform(Y),
                               rtol=backend.rtol, atol=10 * backend.rtol)
    assert km.score(Yb) == pytest.approx(ref.score(Y), rel=backend.rtol)
    w = np.linspace(0.5, 2.0, 50)
    assert km.score(Yb, sample_weight=backend.asarray(w)) == pytest.approx(
        ref.score(Y, sample_weight=w), rel=backend.rtol)


@pytest.mark.parametrize("minibatch", [False, True])
def test_transform_of_the_centres_has_an_exact_zero_diagonal(backend, minibatch):
    """``transform(cluster_centers_)``: the centres' pairwise distances, each
    centre exactly 0 from itself (scikit-learn's X-is-Y rule)."""
    from sklearn.metrics import pairwise_distances

    from xkmeans import MiniBatchKMeans

    X = backend.asarray(_data(backend))
    est = (MiniBatchKMeans(5, random_state=0, n_init=1) if minibatch
           else KMeans(5, random_state=0, n_init=1)).fit(X)
    D = est.transform(est.cluster_centers_)
    backend.check_array(D, dtype=backend.dtype, shape=(5, 5))
    D = backend.to_numpy(D)
    np.testing.assert_array_equal(np.diagonal(D), np.zeros(5))
    C = backend.to_numpy(est.cluster_centers_).astype(np.float64)
    np.testing.assert_allclose(D, pairwise_distances(C), rtol=backend.rtol, atol=10 * backend.rtol)


def test_integer_weights_equal_repeated_rows(backend):
    X = _data(backend, n=120)
    w = np.random.default_rng(1).integers(0, 4, size=X.shape[0])
    Xr = np.repeat(X, w, axis=0)
    a = KMeans(4, random_state=0).fit(backend.asarray(X), sample_weight=backend.asarray(w))
    b = KMeans(4, random_state=0).fit(backend.asarray(Xr))
    np.testing.assert_allclose(backend.to_numpy(a.cluster_centers_),
                               backend.to_numpy(b.cluster_centers_), rtol=backend.rtol,
                               atol=backend.rtol)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=10 * backend.rtol)


def test_sample_weight_parity_with_sklearn(backend):
    X = _data(backend)
    w = np.random.default_rng(2).uniform(0.1, 3.0, size=X.shape[0]).astype(backend.dtype)
    init = X[:5]
    ref = SKKMeans(5, init=init, n_init=1).fit(X, sample_weight=w)
    km = KMeans(5, init=backend.asarray(init), n_init=1).fit(
        backend.asarray(X), sample_weight=backend.asarray(w))
    np.testing.assert_array_equal(backend.to_numpy(km.labels_), ref.labels_)
    np.testing.assert_allclose(backend.to_numpy(km.cluster_centers_), ref.cluster_centers_,
                               rtol=backend.rtol, atol=backend.rtol)


def test_input_not_mutated(backend):
    X = _data(backend)
    Xb = backend.asarray(X)
    init = backend.asarray(X[:3])
    w = backend.asarray(np.ones(X.shape[0]))
    KMeans(3, init=init, n_init=1).fit(Xb, sample_weight=w)
    np.testing.assert_array_equal(backend.to_numpy(Xb), X)
    np.testing.assert_array_equal(backend.to_numpy(init), X[:3])


def test_empty_cluster_is_relocated(backend):
    X = _data(backend, n=200)
    # Two initial centres far from all data: they get no points at first.
    init = np.vstack([X[:3], [[1e3, 1e3, 1e3], [-1e3, -1e3, -1e3]]]).astype(backend.dtype)
    km = KMeans(5, init=backend.asarray(init), n_init=1).fit(backend.asarray(X))
    labels = backend.to_numpy(km.labels_)
    assert len(np.unique(labels)) == 5
    ref = SKKMeans(5, init=init, n_init=1).fit(X)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-2)


def test_integer_and_bool_input_become_default_float(backend):
    X = np.random.default_rng(0).integers(0, 10, size=(50, 2))
    km = KMeans(3, random_state=0).fit(backend.asarray(X, dtype="int64"))
    # The namespace's default float: float32 for PyTorch and float32-only devices.
    expected = "float32" if ("nofloat64" in backend.name or backend.lib == "torch") else "float64"
    backend.check_array(km.cluster_centers_, dtype=expected)


def test_kmeans_plus_plus_quality_no_worse_than_sklearn():
    rng_seeds = range(8)
    for X in (load_iris().data, load_digits().data, blobs(n=2000, d=5, centres=12, seed=4)[0]):
        ours = np.mean([KMeans(8, random_state=s).fit(X).inertia_ for s in rng_seeds])
        ref = np.mean([SKKMeans(8, random_state=s).fit(X).inertia_ for s in rng_seeds])
        assert ours <= 1.03 * ref, (ours, ref)


def test_n_init_keeps_best_and_matches_sklearn_quality():
    X = load_digits().data
    ours = KMeans(10, n_init=10, random_state=0).fit(X).inertia_
    ref = SKKMeans(10, n_init=10, random_state=0).fit(X).inertia_
    assert ours <= 1.01 * ref


def test_callable_init_gets_centred_data_and_random_state():
    X = _data(type("B", (), {"dtype": "float64"}))
    seen = {}

    def init(Xc, k, random_state):
        seen["mean"] = Xc.mean(axis=0)
        seen["rs"] = random_state
        return Xc[:k]

    km = KMeans(3, init=init).fit(X)
    np.testing.assert_allclose(seen["mean"], 0, atol=1e-9)
    assert isinstance(seen["rs"], np.random.RandomState)
    ref = SKKMeans(3, init=X[:3], n_init=1).fit(X)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-6)


def test_explicit_init_with_n_init_warns():
    X = _data(type("B", (), {"dtype": "float64"}))
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        KMeans(3, init=X[:3], n_init=5).fit(X)


def _init_shape_cases(X):
    """Starting centres of the wrong shape, each with scikit-learn's exact message."""
    head = "The shape of the initial centers {} does not match the number of "
    return [
        (X[:2], head.format("(2, 3)") + "clusters 3."),
        (X[:3, :2], head.format("(3, 2)") + "features of the data 3."),
    ]


def test_init_of_wrong_shape_has_sklearns_message(backend):
    X = _data(backend)
    Xb = backend.asarray(X)
    for centres, msg in _init_shape_cases(X):
        with pytest.raises(ValueError, match=re.escape(msg)):
            KMeans(3, init=backend.asarray(centres), n_init=1).fit(Xb)
        with pytest.raises(ValueError, match=re.escape(msg)):
            KMeans(3, init=lambda Xc, k, random_state, c=centres: backend.asarray(c)).fit(Xb)
        with pytest.raises(ValueError, match=re.escape(msg)):
            SKKMeans(3, init=centres, n_init=1).fit(X)


def test_elkan_with_one_cluster_warns_like_sklearn():
    X = _data(type("B", (), {"dtype": "float64"}))
    msg = "algorithm='elkan' doesn't make sense for a single cluster. Using 'lloyd' instead."
    with pytest.warns(RuntimeWarning, match=re.escape(msg)) as record:
        km = KMeans(1, algorithm="elkan", random_state=0).fit(X)
    assert [w.filename for w in record] == [__file__]  # stacklevel=2: the caller of fit
    with pytest.warns(RuntimeWarning, match=re.escape(msg)):
        SKKMeans(1, algorithm="elkan", random_state=0).fit(X)
    np.testing.assert_allclose(km.cluster_centers_, X.mean(axis=0, keepdims=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(2, algorithm="elkan", random_state=0).fit(X)
        KMeans(1, algorithm="lloyd", random_state=0).fit(X)


def test_verbose_prints_inertia(capsys):
    X = _data(type("B", (), {"dtype": "float64"}))
    KMeans(3, verbose=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "Initialization complete" in out
    assert "Iteration 0, inertia" in out
    assert "Converged at iteration" in out


def test_duplicate_points_warn_fewer_distinct_clusters():
    from sklearn.exceptions import ConvergenceWarning

    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 10, axis=0)
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        KMeans(3, random_state=0).fit(X)


def test_tol_zero_runs_to_strict_convergence():
    X = _data(type("B", (), {"dtype": "float64"}))
    init = X[:5]
    ref = SKKMeans(5, init=init, n_init=1, tol=0).fit(X)
    km = KMeans(5, init=init, n_init=1, tol=0).fit(X)
    assert km.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(km.labels_, ref.labels_)


def test_max_iter_respected():
    X = _data(type("B", (), {"dtype": "float64"}), n=2000)
    km = KMeans(20, init="random", n_init=1, max_iter=2, tol=0, random_state=0).fit(X)
    assert km.n_iter_ <= 2


@settings(max_examples=20, deadline=None, derandomize=True)
@given(n=st.integers(8, 80), d=st.integers(1, 4), k=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_inertia_never_rises_across_lloyd_iterations(n, d, k, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d)
    init = X[rng.choice(n, size=k, replace=False)]
    inertias = [KMeans(k, init=init, n_init=1, max_iter=m, tol=0).fit(X).inertia_
                for m in range(1, 7)]
    for a, b in itertools.pairwise(inertias):
        assert b <= a * (1 + 1e-12) + 1e-12
    km = KMeans(k, init=init, n_init=1, tol=0).fit(X)
    dist = ((X[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1)
    np.testing.assert_allclose(dist[np.arange(n), km.labels_], dist.min(1), rtol=1e-9, atol=1e-9)


def test_memory_is_bounded_by_chunks():
    """2,000,000 x 2 float32 with k=512: n x k would be 4 GB; growth stays far below."""
    import tracemalloc

    X = np.random.default_rng(0).random((2_000_000, 2), dtype=np.float32)
    tracemalloc.start()
    KMeans(512, init="random", n_init=1, max_iter=2, random_state=0).fit(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 400 * 2**20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("far_init", [False, True])
def test_fused_fast_path_equals_portable_loop(dtype, far_init):
    from xkmeans import config_context

    X = blobs(n=600, d=3, centres=6, seed=2, spread=1.5, scale=4.0)[0].astype(dtype)
    init = X[:6].copy()
    if far_init:  # two clusters start empty and must be relocated
        init[4:] = [[1e3] * 3, [-1e3] * 3]
    w = np.random.default_rng(0).uniform(0.5, 2, size=len(X)).astype(dtype)
    fast = KMeans(6, init=init, n_init=1).fit(X, sample_weight=w)
    with config_context(fast_paths=False):
        ref = KMeans(6, init=init, n_init=1).fit(X, sample_weight=w)
    np.testing.assert_array_equal(fast.labels_, ref.labels_)
    rtol = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(fast.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=rtol)
    assert fast.n_iter_ == ref.n_iter_


def test_half_precision_becomes_default_float():
    torch = pytest.importorskip("torch")
    X = torch.asarray(blobs(n=60, seed=0)[0], dtype=torch.float16)
    km = KMeans(3, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == torch.get_default_dtype()
    assert km.predict(X).shape == (60,)


def test_n_init_auto_follows_sklearn_for_callables():
    calls = []

    def init(X, k, random_state):
        calls.append(1)
        return X[random_state.choice(len(X), k, replace=False)]

    X = blobs(n=100, seed=1)[0]
    KMeans(3, init=init, random_state=0).fit(X)
    assert len(calls) == 10  # 'auto' -> 10 runs for a callable, as in scikit-learn


def test_scikit_learn_private_init_hooks():
    """_init_centroids (scikit-learn's signature) and _n_init, which code and tests
    written against scikit-learn's KMeans use: zero-weight rows are never picked."""
    X, _ = blobs(n=100, d=5, centres=5, seed=1)
    w = np.random.default_rng(0).uniform(size=100)
    w[::2] = 0
    for init in ("k-means++", "random"):
        C = KMeans()._init_centroids(X, x_squared_norms=(X * X).sum(axis=1), init=init,
                                     random_state=np.random.RandomState(0), sample_weight=w,
                                     n_centroids=10)
        assert C.shape == (10, 5)
        assert not np.any(np.isclose(((X[::2, None, :] - C[None]) ** 2).sum(-1), 0))
    assert KMeans(3, n_init="auto", random_state=0).fit(X)._n_init == 1
    assert KMeans(3, init="random", n_init="auto", random_state=0).fit(X)._n_init == 10
