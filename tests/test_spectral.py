"""SpectralClustering on every backend: moons, sklearn agreement, seeds, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import SpectralClustering as SKSpectral
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.metrics import adjusted_rand_score

from xkmeans import CSRGraph, KMeans, SpectralClustering


def _fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # disconnected graphs
        return est.fit(X)


def test_two_moons_spectral_beats_kmeans(backend):
    X, y = make_moons(1000, noise=0.05, random_state=0)
    Xb = backend.asarray(X)
    sc = _fit(SpectralClustering(2, affinity="nearest_neighbors", random_state=0), Xb)
    backend.check_array(sc.labels_, shape=(1000,))
    assert adjusted_rand_score(y, backend.to_numpy(sc.labels_)) >= 0.99
    if backend.lib == "numpy":
        assert isinstance(sc.affinity_matrix_, sp.csr_matrix)
    else:
        assert isinstance(sc.affinity_matrix_, CSRGraph)
        backend.check_array(sc.affinity_matrix_.data, dtype=backend.dtype)
    km = KMeans(2, random_state=0, n_init=10).fit(Xb)
    assert adjusted_rand_score(y, backend.to_numpy(km.labels_)) < 0.6


def test_disconnected_graph_warns():
    X, _ = make_moons(300, noise=0.05, random_state=0)
    with pytest.warns(UserWarning, match="Graph is not fully connected"):
        SpectralClustering(2, affinity="nearest_neighbors", random_state=0).fit(X)


CASES = {
    "circles-nn": (make_circles(400, factor=0.5, noise=0.05, random_state=0), 2,
                   {"affinity": "nearest_neighbors"}),
    "circles-rbf": (make_circles(300, factor=0.5, noise=0.05, random_state=0), 2,
                    {"gamma": 20.0}),
    "blobs-rbf": (make_blobs(300, centers=4, random_state=0), 4, {}),
    "blobs-nn": (make_blobs(300, centers=4, random_state=0), 4,
                 {"affinity": "nearest_neighbors"}),
}


@pytest.mark.parametrize("case,assign_labels", [(c, "kmeans") for c in CASES] + [
    ("blobs-nn", "discretize"), ("circles-rbf", "discretize"),
    ("blobs-rbf", "cluster_qr"), ("circles-nn", "cluster_qr")])
def test_agrees_with_sklearn(backend, case, assign_labels):
    (X, _), k, kw = CASES[case]
    X = X.astype(backend.dtype)
    ref = _fit(SKSpectral(k, random_state=0, assign_labels=assign_labels, **kw), X).labels_
    sc = _fit(SpectralClustering(k, random_state=0, assign_labels=assign_labels, **kw),
              backend.asarray(X))
    backend.check_array(sc.labels_, shape=(X.shape[0],))
    assert adjusted_rand_score(ref, backend.to_numpy(sc.labels_)) >= 0.98


def test_connected_graph_lobpcg_agrees_with_sklearn(backend):
    X, _ = make_blobs(1200, centers=3, cluster_std=3.0, random_state=0)
    X = X.astype(backend.dtype)
    ref = SKSpectral(3, affinity="nearest_neighbors", random_state=0).fit(X).labels_
    for solver in (None, "lobpcg"):
        sc = SpectralClustering(3, affinity="nearest_neighbors", eigen_solver=solver,
                                random_state=0).fit(backend.asarray(X))
        assert adjusted_rand_score(ref, backend.to_numpy(sc.labels_)) >= 0.98


def test_same_seed_same_labels_on_every_backend(backend):
    X, _ = make_blobs(300, centers=3, random_state=1)
    X = X.astype(backend.dtype)
    kw = {"n_clusters": 3, "affinity": "nearest_neighbors", "random_state": 5, "n_init": 3}
    ref = _fit(SpectralClustering(**kw), X).labels_
    a = _fit(SpectralClustering(**kw), backend.asarray(X)).labels_
    b = _fit(SpectralClustering(**kw), backend.asarray(X)).labels_
    np.testing.assert_array_equal(backend.to_numpy(a), ref)
    np.testing.assert_array_equal(backend.to_numpy(b), ref)


def test_precomputed_affinities(backend):
    X, _ = make_blobs(200, centers=4, random_state=0)
    X = X.astype(backend.dtype)
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    ref = SpectralClustering(4, affinity="nearest_neighbors", random_state=0)
    ref = _fit(ref, backend.asarray(X))
    pnn = _fit(SpectralClustering(4, affinity="precomputed_nearest_neighbors",
                                  random_state=0), backend.asarray(D))
    assert adjusted_rand_score(backend.to_numpy(ref.labels_),
                               backend.to_numpy(pnn.labels_)) >= 0.98
    pre = _fit(SpectralClustering(4, affinity="precomputed", random_state=0),
               ref.affinity_matrix_)
    assert adjusted_rand_score(backend.to_numpy(ref.labels_),
                               backend.to_numpy(pre.labels_)) == 1.0
    A = np.exp(-(D**2))
    sk = _fit(SKSpectral(4, affinity="precomputed", random_state=0), A).labels_
    dense = _fit(SpectralClustering(4, affinity="precomputed", random_state=0),
                 backend.asarray(A))
    backend.check_array(dense.labels_, shape=(X.shape[0],))
    assert adjusted_rand_score(sk, backend.to_numpy(dense.labels_)) >= 0.98


def test_bad_inputs(backend):
    X = backend.asarray(np.random.default_rng(0).normal(size=(20, 2)))
    with pytest.raises(ValueError, match="n_neighbors <= n_samples"):
        SpectralClustering(2, affinity="nearest_neighbors", n_neighbors=21).fit(X)
    with pytest.raises(ValueError, match="square matrix"):
        SpectralClustering(2, affinity="precomputed").fit(X)
    A = backend.asarray(np.random.default_rng(0).normal(size=(20, 20)))
    with pytest.raises(ValueError, match="negative values"):
        SpectralClustering(2, affinity="precomputed").fit(A)
    with pytest.raises(ValueError, match="affinity"):
        SpectralClustering(2, affinity="cosmic").fit(X)
    with pytest.raises(ValueError, match="assign_labels"):
        SpectralClustering(2, assign_labels="magic").fit(X)
    if backend.lib != "numpy":
        with pytest.raises(ValueError, match="NumPy input only"):
            SpectralClustering(2, affinity="poly").fit(X)
        with pytest.raises(ValueError, match="NumPy input only"):
            SpectralClustering(2, eigen_solver="arpack").fit(X)


def test_sklearn_kernels_and_arpack_on_numpy():
    X, _y = make_blobs(200, centers=3, random_state=0)
    for kw in ({"affinity": "laplacian", "gamma": 0.5}, {"eigen_solver": "arpack"}):
        ref = SKSpectral(3, random_state=0, **kw).fit(X).labels_
        sc = SpectralClustering(3, random_state=0, **kw).fit(X)
        assert adjusted_rand_score(ref, sc.labels_) >= 0.98


def test_noisy_connected_moons_agree_with_sklearn(backend):
    """A connected graph with close small eigenvalues: the solver must pick the right ones."""
    X, _ = make_moons(3000, noise=0.1, random_state=0)
    X = X.astype(backend.dtype)
    ref = SKSpectral(2, affinity="nearest_neighbors", random_state=0).fit(X).labels_
    for solver in (None, "lobpcg"):
        sc = SpectralClustering(2, affinity="nearest_neighbors", eigen_solver=solver,
                                random_state=0).fit(backend.asarray(X))
        assert adjusted_rand_score(ref, backend.to_numpy(sc.labels_)) >= 0.98, solver


def test_rbf_above_the_dense_eigh_size_agrees_with_sklearn(backend):
    """n > 1000 with a dense RBF affinity runs LOBPCG on a dense operator."""
    X, _ = make_circles(1500, factor=0.5, noise=0.05, random_state=0)
    X = X.astype(backend.dtype)
    ref = SKSpectral(2, affinity="rbf", gamma=5.0, random_state=0).fit(X).labels_
    sc = SpectralClustering(2, affinity="rbf", gamma=5.0, random_state=0).fit(backend.asarray(X))
    assert adjusted_rand_score(ref, backend.to_numpy(sc.labels_)) >= 0.98
