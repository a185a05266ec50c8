"""The worked examples' claims, checked fast and apart from the docs build.

The gallery scripts in ``examples/`` assert their own numbers when
``make docs`` runs them; these tests keep the headline results under
``make test`` without Sphinx, matplotlib or t-SNE.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score

from xkmeans import KMeans


def _contingency(labels, y, n):
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (labels, y), 1)
    return counts


def hungarian_accuracy(labels, y, n=10):
    """Accuracy under the best one-to-one map from clusters to classes."""
    counts = _contingency(labels, y, n)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return counts[rows, cols].sum() / len(y)


def most_common_accuracy(labels, y, n=10):
    """Accuracy when each cluster is named after its most common class."""
    return _contingency(labels, y, n).max(axis=1).sum() / len(y)


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def test_hungarian_accuracy_is_one_for_a_relabelling():
    y = np.repeat(np.arange(10), 5)
    perm = np.random.default_rng(0).permutation(10)
    assert hungarian_accuracy(perm[y], y) == 1.0
    # Nines merged into the eights' cluster, zeros split 2 + 3 over two clusters:
    # naming clusters by their most common class counts both zero clusters
    # (2 + 35 + 5 + 3), the one-to-one map only the larger (35 + 5 + 3).
    merged = np.where(y == 9, 8, y)
    split = np.where((y == 0) & (np.arange(50) % 2 == 0), 9, merged)
    assert most_common_accuracy(split, y) == pytest.approx(45 / 50)
    assert hungarian_accuracy(split, y) == pytest.approx(43 / 50)


def test_digits_accuracy(digits):
    """The digits example: KMeans(k=10, n_init=10, random_state=0), about 0.79."""
    X, y = digits
    km = KMeans(n_clusters=10, n_init=10, random_state=0).fit(X)
    labels = np.asarray(km.labels_)
    assert hungarian_accuracy(labels, y) >= 0.78
    assert most_common_accuracy(labels, y) >= 0.78


def test_digits_same_clustering_on_every_backend(backend, digits):
    """One seed, one clustering: what the backends page says of the digits."""
    X, _ = digits
    ref = KMeans(n_clusters=10, n_init=1, random_state=0).fit(X)
    km = KMeans(n_clusters=10, n_init=1, random_state=0).fit(backend.asarray(X))
    backend.check_array(km.cluster_centers_, dtype=backend.dtype, shape=(10, 64))
    labels = backend.to_numpy(km.labels_)
    assert adjusted_rand_score(np.asarray(ref.labels_), labels) > 0.99
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=backend.rtol)


def test_two_moons_spectral_recovers_what_kmeans_cuts():
    """The two-moons example: spectral clustering ARI >= 0.99, k-means far below."""
    from sklearn.datasets import make_moons

    from xkmeans import SpectralClustering

    X, y = make_moons(500, noise=0.08, random_state=0)
    sc = SpectralClustering(n_clusters=2, affinity="nearest_neighbors", n_neighbors=10,
                            assign_labels="kmeans", random_state=0).fit(X)
    km = KMeans(n_clusters=2, random_state=0).fit(X)
    assert adjusted_rand_score(y, np.asarray(sc.labels_)) >= 0.99
    assert adjusted_rand_score(y, np.asarray(km.labels_)) < 0.6


def test_colour_compression_psnr_close_to_sklearn():
    """The colour example: 16-colour china.jpg within 0.2 dB of scikit-learn's KMeans."""
    from sklearn.cluster import KMeans as SKKMeans
    from sklearn.datasets import load_sample_image

    from xkmeans import dequantize, psnr, quantize

    img = load_sample_image("china.jpg")
    palette, indices = quantize(img, 16, random_state=0)
    ours = psnr(dequantize(palette, indices), img)
    pixels = img.reshape(-1, 3).astype(np.float64)
    ref = SKKMeans(16, random_state=0).fit(pixels)
    rebuilt = np.clip(np.round(ref.cluster_centers_), 0, 255).astype(np.uint8)[ref.labels_]
    assert ours >= psnr(rebuilt.reshape(img.shape), img) - 0.2


