"""MiniBatchKMeans on every backend: quality, sklearn's step, reproducibility, streaming."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest
from conftest import blobs
from sklearn.cluster import MiniBatchKMeans as SKMiniBatchKMeans

from xkmeans import KMeans, MiniBatchKMeans, _minibatch, config_context


def _data(dtype, n=3000, d=3, centres=6, seed=0, spread=1.0, scale=6.0):
    X, y = blobs(n=n, d=d, centres=centres, seed=seed, spread=spread, scale=scale)
    return X.astype(dtype), y


def _kmeans_inertia(X, k):
    return KMeans(k, n_init=3, random_state=0).fit(X.astype(np.float64)).inertia_


def test_quality_close_to_full_kmeans(backend):
    X, _ = _data(backend.dtype)
    km = MiniBatchKMeans(6, batch_size=256, random_state=0).fit(backend.asarray(X))
    assert km.inertia_ <= 1.03 * _kmeans_inertia(X, 6)
    assert 1 <= km.n_iter_ <= km.max_iter
    assert km.n_steps_ >= 2


def test_fitted_attributes_follow_input(backend):
    X, _ = _data(backend.dtype, n=600)
    Xb = backend.asarray(X)
    km = MiniBatchKMeans(4, batch_size=100, random_state=0).fit(Xb)
    backend.check_array(km.cluster_centers_, dtype=backend.dtype, shape=(4, 3))
    backend.check_array(km.labels_, shape=(600,))
    assert isinstance(km.inertia_, float)
    assert isinstance(km.n_iter_, int) and isinstance(km.n_steps_, int)
    assert km.n_features_in_ == 3
    backend.check_array(km.predict(Xb[:10, ...]), shape=(10,))
    backend.check_array(km.transform(Xb[:10, ...]), dtype=backend.dtype, shape=(10, 4))
    assert km.score(Xb) == pytest.approx(-km.inertia_, rel=backend.rtol)
    backend.check_array(km.fit_predict(Xb), shape=(600,))
    km = MiniBatchKMeans(4, batch_size=100, random_state=0).partial_fit(Xb[:200, ...])
    backend.check_array(km.cluster_centers_, dtype=backend.dtype, shape=(4, 3))
    backend.check_array(km.labels_, shape=(200,))
    assert km.n_steps_ == 1


def test_partial_fit_steps_match_sklearn(backend):
    """Without random reassignment, sklearn's partial_fit is deterministic: same update."""
    X, _ = _data(backend.dtype, n=900)
    w = np.random.default_rng(3).uniform(0.2, 2.0, size=900).astype(backend.dtype)
    init = X[:6]
    ref = SKMiniBatchKMeans(6, init=init, n_init=1, reassignment_ratio=0, batch_size=300)
    ours = MiniBatchKMeans(6, init=backend.asarray(init), n_init=1, reassignment_ratio=0,
                           batch_size=300)
    for a in range(0, 900, 300):
        ref.partial_fit(X[a:a + 300], sample_weight=w[a:a + 300])
        ours.partial_fit(backend.asarray(X[a:a + 300]),
                         sample_weight=backend.asarray(w[a:a + 300]))
        np.testing.assert_allclose(backend.to_numpy(ours.cluster_centers_),
                                   ref.cluster_centers_, rtol=10 * backend.rtol,
                                   atol=10 * backend.rtol)
        np.testing.assert_array_equal(backend.to_numpy(ours.labels_), ref.labels_)
        assert ours.inertia_ == pytest.approx(ref.inertia_, rel=10 * backend.rtol)
    np.testing.assert_allclose(backend.to_numpy(ours._counts), ref._counts, rtol=backend.rtol)
    assert ours.n_steps_ == ref.n_steps_ == 3


def test_partial_fit_on_a_stream_reaches_same_quality(backend):
    X, _ = _data(backend.dtype)
    km = MiniBatchKMeans(6, random_state=0)
    rng = np.random.default_rng(1)
    for _ in range(5):  # epochs over shuffled chunks of 250 rows
        order = rng.permutation(X.shape[0])
        for a in range(0, X.shape[0], 250):
            km.partial_fit(backend.asarray(X[order[a:a + 250]]))
    inertia = -km.score(backend.asarray(X))
    assert inertia <= 1.03 * _kmeans_inertia(X, 6)


