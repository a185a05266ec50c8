"""Cosine (spherical) k-means, ``KMeans(metric='cosine')``: every backend, dense and sparse."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import xkmeans
from xkmeans import KMeans


def directions(n=300, d=8, k=4, seed=0, kappa=6.0):
    """Rows pointing near k random directions, with random lengths (angles matter, not norms)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(k, d))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    lab = rng.integers(k, size=n)
    v = mu[lab] + rng.normal(size=(n, d)) / kappa
    return v * rng.uniform(0.1, 10.0, size=(n, 1))


def reference_spherical(X, init, max_iter=300, weights=None):
    """Spherical k-means in plain NumPy: argmax x.c, centres = normalised weighted sums."""
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    Xn = X / np.where(norms == 0, 1, norms)
    C = np.asarray(init, dtype=np.float64)
    C = C / np.linalg.norm(C, axis=1, keepdims=True)
    labels = None
    for _ in range(max_iter):
        new_labels = np.argmax(Xn @ C.T, axis=1)
        if labels is not None and (new_labels == labels).all():
            break
        labels = new_labels
        S = np.zeros_like(C)
        np.add.at(S, labels, Xn * w[:, None])
        nrm = np.linalg.norm(S, axis=1, keepdims=True)
        C = np.where(nrm > 0, S / np.where(nrm == 0, 1, nrm), C)
    labels = np.argmax(Xn @ C.T, axis=1)
    inertia = float((w * (1 - np.sum(Xn * C[labels], axis=1))).sum())
    return labels, C, inertia


@pytest.fixture(scope="module")
def problem():
    X = directions()
    init = X[[0, 1, 2, 3]]
    return X, init


def test_matches_reference_every_backend(backend, problem):
    X, init = problem
    ref_labels, ref_C, ref_inertia = reference_spherical(X, init)
    km = KMeans(4, init=backend.asarray(init), n_init=1, tol=0, metric="cosine")
    km.fit(backend.asarray(X))
    backend.check_array(km.cluster_centers_, dtype=backend.dtype, shape=(4, 8))
    C = backend.to_numpy(km.cluster_centers_)
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, rtol=backend.rtol)
    np.testing.assert_array_equal(backend.to_numpy(km.labels_), ref_labels)
    np.testing.assert_allclose(C, ref_C, atol=10 * backend.rtol)
    assert km.inertia_ == pytest.approx(ref_inertia, rel=backend.rtol, abs=backend.rtol)
    np.testing.assert_array_equal(backend.to_numpy(km.predict(backend.asarray(X))), ref_labels)
    D = backend.to_numpy(km.transform(backend.asarray(X)))
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(D, 1 - Xn @ ref_C.T, atol=10 * backend.rtol)
    assert -km.score(backend.asarray(X)) == pytest.approx(ref_inertia, rel=backend.rtol)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_seeded_fits_unit_centres_every_backend(backend, problem, init):
    X, _ = problem
    ref = KMeans(4, init=init, n_init=2, random_state=0, metric="cosine").fit(X)
    km = KMeans(4, init=init, n_init=2, random_state=0, metric="cosine").fit(backend.asarray(X))
    C = backend.to_numpy(km.cluster_centers_)
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, rtol=backend.rtol)
    np.testing.assert_array_equal(backend.to_numpy(km.labels_), ref.labels_)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=10 * backend.rtol)


def test_weights_match_reference(problem):
    X, init = problem
    w = np.random.default_rng(2).random(len(X)) * 3
    ref_labels, ref_C, ref_inertia = reference_spherical(X, init, weights=w)
    km = KMeans(4, init=init, n_init=1, tol=0, metric="cosine").fit(X, sample_weight=w)
    np.testing.assert_array_equal(km.labels_, ref_labels)
    np.testing.assert_allclose(km.cluster_centers_, ref_C, atol=1e-9)
    assert km.inertia_ == pytest.approx(ref_inertia, rel=1e-9)


def test_scale_invariant_unlike_euclidean(problem):
    """Rescaling rows changes nothing for cosine k-means."""
    X, init = problem
    s = np.random.default_rng(5).uniform(0.01, 100, size=(len(X), 1))
    a = KMeans(4, init=init, n_init=1, metric="cosine").fit(X)
    b = KMeans(4, init=init, n_init=1, metric="cosine").fit(X * s)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, atol=1e-9)


@pytest.mark.parametrize("fast", [True, False])
def test_sparse_equals_dense(problem, fast):
    X, init = problem
    X = np.where(np.abs(X) < 1.0, 0.0, X)  # some zeros, so that sparse means something
    with xkmeans.config_context(fast_paths=fast):
        dense = KMeans(4, init=init, n_init=1, metric="cosine").fit(X)
        for fmt in (sp.csr_matrix, sp.csc_array, sp.coo_matrix):
            km = KMeans(4, init=init, n_init=1, metric="cosine").fit(fmt(X))
            np.testing.assert_array_equal(km.labels_, dense.labels_)
            np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_, atol=1e-9)
            assert km.inertia_ == pytest.approx(dense.inertia_, rel=1e-9)
            np.testing.assert_allclose(km.transform(fmt(X)), dense.transform(X), atol=1e-9)