def _three_shapes():
    """The data of plot_gmm_bic.py: a slanted, a round and an upright cluster."""
    rng = np.random.default_rng(0)
    stretched = rng.normal(size=(600, 2)) @ np.array([[3.0, 0.0], [1.5, 0.4]])
    round_ = rng.normal(size=(600, 2)) + [6.0, 6.0]
    upright = rng.normal(size=(300, 2)) @ np.array([[0.3, 0.0], [0.0, 2.0]]) + [-5.0, 6.0]
    return np.vstack([stretched, round_, upright])


def test_gmm_bic_picks_three_full_components():
    """plot_gmm_bic.py: the lowest BIC over 4 covariance types x 1-6 components."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from xkmeans import GaussianMixture, choose_k

    X = _three_shapes()
    bic = {(cov, k): GaussianMixture(k, covariance_type=cov, random_state=0).fit(X).bic(X)
           for cov in ("spherical", "tied", "diag", "full") for k in range(1, 7)}
    assert min(bic, key=bic.get) == ("full", 3)
    sk = SkGaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    assert bic["full", 3] == pytest.approx(sk.bic(X), rel=1e-6)
    assert choose_k(X, range(1, 7), method="bic", random_state=0).best_k == 3


def test_full_mixture_recovers_slanted_blobs_that_kmeans_cuts():
    """plot_kmeans_vs_gmm.py: ARI 1.0 for the mixture, about 0.61 for k-means."""
    from sklearn.datasets import make_blobs

    from xkmeans import GaussianMixture

    X, y = make_blobs(n_samples=1500, centers=3, random_state=170)
    X = X @ np.array([[0.60834549, -0.63667341], [-0.40887718, 0.85253229]])
    km = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
    gmm = GaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    assert adjusted_rand_score(y, gmm.predict(X)) > 0.99
    assert adjusted_rand_score(y, np.asarray(km.labels_)) < 0.8


def test_text_clustering_cosine_finds_modules_euclidean_does_not():
    """plot_text_clustering.py: docstrings of 10 modules as raw sparse TF-IDF; cosine
    k-means about ARI 0.64 / V-measure 0.74, Euclidean one giant cluster (ARI about 0)."""
    import pathlib

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import v_measure_score

    path = pathlib.Path(__file__).parents[1] / "examples" / "plot_text_clustering.py"
    # The example's corpus builder only (running the whole script needs matplotlib).
    source = path.read_text().split("\n\ndocs, y = ")[0]
    source = source.replace("import matplotlib.pyplot as plt\n", "")
    ns = {}
    exec(compile(source, path, "exec"), ns)  # noqa: S102 - our own example
    docs, y = ns["docstrings"](ns["MODULES"])
    X = TfidfVectorizer(stop_words="english", min_df=2, max_df=0.3, norm=None,
                        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b").fit_transform(docs)
    k = len(ns["MODULES"])
    euclid = KMeans(k, n_init=3, random_state=0).fit(X).labels_
    cosine = KMeans(k, n_init=3, random_state=0, metric="cosine").fit(X).labels_
    assert adjusted_rand_score(y, cosine) > adjusted_rand_score(y, euclid) + 0.3
    assert v_measure_score(y, cosine) > 0.6
    assert np.bincount(euclid).max() > len(y) / 2


def test_no_k_gallery_dbscan_alone_recovers_moons_blob_and_noise():
    """plot_no_k.py: DBSCAN ARI about 0.99 on the signal, noise mostly -1; k-means about 0.74."""
    from sklearn.datasets import make_blobs, make_moons
    from sklearn.preprocessing import StandardScaler

    from xkmeans import DBSCAN

    rng = np.random.default_rng(0)
    X_moons, y_moons = make_moons(600, noise=0.06, random_state=0)
    X_blob, _ = make_blobs(400, centers=[[3.2, -1.8]], cluster_std=0.25, random_state=1)
    noise = rng.uniform([-1.5, -2.8], [4.3, 1.6], size=(60, 2))
    X = StandardScaler().fit_transform(np.vstack([X_moons, X_blob, noise]))
    y = np.concatenate([y_moons, np.full(400, 2), np.full(60, -1)])
    signal = y >= 0
    db = np.asarray(DBSCAN(eps=0.15, min_samples=8).fit_predict(X))
    km = np.asarray(KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(X))
    assert adjusted_rand_score(y[signal], db[signal]) > 0.98
    assert np.mean(db[~signal] == -1) > 0.5
    assert adjusted_rand_score(y[signal], km[signal]) < 0.85
