"""The one backend fixture: every algorithm test runs on each available backend.

A backend is (library, device, dtype). NumPy always; array-api-strict on its
default device, on ``device1`` (a non-default device catches a forgotten
``device=``) and on a float32-only device; PyTorch on the CPU when installed;
CuPy and PyTorch on CUDA only when a GPU is present.
"""

from __future__ import annotations

import os

# scikit-learn runs its Array API estimator checks only with this set, and it
# must be set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import dataclasses
import importlib.util

import numpy as np
import pytest


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    lib: str
    device: object
    dtype: str  # "float32" or "float64"

    @property
    def module(self):
        return importlib.import_module(self.lib)

    def asarray(self, a, dtype=None):
        """A NumPy array (or list) as this backend's array, on its device."""
        a = np.asarray(a)
        if dtype is None and a.dtype.kind == "f":
            dtype = self.dtype
        if dtype is not None:
            a = a.astype(dtype)
        if self.lib == "numpy":
            return a
        if self.lib == "torch":
            import torch

            return torch.asarray(a.copy(), device=self.device)
        if self.lib == "cupy":
            import cupy

            return cupy.asarray(a)
        import array_api_strict as xs

        return xs.asarray(a, device=self.device)

    def to_numpy(self, x):
        from xkmeans._backend import to_numpy

        return to_numpy(x)

    @property
    def rtol(self):
        return 1e-6 if self.dtype == "float64" else 1e-3

    def check_array(self, x, *, dtype=None, shape=None):
        """x is this backend's array, on its device (and dtype, when floating)."""
        import array_api_compat

        assert array_api_compat.array_namespace(x) is array_api_compat.array_namespace(
            self.asarray(np.zeros(1))
        ), f"{type(x)} is not a {self.lib} array"
        assert array_api_compat.device(x) == self.device, (
            f"array on {array_api_compat.device(x)}, expected {self.device}"
        )
        if dtype is not None:
            assert str(x.dtype).endswith(dtype), f"dtype {x.dtype}, expected {dtype}"
        if shape is not None:
            assert tuple(x.shape) == tuple(shape)


def _gpu_available() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any CUDA failure means "no GPU here"
        return False


def _backends():
    out = [Backend(f"numpy-{dt}", "numpy", "cpu", dt) for dt in ("float64", "float32")]
    if importlib.util.find_spec("array_api_strict") is not None:
        import array_api_strict as xs

        out += [
            Backend("strict-float64", "array_api_strict", xs.Device("CPU_DEVICE"), "float64"),
            Backend("strict-device1-float32", "array_api_strict", xs.Device("device1"), "float32"),
            Backend("strict-device1-float64", "array_api_strict", xs.Device("device1"), "float64"),
            Backend("strict-nofloat64-float32", "array_api_strict", xs.Device("no_float64"),
                    "float32"),
        ]
    if importlib.util.find_spec("torch") is not None:
        import torch

        out += [Backend(f"torch-cpu-{dt}", "torch", torch.device("cpu"), dt)
                for dt in ("float32", "float64")]
        if torch.cuda.is_available():
            out += [Backend(f"torch-cuda-{dt}", "torch", torch.device("cuda", 0), dt)
                    for dt in ("float32", "float64")]
    if _gpu_available():
        import cupy

        out += [Backend(f"cupy-{dt}", "cupy", cupy.cuda.Device(0), dt)
                for dt in ("float32", "float64")]
    return out


BACKENDS = _backends()


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def backend(request):
    return request.param


@pytest.fixture(params=[b for b in BACKENDS if b.lib != "numpy"],
                ids=[b.name for b in BACKENDS if b.lib != "numpy"])
def foreign_backend(request):
    """Backends other than NumPy (for mixing and device tests)."""
    return request.param


def blobs(n=300, d=2, centres=4, seed=0, spread=0.5, scale=10.0):
    """Well separated Gaussian blobs as float64 NumPy."""
    rng = np.random.default_rng(seed)
    c = rng.normal(scale=scale, size=(centres, d))
    lab = rng.integers(centres, size=n)
    return c[lab] + rng.normal(scale=spread, size=(n, d)), lab


def rounding_bound(X, C, dtype):
    """Per (row, centre) bound on the rounding error of |x|^2 - 2 x.c + |c|^2 in ``dtype``.

    Each term and the d-term dot product round; a safe bound is about
    (d + 4) ulps of (|x| + |c|)^2. Distances closer than this are a tie at
    the dtype's precision: either centre is a right answer.
    """
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    eps = np.finfo(dtype).eps
    scale = (np.linalg.norm(X, axis=1)[:, None] + np.linalg.norm(C, axis=1)[None, :]) ** 2
    return (X.shape[1] + 4) * eps * scale


def assert_labels_up_to_ties(X, C, got, expected, dtype):
    """Labels equal, except where both centres are nearest up to ``dtype`` rounding.

    Where they differ, the exact (float64, direct) distances to the two
    centres must be within the rounding bound of each other and of the
    minimum; identical centres must give the same (lowest) index.
    """
    got, expected = np.asarray(got), np.asarray(expected)
    diff = np.flatnonzero(got != expected)
    if diff.size == 0:
        return
    X = np.asarray(X, dtype=np.float64)[diff]
    C = np.asarray(C, dtype=np.float64)
    exact = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    bound = rounding_bound(X, C, dtype)
    rows = np.arange(diff.size)
    g, e = got[diff], expected[diff]
    best = exact.min(axis=1)
    ok = (exact[rows, g] - best <= bound[rows, g]) & (exact[rows, e] - best <= bound[rows, e])
    ok &= ~np.all(C[g] == C[e], axis=1)  # identical centres are not a tie: lowest index
    assert ok.all(), (
        f"{(~ok).sum()} labels differ beyond rounding ties, e.g. row {diff[~ok][0]}: "
        f"{g[~ok][0]} vs {e[~ok][0]}"
    )
