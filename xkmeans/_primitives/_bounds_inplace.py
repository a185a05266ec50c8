"""PyTorch / CuPy fast path for ``masked_assign``: boolean-mask assignment in place."""

from __future__ import annotations


def masked_assign(base, mask, values, *, xp, idx=None):
    # Integer positions touch only the updated rows; a mask is read whole.
    base[mask if idx is None else idx] = values
    return base
