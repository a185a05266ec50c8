"""Global configuration: working-memory budget, fast-path switch, GPU distance precision.

The environment variable ``XKMEANS_DISABLE_FAST_PATHS=1`` turns every
backend-specific fast path off, so that only the portable Array API
implementations run; ``XKMEANS_WORKING_MEMORY`` sets the budget in MiB;
``XKMEANS_GPU_DISTANCES`` sets ``gpu_distances``.
"""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = ["config_context", "get_config", "set_config"]

_DEFAULTS = {
    "working_memory": float(os.environ.get("XKMEANS_WORKING_MEMORY", "256")),
    "fast_paths": os.environ.get("XKMEANS_DISABLE_FAST_PATHS", "0") in ("", "0"),
    "gpu_distances": os.environ.get("XKMEANS_GPU_DISTANCES", "exact"),
}
GPU_DISTANCES = ("exact", "tf32-certified", "tf32")
_local = threading.local()


def _state() -> dict:
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config() -> dict:
    """Return a copy of the current configuration.

    Returns
    -------
    config : dict
        ``working_memory`` (MiB of scratch space one chunked operation may
        use), ``fast_paths`` (whether backend-specific fast paths run) and
        ``gpu_distances`` (precision of GPU distance products).

    See Also
    --------
    set_config, config_context

    Examples
    --------
    >>> from xkmeans import get_config
    >>> sorted(get_config())
    ['fast_paths', 'gpu_distances', 'working_memory']
    """
    return dict(_state())


def set_config(*, working_memory: float | None = None, fast_paths: bool | None = None,
               gpu_distances: str | None = None):
    """Set the configuration for the calling thread.

    Parameters
    ----------
    working_memory : float, optional
        Scratch-space budget in MiB for chunked distance computations.
        Must be positive.
    fast_paths : bool, optional
        ``False`` runs only the portable Array API implementations.
    gpu_distances : {'exact', 'tf32-certified', 'tf32'}, optional
        How the CUDA kernels compute float32 distances by matrix product
        (features > 16, CuPy and PyTorch CUDA arrays). ``'exact'`` (the
        default): float32 arithmetic. ``'tf32-certified'``: TF32 tensor-core
        products, and every point whose best two centres are closer than the
        TF32 error bound is recomputed in float32, so labels are those of
        float32 distances up to ties at float32 precision. ``'tf32'``: TF32
        products unchecked (fastest; near ties may take the other centre, as
        peers that compute in TF32 do). float64 data always compute in float64.

    See Also
    --------
    get_config, config_context

    Examples
    --------
    >>> from xkmeans import set_config, get_config
    >>> set_config(working_memory=128)
    >>> get_config()["working_memory"]
    128
    >>> set_config(working_memory=256)
    """
    state = _state()
    if working_memory is not None:
        if not working_memory > 0:
            msg = f"working_memory={working_memory!r} should be > 0 (MiB)."
            raise ValueError(msg)
        state["working_memory"] = working_memory
    if fast_paths is not None:
        state["fast_paths"] = bool(fast_paths)
    if gpu_distances is not None:
        if gpu_distances not in GPU_DISTANCES:
            msg = (f"gpu_distances={gpu_distances!r} should be one of "
                   f"{', '.join(map(repr, GPU_DISTANCES))}.")
            raise ValueError(msg)
        state["gpu_distances"] = gpu_distances


@contextlib.contextmanager
def config_context(*, working_memory: float | None = None, fast_paths: bool | None = None,
                   gpu_distances: str | None = None):
    """Temporarily change the configuration inside a ``with`` block.

    Parameters
    ----------
    working_memory : float, optional
        Scratch-space budget in MiB.
    fast_paths : bool, optional
        ``False`` runs only the portable Array API implementations.
    gpu_distances : {'exact', 'tf32-certified', 'tf32'}, optional
        Precision of GPU distance products; see :func:`set_config`.

    See Also
    --------
    get_config, set_config

    Examples
    --------
    >>> from xkmeans import config_context, get_config
    >>> with config_context(fast_paths=False):
    ...     get_config()["fast_paths"]
    False
    """
    old = get_config()
    set_config(working_memory=working_memory, fast_paths=fast_paths,
               gpu_distances=gpu_distances)
    try:
        yield
    finally:
        _state().update(old)
