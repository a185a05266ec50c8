"""Bad input gets a clear error, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import blobs
from sklearn.exceptions import NotFittedError

from xkmeans import KMeans


def _X(backend, n=30, d=2):
    return backend.asarray(blobs(n=n, d=d, seed=1)[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X(backend, bad):
    X = blobs(n=30, seed=1)[0]
    X[3, 1] = bad
    match = "NaN" if np.isnan(bad) else "infinity"
    with pytest.raises(ValueError, match=match):
        KMeans(2).fit(backend.asarray(X))


def test_wrong_ndim(backend):
    X = blobs(n=30, seed=1)[0]
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        KMeans(2).fit(backend.asarray(X[:, 0]))
    with pytest.raises(ValueError, match="dim 3"):
        KMeans(2).fit(backend.asarray(X[:, :, None]))


def test_empty_input(backend):
    with pytest.raises(ValueError, match="0 sample"):
        KMeans(2).fit(backend.asarray(np.zeros((0, 3))))
    with pytest.raises(ValueError, match="0 feature"):
        KMeans(2).fit(backend.asarray(np.zeros((5, 0))))


def test_too_few_samples(backend):
    with pytest.raises(ValueError, match=r"n_samples=5 should be >= n_clusters=8\."):
        KMeans(8).fit(_X(backend, n=5))


@pytest.mark.parametrize("n_clusters", [0, -1, 2.5, "3"])
def test_bad_n_clusters(n_clusters):
    with pytest.raises((ValueError, TypeError), match="n_clusters"):
        KMeans(n_clusters).fit(np.zeros((10, 2)))


@pytest.mark.parametrize("params,name", [
    ({"init": "kmeans++"}, "init"),
    ({"n_init": 0}, "n_init"),
    ({"n_init": "many"}, "n_init"),
    ({"max_iter": 0}, "max_iter"),
    ({"tol": -1.0}, "tol"),
    ({"algorithm": "full"}, "algorithm"),
    ({"random_state": "seed"}, "random_state"),
])
def test_bad_parameters(params, name):
    with pytest.raises(ValueError, match=name):
        KMeans(2, **params).fit(np.zeros((10, 2)))


def test_init_of_wrong_shape(backend):
    X = _X(backend)
    # scikit-learn's wording, naming what does not match.
    with pytest.raises(ValueError, match=r"initial centers \(2, 2\) does not match the "
                                         r"number of clusters 3\."):
        KMeans(3, init=backend.asarray(np.zeros((2, 2)))).fit(X)
    with pytest.raises(ValueError, match=r"initial centers \(3, 5\) does not match the "
                                         r"number of features of the data 2\."):
        KMeans(3, init=backend.asarray(np.zeros((3, 5)))).fit(X)


def test_callable_init_returning_wrong_shape():
    with pytest.raises(ValueError, match=r"initial centers \(2, 2\) does not match the "
                                         r"number of clusters 3"):
        KMeans(3, init=lambda X, k, random_state: X[:2]).fit(np.ones((10, 2)))


def test_complex_and_string_input():
    with pytest.raises(ValueError, match="[Cc]omplex"):
        KMeans(2).fit(np.ones((10, 2)) + 1j)
    with pytest.raises((ValueError, TypeError)):
        KMeans(2).fit(np.array([["a", "b"]] * 10))


def test_complex_input_foreign(foreign_backend):
    if foreign_backend.lib == "array_api_strict" and "nofloat64" in foreign_backend.name:
        pytest.skip("no complex128 on a float32-only device")
    X = foreign_backend.asarray(np.ones((10, 2)) + 1j, dtype="complex128")
    with pytest.raises(ValueError, match="Complex data not supported"):
        KMeans(2).fit(X)


def test_wrong_length_sample_weight(backend):
    X = _X(backend)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(29,\), expected \(30,\)"):
        KMeans(2).fit(X, sample_weight=backend.asarray(np.ones(29)))


def test_negative_or_nan_sample_weight(backend):
    X = _X(backend)
    w = np.ones(30)
    w[0] = -1
    with pytest.raises(ValueError, match="Negative values"):
        KMeans(2).fit(X, sample_weight=backend.asarray(w))
    w[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(X, sample_weight=backend.asarray(w))
    with pytest.raises(ValueError, match="sums to zero"):
        KMeans(2).fit(X, sample_weight=backend.asarray(np.zeros(30)))


def test_feature_mismatch_at_predict(backend):
    km = KMeans(2, random_state=0).fit(_X(backend, d=3))
    for method in (km.predict, km.transform, km.score):
        with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3"):
            method(_X(backend, d=2))


def test_not_fitted(backend):
    for method in ("predict", "transform", "score"):
        with pytest.raises(NotFittedError):
            getattr(KMeans(2), method)(_X(backend))


def test_mixed_libraries_raise_naming_both(foreign_backend):
    X = blobs(n=30, seed=1)[0].astype(foreign_backend.dtype)
    km = KMeans(2, random_state=0).fit(foreign_backend.asarray(X))
    with pytest.raises(TypeError, match=r"numpy .*and .*|.* and numpy"):
        km.predict(X)
    with pytest.raises(TypeError, match="numpy"):
        KMeans(2).fit(foreign_backend.asarray(X), sample_weight=np.ones(30))
    with pytest.raises(TypeError, match="numpy"):
        KMeans(2, init=X[:2]).fit(foreign_backend.asarray(X))


def test_mixed_devices_raise():
    xs = pytest.importorskip("array_api_strict")
    X = blobs(n=30, seed=1)[0]
    a = xs.asarray(X, device=xs.Device("CPU_DEVICE"))
    b = xs.asarray(X[:2], device=xs.Device("device1"))
    with pytest.raises(ValueError, match="different devices"):
        KMeans(2, init=b).fit(a)
    km = KMeans(2, random_state=0).fit(a)
    with pytest.raises(ValueError, match="different devices"):
        km.predict(b)
