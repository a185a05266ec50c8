"""MeanShift and estimate_bandwidth: scikit-learn's answers on every backend."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_labels_up_to_ties
from sklearn.cluster import MeanShift as SkMeanShift
from sklearn.cluster import estimate_bandwidth as sk_estimate_bandwidth
from sklearn.datasets import make_blobs, make_circles, make_moons

from xkmeans import MeanShift, MixedArrayError, config_context, estimate_bandwidth


def _anisotropic(n, seed):
    X, _ = make_blobs(n, centers=3, random_state=seed)
    return X @ np.array([[0.6, -0.6], [-0.4, 0.8]])


DATASETS = {
    "blobs": lambda: make_blobs(120, centers=4, random_state=0)[0],
    "moons": lambda: make_moons(100, noise=0.05, random_state=0)[0],
    "circles": lambda: make_circles(100, noise=0.05, factor=0.5, random_state=0)[0],
    "anisotropic": lambda: _anisotropic(100, 170),
    "varied": lambda: make_blobs(120, cluster_std=[1.0, 2.5, 0.5], random_state=170)[0],
}
_SK = {}


def reference(name, **kw):
    """(X, fitted scikit-learn MeanShift), cached."""
    key = (name, tuple(sorted(kw.items())))
    if key not in _SK:
        X = DATASETS[name]()
        _SK[key] = (X, SkMeanShift(**kw).fit(X))
    return _SK[key]


def _check_fit(backend, ms, X, sk):
    C = ms.cluster_centers_
    backend.check_array(C, dtype=backend.dtype, shape=sk.cluster_centers_.shape)
    backend.check_array(ms.labels_, shape=(X.shape[0],))
    got = backend.to_numpy(C)
    if backend.dtype == "float64":
        np.testing.assert_allclose(got, sk.cluster_centers_, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(backend.to_numpy(ms.labels_), sk.labels_)
        assert ms.n_iter_ == sk.n_iter_
    else:
        # float32 means move the centres by their rounding (sums over many points).
        np.testing.assert_allclose(got, sk.cluster_centers_, rtol=0, atol=1e-3)
        assert_labels_up_to_ties(X, got, backend.to_numpy(ms.labels_), sk.labels_, np.float32)
    assert ms.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("name", list(DATASETS))
def test_same_centres_and_labels_as_sklearn(backend, name):
    X, sk = reference(name)  # bandwidth estimated, every sample a seed
    ms = MeanShift().fit(backend.asarray(X))
    _check_fit(backend, ms, X, sk)
    labels = ms.predict(backend.asarray(X[:40]))
    backend.check_array(labels, shape=(40,))
    if backend.dtype == "float64":
        np.testing.assert_array_equal(backend.to_numpy(labels), sk.predict(X[:40]))


@pytest.mark.parametrize("kw", [
    {"bin_seeding": True},
    {"bandwidth": 0.8, "bin_seeding": True, "min_bin_freq": 3},
    {"bandwidth": 0.8, "cluster_all": False},
    {"bandwidth": 1.5, "max_iter": 2},
    {"bandwidth": 1.5, "max_iter": 0},
])
def test_options_as_sklearn(backend, kw):
    X, sk = reference("varied", **kw)
    _check_fit(backend, MeanShift(**kw).fit(backend.asarray(X)), X, sk)


def test_orphans_get_minus_one(backend):
    X, sk = reference("varied", bandwidth=0.8, cluster_all=False)
    assert (sk.labels_ == -1).any()
    labels = backend.to_numpy(MeanShift(bandwidth=0.8, cluster_all=False)
                              .fit(backend.asarray(X)).labels_)
    np.testing.assert_array_equal(labels == -1, sk.labels_ == -1)


def test_given_seeds(backend):
    X = DATASETS["blobs"]()
    seeds = X[::15] + 0.3
    sk = SkMeanShift(bandwidth=2.0, seeds=seeds).fit(X)
    ms = MeanShift(bandwidth=2.0, seeds=backend.asarray(seeds)).fit(backend.asarray(X))
    _check_fit(backend, ms, X, sk)
    # A list is converted onto X's device.
    ms = MeanShift(bandwidth=2.0, seeds=seeds.tolist()).fit(backend.asarray(X))
    _check_fit(backend, ms, X, sk)


def test_estimate_bandwidth_as_sklearn(backend):
    X = DATASETS["varied"]()
    Xb = backend.asarray(X)
    rtol = 1e-12 if backend.dtype == "float64" else 1e-6
    for kw in ({}, {"quantile": 0.1}, {"quantile": 0.5, "n_samples": 60, "random_state": 3},
               {"quantile": 0.0}, {"quantile": 1.0}):
        Xs = X.astype(backend.dtype)
        got = estimate_bandwidth(Xb, **kw)
        assert isinstance(got, float)
        np.testing.assert_allclose(got, sk_estimate_bandwidth(Xs, **kw), rtol=rtol)


def test_chunked_equals_whole(backend):
    X = DATASETS["blobs"]()
    Xb = backend.asarray(X)
    whole = MeanShift(bandwidth=2.0, bin_seeding=True).fit(Xb)
    with config_context(working_memory=0.01), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # tiny chunks: slow, says so
        small = MeanShift(bandwidth=2.0, bin_seeding=True).fit(Xb)
        bw = estimate_bandwidth(Xb)
    np.testing.assert_allclose(backend.to_numpy(small.cluster_centers_),
                               backend.to_numpy(whole.cluster_centers_), rtol=backend.rtol)
    np.testing.assert_array_equal(backend.to_numpy(small.labels_),
                                  backend.to_numpy(whole.labels_))
    np.testing.assert_allclose(bw, estimate_bandwidth(Xb), rtol=backend.rtol)


def test_sklearn_docstring_example():
    X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    ms = MeanShift(bandwidth=2).fit(X)
    np.testing.assert_array_equal(ms.labels_, [1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(ms.predict([[0, 0], [5, 5]]), [1, 0])
    assert ms.labels_.dtype == np.int64 and ms.cluster_centers_.dtype == np.float64


def test_identical_points_and_one_sample():
    # Bandwidth 0 (all samples equal): scikit-learn still finds the one centre.
    X = np.ones((5, 2))
    for data in (X, X[:1]):
        ms, sk = MeanShift().fit(data), SkMeanShift().fit(data)
        np.testing.assert_array_equal(ms.cluster_centers_, sk.cluster_centers_)
        np.testing.assert_array_equal(ms.labels_, sk.labels_)


def test_no_point_within_bandwidth(backend):
    X = backend.asarray(DATASETS["blobs"]())
    seeds = backend.asarray(np.full((2, 2), 1000.0))
    with pytest.raises(ValueError, match=r"No point was within bandwidth=1\.000000 of any seed"):
        MeanShift(bandwidth=1.0, seeds=seeds).fit(X)


def test_binning_failed_warns():
    X = np.arange(10.0)[:, None] * 10
    with pytest.warns(UserWarning, match="Binning data failed with provided bin_size=1.000000"):
        ms = MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    np.testing.assert_array_equal(ms.labels_, SkMeanShift(bandwidth=1.0).fit(X).labels_)


def test_bad_parameters_and_input(backend):
    X = backend.asarray(DATASETS["blobs"]())
    with pytest.raises(ValueError, match="The 'bandwidth' parameter of MeanShift must be"):
        MeanShift(bandwidth=-1.0).fit(X)
    with pytest.raises(ValueError, match="The 'max_iter' parameter of MeanShift must be"):
        MeanShift(max_iter=-1).fit(X)
    with pytest.raises(ValueError, match="The 'quantile' parameter of estimate_bandwidth"):
        estimate_bandwidth(X, quantile=2.0)
    with pytest.raises(ValueError, match=r"seeds should be an array of shape \(n_seeds, 2\)"):
        MeanShift(bandwidth=1.0, seeds=backend.asarray(np.zeros((3, 3)))).fit(X)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        MeanShift().fit(backend.asarray(np.zeros(5)))
    bad = np.zeros((4, 2))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MeanShift().fit(backend.asarray(bad))
    ms = MeanShift(bandwidth=2.0, bin_seeding=True).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but MeanShift is expecting 2"):
        ms.predict(backend.asarray(np.zeros((2, 3))))


def test_mixed_libraries_raise(foreign_backend):
    X = DATASETS["blobs"]()
    ms = MeanShift(bandwidth=2.0, bin_seeding=True).fit(X)
    with pytest.raises(MixedArrayError):
        ms.predict(foreign_backend.asarray(X))
    with pytest.raises(MixedArrayError):
        MeanShift(bandwidth=2.0, seeds=X[:3]).fit(foreign_backend.asarray(X))


def test_cuda_syncs_about_once_per_iteration():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    X = torch.asarray(np.tile(DATASETS["varied"](), (20, 1)), device="cuda")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            ms = MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = sum("synchroniz" in str(w.message).lower() for w in rec)
    # Validation, the grid of seeds and the post-processing cost a handful.
    assert syncs <= ms.n_iter_ + 1 + 15, (syncs, ms.n_iter_)
