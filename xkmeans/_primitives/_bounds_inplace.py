"""PyTorch / CuPy fast path for ``masked_assign``: boolean-mask assignment in place."""

from __future__ import annotations


def masked_assign(base, mask, values, *, xp):
    base[mask] = values
    return base
