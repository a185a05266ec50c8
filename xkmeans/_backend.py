"""The one home for backend facts: namespace, device, dtype, host RNG, chunks.

Nothing else in xkmeans asks which array library it is talking to. This
module never imports CuPy or PyTorch: array-api-compat identifies arrays
without importing their libraries.
"""

from __future__ import annotations

import functools
import numbers
import os
import warnings

import array_api_compat
import numpy as np

from ._config import get_config

__all__ = [
    "MixedArrayError",
    "acc_dtype",
    "backend_name",
    "check_random_state",
    "chunk_rows",
    "cupy_device",
    "default_float",
    "get_device",
    "get_namespace",
    "is_array",
    "is_cpu",
    "itemsize",
    "namespace_for_device",
    "row_chunks",
    "to_numpy",
]


class MixedArrayError(TypeError, ValueError):
    """Inputs come from different array libraries or devices.

    A ``TypeError`` (the wrong kind of object) and a ``ValueError`` (what
    scikit-learn raises for namespace mismatches), so either ``except`` works.
    """


def is_array(x) -> bool:
    """True for an array of any Array-API library (NumPy included)."""
    return array_api_compat.is_array_api_obj(x)


def _library_name(x) -> str:
    if array_api_compat.is_numpy_array(x):
        return "numpy"
    if array_api_compat.is_cupy_array(x):
        return "cupy"
    if array_api_compat.is_torch_array(x):
        return "torch"
    return type(x).__module__.split(".")[0]


def get_namespace(*arrays):
    """The Array API namespace shared by ``arrays`` (``None`` entries skipped).

    Raises ``MixedArrayError`` naming both libraries when they differ: user data is
    never converted silently from one library to another.
    """
    arrays = [a for a in arrays if a is not None]
    names = {}
    for a in arrays:
        names.setdefault(_library_name(a), type(a).__name__)
    if len(names) > 1:
        found = " and ".join(f"{lib} ({cls})" for lib, cls in names.items())
        msg = (
            f"Mixed array libraries: got arrays from {found}. All inputs must "
            "come from one array library; convert them explicitly first."
        )
        raise MixedArrayError(msg)
    return array_api_compat.array_namespace(*arrays)


def get_device(*arrays):
    """The device shared by ``arrays``; ``MixedArrayError`` naming both if they differ."""
    arrays = [a for a in arrays if a is not None]
    devices = []
    for a in arrays:
        dev = array_api_compat.device(a)
        if all(dev != d for d in devices):
            devices.append(dev)
    if len(devices) > 1:
        msg = (
            f"Arrays are on different devices: {devices[0]!r} and {devices[1]!r}. "
            "Move them to one device first; xkmeans never moves data silently."
        )
        raise MixedArrayError(msg)
    return devices[0] if devices else None


def namespace_for_device(device):
    """The Array API namespace whose arrays live on ``device`` (a device object).

    ``"cpu"`` means NumPy; ``torch.device``, ``cupy.cuda.Device`` and
    ``array_api_strict.Device`` name their library. Other strings (``"cuda"``)
    are ambiguous between libraries and raise ``TypeError``.
    """
    if isinstance(device, str):
        if device == "cpu":
            return array_api_compat.array_namespace(np.empty(0))
        msg = (
            f"device={device!r} is ambiguous: pass a device object of the target "
            "library, e.g. torch.device('cuda'), cupy.cuda.Device(0) or "
            "array_api_strict.Device('device1'); 'cpu' means NumPy."
        )
        raise TypeError(msg)
    lib = type(device).__module__.split(".")[0]
    if lib == "torch":
        import array_api_compat.torch as xp_torch

        return xp_torch
    if lib == "cupy":
        import array_api_compat.cupy as xp_cupy

        return xp_cupy
    if lib == "array_api_strict":
        import array_api_strict

        return array_api_strict
    msg = (
        f"device={device!r} (a {type(device).__name__}) is not a device of a supported "
        "array library: expected 'cpu', a torch.device, a cupy.cuda.Device or an "
        "array_api_strict.Device."
    )
    raise TypeError(msg)