def test_reassignment_recovers_from_centres_in_one_blob(backend):
    X, y = _data(backend.dtype, n=2000, centres=5, scale=10.0, spread=0.5)
    init = X[y == 0][:5]  # every initial centre inside blob 0
    best = _kmeans_inertia(X, 5)
    params = {"init": init, "batch_size": 200, "random_state": 0, "max_iter": 10,
                  "max_no_improvement": None}
    km = MiniBatchKMeans(5, **params, reassignment_ratio=0.2)
    km.set_params(init=backend.asarray(init)).fit(backend.asarray(X))
    assert len(np.unique(backend.to_numpy(km.labels_))) == 5
    # Like scikit-learn's, it may settle in a local optimum (two blobs under one
    # centre: about 4x the best inertia), never in the 40x one it starts from.
    assert km.inertia_ <= 5 * best
    if backend.lib == "numpy":
        stuck = MiniBatchKMeans(5, **params, reassignment_ratio=0.0).fit(X)
        assert stuck.inertia_ > 20 * best


def test_dead_centre_is_reassigned(backend):
    X, y = _data(backend.dtype, n=2000, centres=5, scale=10.0, spread=0.5)
    far = np.full((1, 3), 1e3, dtype=backend.dtype)
    init = np.vstack([X[y == 0][:1], X[y == 1][:1], X[y == 2][:1], X[y == 3][:1], far])
    km = MiniBatchKMeans(5, init=backend.asarray(init), batch_size=200, random_state=0)
    km.fit(backend.asarray(X))
    assert len(np.unique(backend.to_numpy(km.labels_))) == 5
    # Moved onto a random sample (as scikit-learn does), not left at 1e3.
    assert np.abs(backend.to_numpy(km.cluster_centers_)).max() < 100


@pytest.mark.parametrize("weighted", [False, True])
def test_same_seed_same_result_on_every_backend(backend, weighted):
    X, _ = _data(backend.dtype, n=1500, seed=2)
    w = np.random.default_rng(4).uniform(0.5, 2.0, size=1500) if weighted else None
    params = {"n_clusters": 5, "batch_size": 128, "max_iter": 3, "max_no_improvement": None,
                  "random_state": 7, "init": "random"}
    ref = MiniBatchKMeans(**params).fit(X, sample_weight=w)
    km = MiniBatchKMeans(**params).fit(
        backend.asarray(X), sample_weight=None if w is None else backend.asarray(w))
    assert km.n_steps_ == ref.n_steps_ == (3 * 1500) // 128
    np.testing.assert_allclose(backend.to_numpy(km.cluster_centers_), ref.cluster_centers_,
                               rtol=10 * backend.rtol, atol=10 * backend.rtol)
    np.testing.assert_array_equal(backend.to_numpy(km.labels_), ref.labels_)


def test_host_data_streamed_to_device(foreign_backend):
    b = foreign_backend
    X, _ = _data(b.dtype, n=1500, seed=5)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=1500).astype(b.dtype)
    params = {"n_clusters": 5, "batch_size": 128, "max_iter": 3, "max_no_improvement": None,
                  "random_state": 3, "tol": 1e-4}
    ref = MiniBatchKMeans(**params).fit(X, sample_weight=w)
    km = MiniBatchKMeans(**params, device=b.device).fit(X, sample_weight=w)
    b.check_array(km.cluster_centers_, dtype=b.dtype, shape=(5, 3))
    np.testing.assert_allclose(b.to_numpy(km.cluster_centers_), ref.cluster_centers_,
                               rtol=10 * b.rtol, atol=10 * b.rtol)
    assert isinstance(km.labels_, np.ndarray)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=10 * b.rtol)
    # Host input in, host output out; device input in, device output out.
    np.testing.assert_array_equal(km.predict(X[:20]), ref.predict(X[:20]))
    np.testing.assert_allclose(km.transform(X[:20]), ref.transform(X[:20]), rtol=10 * b.rtol,
                               atol=10 * b.rtol)
    assert km.score(X, sample_weight=w) == pytest.approx(ref.score(X, sample_weight=w),
                                                          rel=10 * b.rtol)
    b.check_array(km.predict(b.asarray(X[:20])), shape=(20,))
    # partial_fit moves each host chunk on its own.
    pk = MiniBatchKMeans(5, random_state=0, device=b.device)
    for a in range(0, 1500, 300):
        pk.partial_fit(X[a:a + 300])
    b.check_array(pk.cluster_centers_, dtype=b.dtype)
    assert isinstance(pk.labels_, np.ndarray)


