"""MeanShift and AffinityPropagation: xkmeans (NumPy) vs scikit-learn on the same data.

- MeanShift: ``make_blobs(50000, centers=[[1, 1], [-1, -1], [1, -1]],
  cluster_std=0.6, random_state=0)`` (2 features), ``bin_seeding=True``,
  bandwidth ``sklearn.cluster.estimate_bandwidth(X, quantile=0.2,
  n_samples=500)`` given to both (scikit-learn's mean-shift example).
- AffinityPropagation: ``make_blobs(5000, n_features=8, centers=10,
  random_state=0)``, ``random_state=0``, other parameters as given
  (default: scikit-learn's defaults; ``--damping 0.9`` converges).

One timed fit each (after a small warm-up of both), wall clock, float64.
Prints time, iterations and whether the results agree.

Usage: python benchmarks/no_k_cpu.py [--only meanshift|affinity] [--ms-n 50000]
       [--ap-n 5000] [--damping 0.5] [--max-iter 200]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.cluster import AffinityPropagation as SKAffinity
from sklearn.cluster import MeanShift as SKMeanShift
from sklearn.cluster import estimate_bandwidth
from sklearn.datasets import make_blobs

from xkmeans import AffinityPropagation, MeanShift


def _timed(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning where AP does not converge
        t = time.perf_counter()
        est.fit(X)
        return time.perf_counter() - t, est


def _row(name, t, est, extra):
    print(f"{name:10} {t:9.3f} {est.n_iter_:7d} {extra}")


def mean_shift(n):
    X, _ = make_blobs(n, centers=[[1, 1], [-1, -1], [1, -1]], cluster_std=0.6, random_state=0)
    bw = float(estimate_bandwidth(X, quantile=0.2, n_samples=500))
    _timed(MeanShift(bandwidth=bw, bin_seeding=True), X[:2000])
    _timed(SKMeanShift(bandwidth=bw, bin_seeding=True), X[:2000])
    print(f"MeanShift {n} x 2, bin_seeding=True, bandwidth={bw:.4f}")
    print(f"{'impl':10} {'fit s':>9} {'n_iter':>7} centres / agreement")
    tx, xk = _timed(MeanShift(bandwidth=bw, bin_seeding=True), X)
    ts, sk = _timed(SKMeanShift(bandwidth=bw, bin_seeding=True), X)
    _row("xkmeans", tx, xk, f"{xk.cluster_centers_.shape[0]} centres")
    same = xk.cluster_centers_.shape == sk.cluster_centers_.shape
    diff = np.abs(xk.cluster_centers_ - sk.cluster_centers_).max() if same else np.inf
    _row("sklearn", ts, sk, f"{sk.cluster_centers_.shape[0]} centres; max centre "
         f"difference {diff:.1e}, labels equal: {bool(same and (xk.labels_ == sk.labels_).all())}")
    print(f"speed-up {ts / tx:.2f}x")


def affinity(n, damping, max_iter):
    X, _ = make_blobs(n, n_features=8, centers=10, random_state=0)
    kw = {"damping": damping, "max_iter": max_iter, "random_state": 0}
    _timed(AffinityPropagation(**kw), X[:300])
    _timed(SKAffinity(**kw), X[:300])
    print(f"AffinityPropagation {n} x 8, damping={damping}, max_iter={max_iter}")
    print(f"{'impl':10} {'fit s':>9} {'n_iter':>7} exemplars / agreement")
    tx, xk = _timed(AffinityPropagation(**kw), X)
    ts, sk = _timed(SKAffinity(**kw), X)
    _row("xkmeans", tx, xk, f"{len(xk.cluster_centers_indices_)} exemplars")
    same = np.array_equal(xk.cluster_centers_indices_, sk.cluster_centers_indices_)
    _row("sklearn", ts, sk, f"{len(sk.cluster_centers_indices_)} exemplars; same exemplars: "
         f"{same}")
    print(f"speed-up {ts / tx:.2f}x; per iteration {tx / xk.n_iter_:.3f} s vs "
          f"{ts / sk.n_iter_:.3f} s (setup included)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["meanshift", "affinity"])
    p.add_argument("--ms-n", type=int, default=50000)
    p.add_argument("--ap-n", type=int, default=5000)
    p.add_argument("--damping", type=float, default=0.5)
    p.add_argument("--max-iter", type=int, default=200)
    args = p.parse_args()
    if args.only in (None, "meanshift"):
        mean_shift(args.ms_n)
    if args.only in (None, "affinity"):
        affinity(args.ap_n, args.damping, args.max_iter)


if __name__ == "__main__":
    main()
