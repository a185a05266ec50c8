"""KMeans on a Dask array, on a local dask.distributed cluster: xkmeans vs dask-ml.

W2-style blobs (k centres ~ N(0, 10^2), each point a random centre plus
N(0, 5^2) noise), float32, generated on the workers chunk by chunk and
persisted before either fit. Both estimators start from the same centres
(k rows of X drawn without replacement with ``default_rng(0)``), tol=0 and
the same ``max_iter``; each fits twice, with ``--iters`` and with 2
iterations, and the time per iteration is the difference divided by
``iters - 2`` (set-up, initial validation and the final labelling cancel).
xkmeans also reports the median of its own per-iteration times (a hook
between iterations). Inertias are printed to show that both did the same
work. Usage::

    python -m benchmarks.dask_cpu [--n 20000000] [--d 16] [--k 64] [--workers 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _blobs_block(block_info=None, *, centres, seed, d):
    info = block_info[None]
    (a, b), _ = info["array-location"]
    rng = np.random.default_rng([seed, a])
    idx = rng.integers(centres.shape[0], size=b - a)
    X = centres[idx] + rng.normal(scale=5.0, size=(b - a, d)).astype(np.float32)
    return X.astype(np.float32)


def blobs(n, d, k, chunk_rows, seed=0):
    import dask.array as da

    centres = np.random.default_rng(seed).normal(scale=10.0, size=(k, d)).astype(np.float32)
    chunks = (da.core.normalize_chunks((chunk_rows,), (n,))[0], (d,))
    return da.map_blocks(_blobs_block, centres=centres, seed=seed, d=d, chunks=chunks,
                         dtype=np.float32, meta=np.empty((0, 0), np.float32))


def first_rows(X, k, seed=0):
    """k distinct rows of X, drawn with ``default_rng(seed)`` (host copy)."""
    idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], size=k, replace=False))
    return X[idx].compute()


def timed(fit):
    t = time.perf_counter()
    est = fit()
    return est, time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000_000)
    p.add_argument("--d", type=int, default=16)
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--chunk-rows", type=int, default=500_000)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--memory-limit", default="4GiB", help="per worker")
    p.add_argument("--skip-dask-ml", action="store_true")
    args = p.parse_args()

    import dask
    import distributed

    from xkmeans import KMeans, _dask

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"dask {dask.__version__}, distributed {distributed.__version__}; "
          f"{args.workers} worker processes x 1 thread")
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  memory_limit=args.memory_limit, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        X = blobs(args.n, args.d, args.k, args.chunk_rows).persist()
        distributed.wait(X)
        init = first_rows(X, args.k)
        print(f"data: {args.n} x {args.d} float32 ({X.nbytes / 2**30:.2f} GiB) in "
              f"{X.numblocks[0]} chunks of {args.chunk_rows} rows, k={args.k}, "
              f"{args.iters} iterations from the same init, tol=0")
        threads = client.run(lambda: __import__("os").environ.get("OMP_NUM_THREADS"))
        print(f"OMP_NUM_THREADS on the workers: {sorted(set(map(str, threads.values())))}")
        # Warm the workers (imports, compiled kernels) on a small fit.
        KMeans(args.k, init=init, max_iter=1, tol=0).fit(X[: 4 * args.chunk_rows])

        stamps = []
        _dask._after_iteration = lambda i: stamps.append(time.perf_counter())
        rows = {}

        def xk(iters):
            return KMeans(args.k, init=init, n_init=1, max_iter=iters, tol=0).fit(X)

        est, t_full = timed(lambda: xk(args.iters))
        per_hook = float(np.median(np.diff(stamps))) if len(stamps) > 2 else float("nan")
        _dask._after_iteration = None
        _, t_short = timed(lambda: xk(2))
        rows["xkmeans"] = (t_full, t_short, est.n_iter_, est.inertia_, per_hook)
        centres = {"xkmeans": est.cluster_centers_}

        if not args.skip_dask_ml:
            try:
                from dask_ml.cluster import KMeans as DMKMeans
            except Exception as e:  # noqa: BLE001 - report why the peer is missing
                print(f"dask-ml: not available ({type(e).__name__}: {e})")
            else:
                def dm(iters):
                    return DMKMeans(n_clusters=args.k, init=init, max_iter=iters, tol=0,
                                    random_state=0).fit(X)

                DMKMeans(n_clusters=args.k, init=init, max_iter=1, tol=0).fit(
                    X[: 4 * args.chunk_rows])
                est, t_full = timed(lambda: dm(args.iters))
                _, t_short = timed(lambda: dm(2))
                # dask-ml's inertia_ sums distances, not squared distances:
                # both inertias are recomputed below from the centres.
                rows["dask-ml"] = (t_full, t_short, est.n_iter_, None, None)
                centres["dask-ml"] = np.asarray(est.cluster_centers_)
        for name, C in centres.items():
            scorer = KMeans(args.k).fit(init)  # any fitted model; its centres replaced
            scorer.cluster_centers_ = C.astype(np.float32)
            rows[name] = (*rows[name][:3], -scorer.score(X), rows[name][4])
        if len(centres) == 2:
            gap = np.abs(centres["xkmeans"] - centres["dask-ml"]).max()
            print(f"max |centre difference| xkmeans vs dask-ml: {gap:.3g}")
        del client

    print(f"{'impl':10} {'fit s':>8} {'iters':>6} {'2-iter fit s':>13} {'s/iter':>8} "
          f"{'hook s/iter':>12} {'inertia':>16}")
    for name, (t_full, t_short, n_iter, inertia, hook) in rows.items():
        per = (t_full - t_short) / max(1, n_iter - 2)
        hook_s = "" if hook is None else f"{hook:.3f}"
        print(f"{name:10} {t_full:8.2f} {n_iter:6d} {t_short:13.2f} {per:8.3f} {hook_s:>12} "
              f"{inertia:16.6g}")


if __name__ == "__main__":
    main()