@pytest.mark.parametrize("stream", [False, True])
def test_memmap_larger_than_budget_fits_in_bounded_memory(tmp_path, stream):
    n, d = 262_144, 64  # 64 MiB of float32; the budget is 2 MiB
    path = tmp_path / "X.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, d))
    centres = np.random.default_rng(0).normal(scale=5.0, size=(8, d)).astype(np.float32)
    for a in range(0, n, 16_384):
        rng = np.random.default_rng(a)
        mm[a:a + 16_384] = centres[rng.integers(8, size=16_384)] + rng.normal(
            size=(16_384, d)).astype(np.float32)
    mm.flush()
    del mm
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))
    file_bytes = n * d * 4
    device = None
    if stream:
        xs = pytest.importorskip("array_api_strict")
        device = xs.Device("device1")
    km = MiniBatchKMeans(8, batch_size=2048, max_iter=1, random_state=0, tol=1e-6,
                         device=device)
    # Warm up first: lazy imports of the compiled kernels are not data memory.
    MiniBatchKMeans(2, batch_size=64, max_iter=1, device=device).fit(np.asarray(X[:256]))
    with config_context(working_memory=2):
        tracemalloc.start()
        km.fit(X)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # What remains: the outputs (labels_: 8 bytes a row), one block of batch
    # indices and chunks sized by the budget.
    assert peak < 0.15 * file_bytes, (peak, file_bytes)
    assert km.labels_.shape == (n,)
    assert len(np.unique(km.labels_)) == 8


