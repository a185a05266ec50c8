"""Sparse X (issue 16): SciPy in every format, PyTorch sparse; against dense and scikit-learn.

array-api-strict has no sparse arrays, so the backend fixture is not used
here: sparse inputs exist for SciPy (NumPy), PyTorch and CuPy only.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.cluster

import xkmeans
from xkmeans import KMeans, MiniBatchKMeans
from xkmeans._sparse import as_sparse_rows

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
# PyTorch says so once per process when a CSR tensor is first made.
torch_csr_beta = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")

FORMATS = {
    "csr_matrix": sp.csr_matrix,
    "csr_array": sp.csr_array,
    "csc_matrix": sp.csc_matrix,
    "csc_array": sp.csc_array,
    "coo_matrix": sp.coo_matrix,
    "coo_array": sp.coo_array,
}


def sparse_blobs(n=400, d=60, k=5, density=0.08, seed=0, dtype=np.float64):
    """Non-negative sparse rows drawn around k sparse prototypes (TF-IDF-like)."""
    rng = np.random.default_rng(seed)
    protos = rng.random((k, d)) * (rng.random((k, d)) < 0.25)
    lab = rng.integers(k, size=n)
    mask = rng.random((n, d)) < density
    X = np.where(mask | (protos[lab] > 0) & (rng.random((n, d)) < 0.6),
                 protos[lab] + 0.1 * rng.random((n, d)), 0.0)
    return X.astype(dtype)


@pytest.fixture(scope="module")
def data():
    X = sparse_blobs()
    rng = np.random.default_rng(1)
    init = X[rng.choice(X.shape[0], 5, replace=False)]
    w = rng.random(X.shape[0]) * 2
    return X, init, w


def _fit(X, init, **kw):
    return KMeans(n_clusters=init.shape[0], init=init, n_init=1, tol=0, **kw).fit(X)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_format_matches_dense_and_sklearn(data, fmt, dtype):
    X, init, _w = data
    X, init = X.astype(dtype), init.astype(dtype)
    Xs = FORMATS[fmt](X)
    dense = _fit(X, init, max_iter=50)
    km = _fit(Xs, init, max_iter=50)
    ref = sklearn.cluster.KMeans(5, init=init, n_init=1, tol=0, max_iter=50).fit(Xs)
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    for other in (dense, ref):
        np.testing.assert_array_equal(km.labels_, other.labels_)
        np.testing.assert_allclose(km.cluster_centers_, other.cluster_centers_, rtol=rtol,
                                   atol=rtol)
        assert km.inertia_ == pytest.approx(other.inertia_, rel=rtol)
        assert km.n_iter_ == other.n_iter_
    assert isinstance(km.cluster_centers_, np.ndarray)
    assert km.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(km.predict(Xs), ref.predict(Xs))
    np.testing.assert_allclose(km.transform(Xs), ref.transform(Xs), rtol=rtol, atol=rtol)
    assert km.score(Xs) == pytest.approx(ref.score(Xs), rel=rtol)


def test_sample_weight_matches_sklearn(data):
    X, init, w = data
    Xs = sp.csr_matrix(X)
    km = KMeans(5, init=init, n_init=1, tol=0, max_iter=50).fit(Xs, sample_weight=w)
    ref = sklearn.cluster.KMeans(5, init=init, n_init=1, tol=0, max_iter=50).fit(
        Xs, sample_weight=w)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-9)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-9)
    assert km.score(Xs, sample_weight=w) == pytest.approx(ref.score(Xs, sample_weight=w))


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_seeded_inits_match_dense(data, init):
    """Same seed, same rows drawn: sparse and dense fits agree."""
    X, _, w = data
    for weights in (None, w):
        dense = KMeans(5, init=init, n_init=2, random_state=3).fit(X, sample_weight=weights)
        km = KMeans(5, init=init, n_init=2, random_state=3).fit(sp.csr_matrix(X),
                                                                 sample_weight=weights)
        np.testing.assert_array_equal(km.labels_, dense.labels_)
        np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_, atol=1e-9)
        assert km.inertia_ == pytest.approx(dense.inertia_, rel=1e-9)


def test_portable_path_matches_fast_path(data):
    """The pure Array API sparse primitives are the oracle of SciPy's kernel."""
    X, init, w = data
    Xs = sp.csr_matrix(X)
    fast = KMeans(5, init=init, n_init=1, tol=0).fit(Xs, sample_weight=w)
    with xkmeans.config_context(fast_paths=False):
        slow = KMeans(5, init=init, n_init=1, tol=0).fit(Xs, sample_weight=w)
        np.testing.assert_array_equal(slow.predict(Xs), fast.labels_)
    np.testing.assert_array_equal(slow.labels_, fast.labels_)
    np.testing.assert_allclose(slow.cluster_centers_, fast.cluster_centers_, rtol=1e-9)
    assert slow.inertia_ == pytest.approx(fast.inertia_, rel=1e-9)


