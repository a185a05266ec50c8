"""A default ``KMeans(16).fit`` on the 16.7M-pixel colour data, on each GPU library.

``python -m benchmarks.gpu_fit``: k-means++ and ``n_init='auto'`` as a user
calls it; prints the whole fit, the initialisation alone and the iterations,
after a warm-up fit on a small slice (kernel compilation, memory pool).
"""

from __future__ import annotations

import time

from . import impls
from .workloads import load_data


def _fit_row(lib: str, X_host) -> str:
    from xkmeans import KMeans
    from xkmeans._backend import get_namespace
    from xkmeans._init import kmeans_plusplus

    X = impls.convert(X_host, "torch-cuda" if lib == "torch" else lib)
    sync = impls.sync_for("torch-cuda" if lib == "torch" else lib)
    KMeans(16, random_state=0).fit(X[:100_000])  # warm-up
    sync()
    t = time.perf_counter()
    km = KMeans(16, random_state=0).fit(X)
    sync()
    fit_s = time.perf_counter() - t
    xp = get_namespace(X)
    import numpy as np

    t = time.perf_counter()
    kmeans_plusplus(X, 16, x_sq=xp.sum(X * X, axis=1), weights=None,
                    rng=np.random.default_rng(0), xp=xp)
    sync()
    init_s = time.perf_counter() - t
    return (f"| {lib} | {fit_s:.3f} | {init_s:.3f} | {km.n_iter_} | "
            f"{1e3 * (fit_s - init_s) / max(km.n_iter_, 1):.3f} |")


def main() -> int:
    X_host, _ = load_data(("colour", 16_777_216))
    print("Default KMeans(16, random_state=0).fit, colour 16.7M x 3 (k-means++, n_init='auto')")
    print("| library | fit s | init s | n_iter | ms/iter (fit - init) |")
    print("|---|---|---|---|---|")
    for lib in impls.gpu_libs():
        try:
            print(_fit_row(lib, X_host), flush=True)
        except Exception as e:  # noqa: BLE001 - one failing library is a row, not a crash
            print(f"| {lib} | failed: {type(e).__name__}: {e} | | | |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
