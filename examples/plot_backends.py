"""
===============================
One fit, several array backends
===============================

xkmeans has no ``backend=`` switch: the array you pass decides where the work
happens. Here the same ``KMeans(n_clusters=32, random_state=0)`` is fitted on
the same float32 data held by NumPy, by PyTorch (when installed, on the CPU
and on CUDA when a GPU is present) and by CuPy (when a GPU and CuPy are
present). Each fit returns arrays of its own library, on its own device, and
because every random draw comes from one host generator seeded by
``random_state``, all of them find the same clustering.

The timings printed depend on the machine that built this page; the numbers
are there to show how to measure, not as a benchmark (see the project's
``benchmarks/`` for that).
"""

# %%
# The data and the backends
# -------------------------
# Each backend is a way to move the NumPy data in (``to``), to bring labels
# back for comparison (``back``), and to wait for the device (``sync``).
import importlib.util
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import kmeans_plusplus
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import xkmeans
from xkmeans import KMeans

X, _ = make_blobs(n_samples=50_000, n_features=16, centers=32, cluster_std=6.0,
                  random_state=0)
X = X.astype(np.float32)
print(f"X: {X.shape[0]:,} samples x {X.shape[1]} features, {X.dtype}, {X.nbytes / 2**20:.1f} MiB")

backends = {"numpy": {"to": np.asarray, "back": np.asarray, "sync": lambda: None}}

if importlib.util.find_spec("torch") is not None:
    import torch

    backends["torch (cpu)"] = {"to": torch.from_numpy, "back": lambda t: t.numpy(),
                               "sync": lambda: None}
    if torch.cuda.is_available():
        backends["torch (cuda)"] = {"to": lambda a: torch.from_numpy(a).to("cuda"),
                                    "back": lambda t: t.cpu().numpy(),
                                    "sync": torch.cuda.synchronize}
else:
    print("PyTorch is not installed: no torch backend")


def _cupy_with_gpu():
    if importlib.util.find_spec("cupy") is None:
        return None
    import cupy

    try:
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except cupy.cuda.runtime.CUDARuntimeError:
        return None


cupy = _cupy_with_gpu()
if cupy is not None:
    backends["cupy"] = {"to": cupy.asarray, "back": cupy.asnumpy,
                        "sync": lambda: cupy.cuda.Device().synchronize()}
else:
    print("CuPy or a CUDA GPU is not available: no cupy backend")

# The NumPy fit once more, through the portable Array API code alone.
backends["numpy, portable code"] = dict(backends["numpy"], portable=True)

# %%
# Fitting and timing
# ------------------
# Two fits per backend, each after a small untimed warm-up fit (PyTorch and
# CuPy load their kernels on first use):
#
# * ``KMeans(n_clusters=32, random_state=0)``: k-means++ seeding and Lloyd
#   iterations, as a user would call it;
# * the Lloyd loop alone, started from the same k-means++ centres on every
#   backend (``init=`` an array), to report the time per iteration.
#
# On a GPU the work is asynchronous, so the clock stops only after
# synchronising the device.
initial, _ = kmeans_plusplus(X, n_clusters=32, random_state=0)


def run(b):
    data, init = b["to"](X), b["to"](initial)
    KMeans(n_clusters=32, random_state=0).fit(b["to"](X[:2000]))  # warm-up
    b["sync"]()
    start = time.perf_counter()
    km = KMeans(n_clusters=32, random_state=0).fit(data)
    b["sync"]()
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    lloyd = KMeans(n_clusters=32, init=init, n_init=1).fit(data)
    b["sync"]()
    per_iter = (time.perf_counter() - start) / lloyd.n_iter_
    return km, fit_seconds, per_iter


results = {}
for name, b in backends.items():
    with xkmeans.config_context(fast_paths=not b.get("portable", False)):
        results[name] = run(b)

# %%
# Results come back in the input's library, on its device, in float32, and
# every backend finds the same clustering as NumPy (up to, at most, a few
# samples on a border, where float32 rounding can tip the nearest centre).
reference = results["numpy"][0].labels_
print(f"{'backend':<22}{'centres are':<24}{'dtype':<15}{'iters':>6}{'fit (s)':>9}"
      f"{'ms/iter':>9}{'inertia':>12}{'ARI vs numpy':>14}")
for name, (km, fit_seconds, per_iter) in results.items():
    centres = km.cluster_centers_
    kind = f"{type(centres).__module__}.{type(centres).__name__}"
    ari = adjusted_rand_score(reference, backends[name]["back"](km.labels_))
    print(f"{name:<22}{kind:<24}{centres.dtype!s:<15}{km.n_iter_:>6}{fit_seconds:>9.2f}"
          f"{1000 * per_iter:>9.1f}{km.inertia_:>12.6g}{ari:>14.4f}")
    assert ari > 0.99, (name, ari)

# %%
# An adjusted Rand index (ARI) of 1 means every sample is in the same cluster
# as with NumPy (the example asserts ARI > 0.99); the inertias agree to
# float32 rounding. On the CPU, NumPy's
# fast path (scikit-learn's compiled Lloyd iteration) is the quickest way to
# run an iteration; the portable code runs the same algorithm as plain Array
# API calls. On a GPU, CuPy and PyTorch CUDA run the same code on the device.
names = list(results)
per_iter_ms = [1000 * results[n][2] for n in names]
fig, ax = plt.subplots(figsize=(7, 0.8 + 0.5 * len(names)))
ax.barh(names, per_iter_ms, color=[f"C{i}" for i in range(len(names))])
for i, ms in enumerate(per_iter_ms):
    ax.annotate(f" {ms:.1f} ms", (ms, i), va="center")
ax.invert_yaxis()
ax.set_xlim(0, 1.3 * max(per_iter_ms))
ax.set(xlabel="milliseconds per Lloyd iteration (lower is faster)",
       title="KMeans(n_clusters=32) on 50,000 x 16 float32")
fig.tight_layout()