def test_torch_sparse_cosine(problem):
    torch = pytest.importorskip("torch")
    X, init = problem
    X = np.where(np.abs(X) < 1.0, 0.0, X)
    dense = KMeans(4, init=init, n_init=1, metric="cosine").fit(X)
    km = KMeans(4, init=torch.tensor(init), n_init=1, metric="cosine").fit(
        torch.tensor(X).to_sparse())
    np.testing.assert_array_equal(km.labels_.numpy(), dense.labels_)
    np.testing.assert_allclose(km.cluster_centers_.numpy(), dense.cluster_centers_, atol=1e-9)


def test_zero_rows_rule(problem):
    """Zero rows: label 0, cosine distance 1, never a centre, no effect on the centres."""
    X, init = problem
    Xz = np.vstack([np.zeros((5, X.shape[1])), X])
    plain = KMeans(4, init=init, n_init=1, metric="cosine").fit(X)
    km = KMeans(4, init=init, n_init=1, metric="cosine").fit(Xz)
    np.testing.assert_array_equal(km.labels_[:5], 0)
    np.testing.assert_array_equal(km.labels_[5:], plain.labels_)
    np.testing.assert_allclose(km.cluster_centers_, plain.cluster_centers_, atol=1e-12)
    assert km.inertia_ == pytest.approx(plain.inertia_ + 5)
    np.testing.assert_allclose(km.transform(Xz[:5]), 1.0)
    np.testing.assert_array_equal(km.predict(Xz[:5]), 0)
    for init_name in ("k-means++", "random"):
        for seed in range(3):
            many_zeros = np.vstack([np.zeros((200, X.shape[1])), X[:10]])
            fit = KMeans(4, init=init_name, random_state=seed, metric="cosine").fit(many_zeros)
            assert np.isfinite(fit.cluster_centers_).all()
            np.testing.assert_allclose(np.linalg.norm(fit.cluster_centers_, axis=1), 1.0)


def test_errors(problem):
    X, init = problem
    with pytest.raises(ValueError, match="metric"):
        KMeans(2, metric="manhattan").fit(X)
    with pytest.raises(ValueError, match="nonzero norm"):
        KMeans(3, metric="cosine").fit(np.vstack([np.zeros((5, 2)), [[1.0, 0.0], [0.0, 1.0]]]))
    bad = init.copy()
    bad[1] = 0
    with pytest.raises(ValueError, match="zero row"):
        KMeans(4, init=bad, metric="cosine").fit(X)


def test_euclidean_default_unchanged(problem):
    X, init = problem
    a = KMeans(4, init=init, n_init=1).fit(X)
    b = KMeans(4, init=init, n_init=1, metric="euclidean").fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    assert KMeans().get_params()["metric"] == "euclidean"


def test_minibatch_cosine_every_backend(backend):
    """Spherical mini-batch k-means finds the directions; same seed, same fit everywhere."""
    from xkmeans import MiniBatchKMeans

    X = directions(n=1200, seed=1)
    ref = KMeans(4, metric="cosine", n_init=3, random_state=0).fit(X)
    base = MiniBatchKMeans(4, metric="cosine", batch_size=128, n_init=3, random_state=0).fit(X)
    mb = MiniBatchKMeans(4, metric="cosine", batch_size=128, n_init=3, random_state=0)
    mb.fit(backend.asarray(X))
    C = backend.to_numpy(mb.cluster_centers_)
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, rtol=backend.rtol)
    np.testing.assert_allclose(C, base.cluster_centers_, atol=20 * backend.rtol)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(ref.labels_, backend.to_numpy(mb.labels_)) > 0.99
    assert mb.inertia_ == pytest.approx(ref.inertia_, rel=0.01)
    assert -mb.score(backend.asarray(X)) == pytest.approx(mb.inertia_, rel=backend.rtol)


def test_minibatch_cosine_sparse_streamed_and_partial(problem):
    from xkmeans import MiniBatchKMeans

    X = directions(n=1200, seed=1)
    X[:3] = 0
    kw = {"n_clusters": 4, "metric": "cosine", "batch_size": 128, "random_state": 0}
    dense = MiniBatchKMeans(**kw).fit(X)
    np.testing.assert_array_equal(dense.labels_[:3], 0)
    # Sparse sums round differently in the last bits; the running means carry it.
    sparse = MiniBatchKMeans(**kw).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse.cluster_centers_, dense.cluster_centers_, atol=1e-3)
    assert sparse.inertia_ == pytest.approx(dense.inertia_, rel=1e-3)
    np.testing.assert_array_equal(sparse.labels_[:3], 0)
    streamed = MiniBatchKMeans(device="cpu", **kw).fit(X)
    np.testing.assert_allclose(streamed.cluster_centers_, dense.cluster_centers_, atol=1e-12)
    np.testing.assert_array_equal(streamed.labels_, dense.labels_)
    np.testing.assert_allclose(streamed.transform(X[:5]), dense.transform(X[:5]), atol=1e-12)
    np.testing.assert_allclose(dense.transform(X[:3]), 1.0)
    pf = MiniBatchKMeans(**kw).partial_fit(X[:600]).partial_fit(sp.csr_matrix(X[600:]))
    np.testing.assert_allclose(np.linalg.norm(pf.cluster_centers_, axis=1), 1.0)
