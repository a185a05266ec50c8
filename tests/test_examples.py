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
