"""The implementations under test: xkmeans on each backend, peers, naive loops.

An implementation is a plain function on data already converted to its
array type (and device): ``fit(X, C0, max_iter) -> (centres, n_iter)`` for
Lloyd rows, ``fit(X, C0, max_iter) -> (centres, n_steps)`` for mini-batch
rows (``max_iter`` in epochs) and ``fit(X, k) -> labels`` for spectral rows.
Nothing here imports an optional library at module level, so a missing
peer is a skipped row, not an import error.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
from collections.abc import Callable

from . import naive

MINIBATCH_BATCH_SIZE = 4096


def minibatch_batch_size(n: int) -> int:
    """4096, or n // 8 on small data so that one epoch has several steps."""
    return max(1, min(MINIBATCH_BATCH_SIZE, n // 8))


# ---------------------------------------------------------------- array kinds


@functools.cache
def cupy_gpu() -> bool:
    """CuPy is installed and sees a CUDA device."""
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 -- CuPy imports but has no driver or device
        return False


@functools.cache
def torch_gpu() -> bool:
    """PyTorch is installed and sees a CUDA device (imports torch)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def gpu_libs() -> tuple[str, ...]:
    """The GPU array libraries usable here: subset of ('cupy', 'torch')."""
    return tuple(lib for lib, ok in (("cupy", cupy_gpu), ("torch", torch_gpu)) if ok())


def convert(X, array: str):
    """Host NumPy array -> the implementation's array type, on its device."""
    if array == "numpy":
        return X
    if array == "torch-cpu":
        import torch

        return torch.from_numpy(X)
    if array == "torch-cuda":
        import torch

        return torch.as_tensor(X, device="cuda")
    if array == "cupy":
        import cupy

        return cupy.asarray(X)
    msg = f"Unknown array kind {array!r}."
    raise ValueError(msg)


def to_host(a):
    """An array of any kind -> host NumPy array (the way back from ``convert``)."""
    import numpy as np

    module = type(a).__module__
    if module.startswith("cupy"):
        import cupy

        return cupy.asnumpy(a)
    if module.startswith("torch"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def sync_for(array: str) -> Callable[[], None]:
    if array == "torch-cuda":
        import torch

        return torch.cuda.synchronize
    if array == "cupy":
        import cupy

        return lambda: cupy.cuda.Device().synchronize()
    return lambda: None


# ---------------------------------------------------------------- fits


def _xkmeans(X, C0, max_iter):
    from xkmeans import KMeans

    km = KMeans(n_clusters=C0.shape[0], init=C0, n_init=1, max_iter=max_iter, tol=0).fit(X)
    return km.cluster_centers_, km.n_iter_


def _xkmeans_distances(mode):
    """xkmeans with ``set_config(gpu_distances=mode)`` (TF32 GEMMs where d > 16)."""

    def fit(X, C0, max_iter):
        from xkmeans import config_context

        with config_context(gpu_distances=mode):
            return _xkmeans(X, C0, max_iter)

    return fit


def _sklearn(algorithm):
    def fit(X, C0, max_iter):
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=C0.shape[0], init=C0, n_init=1, max_iter=max_iter, tol=0,
                    algorithm=algorithm).fit(X)
        return km.cluster_centers_, km.n_iter_

    return fit


def _minibatch(module):
    def fit(X, C0, max_iter):
        cls = importlib.import_module(module).MiniBatchKMeans
        params = {"n_clusters": C0.shape[0], "init": C0, "n_init": 1, "max_iter": max_iter,
                  "tol": 0, "batch_size": minibatch_batch_size(X.shape[0]),
                  "max_no_improvement": None, "random_state": 0, "compute_labels": False}
        accepted = cls().get_params()
        km = cls(**{p: v for p, v in params.items() if p in accepted}).fit(X)
        return km.cluster_centers_, km.n_steps_

    return fit


def _faiss(X, C0, max_iter):
    import faiss

    km = faiss.Kmeans(X.shape[1], C0.shape[0], niter=max_iter, seed=0, verbose=False,
                      max_points_per_centroid=X.shape[0], min_points_per_centroid=1)
    km.train(X, init_centroids=C0)
    # faiss has no early stop: it always runs niter iterations.
    return km.centroids, max_iter


def _fast_pytorch_kmeans(X, C0, max_iter):
    from fast_pytorch_kmeans import KMeans

    km = KMeans(n_clusters=C0.shape[0], max_iter=max_iter, tol=0, mode="euclidean")
    calls = [0]
    assign = km.max_sim

    def counted(a, b):  # one assignment per iteration: count them for n_iter
        calls[0] += 1
        return assign(a=a, b=b)

    km.max_sim = counted
    km.fit_predict(X, centroids=C0.clone())
    return km.centroids, calls[0]


def _flash_kmeans(X, C0, max_iter):
    from flash_kmeans import batch_kmeans_Euclid

    _, C, n_iter = batch_kmeans_Euclid(X[None], C0.shape[0], max_iters=max_iter, tol=0.0,
                                       init_centroids=C0[None].clone())
    return C[0], n_iter


def _spectral(module):
    def fit(X, k):
        cls = importlib.import_module(module).SpectralClustering
        est = cls(n_clusters=k, affinity="nearest_neighbors", n_neighbors=10, random_state=0)
        return est.fit(X).labels_

    return fit


# ---------------------------------------------------------------- registry


@dataclasses.dataclass(frozen=True)
class Impl:
    name: str
    kind: str  # "kmeans", "minibatch" or "spectral"
    array: str  # "numpy", "torch-cpu", "torch-cuda" or "cupy"
    fit: Callable
    requires: tuple[str, ...] = ()
    needs_attr: tuple[str, str] | None = None  # (module, attribute) that must exist
    note: str = ""
    mem_method: str | None = None  # overrides the array kind's default

    @property
    def device(self) -> str:
        return "gpu" if self.array in ("cupy", "torch-cuda") else "cpu"

    @property
    def mem(self) -> str:
        """How peak memory is measured for this row (see measure.track_memory)."""
        if self.mem_method is not None:
            return self.mem_method
        return {"numpy": "tracemalloc", "torch-cpu": "rss", "cupy": "cupy",
                "torch-cuda": "torch-cuda"}[self.array]

    def unavailable(self) -> str | None:
        """None when the row can run here, else why it is skipped."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return f"skipped (not installed: {', '.join(missing)})"
        if self.array == "cupy" and not cupy_gpu():
            return "skipped (no CUDA GPU for CuPy)"
        if self.array == "torch-cuda" and not torch_gpu():
            return "skipped (no CUDA GPU for PyTorch)"
        if self.needs_attr is not None:
            module, attr = self.needs_attr
            if not hasattr(importlib.import_module(module), attr):
                return f"skipped ({module}.{attr} not available)"
        return None


def _rows():
    xk = "xkmeans"
    yield Impl("xkmeans-numpy", "kmeans", "numpy", _xkmeans)
    yield Impl("xkmeans-torch-cpu", "kmeans", "torch-cpu", _xkmeans, ("torch",))
    yield Impl("xkmeans-cupy", "kmeans", "cupy", _xkmeans, ("cupy",))
    yield Impl("xkmeans-torch-cuda", "kmeans", "torch-cuda", _xkmeans, ("torch",))
    yield Impl("xkmeans-cupy-tf32-certified", "kmeans", "cupy",
               _xkmeans_distances("tf32-certified"), ("cupy",),
               note="TF32 GEMM, near ties recomputed in float32 (same labels)")
    yield Impl("xkmeans-cupy-tf32", "kmeans", "cupy", _xkmeans_distances("tf32"), ("cupy",),
               note="TF32 GEMM, unchecked")
    yield Impl("naive-numpy", "kmeans", "numpy", naive.naive_numpy,
               note="chunked matmul, argmin, bincount")
    yield Impl("naive-torch-cpu", "kmeans", "torch-cpu", naive.naive_torch, ("torch",),
               note="addmm, argmin, index_add_")
    yield Impl("naive-torch-cuda", "kmeans", "torch-cuda", naive.naive_torch, ("torch",),
               note="addmm, argmin, index_add_")
    yield Impl("naive-cupy", "kmeans", "cupy", naive.naive_cupy, ("cupy",),
               note="matmul, argmin, cupyx.scatter_add")
    yield Impl("sklearn-lloyd", "kmeans", "numpy", _sklearn("lloyd"), ("sklearn",))
    yield Impl("sklearn-elkan", "kmeans", "numpy", _sklearn("elkan"), ("sklearn",))
    yield Impl("faiss-cpu", "kmeans", "numpy", _faiss, ("faiss",), note="all points",
               mem_method="rss")
    yield Impl("fast-pytorch-kmeans-cpu", "kmeans", "torch-cpu", _fast_pytorch_kmeans,
               ("torch", "fast_pytorch_kmeans"))
    yield Impl("fast-pytorch-kmeans-cuda", "kmeans", "torch-cuda", _fast_pytorch_kmeans,
               ("torch", "fast_pytorch_kmeans"))
    yield Impl("flash-kmeans", "kmeans", "torch-cuda", _flash_kmeans, ("torch", "flash_kmeans"),
               note="Triton; float32 dot in TF32")
    yield Impl("xkmeans-minibatch-numpy", "minibatch", "numpy", _minibatch(xk),
               needs_attr=(xk, "MiniBatchKMeans"))
    yield Impl("xkmeans-minibatch-cupy", "minibatch", "cupy", _minibatch(xk), ("cupy",),
               needs_attr=(xk, "MiniBatchKMeans"))
    yield Impl("sklearn-minibatch", "minibatch", "numpy", _minibatch("sklearn.cluster"),
               ("sklearn",))
    yield Impl("xkmeans-spectral-numpy", "spectral", "numpy", _spectral(xk),
               needs_attr=(xk, "SpectralClustering"))
    yield Impl("xkmeans-spectral-cupy", "spectral", "cupy", _spectral(xk), ("cupy",),
               needs_attr=(xk, "SpectralClustering"))
    yield Impl("sklearn-spectral", "spectral", "numpy", _spectral("sklearn.cluster"),
               ("sklearn",))


IMPLS: tuple[Impl, ...] = tuple(_rows())


def applies(impl: Impl, workload) -> bool:
    """Whether a row exists for (impl, workload): Lloyd and mini-batch rows on
    k-means workloads (mini-batch on the k=16 colour data, photo, embeddings
    and digits only), spectral rows on the moons."""
    if workload.kind == "spectral":
        return impl.kind == "spectral"
    if impl.kind == "minibatch":
        return workload.name not in ("colour-k64", "colour-k256")
    return impl.kind == "kmeans"


def select(patterns: str | None) -> tuple[list[Impl], set[str]]:
    """Implementations matching comma-separated fnmatch patterns, and the
    names given exactly (those also run on large data at the GPU size)."""
    import fnmatch

    if not patterns:
        return list(IMPLS), set()
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    unknown = [p for p in pats if not any(fnmatch.fnmatch(i.name, p) for i in IMPLS)]
    if unknown:
        names = ", ".join(i.name for i in IMPLS)
        msg = f"--impls {','.join(unknown)} matches no implementation; known: {names}."
        raise SystemExit(msg)
    chosen = [i for i in IMPLS if any(fnmatch.fnmatch(i.name, p) for p in pats)]
    return chosen, {p for p in pats if p in {i.name for i in IMPLS}}
