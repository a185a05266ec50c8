"""GaussianMixture and the clustering scores: xkmeans against scikit-learn, same data.

Rows:

- ``GaussianMixture(16, covariance_type='full')`` on 200k x 8 float64 (CPU) or
  1M x 16 float32 with 32 components (``--size gpu``): both libraries start from
  the same ``weights_init``/``means_init``/``precisions_init`` (k rows of X, equal
  weights, identity precisions) and run exactly ``--iters`` EM iterations
  (``tol=0``); the time is the whole ``fit``, reported per iteration, and the
  final lower bounds are printed side by side;
- ``silhouette_score`` on 20k points, ``calinski_harabasz_score`` and
  ``davies_bouldin_score`` on all points, labelled by their generating blob.

One timed run each after a small warm-up of both; wall clock, device
synchronised. Usage::

    python -m benchmarks.mixture [--size cpu|gpu] [--device numpy|cupy|torch-cuda] [--iters 20]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import xkmeans
from xkmeans import metrics as xm

from .measure import timed

SIZES = {"cpu": (200_000, 8, 16, "float64"), "gpu": (1_000_000, 16, 32, "float32"),
         "tiny": (3_000, 4, 4, "float64")}  # tiny: the test of this script


def _data(n, d, k, dtype):
    rng = np.random.default_rng(0)
    means = rng.uniform(-10, 10, size=(k, d))
    labels = rng.integers(k, size=n)
    shapes = rng.normal(size=(k, d, d)) * 0.5
    X = means[labels] + np.einsum("nd,nde->ne", rng.normal(size=(n, d)), shapes[labels])
    return X.astype(dtype), labels


def _params(X, k, iters):
    rng = np.random.default_rng(0)
    d = X.shape[1]
    return {
        "n_components": k, "covariance_type": "full", "tol": 0.0, "max_iter": iters,
        "init_params": "random_from_data", "random_state": 0,
        "weights_init": np.full(k, 1.0 / k),
        "means_init": X[rng.choice(X.shape[0], k, replace=False)].astype(np.float64),
        "precisions_init": np.tile(np.eye(d), (k, 1, 1)),
    }


def _device(name):
    if name == "numpy":
        return lambda a: a, lambda: None
    if name == "cupy":
        import cupy

        return cupy.asarray, cupy.cuda.Device().synchronize
    import torch

    return (lambda a: torch.asarray(a, device="cuda")), torch.cuda.synchronize


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SIZES), default="cpu")
    p.add_argument("--device", choices=["numpy", "cupy", "torch-cuda"], default="numpy")
    p.add_argument("--iters", type=int, default=20)
    args = p.parse_args(argv)
    n, d, k, dtype = SIZES[args.size]
    to_dev, sync = _device(args.device)
    X, y = _data(n, d, k, dtype)
    Xd = to_dev(X)
    warnings.simplefilter("ignore", ConvergenceWarning)

    small = _params(X[:5000], k, 2)
    xkmeans.GaussianMixture(**small).fit(to_dev(X[:5000]))
    SkGaussianMixture(**small).fit(X[:5000])
    params = _params(X, k, args.iters)
    tx, gx = timed(lambda: xkmeans.GaussianMixture(**params).fit(Xd), sync)
    ts, gs = timed(lambda: SkGaussianMixture(**params).fit(X), lambda: None)
    print(f"GaussianMixture {n} x {d} {dtype}, {k} components full, {args.iters} iterations, "
          f"xkmeans on {args.device}")
    print(f"{'row':<28} {'xkmeans':>10} {'sklearn':>10} {'ratio':>7}   note")
    it = args.iters
    print(f"{'GMM fit, ms/iteration':<28} {1e3 * tx / it:>10.1f} {1e3 * ts / it:>10.1f} "
          f"{tx / ts:>7.2f}   lower_bound_ {gx.lower_bound_:.6f} vs {gs.lower_bound_:.6f}")

    m = min(n, 20_000)
    yd = to_dev(y)
    rows = [
        (f"silhouette_score {m} pts", lambda: xm.silhouette_score(Xd[:m], yd[:m]),
         lambda: skm.silhouette_score(X[:m], y[:m])),
        (f"calinski_harabasz {n} pts", lambda: xm.calinski_harabasz_score(Xd, yd),
         lambda: skm.calinski_harabasz_score(X, y)),
        (f"davies_bouldin {n} pts", lambda: xm.davies_bouldin_score(Xd, yd),
         lambda: skm.davies_bouldin_score(X, y)),
    ]
    for name, ours, theirs in rows:
        ours()  # warm-up (kernels, caches)
        tx, vx = timed(ours, sync)
        ts, vs = timed(theirs, lambda: None)
        print(f"{name + ', s':<28} {tx:>10.3f} {ts:>10.3f} {tx / ts:>7.2f}   "
              f"score {vx:.6g} vs {vs:.6g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
