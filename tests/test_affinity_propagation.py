"""AffinityPropagation: scikit-learn's exemplars on every backend, and its edge cases."""

from __future__ import annotations

import warnings

import array_api_compat
import numpy as np
import pytest
from sklearn.cluster import AffinityPropagation as SkAffinityPropagation
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.exceptions import ConvergenceWarning

import xkmeans._affinity_propagation as ap_module
from xkmeans import AffinityPropagation, MixedArrayError, config_context


def _anisotropic(n, seed):
    X, _ = make_blobs(n, centers=3, random_state=seed)
    return X @ np.array([[0.6, -0.6], [-0.4, 0.8]])


DATASETS = {
    "blobs": lambda: make_blobs(90, centers=4, random_state=0)[0],
    "moons": lambda: make_moons(80, noise=0.05, random_state=0)[0],
    "circles": lambda: make_circles(80, noise=0.05, factor=0.5, random_state=0)[0],
    "anisotropic": lambda: _anisotropic(80, 170),
    "varied": lambda: make_blobs(90, cluster_std=[1.0, 2.5, 0.5], random_state=170)[0],
}
_SK = {}


def reference(name, dtype="float64", **kw):
    """(X, fitted scikit-learn AffinityPropagation, its warnings), cached."""
    key = (name, dtype, tuple(sorted(kw.items())))
    if key not in _SK:
        X = DATASETS[name]().astype(dtype)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sk = SkAffinityPropagation(**kw).fit(X)
        _SK[key] = (X, sk, [type(w.message) for w in caught])
    return _SK[key]


def _fit(est, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X)
    return est, [type(w.message) for w in caught]


