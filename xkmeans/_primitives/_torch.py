"""PyTorch fast paths: ``index_add_`` for grouped sums, ``topk``, CSR products.

Tensors in host memory (``device.type == 'cpu'``) share that memory with
NumPy at no cost, so the nearest-centre search and the fused Lloyd step run
the NumPy fast paths on views of them: no copy, no change of device. CUDA
tensors share their memory with CuPy through DLPack and run the CUDA kernels
of ``_cupy`` when CuPy is installed; without it, ``addmm`` + ``min`` tiles.
"""

from __future__ import annotations

import functools
import importlib.util

from .._backend import acc_dtype, chunk_rows, get_device, get_namespace, itemsize, row_chunks
from . import _numpy, _portable


def unavailable(name: str) -> bool:
    """The fused CPU step needs scikit-learn's kernel (nearest_centre checks per tensor)."""
    return name == "lloyd_step" and _numpy.unavailable(name)


@functools.cache
def _cuda_kernels() -> bool:
    """True if CUDA tensors can run the CuPy kernels (CuPy installed, kernels compile)."""
    if importlib.util.find_spec("cupy") is None:
        return False
    from . import _cupy

    return not _cupy.unavailable("lloyd_plan")


def _to_cupy(t):
    import cupy

    return None if t is None else cupy.from_dlpack(t.detach())


def _to_torch(a):
    import torch

    return torch.from_dlpack(a)


def _on_cuda(X) -> bool:
    return X.device.type == "cuda"


class _CupyPlan:
    """The CuPy Lloyd plan on zero-copy views of CUDA tensors; tensors out."""

    def __init__(self, plan):
        self.plan = plan

    def step(self, centres):
        out = self.plan.step(_to_cupy(centres))
        return tuple(_to_torch(a) for a in out)


def lloyd_plan(X, weights, k, *, xp):
    if not (_on_cuda(X) and _cuda_kernels()):
        return None
    from . import _cupy

    plan = _cupy.lloyd_plan(_to_cupy(X), _to_cupy(weights), k, xp=xp)
    return None if plan is None else _CupyPlan(plan)


def minibatch_update(X, weights, centres, counts, *, xp):
    if not (_on_cuda(X) and _cuda_kernels()):
        return None
    from . import _cupy

    out = _cupy.minibatch_update(_to_cupy(X), _to_cupy(weights), _to_cupy(centres),
                                 _to_cupy(counts), xp=xp)
    return None if out is None else tuple(_to_torch(a) for a in out)


def _cuda_nearest_centre(X, C, x_sq):
    """Without CuPy: |c|^2 - 2 X C^T by ``addmm`` in row tiles, ``min`` per row."""
    import torch

    n, k = X.shape[0], C.shape[0]
    if x_sq is None:
        x_sq = (X * X).sum(dim=1)
    c_sq = (C * C).sum(dim=1)
    rows = chunk_rows(n, 2 * k * itemsize(torch, X.dtype), xp=torch, device=X.device)
    labels, dist2 = [], []
    for a, b in row_chunks(n, rows):
        d = torch.addmm(c_sq[None, :], X[a:b], C.T, alpha=-2)
        v, i = d.min(dim=1)  # the first index among equal values
        labels.append(i)
        dist2.append((v + x_sq[a:b]).clamp_(min=0))
    if len(labels) == 1:
        return labels[0], dist2[0]
    return torch.cat(labels), torch.cat(dist2)


def _view(t):
    """A NumPy view of a CPU tensor (no copy; gradients are not tracked)."""
    return None if t is None else t.detach().numpy()


def nearest_centre(X, C, *, xp, x_sq=None):
    if _on_cuda(X):
        if _cuda_kernels():
            from . import _cupy

            labels, dist2 = _cupy.nearest_centre(_to_cupy(X), _to_cupy(C), xp=xp,
                                                 x_sq=_to_cupy(x_sq))
            return _to_torch(labels), _to_torch(dist2)
        return _cuda_nearest_centre(X, C, x_sq)
    if X.device.type != "cpu" or _numpy.unavailable("nearest_centre"):
        return _portable.nearest_centre(X, C, xp=xp, x_sq=x_sq)
    import torch

    labels, dist2 = _numpy.nearest_centre(_view(X), _view(C), xp=xp)
    return torch.from_numpy(labels), torch.from_numpy(dist2)


def lloyd_step(X, weights, centres, *, xp):
    import torch

    labels, new, counts = _numpy.lloyd_step(_view(X), _view(weights), _view(centres), xp=xp)
    return torch.from_numpy(labels), torch.from_numpy(new), torch.from_numpy(counts)


def grouped_sum(X, labels, weights, n_groups, *, xp):
    if _on_cuda(X) and _cuda_kernels():
        from . import _cupy  # deterministic sums (index_add_ on CUDA is not)

        sums, counts = _cupy.grouped_sum(_to_cupy(X), _to_cupy(labels), _to_cupy(weights),
                                         n_groups, xp=xp)
        return _to_torch(sums), _to_torch(counts)
    import torch

    device = get_device(X)
    acc = acc_dtype(xp, device)
    Xa = X.to(acc)
    counts = torch.zeros(n_groups, dtype=acc, device=device)
    if weights is None:
        counts.index_add_(0, labels, torch.ones_like(labels, dtype=acc))
    else:
        w = weights.to(acc)
        counts.index_add_(0, labels, w)
        Xa = Xa * w[:, None]
    sums = torch.zeros((n_groups, X.shape[1]), dtype=acc, device=device)
    sums.index_add_(0, labels, Xa)
    return sums, counts


def self_kneighbors(X, k, *, xp):
    if _on_cuda(X) and _cuda_kernels():
        from . import _cupy

        dist, ind = _cupy.self_kneighbors(_to_cupy(X), k, xp=xp)
        return _to_torch(dist), _to_torch(ind)
    if X.device.type == "cpu":
        # Host memory: NumPy's path on a view (a k-d tree up to 16 features; 20k x 2
        # moons took 5 s by brute force in torch), results as tensors, no copies.
        import torch

        Xv = _view(X)
        dist, ind = _numpy.self_kneighbors(Xv, k, xp=get_namespace(Xv))
        return torch.from_numpy(dist), torch.from_numpy(ind)
    return _portable.self_kneighbors(X, k, xp=xp)


def k_smallest(D, k, *, xp):
    import torch

    from ._portable import repair_ties, sort_candidates

    cand = torch.topk(D, k, dim=1, largest=False, sorted=False).indices
    vals, idx = sort_candidates(D, cand, xp=xp)
    return repair_ties(D, vals, idx, xp=xp)


def csr_matmul(indptr, indices, data, V, *, xp):
    import warnings

    import torch

    n = indptr.shape[0] - 1
    with warnings.catch_warnings():
        # "Sparse CSR tensor support is in beta state": we use only csr @ dense.
        warnings.simplefilter("ignore", UserWarning)
        A = torch.sparse_csr_tensor(indptr, indices, data.to(V.dtype), size=(n, V.shape[0]))
        return A @ V