def test_portable_primitives():
    """Row gather, densify, grouped sums and norms of the portable layer, vs dense NumPy."""
    from xkmeans._primitives import _sparse as P

    rng = np.random.default_rng(0)
    A = sp.random(50, 7, density=0.3, random_state=0, format="csr")
    D = A.toarray()
    X, xp = as_sparse_rows(A, name="test")
    idx = np.array([4, 0, 0, 49, 13])
    np.testing.assert_allclose(P.sparse_to_dense(P.sparse_take_rows(X, idx, xp=xp), xp=xp),
                               D[idx])
    np.testing.assert_allclose(P.sparse_to_dense(X[10:20], xp=xp), D[10:20])
    lab, wt = rng.integers(3, size=50), rng.random(50)
    sums, counts = P.sparse_grouped_sum(X, lab, wt, 3, xp=xp)
    np.testing.assert_allclose(sums, [(D[lab == j] * wt[lab == j, None]).sum(0) for j in range(3)])
    np.testing.assert_allclose(counts, np.bincount(lab, wt, 3))
    np.testing.assert_allclose(P.sparse_row_sq_norms(X, xp=xp), (D**2).sum(1))
    C = rng.normal(size=(3, 7))
    labels, dist2 = P.sparse_nearest_centre(X, C, xp=xp)
    full = ((D[:, None] - C[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, full.argmin(1))
    np.testing.assert_allclose(dist2, full.min(1), atol=1e-12)


def test_minibatch_sparse_matches_dense(data):
    """Same seed: the same batches, the same updates, dense or sparse."""
    X, _, w = data
    kw = {"n_clusters": 5, "batch_size": 64, "random_state": 0, "max_iter": 5}
    dense = MiniBatchKMeans(**kw).fit(X, sample_weight=w)
    km = MiniBatchKMeans(**kw).fit(sp.csr_matrix(X), sample_weight=w)
    np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_, atol=1e-9)
    np.testing.assert_array_equal(km.labels_, dense.labels_)
    assert km.inertia_ == pytest.approx(dense.inertia_, rel=1e-9)
    assert km.n_steps_ == dense.n_steps_
    np.testing.assert_array_equal(km.predict(sp.csc_matrix(X)), dense.predict(X))
    pf_dense = MiniBatchKMeans(5, random_state=0).partial_fit(X[:200]).partial_fit(X[200:])
    pf = MiniBatchKMeans(5, random_state=0).partial_fit(sp.csr_array(X[:200]))
    pf = pf.partial_fit(sp.coo_matrix(X[200:]))
    np.testing.assert_allclose(pf.cluster_centers_, pf_dense.cluster_centers_, atol=1e-9)


def test_minibatch_sparse_quality_like_sklearn():
    X = sparse_blobs(n=2000, seed=4)
    Xs = sp.csr_matrix(X)
    ours = MiniBatchKMeans(5, batch_size=256, random_state=0, n_init=3).fit(Xs)
    ref = sklearn.cluster.MiniBatchKMeans(5, batch_size=256, random_state=0, n_init=3).fit(Xs)
    assert ours.inertia_ <= 1.02 * ref.inertia_


def test_fit_predict_and_fit_transform(data):
    X, init, _ = data
    Xs = sp.csr_matrix(X)
    km = KMeans(5, init=init, n_init=1)
    np.testing.assert_array_equal(km.fit_predict(Xs), km.labels_)
    np.testing.assert_allclose(KMeans(5, init=init, n_init=1).fit_transform(Xs),
                               km.transform(X), atol=1e-9)


def test_validation_messages():
    X = sp.csr_matrix(np.eye(4))
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        KMeans(2).fit(bad)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MiniBatchKMeans(2).fit(bad)
    # scikit-learn's answers: a sparse init array is not "array-like" to its
    # parameter validation; a callable that returns one fails its check_array.
    with pytest.raises(ValueError, match="The 'init' parameter of KMeans must be"):
        KMeans(2, init=sp.csr_matrix(np.eye(4)[:2]), n_init=1).fit(X)
    with pytest.raises(TypeError, match="Sparse data was passed, but dense data is required"):
        KMeans(2, init=lambda X, k, random_state: X[:2], n_init=1).fit(X)
    fitted = KMeans(2, n_init=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but KMeans is expecting 4"):
        fitted.predict(sp.csr_matrix(np.ones((2, 3))))
    from xkmeans import GaussianMixture

    with pytest.raises(TypeError, match="Sparse data was passed for X, but dense data"):
        GaussianMixture(2).fit(X)


@needs_torch
@torch_csr_beta
@pytest.mark.parametrize("layout", ["csr", "coo"])
@pytest.mark.parametrize("fast", [True, False])
def test_torch_sparse(data, layout, fast):
    import torch

    X, init, _w = data
    T = torch.tensor(X)
    T = T.to_sparse_csr() if layout == "csr" else T.to_sparse()
    ref = _fit(X, init, max_iter=30)
    with xkmeans.config_context(fast_paths=fast):
        km = KMeans(5, init=torch.tensor(init), n_init=1, tol=0, max_iter=30).fit(T)
        assert isinstance(km.cluster_centers_, torch.Tensor)
        assert km.cluster_centers_.layout == torch.strided
        np.testing.assert_array_equal(km.labels_.numpy(), ref.labels_)
        np.testing.assert_allclose(km.cluster_centers_.numpy(), ref.cluster_centers_, atol=1e-9)
        assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-9)
        np.testing.assert_array_equal(km.predict(T).numpy(), ref.predict(X))
        np.testing.assert_allclose(km.transform(T).numpy(), ref.transform(X), atol=1e-9)
        mb = MiniBatchKMeans(5, batch_size=64, random_state=0, max_iter=2).fit(T)
        mb_ref = MiniBatchKMeans(5, batch_size=64, random_state=0, max_iter=2).fit(X)
        np.testing.assert_allclose(mb.cluster_centers_.numpy(), mb_ref.cluster_centers_,
                                   atol=1e-9)


@needs_torch
@torch_csr_beta
def test_torch_sparse_validation():
    import torch

    T = torch.tensor([[1.0, 0.0], [0.0, float("nan")]]).to_sparse_csr()
    with pytest.raises(ValueError, match="Input X contains NaN"):
        KMeans(1).fit(T)
    ints = torch.tensor([[1, 0], [0, 2], [3, 0]]).to_sparse_csr()
    km = KMeans(2, n_init=1, random_state=0).fit(ints)
    assert km.cluster_centers_.dtype == torch.float32  # torch's default float
    from xkmeans import GaussianMixture

    with pytest.raises(TypeError, match="Sparse data was passed"):
        GaussianMixture(1).fit(T)


@pytest.mark.skip(reason="array-api-strict has no sparse arrays")
def test_array_api_strict_sparse():
    """Placeholder: the portable sparse primitives run on dense namespaces' arrays
    (NumPy, PyTorch above with fast paths off); array-api-strict has no sparse type."""