def _check_same(backend, ap, sk, X):
    n = X.shape[0]
    backend.check_array(ap.cluster_centers_indices_, shape=sk.cluster_centers_indices_.shape)
    backend.check_array(ap.labels_, shape=(n,))
    np.testing.assert_array_equal(backend.to_numpy(ap.cluster_centers_indices_),
                                  sk.cluster_centers_indices_)
    np.testing.assert_array_equal(backend.to_numpy(ap.labels_), sk.labels_)
    assert ap.n_iter_ == sk.n_iter_
    backend.check_array(ap.affinity_matrix_, dtype=backend.dtype, shape=(n, n))
    # Similarities are computed in float64 (as scikit-learn does for float32
    # data too), except on a device without float64.
    rtol, atol = {"float64": 1e-12, "float32": 1e-6}[backend.dtype], 1e-12
    if "nofloat64" in backend.name:  # |x|^2 - 2 x.y + |y|^2 rounded in float32
        atol = 1e-6 * np.abs(sk.affinity_matrix_).max()
    np.testing.assert_allclose(backend.to_numpy(ap.affinity_matrix_), sk.affinity_matrix_,
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", list(DATASETS))
def test_same_exemplars_as_sklearn(backend, name):
    X, sk, sk_warnings = reference(name, backend.dtype, random_state=0)
    ap, got_warnings = _fit(AffinityPropagation(random_state=0), backend.asarray(X))
    _check_same(backend, ap, sk, X)
    assert got_warnings == sk_warnings
    backend.check_array(ap.cluster_centers_, dtype=backend.dtype,
                        shape=(sk.cluster_centers_indices_.shape[0], X.shape[1]))
    np.testing.assert_array_equal(backend.to_numpy(ap.cluster_centers_), sk.cluster_centers_)
    labels = ap.predict(backend.asarray(X[:30]))
    backend.check_array(labels, shape=(30,))
    np.testing.assert_array_equal(backend.to_numpy(labels), sk.predict(X[:30]))
    assert ap.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("kw", [
    {"damping": 0.9, "random_state": 1},
    {"preference": -50.0, "random_state": 2},
    {"convergence_iter": 3, "max_iter": 40, "random_state": 0},
])
def test_options_as_sklearn(backend, kw):
    X, sk, sk_warnings = reference("varied", backend.dtype, **kw)
    ap, got_warnings = _fit(AffinityPropagation(**kw), backend.asarray(X))
    _check_same(backend, ap, sk, X)
    assert got_warnings == sk_warnings


def test_preference_array_and_precomputed(backend):
    X, _, _ = reference("blobs", backend.dtype, random_state=0)
    pref = np.linspace(-80.0, -20.0, X.shape[0]).astype(backend.dtype)
    sk = SkAffinityPropagation(preference=pref, random_state=3).fit(X)
    ap = AffinityPropagation(preference=backend.asarray(pref), random_state=3)
    _check_same(backend, ap.fit(backend.asarray(X)), sk, X)
    # The same similarities, given: same result, and predict refuses.
    S = -((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    sk = SkAffinityPropagation(affinity="precomputed", random_state=3).fit(S)
    ap = AffinityPropagation(affinity="precomputed", random_state=3)
    Sb = backend.asarray(S)
    _check_same(backend, ap.fit(Sb), sk, X)
    np.testing.assert_array_equal(backend.to_numpy(Sb), S.astype(backend.dtype))  # untouched
    assert not hasattr(ap, "cluster_centers_")
    with pytest.raises(ValueError, match="Predict method is not supported when affinity="):
        ap.predict(Sb)


def test_no_convergence_gives_no_centres(backend):
    # scikit-learn's own case: one iteration, low preference, no exemplar.
    X = backend.asarray(np.array([[0.0, 0.0], [1.0, 1.0], [-2.0, -2.0]]))
    ap = AffinityPropagation(preference=-10, max_iter=1, random_state=82)
    with pytest.warns(ConvergenceWarning, match="will not have any cluster centers"):
        ap.fit(X)
    backend.check_array(ap.cluster_centers_, shape=(0, 2))
    backend.check_array(ap.cluster_centers_indices_, shape=(0,))
    np.testing.assert_array_equal(backend.to_numpy(ap.labels_), [-1, -1, -1])
    with pytest.warns(ConvergenceWarning, match="Labeling every sample as '-1'"):
        labels = ap.predict(X)
    backend.check_array(labels, shape=(3,))
    np.testing.assert_array_equal(backend.to_numpy(labels), [-1, -1, -1])


def test_not_converged_warns_like_sklearn():
    X, sk, sk_warnings = reference("moons", random_state=0, max_iter=5)
    assert ConvergenceWarning in sk_warnings
    with pytest.warns(ConvergenceWarning, match="may return degenerate cluster centers"):
        ap = AffinityPropagation(random_state=0, max_iter=5).fit(X)
    np.testing.assert_array_equal(ap.cluster_centers_indices_, sk.cluster_centers_indices_)


@pytest.mark.parametrize("preference, expected", [(0.0, [0, 1]), (-10.0, [0])])
def test_equal_similarities(backend, preference, expected):
    X = backend.asarray(np.array([[0.0, 0.0], [1.0, 1.0]]))
    ap = AffinityPropagation(preference=preference)
    with pytest.warns(UserWarning, match="All samples have mutually equal similarities"):
        ap.fit(X)
    np.testing.assert_array_equal(backend.to_numpy(ap.cluster_centers_indices_), expected)
    assert ap.n_iter_ == 0


def test_one_sample():
    with pytest.warns(UserWarning, match="mutually equal similarities"):
        ap = AffinityPropagation().fit(np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(ap.labels_, [0])
    np.testing.assert_array_equal(ap.cluster_centers_indices_, [0])


def test_chunked_equals_whole(backend):
    X, sk, _ = reference("varied", backend.dtype, random_state=0)
    with config_context(working_memory=0.05), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # tiny chunks: slow, says so
        ap = AffinityPropagation(random_state=0).fit(backend.asarray(X))
    _check_same(backend, ap, sk, X)


def test_verbose(capsys):
    X, sk, _ = reference("blobs", random_state=0)
    AffinityPropagation(random_state=0, verbose=True).fit(X)
    assert capsys.readouterr().out == f"Converged after {sk.n_iter_ - 1} iterations.\n"


def test_too_big_for_memory_names_the_size(monkeypatch, backend):
    monkeypatch.setattr(ap_module, "free_memory", lambda xp, device: 2**20)
    X = backend.asarray(np.zeros((1000, 2)))
    with pytest.raises(MemoryError, match=r"needs about 0\.\d+ GiB .*n_samples=1000"):
        AffinityPropagation().fit(X)


def test_bad_parameters_and_input(backend):
    X = backend.asarray(DATASETS["blobs"]())
    with pytest.raises(ValueError, match="The 'damping' parameter of AffinityPropagation"):
        AffinityPropagation(damping=1.0).fit(X)
    with pytest.raises(ValueError, match="The 'affinity' parameter of AffinityPropagation"):
        AffinityPropagation(affinity="cosine").fit(X)
    with pytest.raises(ValueError, match=r"must be a square array. Got \(90, 2\) instead"):
        AffinityPropagation(affinity="precomputed").fit(X)
    with pytest.raises(ValueError, match=r"preference should be a float or an array of shape"):
        AffinityPropagation(preference=backend.asarray(np.zeros(3))).fit(X)
    bad = np.zeros((4, 2))
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        AffinityPropagation().fit(backend.asarray(bad))


def test_mixed_libraries_raise(foreign_backend):
    X = DATASETS["blobs"]()
    ap = AffinityPropagation(random_state=0).fit(X)
    with pytest.raises(MixedArrayError):
        ap.predict(foreign_backend.asarray(X))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_fast_path_equals_portable(dtype):
    # The in-place NumPy sweep does the portable one's arithmetic in its order.
    from xkmeans._primitives import _affinity, _affinity_numpy

    rng = np.random.default_rng(0)
    n = 37
    S = -rng.random((n, n)).astype(dtype)
    ap = array_api_compat.array_namespace(S)
    states = []
    for impl in (_affinity.affinity_sweep, _affinity_numpy.affinity_sweep):
        A, R = np.zeros((n, n)), np.zeros((n, n))
        out = impl(S, A, R, None, 0.7, update_a=False, update_r=True, rows=5, xp=ap, device="cpu")
        for _ in range(4):
            out = impl(S, A, R, out[2], 0.7, update_a=True, update_r=True, rows=5, xp=ap,
                       device="cpu")
        states.append((A, R, *out))
    for got, expected in zip(states[1], states[0], strict=True):
        np.testing.assert_array_equal(got, expected)
    X = make_blobs(60, centers=3, random_state=2)[0].astype(dtype)
    fast = AffinityPropagation(random_state=0).fit(X)
    with config_context(fast_paths=False):
        portable = AffinityPropagation(random_state=0).fit(X)
    np.testing.assert_array_equal(fast.labels_, portable.labels_)
    np.testing.assert_array_equal(fast.affinity_matrix_, portable.affinity_matrix_)


def test_cuda_syncs_about_once_per_iteration():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    X = torch.asarray(make_blobs(300, centers=4, random_state=0)[0], device="cuda")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            ap = AffinityPropagation(random_state=0, convergence_iter=5).fit(X)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = sum("synchroniz" in str(w.message).lower() for w in rec)
    # One boolean per iteration after the first convergence_iter; validation,
    # the median, the noise and the final assignment cost a handful.
    assert syncs <= ap.n_iter_ + 20, (syncs, ap.n_iter_)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_gives_the_dense_fit(fmt):
    """SciPy sparse X (affinity='euclidean') fits and predicts as its dense copy,
    as scikit-learn accepts it; cluster_centers_ are dense rows."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(60, 6)).astype(np.float64)
    Xs = sp.csr_matrix(X).asformat(fmt)
    dense = AffinityPropagation(random_state=0).fit(X)
    sparse = AffinityPropagation(random_state=0).fit(Xs)
    np.testing.assert_array_equal(sparse.cluster_centers_indices_, dense.cluster_centers_indices_)
    np.testing.assert_array_equal(sparse.labels_, dense.labels_)
    np.testing.assert_allclose(sparse.cluster_centers_, dense.cluster_centers_)
    np.testing.assert_array_equal(sparse.predict(Xs), dense.predict(X))
