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
