"""KMeans and MiniBatchKMeans on Dask arrays: a 2-process LocalCluster and the threaded scheduler.

Small data throughout: what is tested is that the distributed loop gives the
in-memory fit's answer (same initial centres -> same centres, labels and
n_iter_), whatever the chunking, and that bad input is refused clearly.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import xkmeans
from xkmeans import KMeans, MiniBatchKMeans, _dask

da = pytest.importorskip("dask.array", reason="Dask is not installed (pip install 'xkmeans[dask]')")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'xkmeans[dask]')"
)

K = 5
TOL = {np.float64: 1e-10, np.float32: 1e-5}


@pytest.fixture(scope="module")
def client():
    """Two worker processes, one thread each, created once for the module."""
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, memory_limit="512MiB",
        dashboard_address=None, silence_logs=40,
    ) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def threads():
    """The local threaded scheduler, even while the module's Client exists."""
    with dask.config.set(scheduler="threads"):
        yield


def _data(dtype=np.float64, n=1500, d=4):
    X, _ = make_blobs(n, d, centers=K, cluster_std=1.5, random_state=0)
    return X.astype(dtype)


def _init(X):
    return X[[0, 1, 2, 3, 5]].copy()


def _close(a, b, dtype):
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL[dtype] * scale)


def _assert_same_fit(km, ref, dtype):
    _close(km.cluster_centers_, ref.cluster_centers_, dtype)
    assert km.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_as_in_memory_on_a_cluster(client, dtype):
    X = _data(dtype)
    Xd = da.from_array(X, chunks=(337, 4))  # 337 does not divide 1500
    ref = KMeans(K, init=_init(X), tol=1e-8).fit(X)
    km = KMeans(K, init=_init(X), tol=1e-8).fit(Xd)
    assert isinstance(km.cluster_centers_, np.ndarray)
    assert km.cluster_centers_.dtype == dtype
    assert isinstance(km.labels_, da.Array)
    assert km.labels_.chunks == (Xd.chunks[0],)
    _assert_same_fit(km, ref, dtype)
    # predict and transform are lazy, with X's row chunks; score is a float.
    labels = km.predict(Xd)
    assert isinstance(labels, da.Array) and labels.chunks == (Xd.chunks[0],)
    np.testing.assert_array_equal(labels.compute(), ref.predict(X))
    dist = km.transform(Xd)
    assert isinstance(dist, da.Array) and dist.chunks == (Xd.chunks[0], (K,))
    np.testing.assert_allclose(dist.compute(), ref.transform(X), rtol=1e-4 if dtype == np.float32
                               else 1e-10, atol=1e-3 if dtype == np.float32 else 1e-9)
    assert km.score(Xd) == pytest.approx(ref.score(X), rel=1e-5)
    np.testing.assert_array_equal(km.fit_predict(Xd).compute(), ref.labels_)


def test_empty_and_unknown_chunks_and_column_chunks(threads):
    # A boolean mask (rows filtered out) leaves chunks of unknown size, one of
    # them empty and one with fewer rows than clusters; the columns come in
    # two chunks.
    X = _data()
    keep = np.ones(X.shape[0], dtype=bool)
    keep[:300] = keep[900:1198] = False
    Xd = da.from_array(X, chunks=(300, 2))[da.from_array(keep, chunks=300)]
    assert np.isnan(Xd.chunks[0][0])
    ref = KMeans(K, init=_init(X), tol=0).fit(X[keep])
    km = KMeans(K, init=_init(X), tol=0).fit(Xd)
    _assert_same_fit(km, ref, np.float64)
    assert km.labels_.chunks == ((0, 300, 300, 2, 300),)


def test_init_strategies_match_in_memory_on_small_data(threads):
    # 'random' draws the same rows; k-means++ runs on all rows when X is small.
    X = _data(n=600)
    Xd = da.from_array(X, chunks=250)
    for init in ("random", "k-means++"):
        ref = KMeans(K, init=init, n_init=1, random_state=3).fit(X)
        km = KMeans(K, init=init, n_init=1, random_state=3).fit(Xd)
        _assert_same_fit(km, ref, np.float64)


@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_parallel_over_the_chunks_matches_in_memory(threads, weighted):
    # k-means|| draws the same uniforms, split over the chunks by their totals
    # of w * d^2: the same candidates, counts and centres as in memory.
    X = _data(n=3000)
    w = np.random.default_rng(2).uniform(0.0, 2.0, X.shape[0]) if weighted else None
    ref = KMeans(K, init="k-means||", random_state=1).fit(X, sample_weight=w)
    km = KMeans(K, init="k-means||", random_state=1).fit(
        da.from_array(X, chunks=((700, 0, 1300, 1000), (4,))), sample_weight=w)
    _assert_same_fit(km, ref, np.float64)


def test_empty_cluster_takes_the_farthest_point(threads):
    X = _data(n=800)
    init = _init(X)
    init[4] = 1e3  # nobody's nearest centre: empty after the first E-step
    Xd = da.from_array(X, chunks=300)
    ref = KMeans(K, init=init, tol=0).fit(X)
    with xkmeans.config_context(fast_paths=False):
        portable = KMeans(K, init=init, tol=0).fit(X)
    km = KMeans(K, init=init, tol=0).fit(Xd)
    _assert_same_fit(km, ref, np.float64)
    _assert_same_fit(km, portable, np.float64)


