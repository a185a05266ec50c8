"""Dense linear algebra the Array API standard lacks, for Gaussian mixtures.

The standard's linalg extension has ``cholesky`` but no triangular solve, and
the libraries disagree on what a failed factorization does: NumPy (and
array-api-strict) raise, PyTorch can report it without a device sync, CuPy
returns a factor with a non-positive or NaN pivot. Two primitives hide that:

- ``cholesky(A, *, xp) -> (L, bad)``: lower factors of a stack of matrices
  and a 0-d boolean device array, True when some matrix is not positive
  definite; or ``NotPositiveDefinite`` raised at once where the library
  raises (on the host, so no extra sync).
- ``solve_triangular(A, B, *, lower, xp)``: ``A^-1 B`` for a stack of
  triangular ``A``.

Each has a portable version (``_portable``, the reference) and fast paths
with the same signature (``_numpy``: SciPy; ``_torch``; ``_cupy``: cuSOLVER
through ``cupyx``), registered in ``_FAST_PATHS`` and resolved once per
(primitive, backend). ``xkmeans.config_context(fast_paths=False)`` forces the
portable versions. Nothing here imports PyTorch or CuPy before it is asked to.
"""

from __future__ import annotations

import functools
import importlib

from .._backend import backend_name
from .._config import get_config
from . import _portable
from ._portable import NotPositiveDefinite, logsumexp

__all__ = [
    "NotPositiveDefinite",
    "cholesky",
    "logsumexp",
    "precision_cholesky",
    "solve_triangular",
]

_FAST_PATHS = {
    "cholesky": {"torch": "_torch", "cupy": "_cupy"},
    "solve_triangular": {"numpy": "_numpy", "torch": "_torch", "cupy": "_cupy"},
}


@functools.cache
def _resolve(name: str, backend: str):
    module = _FAST_PATHS[name].get(backend)
    if module is None:
        return getattr(_portable, name)
    return getattr(importlib.import_module(f".{module}", __name__), name)


def _impl(name: str, xp):
    if not get_config()["fast_paths"]:
        return getattr(_portable, name)
    return _resolve(name, backend_name(xp))


def cholesky(A, *, xp):
    """Lower Cholesky factors of ``A`` (..., n, n) and a 0-d "not positive definite" flag.

    Raises ``NotPositiveDefinite`` where the library itself raises.
    """
    return _impl("cholesky", xp)(A, xp=xp)


def solve_triangular(A, B, *, lower, xp):
    """``A^-1 B`` for triangular ``A`` of shape (..., n, n) and ``B`` (..., n, m)."""
    return _impl("solve_triangular", xp)(A, B, lower=lower, xp=xp)


def precision_cholesky(cov, *, xp):
    """Upper factors ``U`` with ``U U^T = cov^-1``, and the not-positive-definite flag.

    ``U = (L^-1)^T`` for the lower Cholesky factor ``L`` of ``cov``: the
    factor scikit-learn stores as ``precisions_cholesky_``.
    """
    L, bad = cholesky(cov, xp=xp)
    n = cov.shape[-1]
    eye = xp.eye(n, dtype=cov.dtype, device=_portable.device_of(cov))
    return xp.matrix_transpose(solve_triangular(L, eye, lower=True, xp=xp)), bad
