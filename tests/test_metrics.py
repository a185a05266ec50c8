"""xkmeans.metrics: scikit-learn's scores on every backend, in row chunks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from xkmeans import MixedArrayError, config_context
from xkmeans import metrics as xm


def _data(n=240, d=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 4 * rng.normal(size=(k, d))[rng.integers(k, size=n)]
    labels = np.argmin(((X[:, None, :] - X[:k][None]) ** 2).sum(-1), axis=1)
    labels[rng.integers(n, size=20)] = rng.integers(k, size=20)  # some misfits
    labels[5] = k + 3  # a cluster of one sample, and label values that are not 0..k-1
    return X, labels * 2 - 1


def _rtol(backend):
    # The 1e-6 in float64; float32 data round every distance.
    return 1e-6 if backend.dtype == "float64" else 1e-4


def test_scores_match_sklearn(backend):
    X, labels = _data()
    Xb, lb = backend.asarray(X), backend.asarray(labels)
    Xd = X.astype(backend.dtype).astype(np.float64)  # what the backend sees
    rtol = _rtol(backend)
    sil = xm.silhouette_samples(Xb, lb)
    backend.check_array(sil, dtype=backend.dtype, shape=(X.shape[0],))
    np.testing.assert_allclose(backend.to_numpy(sil), skm.silhouette_samples(Xd, labels),
                               rtol=rtol, atol=rtol)
    assert backend.to_numpy(sil)[5] == 0.0  # the singleton
    for ours, theirs in [
        (xm.silhouette_score, skm.silhouette_score),
        (xm.calinski_harabasz_score, skm.calinski_harabasz_score),
        (xm.davies_bouldin_score, skm.davies_bouldin_score),
    ]:
        got, expected = ours(Xb, lb), theirs(Xd, labels)
        assert isinstance(got, float)
        assert abs(got - expected) <= rtol * abs(expected), ours.__name__


def test_precomputed_silhouette(backend):
    X, labels = _data(n=120)
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    got = xm.silhouette_samples(backend.asarray(D), backend.asarray(labels),
                                metric="precomputed")
    expected = skm.silhouette_samples(D.astype(backend.dtype), labels, metric="precomputed")
    np.testing.assert_allclose(backend.to_numpy(got), expected, rtol=_rtol(backend),
                               atol=_rtol(backend))
    D[3, 3] = 1.0
    with pytest.raises(ValueError, match="non-zero elements on the diagonal"):
        xm.silhouette_score(backend.asarray(D), backend.asarray(labels), metric="precomputed")


def test_small_chunks_same_answer(backend):
    X, labels = _data(n=150)
    Xb, lb = backend.asarray(X), backend.asarray(labels)
    whole = backend.to_numpy(xm.silhouette_samples(Xb, lb))
    with config_context(working_memory=0.01), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "chunks this small are slow"
        small = backend.to_numpy(xm.silhouette_samples(Xb, lb))
        db = xm.davies_bouldin_score(Xb, lb)
        ch = xm.calinski_harabasz_score(Xb, lb)
    np.testing.assert_allclose(small, whole, rtol=_rtol(backend), atol=_rtol(backend))
    assert abs(db - xm.davies_bouldin_score(Xb, lb)) <= _rtol(backend) * db
    assert abs(ch - xm.calinski_harabasz_score(Xb, lb)) <= _rtol(backend) * ch


def test_silhouette_sample_size(backend):
    X, labels = _data()
    Xb, lb = backend.asarray(X), backend.asarray(labels)
    got = xm.silhouette_score(Xb, lb, sample_size=100, random_state=3)
    idx = np.random.default_rng(3).permutation(X.shape[0])[:100]
    expected = skm.silhouette_score(X.astype(backend.dtype)[idx], labels[idx])
    assert abs(got - expected) <= _rtol(backend) * abs(expected)
    assert got == xm.silhouette_score(Xb, lb, sample_size=100, random_state=3)
    assert xm.silhouette_score(Xb, lb, sample_size=10_000) == pytest.approx(
        xm.silhouette_score(Xb, lb), rel=_rtol(backend))


def test_string_labels_and_lists_on_numpy():
    X, labels = _data(n=60)
    names = np.array(["a", "b", "c", "d", "e"])[np.unique(labels, return_inverse=True)[1]]
    assert xm.silhouette_score(X.tolist(), list(names)) == pytest.approx(
        skm.silhouette_score(X, labels), rel=1e-12)
    assert xm.calinski_harabasz_score(X, names) == pytest.approx(
        skm.calinski_harabasz_score(X, labels), rel=1e-12)


def test_degenerate_scores_as_sklearn():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 3, axis=0)
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert xm.calinski_harabasz_score(X, labels) == skm.calinski_harabasz_score(X, labels) == 1.0
    assert xm.davies_bouldin_score(X, labels) == skm.davies_bouldin_score(X, labels) == 0.0
    same = np.zeros((6, 2))
    assert xm.davies_bouldin_score(same, labels) == skm.davies_bouldin_score(same, labels)
    np.testing.assert_array_equal(xm.silhouette_samples(same, labels),
                                  skm.silhouette_samples(same, labels))


def test_errors(foreign_backend):
    X, labels = _data(n=30)
    for fn in (xm.silhouette_score, xm.calinski_harabasz_score, xm.davies_bouldin_score):
        with pytest.raises(ValueError, match="Number of labels is 1"):
            fn(X, np.zeros(30))
        with pytest.raises(ValueError, match="Number of labels is 30"):
            fn(X, np.arange(30))
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            fn(X, labels[:-1])
        with pytest.raises(MixedArrayError):
            fn(foreign_backend.asarray(X), labels)
    with pytest.raises(ValueError, match="metric='cosine' is not supported"):
        xm.silhouette_score(X, labels, metric="cosine")
    with pytest.raises(ValueError, match="sample_size"):
        xm.silhouette_score(X, labels, sample_size=0)