@pytest.mark.parametrize("window", [None, 1, 5])
def test_one_readback_per_window_of_steps(monkeypatch, window):
    X, _ = _data(np.float64)
    calls = []
    real = _minibatch.to_numpy
    monkeypatch.setattr(_minibatch, "to_numpy", lambda x: calls.append(1) or real(x))
    km = MiniBatchKMeans(6, batch_size=64, random_state=0, compute_labels=False)
    km._stats_window = window
    km.fit(X)
    W = window or _minibatch._STATS_WINDOW
    assert km.n_steps_ > 2 * W
    assert len(calls) == -(-km.n_steps_ // W)  # the window holding the stop is read


# Each case: (data seed, params, how it ends). Stops fall inside windows of 5 and 16.
_WINDOW_CASES = {
    "no_improvement": {"n_clusters": 5, "batch_size": 50, "max_no_improvement": 3,
                       "random_state": 0},
    "tol": {"n_clusters": 5, "batch_size": 50, "max_no_improvement": None, "tol": 3e-4,
            "random_state": 1},
    "max_iter": {"n_clusters": 5, "batch_size": 64, "max_iter": 2,
                 "max_no_improvement": None, "random_state": 2},
    "reassign": {"n_clusters": 24, "batch_size": 40, "reassignment_ratio": 0.5,
                 "max_no_improvement": 4, "random_state": 1},
    "weighted": {"n_clusters": 5, "batch_size": 50, "max_no_improvement": 3,
                 "random_state": 4, "tol": 1e-4},
}


def _fit_window(backend, case, window, verbose=0):
    X, _ = blobs(n=1200, d=3, centres=4, seed=1, spread=1.0, scale=6.0)
    w = None
    if case == "weighted":
        w = backend.asarray(np.random.default_rng(5).uniform(0.2, 2.0, size=1200).astype(
            backend.dtype))
    km = MiniBatchKMeans(**_WINDOW_CASES[case], verbose=verbose)
    km._stats_window = window
    return km.fit(backend.asarray(X.astype(backend.dtype)), sample_weight=w)


@pytest.mark.parametrize("case", sorted(_WINDOW_CASES))
def test_windowed_readback_same_fit_as_step_by_step(backend, case):
    ref = _fit_window(backend, case, 1)
    n_max = (ref.max_iter * 1200) // ref.batch_size
    if case == "max_iter":
        assert ref.n_steps_ == n_max == 37
    else:
        assert ref.n_steps_ < n_max
        assert ref.n_steps_ % 5 and ref.n_steps_ % 16  # the stop is inside both windows
    for window in (5, 16):
        km = _fit_window(backend, case, window)
        assert (km.n_steps_, km.n_iter_) == (ref.n_steps_, ref.n_iter_)
        np.testing.assert_array_equal(backend.to_numpy(km.cluster_centers_),
                                      backend.to_numpy(ref.cluster_centers_))
        np.testing.assert_array_equal(backend.to_numpy(km._counts),
                                      backend.to_numpy(ref._counts))
        np.testing.assert_array_equal(backend.to_numpy(km.labels_), backend.to_numpy(ref.labels_))
        assert km.inertia_ == ref.inertia_
        for name in ("_n_since_last_reassign", "_n_zero", "_ewa_inertia", "_ewa_inertia_min",
                     "_no_improvement", "_last_inertia"):
            assert getattr(km, name) == getattr(ref, name), name


@pytest.mark.parametrize("case", ["reassign", "tol"])
def test_windowed_readback_same_verbose_output(capsys, case):
    from conftest import BACKENDS

    b = BACKENDS[0]
    _fit_window(b, case, 1, verbose=1)
    ref = capsys.readouterr().out
    assert "Converged" in ref
    if case == "reassign":
        assert "Reassigning" in ref
    for window in (5, 16):
        _fit_window(b, case, window, verbose=1)
        assert capsys.readouterr().out == ref


def test_reassignment_flag_follows_sklearns_rule():
    # _reassign_flag (device) and _reassign_replay (host) against sklearn's
    # _random_reassign: grow by the batch, test, restart at 0.
    from array_api_compat import numpy as npx

    k, batch = 4, 7
    counts_seq = [np.zeros(k), np.array([1.0, 0, 2, 3]), *[np.arange(1.0, 5)] * 8,
                  np.array([2.0, 0, 1, 1]), *[np.arange(1.0, 5)] * 8]
    dev = npx.zeros((), dtype=npx.int64)
    host, sk = 0, 0
    for counts in counts_seq:
        sk += batch
        expect = bool((counts == 0).any() or sk >= 10 * k)
        if expect:
            sk = 0
        flag, dev = _minibatch._reassign_flag(npx.asarray(counts), dev, batch, xp=npx)
        replay, host = _minibatch._reassign_replay(host, int((counts == 0).sum()), batch, k)
        assert bool(flag) == replay == expect
        assert int(dev) == host == sk


def test_reassign_gated_by_a_false_flag_moves_nothing():
    from array_api_compat import numpy as npx

    X, _ = blobs(n=64, d=3, centres=4, seed=2)
    C = X[:6].copy()
    counts = np.array([0.0, 5, 0, 9, 1, 7])
    cand = np.arange(10, 13)
    for flag, moved in ((np.False_, 0), (np.True_, 3)):
        C2, counts2, n = _minibatch._reassign(X, C, counts, cand, 0.5, xp=npx,
                                             flag=npx.asarray(flag))
        assert int(n) == moved
        if not moved:
            np.testing.assert_array_equal(C2, C)
            np.testing.assert_array_equal(counts2, counts)


def test_no_reassignment_with_ratio_zero(capsys):
    X, _ = _data(np.float64, n=600)
    km = MiniBatchKMeans(12, batch_size=40, reassignment_ratio=0, random_state=0, verbose=1,
                         max_iter=2).fit(X)
    assert "Reassigning" not in capsys.readouterr().out
    assert km._n_zero >= 0


def test_sample_weight_zero_points_are_ignored(backend):
    X, y = _data(backend.dtype, n=2000, centres=4, scale=10.0, spread=0.5)
    w = (y != 3).astype(backend.dtype)
    km = MiniBatchKMeans(3, batch_size=200, random_state=0).fit(
        backend.asarray(X), sample_weight=backend.asarray(w))
    C = backend.to_numpy(km.cluster_centers_)
    means = np.stack([X[y == j].mean(axis=0) for j in range(3)])
    dist = np.sqrt(((C[:, None, :] - means[None]) ** 2).sum(-1))
    assert np.sort(dist.min(axis=0)).max() < 0.5


def test_tol_and_compute_labels_false():
    X, _ = _data(np.float64)
    base = MiniBatchKMeans(6, batch_size=128, random_state=0, max_no_improvement=None)
    loose = base.set_params(tol=1e-2).fit(X)
    assert loose.n_steps_ < (100 * X.shape[0]) // 128
    km = MiniBatchKMeans(6, batch_size=128, random_state=0, compute_labels=False).fit(X)
    assert not hasattr(km, "labels_")
    assert km.inertia_ == pytest.approx(-km.score(X), rel=0.2)
    assert km.fit_predict(X).shape == (X.shape[0],)


def test_verbose_prints(capsys):
    X, _ = _data(np.float64, n=500)
    MiniBatchKMeans(4, batch_size=50, random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Init 1/1 with method k-means++" in out
    assert "ewa inertia" in out
    assert "Converged" in out


def test_bad_inputs(backend):
    X, _ = _data(backend.dtype, n=50)
    Xb = backend.asarray(X)
    with pytest.raises(ValueError, match="batch_size"):
        MiniBatchKMeans(3, batch_size=0).fit(Xb)
    with pytest.raises(ValueError, match="batch_size"):
        MiniBatchKMeans(3, batch_size=-5).partial_fit(Xb)
    with pytest.raises(ValueError, match="n_samples=50 should be >= n_clusters=60"):
        MiniBatchKMeans(60).fit(Xb)
    with pytest.raises(ValueError, match="n_clusters"):
        MiniBatchKMeans(0).fit(Xb)
    km = MiniBatchKMeans(3, random_state=0).partial_fit(Xb)
    msg = "X has 2 features, but MiniBatchKMeans is expecting 3 features as input"
    with pytest.raises(ValueError, match=msg):
        km.partial_fit(backend.asarray(X[:, :2]))
    with pytest.raises(ValueError, match=msg):
        km.predict(backend.asarray(X[:, :2]))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MiniBatchKMeans(3).fit(backend.asarray(bad))
    with pytest.raises(ValueError, match="Expected 2D array"):
        MiniBatchKMeans(3).fit(backend.asarray(X[:, 0]))
    with pytest.raises(ValueError, match="sample_weight"):
        MiniBatchKMeans(3).fit(Xb, sample_weight=backend.asarray(np.ones(7)))
    with pytest.raises(ValueError, match="Negative values"):
        MiniBatchKMeans(3).fit(Xb, sample_weight=backend.asarray(-np.ones(50)))
    with pytest.raises(ValueError, match="does not match the number of clusters"):
        MiniBatchKMeans(3, init=backend.asarray(X[:2])).fit(Xb)
    with pytest.raises(ValueError, match="reassignment_ratio"):
        MiniBatchKMeans(3, reassignment_ratio=-1.0).fit(Xb)


def test_init_of_wrong_shape_has_sklearns_message(backend):
    X, _ = _data(backend.dtype, n=50)
    Xb = backend.asarray(X)
    head = "The shape of the initial centers {} does not match the number of "
    cases = [
        (X[:2], head.format("(2, 3)") + "clusters 3."),
        (X[:3, :2], head.format("(3, 2)") + "features of the data 3."),
    ]
    for centres, msg in cases:
        with pytest.raises(ValueError, match=re.escape(msg)):
            MiniBatchKMeans(3, init=backend.asarray(centres), n_init=1).fit(Xb)
        with pytest.raises(ValueError, match=re.escape(msg)):
            MiniBatchKMeans(3, init=backend.asarray(centres), n_init=1).partial_fit(Xb)
        with pytest.raises(ValueError, match=re.escape(msg)):
            MiniBatchKMeans(
                3, init=lambda Xc, k, random_state, c=centres: backend.asarray(c)
            ).fit(Xb)
        with pytest.raises(ValueError, match=re.escape(msg)):
            SKMiniBatchKMeans(3, init=centres, n_init=1).fit(X)


def test_device_parameter_errors(foreign_backend):
    X, _ = _data(foreign_backend.dtype, n=50)
    with pytest.raises(TypeError, match="ambiguous"):
        MiniBatchKMeans(3, device="cuda").fit(X)
    # Device data is never moved: an array of another library is refused.
    with pytest.raises(ValueError, match="never moves device data"):
        MiniBatchKMeans(3, device="cpu").fit(foreign_backend.asarray(X))


def test_init_size_and_n_init_warnings():
    X, _ = _data(np.float64, n=300)
    with pytest.warns(RuntimeWarning, match="init_size=2 should be larger than n_clusters=3"):
        MiniBatchKMeans(3, init_size=2, random_state=0).fit(X)
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        MiniBatchKMeans(3, init=X[:3], n_init=4).fit(X)
