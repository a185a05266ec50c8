"""The workloads of ``shared/BENCHMARKS.md`` at a CPU size and a GPU size.

Every data set is float32, generated on the host from a fixed seed, and
cached per process so that the three colour workloads (k = 16, 64, 256)
share one array.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

DATA_SEED = 42

# n per size; quick mode shrinks the large ones so a run ends in seconds.
_COLOUR_N = {"cpu": 2_000_000, "gpu": 16_777_216, "quick": 30_000}
_EMBED = {"cpu": (100_000, 64, 256), "gpu": (1_000_000, 128, 1024), "quick": (5_000, 32, 64)}
_MOONS_N = {"cpu": (1_000, 10_000, 50_000), "gpu": (50_000, 1_000_000), "quick": (1_000,)}


@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark problem: data (by key), its shape and the number of clusters."""

    name: str
    family: str
    kind: str  # "kmeans" (Lloyd / mini-batch rows) or "spectral"
    data: tuple  # key for load_data
    n: int
    d: int
    k: int
    note: str = ""

    @property
    def small(self) -> bool:
        """Cheap enough for CPU implementations at the GPU size."""
        if self.kind == "spectral":
            return self.n <= 100_000
        return self.n * self.k * self.d <= 2e8


def workloads(size: str, quick: bool = False) -> list[Workload]:
    """All workloads for ``size`` ('cpu' or 'gpu'); ``quick`` shrinks them."""
    key = "quick" if quick else size
    out = []
    n = _COLOUR_N[key]
    for k in (16, 64, 256):
        out.append(Workload(f"colour-k{k}", "colour", "kmeans", ("colour", n), n, 3, k,
                            "W1: 300 colour centres + N(0, 0.03^2)"))
    if not quick:
        out.append(Workload("photo-k16", "photo", "kmeans", ("photo", "china.jpg"), 273_280, 3,
                            16, "china.jpg pixels in [0, 1]"))
    n, d, k = _EMBED[key]
    out.append(Workload("embeddings", "embeddings", "kmeans", ("embeddings", n, d, k), n, d, k,
                        "W2: k centres ~ N(0, 10^2) + N(0, 5^2)"))
    out.append(Workload("digits", "digits", "kmeans", ("digits",), 1797, 64, 10,
                        "sklearn load_digits"))
    for n in _MOONS_N[key]:
        label = f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"
        out.append(Workload(f"moons-{label}", "moons", "spectral", ("moons", n), n, 2, 2,
                            "make_moons(noise=0.05), spectral, 10 nearest neighbours"))
    return out


def select(all_workloads, patterns) -> list[Workload]:
    """Workloads whose name or family matches one of the comma-separated patterns."""
    import fnmatch

    if not patterns:
        return list(all_workloads)
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    return [
        w for w in all_workloads
        if any(fnmatch.fnmatch(w.name, p) or fnmatch.fnmatch(w.family, p) for p in pats)
    ]


@functools.lru_cache(maxsize=2)
def load_data(key: tuple) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X float32 C-contiguous, y or None)`` for a workload's data key."""
    rng = np.random.default_rng(DATA_SEED)
    name = key[0]
    if name == "colour":
        n = key[1]
        centres = rng.uniform(0.0, 1.0, size=(300, 3)).astype(np.float32)
        y = rng.integers(0, 300, size=n)
        X = rng.standard_normal((n, 3), dtype=np.float32)
        X *= np.float32(0.03)
        X += centres[y]
        return X, None
    if name == "embeddings":
        n, d, k = key[1:]
        centres = rng.normal(0.0, 10.0, size=(k, d)).astype(np.float32)
        y = rng.integers(0, k, size=n)
        X = rng.standard_normal((n, d), dtype=np.float32)
        X *= np.float32(5.0)
        X += centres[y]
        return X, y
    if name == "photo":
        from sklearn.datasets import load_sample_image

        img = load_sample_image(key[1])
        return np.ascontiguousarray(img.reshape(-1, 3), dtype=np.float32) / 255, None
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return np.ascontiguousarray(X, dtype=np.float32), y
    if name == "moons":
        from sklearn.datasets import make_moons

        X, y = make_moons(key[1], noise=0.05, random_state=DATA_SEED)
        return np.ascontiguousarray(X, dtype=np.float32), y
    msg = f"Unknown data key {key!r}."
    raise ValueError(msg)


def initial_centres(X: np.ndarray, k: int) -> np.ndarray:
    """The fixed init: k rows of X drawn without replacement with default_rng(0)."""
    idx = np.random.default_rng(0).choice(X.shape[0], size=k, replace=False)
    return np.ascontiguousarray(X[idx])
