"""Issue 16 on this CPU: pruned Lloyd and k-means|| against scikit-learn, paired.

Rows (float32, data from ``benchmarks.workloads``):

- ``fit``: whole fits to convergence (default ``tol=1e-4``, ``max_iter=300``)
  from the same initial centres (the harness's fixed init: k rows drawn with
  ``default_rng(0)``), in one process and interleaved: scikit-learn
  ``lloyd`` and ``elkan``, xkmeans ``lloyd`` and ``elkan`` (pruned).
  W1-CPU colour 2M x 3, k=64 and W2-CPU embeddings 100k x 64, k=256.
- ``init``: greedy k-means++ against k-means|| on W2-CPU (the initialisation
  alone, on the centred data), and the inertia of the fits they lead to.

Usage::

    python -m benchmarks.pruned_cpu [--rows fit,init] [--repeats 1] [--quick]
        [--cases colour-k64,embeddings] [--impls xkmeans-lloyd,xkmeans-elkan]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .workloads import initial_centres, load_data

FIT_CASES = {"colour-k64": (("colour", 2_000_000), 64),
             "embeddings": (("embeddings", 100_000, 64, 256), 256)}
QUICK_CASES = {"colour-k64": (("colour", 200_000), 64),
               "embeddings": (("embeddings", 20_000, 32, 64), 64)}


def _time(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def fit_rows(cases, repeats, only=None):
    from sklearn.cluster import KMeans as SKKMeans

    from xkmeans import KMeans

    print(f"{'workload':12} {'impl':16} {'fit s':>8} {'n_iter':>6} {'inertia':>14} "
          f"{'/ sk lloyd':>10}")
    for name, (key, k) in cases.items():
        X, _ = load_data(key)
        init = initial_centres(X, k)
        impls = {f"{lib}-{alg}": (cls, alg) for lib, cls in
                 (("sklearn", SKKMeans), ("xkmeans", KMeans)) for alg in ("lloyd", "elkan")}
        if only:
            impls = {m: v for m, v in impls.items() if m in only or m == "sklearn-lloyd"}
        times = {m: [] for m in impls}
        fitted = {}
        for _ in range(repeats):
            for m, (cls, alg) in impls.items():  # interleaved: load changes hit all alike
                est = cls(k, init=init, n_init=1, algorithm=alg)
                t, est = _time(lambda est=est, X=X: est.fit(X))
                times[m].append(t)
                fitted[m] = est
        base = float(np.median(times["sklearn-lloyd"]))
        for m, est in fitted.items():
            t = float(np.median(times[m]))
            runs = " ".join(f"{x:.2f}" for x in times[m])
            print(f"{name:12} {m:16} {t:8.2f} {est.n_iter_:6d} {est.inertia_:14.6g} "
                  f"{t / base:10.2f}   runs: {runs}", flush=True)


def init_rows(key, k, repeats, seeds):
    import array_api_compat.numpy as xp

    from xkmeans import KMeans
    from xkmeans._init import kmeans_plusplus
    from xkmeans._kmeans_parallel import kmeans_parallel

    X, _ = load_data(key)
    Xc = X - X.mean(axis=0, dtype=np.float64).astype(X.dtype)
    x_sq = np.einsum("ij,ij->i", Xc, Xc)
    times = {"k-means++": [], "k-means||": []}
    for r in range(repeats):
        for m, fn in (("k-means++", kmeans_plusplus), ("k-means||", kmeans_parallel)):
            t, _ = _time(lambda fn=fn, r=r: fn(Xc, k, x_sq=x_sq, weights=None,
                                                rng=np.random.default_rng(r), xp=xp))
            times[m].append(t)
    pp = float(np.median(times["k-means++"]))
    print(f"{'init':10} {'n x d, k':18} {'s (median)':>10} {'runs':>24} {'/ k-means++':>11}")
    for m, ts in times.items():
        runs = " ".join(f"{t:.2f}" for t in ts)
        print(f"{m:10} {f'{X.shape[0]}x{X.shape[1]}, {k}':18} {np.median(ts):10.2f} "
              f"{runs:>24} {np.median(ts) / pp:11.2f}", flush=True)
    inertia = {m: [KMeans(k, init=m, random_state=s).fit(X).inertia_ for s in seeds]
               for m in times}
    ratio = np.mean(inertia["k-means||"]) / np.mean(inertia["k-means++"])
    print(f"fit inertia over seeds {list(seeds)}: k-means++ {np.mean(inertia['k-means++']):.6g}, "
          f"k-means|| {np.mean(inertia['k-means||']):.6g} (ratio {ratio:.4f})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="fit,init")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="small data, for a smoke test")
    p.add_argument("--cases", default=None, help="comma-separated subset of the fit cases")
    p.add_argument("--impls", default=None,
                   help="comma-separated subset of the fit rows (sklearn-lloyd always runs)")
    args = p.parse_args(argv)
    cases = QUICK_CASES if args.quick else FIT_CASES
    if args.cases:
        cases = {c: cases[c] for c in args.cases.split(",")}
    rows = args.rows.split(",")
    if "fit" in rows:
        fit_rows(cases, args.repeats, args.impls.split(",") if args.impls else None)
    if "init" in rows:
        key, k = cases["embeddings"]
        init_rows(key, k, args.repeats, range(2 if args.quick else 3))


if __name__ == "__main__":
    main()
