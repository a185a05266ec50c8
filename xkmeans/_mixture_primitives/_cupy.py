"""CuPy fast paths: cuSOLVER's triangular solve through ``cupyx``, and a
Cholesky failure flag kept on the device.

CuPy's ``linalg.cholesky`` does not raise on a matrix that is not positive
definite (unless ``cupyx.errstate(linalg='raise')``, which syncs), and what
cuSOLVER leaves behind after a failed pivot is not documented. So the factor
is checked on the device: positive pivots and ``L L^T`` equal to ``A`` within
a rounding bound. Both are small (k x d x d) array operations, no readback.
"""

from __future__ import annotations

import numpy as np

from . import _portable


def cholesky(A, *, xp):
    L, bad = _portable.cholesky(A, xp=xp)
    n = A.shape[-1]
    eps = float(xp.finfo(A.dtype).eps)
    scale = xp.max(xp.abs(A), axis=(-2, -1))
    resid = xp.max(xp.abs(L @ xp.matrix_transpose(L) - A), axis=(-2, -1))
    # A Cholesky factor reproduces A to about n ulps of its largest entry.
    return L, bad | xp.any(~(resid <= 64 * n * eps * scale))


def solve_triangular(A, B, *, lower, xp):
    import cupy
    from cupyx.scipy.linalg import solve_triangular as trsm

    if A.ndim == 2 and B.ndim == 2:
        return trsm(A, B, lower=lower)
    batch = tuple(np.broadcast_shapes(A.shape[:-2], B.shape[:-2]))
    A = cupy.broadcast_to(A, batch + A.shape[-2:]).reshape((-1,) + A.shape[-2:])
    B = cupy.broadcast_to(B, batch + B.shape[-2:]).reshape((-1,) + B.shape[-2:])
    out = [trsm(a, b, lower=lower) for a, b in zip(A, B)]
    return cupy.stack(out).reshape(batch + out[0].shape)
