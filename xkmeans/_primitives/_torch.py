"""PyTorch fast paths: ``index_add_`` for grouped sums."""

from __future__ import annotations

from .._backend import acc_dtype, get_device


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
