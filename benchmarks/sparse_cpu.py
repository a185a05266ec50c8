"""Sparse TF-IDF-like k-means on the CPU: xkmeans vs scikit-learn (issue 16).

100,000 x 50,000 rows at 0.1 % density (5M stored values): 50 topics, each a
Zipf-like distribution over its own shuffled vocabulary; each document draws
about 50 distinct terms from its topic (80 %) and the whole vocabulary
(20 %); counts are turned into TF-IDF rows (scikit-learn's
``TfidfTransformer``, l2-normalised, float64 CSR). Both libraries fit
``KMeans(k=50)`` from the same initial centres (k rows drawn with
``numpy.random.default_rng(0)``): ``--iters`` Lloyd iterations with tol=0,
then a whole fit to convergence (default tol). Runs are paired and
alternated; the median of ``--repeats`` is reported. The cosine row is
xkmeans's ``metric='cosine'`` on the same data (scikit-learn has none).
Usage::

    python benchmarks/sparse_cpu.py [--n 100000] [--d 50000] [--density 0.001] [--k 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp


def tfidf_like(n, d, density, topics=50, seed=0, dtype=np.float64):
    """A sparse TF-IDF matrix with topic structure (see the module docstring)."""
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)
    per_row = max(1, round(density * d))
    ranks = np.arange(1, d + 1, dtype=np.float64)
    zipf = 1 / ranks**1.1
    zipf /= zipf.sum()
    vocab = np.stack([rng.permutation(d) for _ in range(topics)])
    topic = rng.integers(topics, size=n)
    draws = int(per_row * 1.15)  # a few repeats collapse into counts
    own = rng.random((n, draws)) < 0.8
    term_rank = rng.choice(d, size=(n, draws), p=zipf)
    cols = np.where(own, vocab[topic[:, None], term_rank], rng.integers(d, size=(n, draws)))
    rows = np.repeat(np.arange(n), draws)
    counts = sp.csr_matrix((np.ones(rows.size), (rows, cols.ravel())), shape=(n, d))
    counts.sum_duplicates()
    X = TfidfTransformer().fit_transform(counts).astype(dtype)
    return sp.csr_matrix(X), topic


def _timed(est, X):
    """Wall seconds, CPU seconds of this process (all threads), fitted estimator."""
    t, c = time.perf_counter(), time.process_time()
    est.fit(X)
    return time.perf_counter() - t, time.process_time() - c, est


def main(argv=None):
    from sklearn.cluster import KMeans as SK

    from xkmeans import KMeans

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, default=50_000)
    p.add_argument("--density", type=float, default=0.001)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    t = time.perf_counter()
    X, _ = tfidf_like(args.n, args.d, args.density)
    print(f"TF-IDF-like CSR: n={args.n} d={args.d} nnz={X.nnz} "
          f"({100 * X.nnz / (args.n * args.d):.3f} % dense) float64, k={args.k}; "
          f"made in {time.perf_counter() - t:.1f} s")
    init = X[np.random.default_rng(0).choice(args.n, args.k, replace=False)].toarray()
    runs = {
        f"{args.iters} iterations (tol=0)": {"max_iter": args.iters, "tol": 0.0},
        "to convergence (tol=1e-4)": {},
    }
    # CPU seconds (all threads) are the steadier figure on a shared machine.
    print(f"{'run':28} {'xkmeans s':>10} {'sklearn s':>10} {'ratio':>6} {'CPU s x/s':>14} "
          f"{'ratio':>6} {'iters x/s':>10} {'inertia ratio':>14}")
    for label, kw in runs.items():
        times = {"x": [], "s": [], "cx": [], "cs": []}
        for _ in range(args.repeats):
            tx, cx, ex = _timed(KMeans(args.k, init=init, n_init=1, **kw), X)
            ts, cs, es = _timed(SK(args.k, init=init, n_init=1, **kw), X)
            times["x"].append(tx)
            times["s"].append(ts)
            times["cx"].append(cx)
            times["cs"].append(cs)
        tx, ts, cx, cs = (np.median(times[key]) for key in ("x", "s", "cx", "cs"))
        print(f"{label:28} {tx:10.2f} {ts:10.2f} {tx / ts:6.2f} {cx:6.1f}/{cs:<7.1f} "
              f"{cx / cs:6.2f} {ex.n_iter_:4d}/{es.n_iter_:<5d} {ex.inertia_ / es.inertia_:14.6f}")
    tc, cc, ec = _timed(KMeans(args.k, init=init, n_init=1, metric="cosine"), X)
    print(f"{'xkmeans cosine, converged':28} {tc:10.2f} {'':>10} {'':>6} {cc:6.1f}"
          f"{'':>15} {ec.n_iter_:4d}")


if __name__ == "__main__":
    main()
