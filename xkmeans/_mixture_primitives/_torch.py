"""PyTorch fast paths: ``cholesky_ex`` reports failure on the device (no sync),
``linalg.solve_triangular`` is batched (CPU and CUDA)."""

from __future__ import annotations

from . import _portable


def cholesky(A, *, xp):
    import torch

    L, info = torch.linalg.cholesky_ex(A)
    return L, torch.any(info != 0) | _portable.bad_pivots(L, xp=xp)


def solve_triangular(A, B, *, lower, xp):
    import torch

    batch = torch.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    A = A.expand(batch + A.shape[-2:])
    B = B.expand(batch + B.shape[-2:])
    return torch.linalg.solve_triangular(A, B, upper=not lower)
