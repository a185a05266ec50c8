"""DBSCAN: xkmeans (NumPy) vs scikit-learn on the same data, side by side.

Data: scikit-learn's DBSCAN example scaled up, ``make_blobs(n, centers=[[1, 1],
[-1, -1], [1, -1]], cluster_std=0.4, random_state=0)`` standardised, float64,
``min_samples=10`` and ``eps`` shrunk with the density (``0.3 * sqrt(750 / n)``
by default: about the example's neighbourhood sizes, ~0.02 at 200k points).
One timed fit each (after a small warm-up of both), wall clock. Prints the
time, clusters, noise, and whether labels and core samples are identical.

Usage: python benchmarks/dbscan_cpu.py [--n 200000] [--eps EPS] [--min-samples 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.cluster import DBSCAN as SKDBSCAN
from sklearn.datasets import make_blobs
from sklearn.preprocessing import StandardScaler

from xkmeans import DBSCAN


def data(n):
    X, _ = make_blobs(n, centers=[[1, 1], [-1, -1], [1, -1]], cluster_std=0.4, random_state=0)
    return StandardScaler().fit_transform(X)


def _timed(est, X):
    t = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - t, est


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--eps", type=float, default=None)
    p.add_argument("--min-samples", type=int, default=10)
    args = p.parse_args()
    eps = args.eps if args.eps is not None else 0.3 * np.sqrt(750 / args.n)
    X = data(args.n)
    kw = {"eps": eps, "min_samples": args.min_samples}
    _timed(DBSCAN(**kw), X[:2000])
    _timed(SKDBSCAN(**kw), X[:2000])
    print(f"DBSCAN {args.n} x 2, eps={eps:.4f}, min_samples={args.min_samples}")
    print(f"{'impl':10} {'fit s':>8} {'clusters':>9} {'noise':>7}")
    tx, xk = _timed(DBSCAN(**kw), X)
    ts, sk = _timed(SKDBSCAN(**kw), X)
    for name, t, est in (("xkmeans", tx, xk), ("sklearn", ts, sk)):
        print(f"{name:10} {t:8.3f} {int(est.labels_.max()) + 1:9d} "
              f"{int((est.labels_ == -1).sum()):7d}")
    same = (np.array_equal(xk.labels_, sk.labels_)
            and np.array_equal(xk.core_sample_indices_, sk.core_sample_indices_))
    print(f"speed-up {ts / tx:.2f}x; labels and core samples identical: {same}")


if __name__ == "__main__":
    main()
