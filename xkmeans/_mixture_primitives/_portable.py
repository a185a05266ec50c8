"""Portable versions in pure Array API: the default and the oracle."""

from __future__ import annotations

import math

import array_api_compat


class NotPositiveDefinite(ValueError):
    """A matrix to factor is not (numerically) positive definite."""


def device_of(a):
    return array_api_compat.device(a)


def _is_linalg_error(e: Exception) -> bool:
    # numpy.linalg.LinAlgError, torch.linalg.LinAlgError, cupy's: no common base.
    return any(cls.__name__.endswith("LinAlgError") for cls in type(e).__mro__)


def bad_pivots(L, *, xp):
    """0-d boolean: some diagonal entry of the factors is not > 0 (NaN included)."""
    return xp.any(~(xp.linalg.diagonal(L) > 0))


def cholesky(A, *, xp):
    """Lower factors by the standard's ``linalg.cholesky``; see the package docstring."""
    try:
        L = xp.linalg.cholesky(A)
    except Exception as e:
        if _is_linalg_error(e):
            raise NotPositiveDefinite(str(e)) from e
        raise
    return L, bad_pivots(L, xp=xp)


def solve_triangular(A, B, *, lower, xp):
    """Forward (``lower``) or back substitution, one row of the answer per step.

    ``A`` (..., n, n) triangular, ``B`` (..., n, m), broadcast against each
    other. The loop runs over the n rows, vectorised over the stack and the
    m right-hand sides; entries of ``A`` outside its triangle are not read.
    """
    n = A.shape[-1]
    order = range(n) if lower else range(n - 1, -1, -1)
    rows = []  # solved rows, in the order solved
    done = []  # their indices
    for i in order:
        rhs = B[..., i:i + 1, :]
        if rows:
            coeffs = xp.stack([A[..., i, j] for j in done], axis=-1)[..., None, :]
            rhs = rhs - coeffs @ xp.concat(rows, axis=-2)
        rows.append(rhs / A[..., i, i][..., None, None])
        done.append(i)
    if not lower:
        rows = rows[::-1]
    return xp.concat(rows, axis=-2)


def logsumexp(a, *, axis, xp):
    """``log(sum(exp(a), axis))``, shifted by the maximum so it neither overflows
    nor underflows; rows that are all ``-inf`` give ``-inf``."""
    m = xp.max(a, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    s = xp.sum(xp.exp(a - m), axis=axis, keepdims=True)
    positive = s > 0
    out = xp.where(positive, xp.log(xp.where(positive, s, xp.ones_like(s))) + m,
                   xp.full_like(s, -math.inf))
    return xp.squeeze(out, axis=axis)
