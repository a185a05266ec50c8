"""MiniBatchKMeans on the W1 colour workload (CPU size): xkmeans vs scikit-learn.

2,000,000 x 3 float32 points (300 colour centres uniform in [0,1]^3 plus
N(0, 0.03^2) noise), k=16, one fit each at the same batch size, same seed.
Reports fit time, steps and the final inertia recomputed on all points in
float64. Usage::

    python benchmarks/minibatch_cpu.py [--n 2000000] [--batch-sizes 1024 4096]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def colour_points(n, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(size=(300, 3))
    X = centres[rng.integers(300, size=n)] + rng.normal(scale=0.03, size=(n, 3))
    return X.astype(np.float32)


def inertia64(X, C):
    """Inertia on all points in float64, chunked."""
    C = np.asarray(C, dtype=np.float64)
    total = 0.0
    for a in range(0, X.shape[0], 1 << 18):
        x = X[a:a + (1 << 18)].astype(np.float64)
        d = (x * x).sum(1)[:, None] - 2 * x @ C.T + (C * C).sum(1)[None, :]
        total += np.maximum(d.min(axis=1), 0).sum()
    return total


def main():
    from sklearn.cluster import MiniBatchKMeans as SK

    from xkmeans import MiniBatchKMeans

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2_000_000)
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    X = colour_points(args.n)
    print(f"W1 colour CPU: n={args.n} d=3 k={args.k} float32")
    print(f"{'impl':10} {'batch':>6} {'fit s':>8} {'steps':>7} {'ms/step':>8} {'inertia64':>12}")
    for bs in args.batch_sizes:
        rows = {}
        for name, cls in (("xkmeans", MiniBatchKMeans), ("sklearn", SK)):
            est = cls(args.k, batch_size=bs, random_state=args.seed, n_init="auto")
            t = time.perf_counter()
            est.fit(X)
            t = time.perf_counter() - t
            inertia = inertia64(X, est.cluster_centers_)
            rows[name] = (t, inertia)
            print(f"{name:10} {bs:6d} {t:8.2f} {est.n_steps_:7d} "
                  f"{1e3 * t / est.n_steps_:8.2f} {inertia:12.1f}")
        (tx, ix), (ts, is_) = rows["xkmeans"], rows["sklearn"]
        print(f"  batch {bs}: speed-up {ts / tx:.1f}x, inertia ratio {ix / is_:.4f}")


if __name__ == "__main__":
    main()