def backend_name(xp) -> str:
    """Short name of a namespace: 'numpy', 'cupy', 'torch', 'array_api_strict'..."""
    if array_api_compat.is_numpy_namespace(xp):
        return "numpy"
    if array_api_compat.is_cupy_namespace(xp):
        return "cupy"
    if array_api_compat.is_torch_namespace(xp):
        return "torch"
    if array_api_compat.is_array_api_strict_namespace(xp):
        return "array_api_strict"
    return getattr(xp, "__name__", "unknown").split(".")[-1]


def _float_dtypes(xp, device):
    try:
        info = xp.__array_namespace_info__()
        return info.dtypes(device=device, kind="real floating")
    except (AttributeError, TypeError):
        return {"float32": xp.float32, "float64": xp.float64}


def default_float(xp, device):
    """The device's default real floating dtype (float32 where float64 is absent)."""
    floats = _float_dtypes(xp, device)
    try:
        default = xp.__array_namespace_info__().default_dtypes(device=device)
        dtype = default["real floating"]
    except (AttributeError, TypeError):
        dtype = xp.float64
    if dtype in floats.values():
        return dtype
    return floats["float32"]


def acc_dtype(xp, device):
    """The widest real float the device offers, used to accumulate sums."""
    floats = _float_dtypes(xp, device)
    return floats.get("float64", floats["float32"])


def itemsize(xp, dtype) -> int:
    """Bytes per element of a floating or integer dtype."""
    try:
        return xp.finfo(dtype).bits // 8
    except (TypeError, ValueError):
        return xp.iinfo(dtype).bits // 8


def to_numpy(x) -> np.ndarray:
    """Copy a (small) array to host memory as NumPy: end-of-fit scalars, stats."""
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        import array_api_strict

        return np.asarray(x.to_device(array_api_strict.Device("CPU_DEVICE")))
    return np.from_dlpack(x)


def check_random_state(seed) -> np.random.Generator:
    """One host ``numpy.random.Generator`` from sklearn-style ``random_state``.

    Accepts None, an int, a ``numpy.random.Generator`` or a legacy
    ``numpy.random.RandomState`` (from which a seed is drawn, so that a fit
    advances it like scikit-learn's estimators do).
    """
    if seed is None or isinstance(seed, numbers.Integral):
        if seed is not None and seed < 0:
            msg = f"random_state={seed!r} should be None, an int >= 0 or a Generator."
            raise ValueError(msg)
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(np.iinfo(np.int32).max))
    msg = (
        f"random_state={seed!r} cannot be used to seed a numpy.random.Generator; "
        "expected None, an int, a numpy.random.Generator or a RandomState."
    )
    raise ValueError(msg)


