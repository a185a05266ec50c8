"""Issue 16's rows at GPU size: k-means|| vs greedy k-means++, pruned vs plain Lloyd, sparse X.

``python -m benchmarks.gpu_advanced [--lib cupy] [--quick]``. Each row runs
once after a warm-up on a slice (kernel compilation, memory pool), with the
device synchronised before the clock is read:

- ``init``: greedy k-means++ and k-means|| on W2 at GPU size (1M x 128,
  k=1024), the initialisation alone, on the centred data.
- ``fit``: whole fits to convergence (default tol, max_iter capped) from the
  harness's fixed init, ``algorithm='lloyd'`` and ``'elkan'`` (pruned), on W1
  (16.7M x 3, k=64) and W2 (1M x 128, k=1024); n_iter and inertia beside.
- ``sparse``: a TF-IDF-like CSR matrix (``benchmarks.sparse_cpu``,
  200k x 50k at 0.1 %) as ``cupyx.scipy.sparse``, k=50, 20 Lloyd iterations
  from a fixed init, tol=0.

Every row is independent: a failure prints a row saying so and the script
goes on. ``--quick`` shrinks every size (a smoke test on any machine, NumPy
when no GPU library is installed).
"""

from __future__ import annotations

import argparse

import numpy as np

from . import impls
from .measure import timed
from .workloads import initial_centres, load_data


def init_rows(lib, sync, n, d, k):
    from xkmeans._backend import get_namespace
    from xkmeans._init import kmeans_plusplus
    from xkmeans._kmeans_parallel import kmeans_parallel

    X_host, _ = load_data(("embeddings", n, d, k))
    X_host = X_host - X_host.mean(axis=0, dtype=np.float64).astype(np.float32)
    X = impls.convert(X_host, lib)
    xp = get_namespace(X)
    x_sq = xp.sum(X * X, axis=1)
    out = {}
    for name, fn in (("k-means++", kmeans_plusplus), ("k-means||", kmeans_parallel)):
        fn(X[:20_000], 32, x_sq=x_sq[:20_000], weights=None, rng=np.random.default_rng(1),
           xp=xp)  # warm-up
        t, _ = timed(lambda fn=fn: fn(X, k, x_sq=x_sq, weights=None,
                                       rng=np.random.default_rng(0), xp=xp), sync)
        out[name] = t
        print(f"| init {n}x{d}, k={k} | {name} | {t:.3f} s | "
              f"{t / out['k-means++']:.3f} of greedy |", flush=True)


def fit_rows(lib, sync, key, k, max_iter):
    from xkmeans import KMeans

    X_host, _ = load_data(key)
    X = impls.convert(X_host, lib)
    init = impls.convert(initial_centres(X_host, k), lib)
    times = {}
    for alg in ("lloyd", "elkan"):
        KMeans(k, init=init, n_init=1, algorithm=alg, max_iter=2).fit(X[:200_000])  # warm-up
        t, est = timed(lambda alg=alg: KMeans(k, init=init, n_init=1, algorithm=alg,
                                               max_iter=max_iter).fit(X), sync)
        times[alg] = t
        print(f"| fit {key[0]} {X_host.shape[0]}x{X_host.shape[1]}, k={k} | {alg} | "
              f"{t:.3f} s | n_iter {est.n_iter_}, inertia {est.inertia_:.6g}, "
              f"{t / times['lloyd']:.2f} of lloyd |", flush=True)


def sparse_row(lib, sync, n, d, k, iters):
    import scipy.sparse as sp

    from xkmeans import KMeans

    from .sparse_cpu import tfidf_like

    X_host, _ = tfidf_like(n, d, 0.001, dtype=np.float32)
    if lib == "cupy":
        import cupyx.scipy.sparse as csp

        X = csp.csr_matrix(X_host)
        init = impls.convert(np.asarray(X_host[initial_rows(n, k)].todense()), lib)
    else:
        X = sp.csr_matrix(X_host)
        init = np.asarray(X_host[initial_rows(n, k)].todense())
    KMeans(k, init=init, n_init=1, max_iter=2, tol=0).fit(X)  # warm-up
    t, est = timed(lambda: KMeans(k, init=init, n_init=1, max_iter=iters, tol=0).fit(X), sync)
    print(f"| sparse {n}x{d} (0.1 %), k={k} | lloyd, {iters} iterations | {t:.3f} s | "
          f"{1e3 * t / iters:.1f} ms/iteration, inertia {est.inertia_:.6g} |", flush=True)


def initial_rows(n, k):
    return np.sort(np.random.default_rng(0).choice(n, size=k, replace=False))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lib", default=None, help="cupy (default when installed) or numpy")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    lib = args.lib or (impls.gpu_libs()[0] if impls.gpu_libs() else "numpy")
    if lib == "torch":
        lib = "torch-cuda"
    sync = impls.sync_for(lib)
    q = args.quick
    print(f"Issue 16 rows on {lib}{' (quick sizes)' if q else ''}")
    print("| workload | method | time | notes |")
    print("|---|---|---|---|")
    rows = [
        ("init", lambda: init_rows(lib, sync, *((20_000, 16, 64) if q else
                                                (1_000_000, 128, 1024)))),
        ("fit W1", lambda: fit_rows(lib, sync, ("colour", 50_000 if q else 16_777_216), 64,
                                    20 if q else 100)),
        ("fit W2", lambda: fit_rows(lib, sync, ("embeddings", *((20_000, 16, 64) if q else
                                                               (1_000_000, 128, 1024))),
                                    64 if q else 1024, 20 if q else 50)),
        ("sparse", lambda: sparse_row(lib, sync, *((5_000, 2_000, 10, 3) if q else
                                                   (200_000, 50_000, 50, 20)))),
    ]
    for name, fn in rows:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - one failing row is a row, not a crash
            print(f"| {name} | failed | {type(e).__name__}: {e} | |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
