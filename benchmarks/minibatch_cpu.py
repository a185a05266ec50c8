"""MiniBatchKMeans on the W1 colour workload (CPU size): xkmeans vs scikit-learn.

2,000,000 x 3 float32 points (300 colour centres uniform in [0,1]^3 plus
N(0, 0.03^2) noise), k=16, one fit each at the same batch size, same seed.
Reports fit time, steps and the final inertia recomputed on all points in
float64. Usage::

    python benchmarks/minibatch_cpu.py [--n 2000000] [--batch-sizes 1024 4096]

``--stream torch|strict`` instead times a host ``numpy.memmap`` of the same
points (written to ``--tmp``) streamed batch by batch to a CPU device (PyTorch
CPU or array-api-strict ``device1``), with the next batch gathered on a worker
thread (prefetch, the default) or not, alternated in one process after a
warm-up fit::

    python benchmarks/minibatch_cpu.py --stream torch --n 4000000 --batch-sizes 4096
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def stream_prefetch(args):
    """Prefetch on vs off, alternated: a memmap streamed to a CPU device."""
    from xkmeans import MiniBatchKMeans

    if args.stream == "torch":
        import torch

        device = torch.device("cpu")
    else:
        import array_api_strict

        device = array_api_strict.Device("device1")
    path = os.path.join(args.tmp, f"xkmeans_stream_{args.n}x3.f32")
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(args.n, 3))
    mm[:] = colour_points(args.n, args.seed)
    mm.flush()
    del mm
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(args.n, 3))
    bs = args.batch_sizes[0]

    def fit(prefetch):
        est = MiniBatchKMeans(args.k, batch_size=bs, random_state=args.seed, device=device)
        est._prefetch = prefetch
        t = time.perf_counter()
        est.fit(X)
        return time.perf_counter() - t, est

    print(f"memmap {args.n} x 3 float32 -> {device!r}, k={args.k}, batch {bs}, "
          f"os.cpu_count()={os.cpu_count()}")
    fit(True)  # warm-up: imports, page cache, thread pools
    times = {True: [], False: []}
    for _ in range(args.repeats):
        for prefetch in (True, False):
            t, est = fit(prefetch)
            times[prefetch].append(t)
            print(f"prefetch={prefetch!s:5} fit {t:6.2f} s  n_steps_={est.n_steps_}  "
                  f"inertia_={est.inertia_:.6g}")
    on, off = (statistics.median(times[p]) for p in (True, False))
    print(f"median: prefetch on {on:.2f} s, off {off:.2f} s (off / on = {off / on:.2f})")
    os.remove(path)


def main():
    from sklearn.cluster import MiniBatchKMeans as SK

    from xkmeans import MiniBatchKMeans

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2_000_000)
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stream", choices=["torch", "strict"], default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tmp", default="/tmp")
    args = p.parse_args()
    if args.stream:
        stream_prefetch(args)
        return
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