@functools.lru_cache(maxsize=256)
def _plan_rows(n_rows: int, bytes_per_row: int, budget_bytes: int) -> int:
    rows = max(1, budget_bytes // max(1, bytes_per_row))
    if rows < 64 and n_rows > rows:
        warnings.warn(
            f"working_memory allows only {rows} rows per chunk "
            f"({bytes_per_row} bytes each); computations will be slow. "
            "Increase it with xkmeans.set_config(working_memory=...).",
            RuntimeWarning,
            stacklevel=4,
        )
    return min(n_rows, rows)


# On a CPU, a chunk whose scratch arrays stay in cache is faster than a big
# one (a 2M x 3 @ 3 x 4 product takes 10x longer whole than in such tiles);
# a GPU wants chunks as big as the budget allows.
_CPU_TILE_BYTES = 4 << 20
_CPU_MIN_ROWS = 256


def is_cpu(xp, device) -> bool:
    """True where arrays live in host memory (NumPy, PyTorch CPU, array-api-strict)."""
    name = backend_name(xp)
    if name in ("numpy", "array_api_strict"):
        return True
    if name == "torch":
        return getattr(device, "type", str(device)) == "cpu"
    return False


def gpu_budget(working_memory_bytes: int, total_bytes: int) -> int:
    """Scratch bytes for one GPU chunk: the configured budget, or 1/32 of the
    device's memory (at most 2 GiB) when that is larger. A GPU wants few, big
    chunks; a CPU-sized budget would cost a launch per few thousand rows.
    Total, not free, memory: chunks (hence rounding) must not depend on what
    the memory pools hold."""
    return max(working_memory_bytes, min(total_bytes // 32, 2 << 30))


def working_budget(xp=None, device=None) -> int:
    """Scratch bytes one chunked operation may use: ``working_memory``; on a
    GPU (``xp`` and ``device`` given) at least ``gpu_budget`` of its memory."""
    budget = int(get_config()["working_memory"] * 2**20)
    if xp is None or is_cpu(xp, device):
        return budget
    name = backend_name(xp)
    key = getattr(device, "id", None) if name == "cupy" else str(device)
    total = _device_total_memory(name, key)
    return budget if total is None else gpu_budget(budget, total)


@functools.cache
def _device_total_memory(backend: str, device):
    """Bytes of memory of a CUDA device (CuPy device id, PyTorch device
    string), or None for other backends."""
    if backend == "cupy":
        import cupy

        with cupy.cuda.Device(device):
            return int(cupy.cuda.runtime.memGetInfo()[1])
    if backend == "torch":
        import torch

        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    return None


def chunk_rows(n_rows: int, bytes_per_row: int, *, cap=None, xp=None, device=None) -> int:
    """Rows per chunk so that the scratch arrays fit the working-memory budget.

    ``bytes_per_row`` is the scratch space one row needs (e.g. ``k`` distances
    and their temporaries). Given ``xp`` and ``device``, a CPU backend gets
    cache-sized tiles and a GPU at least ``gpu_budget`` (``working_budget``).
    ``cap`` optionally bounds the chunk further.
    """
    rows = _plan_rows(int(n_rows), int(bytes_per_row), working_budget(xp, device))
    if xp is not None and is_cpu(xp, device):
        rows = min(rows, max(_CPU_MIN_ROWS, _CPU_TILE_BYTES // max(1, int(bytes_per_row))))
    if cap is not None:
        rows = min(rows, max(1, cap))
    return max(1, rows)


def row_chunks(n_rows: int, rows: int):
    """``(start, stop)`` pairs covering ``range(n_rows)`` in steps of ``rows``."""
    for start in range(0, n_rows, rows):
        yield start, min(start + rows, n_rows)


def cupy_device():
    """``(device, description)`` of CuPy's current CUDA device, or ``(None, reason)``.

    ``device`` is a ``cupy.cuda.Device`` (``namespace_for_device`` gives its
    namespace) and ``description`` reads ``"gpu 0: <name> (CuPy <version>)"``.
    When CuPy is missing or sees no usable device, ``device`` is ``None`` and
    ``reason`` says why in words fit for a user. CuPy is imported here, on
    call, never when xkmeans is imported.
    """
    try:
        import cupy
    except ImportError:
        return None, "CuPy is not installed (pip install 'xkmeans[cuda12]' or 'xkmeans[cuda13]')"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # noqa: BLE001 (any CUDA driver or runtime failure)
        return None, f"CuPy finds no CUDA device ({type(e).__name__}: {e})"
    if count < 1:
        return None, "CuPy finds no CUDA device"
    dev = cupy.cuda.Device()
    name = cupy.cuda.runtime.getDeviceProperties(dev.id)["name"]
    if isinstance(name, bytes):  # CuPy gives the C string as bytes
        name = name.decode(errors="replace")
    return dev, f"gpu {dev.id}: {name} (CuPy {cupy.__version__})"


def free_memory(xp, device):
    """Bytes free on ``device`` (host memory for CPU arrays), or None if unknown."""
    if is_cpu(xp, device):
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    name = backend_name(xp)
    if name == "cupy":
        import cupy

        with device:
            free = cupy.cuda.runtime.memGetInfo()[0]
        return free + cupy.get_default_memory_pool().free_bytes()
    if name == "torch":
        import torch

        free = torch.cuda.mem_get_info(device)[0]
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return None
