"""choose_k: finds the number of well separated clusters, on every backend."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from xkmeans import GaussianMixture, KMeans, choose_k
from xkmeans._choose_k import _elbow
from xkmeans.metrics import silhouette_score

METHODS = ["silhouette", "calinski_harabasz", "davies_bouldin", "inertia", "bic", "aic"]


def four_blobs(n_per=30, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    return np.concatenate([c + rng.normal(size=(n_per, 2)) for c in centres])


@pytest.mark.parametrize("method", METHODS)
def test_each_method_finds_four_blobs(method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = choose_k(four_blobs(), range(2, 8), method=method, random_state=0)
    if method == "aic":
        # AIC penalises parameters less than BIC: on 120 samples one more
        # component scores about the same; the elbow is still at 4.
        assert result.best_k in (4, 5) and result.elbow == 4
        return
    assert result.best_k == 4
    assert result.ks == (2, 3, 4, 5, 6, 7) and len(result.scores) == 6
    assert result.best_estimator.get_params()[
        "n_components" if method in ("bic", "aic") else "n_clusters"] == 4
    assert (result.elbow is not None) == (method in ("inertia", "bic", "aic"))
    table = result.as_dict()
    assert table["k"] == list(result.ks) and table[method] == list(result.scores)
    text = repr(result)
    assert text.startswith(f"KChoice(method={method!r}, best_k=4")
    assert " *  " in text.splitlines()[4]  # the row of k=4 is marked


def test_scores_are_the_estimators_scores():
    X = four_blobs()
    result = choose_k(X, [3, 2, 4, 3], method="silhouette", random_state=1)
    assert result.ks == (2, 3, 4)
    for k, score, inertia in zip(result.ks, result.scores, result.extra["inertia"]):
        km = KMeans(n_clusters=k, random_state=1).fit(X)
        assert score == pytest.approx(silhouette_score(X, km.labels_), rel=1e-12)
        assert inertia == pytest.approx(km.inertia_, rel=1e-12)
    bic = choose_k(X, range(1, 4), method="bic", random_state=1,
                   estimator_params={"covariance_type": "diag"})
    gm = GaussianMixture(2, covariance_type="diag", random_state=1).fit(X)
    assert bic.scores[1] == pytest.approx(gm.bic(X), rel=1e-12)
    assert bic.extra["aic"][1] == pytest.approx(gm.aic(X), rel=1e-12)
    assert bic.best_estimator.covariance_type == "diag"


def test_same_choice_on_every_backend(backend):
    X = four_blobs(n_per=20)
    for method in ("silhouette", "bic"):
        ref = choose_k(X, range(2, 6), method=method, random_state=0)
        got = choose_k(backend.asarray(X), range(2, 6), method=method, random_state=0)
        assert got.best_k == ref.best_k == 4
        np.testing.assert_allclose(got.scores, ref.scores, rtol=100 * backend.rtol)
        est = got.best_estimator
        backend.check_array(est.means_ if method == "bic" else est.cluster_centers_,
                            dtype=backend.dtype)


def test_silhouette_subsample_is_shared_and_seeded():
    X = four_blobs(n_per=50)
    a = choose_k(X, range(2, 6), random_state=0, sample_size=60)
    b = choose_k(X, range(2, 6), random_state=0, sample_size=60)
    full = choose_k(X, range(2, 6), random_state=0, sample_size=None)
    assert a.scores == b.scores and a.best_k == full.best_k == 4
    assert a.scores != full.scores
    assert choose_k(X, range(2, 6), random_state=np.random.default_rng(0),
                    sample_size=60).best_k == 4


def test_elbow_of_a_falling_curve():
    ks = list(range(1, 9))
    assert _elbow(ks, [100.0, 40.0, 10.0, 8.0, 7.0, 6.5, 6.0, 5.8]) == 3
    assert _elbow(ks, [100.0, 99.0, 98.0, 97.0, 20.0, 19.0, 18.5, 18.0]) == 5
    assert _elbow([1, 2], [3.0, 1.0]) is None


def test_invalid_arguments():
    X = four_blobs(n_per=5)
    with pytest.raises(ValueError, match="method='elbow' should be one of"):
        choose_k(X, method="elbow")
    with pytest.raises(ValueError, match="from 2 to 19"):
        choose_k(X, [1, 2, 3])
    with pytest.raises(ValueError, match="from 1 to 20"):
        choose_k(X, [2, 21], method="bic")
    with pytest.raises(ValueError, match="ints"):
        choose_k(X, [2, 3.5])
    with pytest.raises(TypeError, match="iterable of ints"):
        choose_k(X, 5)
    with pytest.raises(ValueError, match="at least 3 values of k"):
        choose_k(X, [2, 3], method="inertia")
    with pytest.raises(ValueError, match="sample_size"):
        choose_k(X, sample_size=1)


def test_plot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = choose_k(four_blobs(), range(2, 6), random_state=0)
    ax = result.plot()
    try:
        assert list(ax.lines[0].get_xdata()) == [2, 3, 4, 5]
        assert "chosen k = 4" in [t.get_text() for t in ax.get_legend().get_texts()]
    finally:
        plt.close(ax.figure)


def test_plot_without_matplotlib_says_what_to_install(monkeypatch):
    result = choose_k(four_blobs(), range(2, 5), random_state=0)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'xkmeans\[plot\]'"):
        result.plot()
