"""NumPy fast path: SciPy's LAPACK triangular solve (trtrs), one matrix at a time."""

from __future__ import annotations

import numpy as np


def solve_triangular(A, B, *, lower, xp):
    from scipy.linalg import solve_triangular as trtrs

    A, B = np.asarray(A), np.asarray(B)
    if A.ndim == 2 and B.ndim == 2:
        return trtrs(A, B, lower=lower, check_finite=False)
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    A = np.broadcast_to(A, batch + A.shape[-2:]).reshape((-1,) + A.shape[-2:])
    B = np.broadcast_to(B, batch + B.shape[-2:]).reshape((-1,) + B.shape[-2:])
    out = [trtrs(a, b, lower=lower, check_finite=False) for a, b in zip(A, B)]
    return np.stack(out).reshape(batch + out[0].shape)
