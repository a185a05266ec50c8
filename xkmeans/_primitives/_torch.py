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
