"""Spectral clustering on two moons: xkmeans (NumPy) vs scikit-learn, side by side.

affinity='nearest_neighbors', n_neighbors=10, n_clusters=2, random_state=0 on
``make_moons(n, noise=0.05, random_state=0)``; one timed run each (after one
small warm-up of both), wall clock. Prints time and adjusted Rand index.

Usage: python benchmarks/spectral_cpu.py [n ...]   (default 1000 10000 50000)
"""

from __future__ import annotations

import sys
import time
import warnings

from sklearn.cluster import SpectralClustering as SKSpectral
from sklearn.datasets import make_moons
from sklearn.metrics import adjusted_rand_score

from xkmeans import SpectralClustering

PARAMS = {"n_clusters": 2, "affinity": "nearest_neighbors", "n_neighbors": 10, "random_state": 0}


def _timed(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Graph is not fully connected"
        t = time.perf_counter()
        labels = est.fit_predict(X)
        return time.perf_counter() - t, labels


def main(sizes):
    Xw, _ = make_moons(200, noise=0.05, random_state=0)
    _timed(SpectralClustering(**PARAMS), Xw)
    _timed(SKSpectral(**PARAMS), Xw)
    print(f"{'n':>8} {'xkmeans s':>10} {'sklearn s':>10} {'speed-up':>9} "
          f"{'xkmeans ARI':>12} {'sklearn ARI':>12}")
    for n in sizes:
        X, y = make_moons(n, noise=0.05, random_state=0)
        tx, lx = _timed(SpectralClustering(**PARAMS), X)
        ts, ls = _timed(SKSpectral(**PARAMS), X)
        print(f"{n:>8} {tx:>10.3f} {ts:>10.3f} {ts / tx:>8.1f}x "
              f"{adjusted_rand_score(y, lx):>12.4f} {adjusted_rand_score(y, ls):>12.4f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000, 50000])