def test_worker_restarted_mid_fit_finishes_with_the_same_result(client, monkeypatch):
    # The worker holding part of X and of the previous labels is restarted
    # between iterations 1 and 2. The scheduler recomputes the lost chunks
    # from their lineage (persisted data keep their graph), and the partials
    # are reduced in chunk order, so the fit finishes with the same answer.
    X = _data()
    Xd = da.from_array(X, chunks=300)
    ref = KMeans(K, init=_init(X), tol=0).fit(X)
    restarted = []

    def restart(i):
        if i == 1:
            worker = min(client.scheduler_info()["workers"])
            client.restart_workers([worker])
            restarted.append(worker)

    monkeypatch.setattr(_dask, "_after_iteration", restart)
    km = KMeans(K, init=_init(X), tol=0).fit(Xd)
    assert restarted and ref.n_iter_ > 2
    _assert_same_fit(km, ref, np.float64)


def test_mixed_chunk_types_refused(threads):
    sp = pytest.importorskip("scipy.sparse")
    X = _data(n=300)
    dense = da.from_array(X, chunks=100)
    mixed = da.concatenate([dense[:200], dense[200:].map_blocks(sp.csr_matrix)])
    with pytest.raises(TypeError, match="different array types.*numpy.ndarray.*scipy"):
        KMeans(K, init=_init(X)).fit(mixed)
    with pytest.raises(TypeError, match="dense NumPy or CuPy"):
        KMeans(K, init=_init(X)).fit(dense.map_blocks(sp.csr_matrix))


def test_threaded_scheduler_without_client(threads):
    X = _data()
    w = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    Xd = da.from_array(X, chunks=400)
    ref = KMeans(K, init=_init(X), tol=1e-8).fit(X, sample_weight=w)
    for weights in (w, da.from_array(w, chunks=250)):  # NumPy, or Dask with other chunks
        km = KMeans(K, init=_init(X), tol=1e-8).fit(Xd, sample_weight=weights)
        _assert_same_fit(km, ref, np.float64)
    assert km.score(Xd, sample_weight=w) == pytest.approx(ref.score(X, sample_weight=w))


def test_verbose_prints_a_line_per_iteration(threads, capsys):
    X = _data(n=500)
    km = KMeans(K, init=_init(X), tol=0, verbose=1).fit(da.from_array(X, chunks=200))
    out = capsys.readouterr().out
    assert out.count("Iteration ") == km.n_iter_
    assert "Converged at iteration" in out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_minibatch_same_as_in_memory(request, dtype):
    if dtype == np.float64:  # once on the cluster, once on threads
        request.getfixturevalue("client")
    else:
        request.getfixturevalue("threads")
    # Same host draws, batch rows gathered from the chunks: the same fit.
    X = _data(dtype)
    Xd = da.from_array(X, chunks=337)
    kw = {"n_clusters": K, "batch_size": 128, "random_state": 0, "max_no_improvement": 3}
    ref = MiniBatchKMeans(**kw).fit(X)
    km = MiniBatchKMeans(**kw).fit(Xd)
    _close(km.cluster_centers_, ref.cluster_centers_, dtype)
    assert km.n_steps_ == ref.n_steps_
    np.testing.assert_array_equal(km.labels_.compute(), ref.labels_)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-5)
    np.testing.assert_array_equal(km.predict(Xd).compute(), ref.predict(X))


def test_minibatch_threads_weights_and_no_labels(threads):
    X = _data()
    w = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    kw = {"n_clusters": K, "batch_size": 100, "random_state": 0, "compute_labels": False, "tol": 1e-3}
    ref = MiniBatchKMeans(**kw).fit(X, sample_weight=w)
    km = MiniBatchKMeans(**kw).fit(da.from_array(X, chunks=500), sample_weight=w)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, atol=1e-10)
    assert km.inertia_ == pytest.approx(ref.inertia_)
    assert not hasattr(km, "labels_")


def test_errors(threads):
    X = _data(n=200)
    Xd = da.from_array(X, chunks=50)
    bad = X.copy()
    bad[150, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        KMeans(K, init=_init(X)).fit(da.from_array(bad, chunks=50))
    with pytest.raises(ValueError, match="n_samples=4 should be >= n_clusters=5"):
        KMeans(K).fit(Xd[:4])
    with pytest.raises(ValueError, match="Expected 2D array"):
        KMeans(K).fit(Xd[:, 0])
    with pytest.raises(ValueError, match="sample_weight.shape"):
        KMeans(K).fit(Xd, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="does not accept Dask arrays"):
        KMeans(K, metric="cosine").fit(Xd)
    km = KMeans(K, init=_init(X)).fit(Xd)
    with pytest.raises(ValueError, match="X has 3 features, but KMeans is expecting 4"):
        km.predict(Xd[:, :3])
    with pytest.raises(TypeError, match="partial_fit takes one batch in memory"):
        MiniBatchKMeans(K).partial_fit(Xd)


def test_integer_data_become_float64(threads):
    X = np.round(_data(n=300)).astype(np.int64)
    km = KMeans(K, init=_init(X).astype(float)).fit(da.from_array(X, chunks=100))
    ref = KMeans(K, init=_init(X).astype(float)).fit(X)
    assert km.cluster_centers_.dtype == np.float64
    _assert_same_fit(km, ref, np.float64)
