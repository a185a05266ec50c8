"""PyTorch fast paths: ``index_add_`` for grouped sums, ``topk``, CSR products.

Tensors in host memory (``device.type == 'cpu'``) share that memory with
NumPy at no cost, so the nearest-centre search and the fused Lloyd step run
the NumPy fast paths on views of them: no copy, no change of device. CUDA
tensors take the portable path.
"""

from __future__ import annotations

from .._backend import acc_dtype, get_device
from . import _numpy, _portable

unavailable = _numpy.unavailable  # the CPU fast paths run scikit-learn's kernel


def _view(t):
    """A NumPy view of a CPU tensor (no copy; gradients are not tracked)."""
    return None if t is None else t.detach().numpy()


def nearest_centre(X, C, *, xp, x_sq=None):
    if X.device.type != "cpu":
        return _portable.nearest_centre(X, C, xp=xp, x_sq=x_sq)
    import torch

    labels, dist2 = _numpy.nearest_centre(_view(X), _view(C), xp=xp)
    return torch.from_numpy(labels), torch.from_numpy(dist2)


def lloyd_step(X, weights, centres, *, xp):
    import torch

    labels, new, counts = _numpy.lloyd_step(_view(X), _view(weights), _view(centres), xp=xp)
    return torch.from_numpy(labels), torch.from_numpy(new), torch.from_numpy(counts)


def grouped_sum(X, labels, weights, n_groups, *, xp):
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
