"""DBSCAN and the radius-neighbour graph: scikit-learn's results on every backend."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import DBSCAN as SkDBSCAN
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.neighbors import NearestNeighbors
from sklearn.neighbors import radius_neighbors_graph as sk_radius_graph
from sklearn.utils._param_validation import InvalidParameterError

from xkmeans import DBSCAN, config_context, radius_neighbors, radius_neighbors_graph
from xkmeans._primitives import _portable


def _anisotropic(n, seed):
    X, _ = make_blobs(n, centers=3, random_state=seed)
    return X @ np.array([[0.6, -0.6], [-0.4, 0.8]])


# (data, eps, min_samples): several clusters, noise and border samples each.
DATASETS = {
    "blobs": (lambda: make_blobs(400, centers=4, cluster_std=1.0, random_state=0)[0], 0.5, 5),
    "moons": (lambda: make_moons(400, noise=0.08, random_state=0)[0], 0.1, 5),
    "circles": (lambda: make_circles(400, noise=0.05, factor=0.5, random_state=0)[0], 0.1, 4),
    "anisotropic": (lambda: _anisotropic(400, 170), 0.35, 6),
    "varied": (lambda: make_blobs(400, cluster_std=[1.0, 2.5, 0.5], random_state=170)[0],
               0.6, 5),
}


def _data(name, dtype):
    make, eps, min_samples = DATASETS[name]
    return make().astype(dtype), eps, min_samples


def _check_fit(backend, est, sk, X):
    n, d = X.shape
    backend.check_array(est.labels_, dtype="int64", shape=(n,))
    backend.check_array(est.core_sample_indices_, dtype="int64",
                        shape=sk.core_sample_indices_.shape)
    backend.check_array(est.components_, dtype=backend.dtype,
                        shape=(sk.core_sample_indices_.shape[0], X.shape[1]))
    np.testing.assert_array_equal(backend.to_numpy(est.core_sample_indices_),
                                  sk.core_sample_indices_)
    # Numbered as scikit-learn numbers them, not only up to renumbering.
    np.testing.assert_array_equal(backend.to_numpy(est.labels_), sk.labels_)
    np.testing.assert_array_equal(backend.to_numpy(est.components_),
                                  X[sk.core_sample_indices_])
    assert est.n_features_in_ == d


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_same_clusters_as_sklearn(backend, name):
    X, eps, min_samples = _data(name, backend.dtype)
    sk = SkDBSCAN(eps=eps, min_samples=min_samples).fit(X)
    assert sk.labels_.max() >= 1 and (sk.labels_ == -1).any()
    est = DBSCAN(eps=eps, min_samples=min_samples).fit(backend.asarray(X))
    _check_fit(backend, est, sk, X)


@pytest.mark.parametrize("fast_paths", [True, False])
def test_fast_path_and_chunks(fast_paths):
    # NumPy's k-d tree against the portable search, in many small chunks.
    X, eps, min_samples = _data("varied", "float64")
    sk = SkDBSCAN(eps=eps, min_samples=min_samples).fit(X)
    with config_context(fast_paths=fast_paths, working_memory=0.5):
        est = DBSCAN(eps=eps, min_samples=min_samples).fit(X)
    np.testing.assert_array_equal(est.labels_, sk.labels_)
    np.testing.assert_array_equal(est.core_sample_indices_, sk.core_sample_indices_)


def test_sample_weight(backend):
    X, eps, min_samples = _data("blobs", backend.dtype)
    rng = np.random.default_rng(0)
    # Integers (exact sums), one heavy sample (core by itself), negative ones.
    w = rng.integers(0, 3, size=X.shape[0]).astype(backend.dtype)
    w[::37] = -1
    w[5] = min_samples
    sk = SkDBSCAN(eps=eps, min_samples=min_samples).fit(X, sample_weight=w)
    est = DBSCAN(eps=eps, min_samples=min_samples).fit(backend.asarray(X),
                                                       sample_weight=backend.asarray(w))
    _check_fit(backend, est, sk, X)
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(
        backend.asarray(X), sample_weight=backend.asarray(w))
    np.testing.assert_array_equal(backend.to_numpy(labels), sk.labels_)


def test_fractional_weights_numpy():
    X, eps, min_samples = _data("moons", "float64")
    w = np.random.default_rng(1).uniform(0.3, 1.7, size=X.shape[0])
    sk = SkDBSCAN(eps=eps, min_samples=min_samples).fit(X, sample_weight=w)
    est = DBSCAN(eps=eps, min_samples=min_samples).fit(X, sample_weight=w)
    np.testing.assert_array_equal(est.labels_, sk.labels_)
    np.testing.assert_array_equal(est.core_sample_indices_, sk.core_sample_indices_)


def test_precomputed(backend):
    X, eps, min_samples = _data("circles", "float64")
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)).astype(backend.dtype)
    sk = SkDBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(D)
    est = DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(
        backend.asarray(D))
    _check_fit(backend, est, sk, D)


def test_border_sample_joins_first_cluster():
    # Sample 4 (at 2.0) is within eps of a core sample of each cluster but is
    # not core itself: scikit-learn's search from the lowest core sample
    # reaches it first.
    a = [0.0, 0.3, 0.6, 1.0]
    b = [3.0, 3.4, 3.7, 4.0]
    for order, expected_border in ((b + [2.0] + a, 0), (a + [2.0] + b, 0)):
        X = np.array(order)[:, None]
        sk = SkDBSCAN(eps=1.0, min_samples=4).fit(X)
        est = DBSCAN(eps=1.0, min_samples=4).fit(X)
        np.testing.assert_array_equal(est.labels_, sk.labels_)
        assert est.labels_[4] == expected_border
        np.testing.assert_array_equal(est.core_sample_indices_, [0, 1, 2, 3, 5, 6, 7, 8])
    # Border samples numbered after the cores that claim them.
    X = np.array([2.0] + b + a)[:, None]
    sk = SkDBSCAN(eps=1.0, min_samples=4).fit(X)
    np.testing.assert_array_equal(DBSCAN(eps=1.0, min_samples=4).fit(X).labels_, sk.labels_)
    assert sk.labels_[0] == 0


def test_ties_at_eps_and_duplicates(backend):
    # Integer grid: many distances equal eps exactly (included, as <= eps).
    rng = np.random.default_rng(2)
    X = rng.integers(0, 12, size=(250, 2)).astype(backend.dtype)
    for eps, min_samples in ((1.0, 3), (1.0, 5), (2.0, 9)):
        sk = SkDBSCAN(eps=eps, min_samples=min_samples).fit(X)
        est = DBSCAN(eps=eps, min_samples=min_samples).fit(backend.asarray(X))
        _check_fit(backend, est, sk, X)


def test_all_noise_and_all_core(backend):
    X = backend.asarray(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]))
    est = DBSCAN(eps=1.0, min_samples=2).fit(X)
    np.testing.assert_array_equal(backend.to_numpy(est.labels_), [-1, -1, -1])
    backend.check_array(est.components_, shape=(0, 2))
    assert est.core_sample_indices_.shape == (0,)
    est = DBSCAN(eps=10.0, min_samples=1).fit(X)
    np.testing.assert_array_equal(backend.to_numpy(est.labels_), [0, 0, 0])


def test_other_metrics_numpy_and_sparse():
    X, _, _ = _data("blobs", "float64")
    for kw in ({"metric": "manhattan"}, {"metric": "minkowski", "p": 3},
               {"metric": "chebyshev", "algorithm": "brute"}):
        sk = SkDBSCAN(eps=0.6, min_samples=5, **kw).fit(X)
        est = DBSCAN(eps=0.6, min_samples=5, **kw).fit(X)
        np.testing.assert_array_equal(est.labels_, sk.labels_)
    S = sp.csr_matrix(np.where(np.abs(X) > 3, X, 0.0))
    sk = SkDBSCAN(eps=0.6, min_samples=5).fit(S)
    est = DBSCAN(eps=0.6, min_samples=5).fit(S)
    np.testing.assert_array_equal(est.labels_, sk.labels_)
    assert sp.issparse(est.components_)
    D = sp.csr_matrix(sk_radius_graph(X, 0.8, mode="distance"))
    sk = SkDBSCAN(eps=0.6, min_samples=5, metric="precomputed").fit(D)
    est = DBSCAN(eps=0.6, min_samples=5, metric="precomputed").fit(D)
    np.testing.assert_array_equal(est.labels_, sk.labels_)


def test_other_metric_needs_numpy(foreign_backend):
    X = foreign_backend.asarray(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="needs NumPy input"):
        DBSCAN(metric="manhattan").fit(X)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"eps": 0.0}, InvalidParameterError, "'eps' parameter of DBSCAN must be"),
        ({"eps": -1.0}, InvalidParameterError, "'eps' parameter of DBSCAN must be"),
        ({"min_samples": 0}, InvalidParameterError, "'min_samples' parameter of DBSCAN"),
        ({"metric": "nope"}, InvalidParameterError, "'metric' parameter of DBSCAN"),
        ({"algorithm": "fast"}, InvalidParameterError, "'algorithm' parameter of DBSCAN"),
    ],
)
def test_bad_parameters(params, error, match):
    X = np.zeros((4, 2))
    with pytest.raises(error, match=match):
        SkDBSCAN(**params).fit(X)
    with pytest.raises(error, match=match):
        DBSCAN(**params).fit(X)


def test_bad_input(backend):
    X = np.random.default_rng(0).normal(size=(6, 2))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        SkDBSCAN().fit(X)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        DBSCAN().fit(backend.asarray(X))
    D = np.abs(np.random.default_rng(0).normal(size=(4, 4)))
    D[0, 1] = -1.0
    for data, match in ((D, "Negative values in data passed to X"),
                        (np.abs(D[:3]), "Precomputed matrix must be square")):
        with pytest.raises(ValueError, match=match):
            SkDBSCAN(metric="precomputed").fit(data)
        with pytest.raises(ValueError, match=match):
            DBSCAN(metric="precomputed").fit(backend.asarray(data))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(6,\)"):
        DBSCAN().fit(backend.asarray(np.zeros((6, 2))), sample_weight=backend.asarray(
            np.ones(3)))


# -- radius neighbours -------------------------------------------------------------


def _sk_graph(X, radius, include_self):
    G = sk_radius_graph(X.astype(np.float64), radius, mode="distance",
                        include_self=include_self).tocsr()
    G.sort_indices()
    return G


@pytest.mark.parametrize("include_self", [False, True])
def test_radius_neighbors_as_sklearn(backend, include_self):
    rng = np.random.default_rng(0)
    for X, radius in ((rng.normal(size=(300, 3)), 0.4),
                      (rng.integers(0, 8, size=(200, 2)).astype(float), 1.0),
                      (rng.normal(size=(120, 20)), 4.5)):
        X = X.astype(backend.dtype)
        G = _sk_graph(X, radius, include_self)
        dist, ind, indptr = radius_neighbors(backend.asarray(X), radius,
                                             include_self=include_self)
        backend.check_array(dist, dtype=backend.dtype, shape=(G.nnz,))
        backend.check_array(ind, dtype="int64", shape=(G.nnz,))
        backend.check_array(indptr, dtype="int64", shape=(X.shape[0] + 1,))
        np.testing.assert_array_equal(backend.to_numpy(indptr), G.indptr)
        np.testing.assert_array_equal(backend.to_numpy(ind), G.indices)
        np.testing.assert_allclose(backend.to_numpy(dist), G.data, rtol=backend.rtol,
                                   atol=1e-6)
        A = radius_neighbors_graph(backend.asarray(X), radius, include_self=include_self)
        if backend.lib == "numpy":
            assert sp.issparse(A) and A.dtype == np.float64
            np.testing.assert_array_equal(A.indices, G.indices)
        else:
            backend.check_array(A.data, dtype=backend.dtype, shape=(G.nnz,))
            np.testing.assert_array_equal(backend.to_numpy(A.indices), G.indices)
            np.testing.assert_array_equal(backend.to_numpy(A.indptr), G.indptr)


def test_radius_neighbors_sorted_and_portable():
    X = np.random.default_rng(4).normal(size=(400, 2))
    nn = NearestNeighbors(radius=0.3).fit(X)
    sk_d, sk_i = nn.radius_neighbors(sort_results=True)
    dist, ind, indptr = radius_neighbors(X, 0.3, sort_results=True)
    for i in range(X.shape[0]):
        np.testing.assert_array_equal(ind[indptr[i]:indptr[i + 1]], sk_i[i])
        np.testing.assert_allclose(dist[indptr[i]:indptr[i + 1]], sk_d[i], rtol=1e-12)
    _, indptr2 = radius_neighbors(X, 0.3, return_distance=False)
    np.testing.assert_array_equal(indptr2, indptr)
    # The NumPy fast path (k-d tree) and the portable search agree exactly.
    fast = radius_neighbors_graph(X, 0.3, mode="distance", include_self=True)
    p_ptr, p_ind, p_dist = _portable.self_radius_neighbors(X, 0.3, xp=np)
    np.testing.assert_array_equal(fast.indptr, p_ptr)
    np.testing.assert_array_equal(fast.indices, p_ind)
    np.testing.assert_allclose(fast.data, p_dist, rtol=1e-12)
    with pytest.raises(ValueError, match="return_distance must be True"):
        radius_neighbors(X, 0.3, return_distance=False, sort_results=True)
    with pytest.raises(ValueError, match="radius must be a finite float >= 0"):
        radius_neighbors(X, -1.0)
    with pytest.raises(ValueError, match="mode must be"):
        radius_neighbors_graph(X, 0.3, mode="weights")
