"""Sparse input: one CSR view of SciPy, CuPy and PyTorch sparse matrices.

``SparseRows`` holds a CSR matrix as three arrays of one Array API namespace
(``indptr``, ``indices``, ``data``) plus a host copy of ``indptr``, so that
row chunks are sliced without a device readback. The estimators pass it
where they pass a dense X; the primitives layer (``_primitives``) recognises
it and runs its sparse versions. Like ``_backend``, this module never
imports CuPy or PyTorch: inputs are recognised by their type's module.
"""

from __future__ import annotations

import contextlib
import warnings

import array_api_compat
import numpy as np

from ._backend import default_float, to_numpy

__all__ = ["SparseRows", "as_sparse_rows", "is_sparse", "is_sparse_input"]


class SparseRows:
    """A CSR matrix as arrays of one namespace, on one device.

    Parameters
    ----------
    indptr : integer array of shape (n_rows + 1,)
    indices : integer array of shape (nnz,)
        Column of each stored value; rows in order, columns in any order,
        duplicates summed (SciPy's CSR semantics).
    data : array of shape (nnz,)
        The stored values, X's dtype.
    shape : tuple of int
    xp : the arrays' Array API namespace
    indptr_host : NumPy integer array, optional
        Host copy of ``indptr`` (computed when absent).
    native : object, optional
        The library's own sparse matrix holding these arrays, if known.
    """

    ndim = 2

    def __init__(self, indptr, indices, data, shape, *, xp, indptr_host=None, native=None):
        self.indptr, self.indices, self.data = indptr, indices, data
        self.shape = (int(shape[0]), int(shape[1]))
        self.xp = xp
        self.indptr_host = to_numpy(indptr) if indptr_host is None else indptr_host
        self._native = native

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return array_api_compat.device(self.data)

    @property
    def nnz(self) -> int:
        return int(self.indptr_host[-1])

    def __getitem__(self, key):
        """Row slices only (``X[a:b]``, ``X[a:b, ...]``): views, no readback."""
        if isinstance(key, tuple):
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                msg = f"SparseRows supports row slices only, got {key!r}"
                raise TypeError(msg)
        if not isinstance(key, slice) or key.step not in (None, 1):
            msg = f"SparseRows supports contiguous row slices only, got {key!r}"
            raise TypeError(msg)
        a, b, _ = key.indices(self.shape[0])
        b = max(a, b)
        if a == 0 and b == self.shape[0]:
            return self
        p, q = int(self.indptr_host[a]), int(self.indptr_host[b])
        host = self.indptr_host[a : b + 1] - p
        indptr = self.indptr[a : b + 1] - self.indptr[a]
        return SparseRows(indptr, self.indices[p:q], self.data[p:q], (b - a, self.shape[1]),
                          xp=self.xp, indptr_host=host)

    def with_data(self, data):
        """The same sparsity structure holding ``data`` (e.g. rescaled rows)."""
        return SparseRows(self.indptr, self.indices, data, self.shape, xp=self.xp,
                          indptr_host=self.indptr_host)

    def row_ids(self):
        """Row index of each stored value, shape (nnz,)."""
        xp = self.xp
        counts = self.indptr[1:] - self.indptr[:-1]
        rows = xp.arange(self.shape[0], dtype=self.indptr.dtype, device=self.device)
        return xp.repeat(rows, counts)

    def to_native(self):
        """The library's own CSR matrix (SciPy, CuPy or PyTorch) with these arrays."""
        if self._native is None:
            self._native = _native_csr(self)
        return self._native

    def __repr__(self):
        return f"SparseRows(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"


def is_sparse(X) -> bool:
    """True for the internal ``SparseRows`` (after validation)."""
    return isinstance(X, SparseRows)


def _kind(X):
    """'scipy', 'cupy', 'torch' for a sparse matrix of that library, else None."""
    module = type(X).__module__
    if module.startswith("scipy.sparse"):
        import scipy.sparse as sp

        return "scipy" if sp.issparse(X) else None
    if module.startswith("cupyx.scipy.sparse"):
        return "cupy"
    if module.startswith("torch") and array_api_compat.is_torch_array(X):
        return "torch" if str(getattr(X, "layout", "")).startswith("torch.sparse") else None
    return None


def is_sparse_input(X) -> bool:
    """True for a SciPy, CuPy (``cupyx.scipy.sparse``) or PyTorch sparse matrix."""
    return _kind(X) is not None


def _native_csr(X: SparseRows):
    name = array_api_compat.array_namespace(X.data).__name__
    if "numpy" in name:
        import scipy.sparse as sp

        return sp.csr_matrix((X.data, X.indices, X.indptr), shape=X.shape)
    if "cupy" in name:
        import cupyx.scipy.sparse as csp

        return csp.csr_matrix((X.data, X.indices, X.indptr), shape=X.shape)
    import torch

    with _quiet_torch_csr():
        return torch.sparse_csr_tensor(X.indptr, X.indices, X.data, size=X.shape)


@contextlib.contextmanager
def _quiet_torch_csr():
    """PyTorch warns that CSR support is in beta; xkmeans uses only what it tests."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        yield


def _index_dtype(indptr, indices, nnz, n_cols):
    """int32 where it fits (scikit-learn's compiled kernel takes only int32)."""
    limit = np.iinfo(np.int32).max
    return np.int32 if max(nnz, n_cols) < limit else indptr.dtype


def as_sparse_rows(X, *, name: str):
    """A validated-by-type sparse matrix of any library as ``(SparseRows, xp)``.

    SciPy input must already be CSR with a float32/float64 dtype (scikit-learn's
    ``validate_data`` made it so). CuPy and PyTorch input is converted to CSR
    here (once) and integer/bool values become the device's default float.
    Values are not checked here; see ``check_values``.
    """
    kind = _kind(X)
    if kind == "scipy":
        import array_api_compat.numpy as xp

        idx = _index_dtype(X.indptr, X.indices, X.nnz, X.shape[1])
        indptr = X.indptr.astype(idx, copy=False)
        indices = X.indices.astype(idx, copy=False)
        native = X if indptr is X.indptr and indices is X.indices else None
        return SparseRows(indptr, indices, X.data, X.shape, xp=xp, indptr_host=indptr,
                          native=native), xp
    if kind == "cupy":
        import array_api_compat.cupy as xp

        X = X.tocsr()
        data = X.data
        if data.dtype.kind == "c":
            msg = f"Complex data not supported: got {data.dtype}. {name} accepts real numbers only."
            raise ValueError(msg)
        if data.dtype.kind not in "f" or data.dtype.itemsize < 4:
            data = data.astype(default_float(xp, array_api_compat.device(data)))
        return SparseRows(X.indptr, X.indices, data, X.shape, xp=xp), xp
    if kind == "torch":
        import array_api_compat.torch as xp
        import torch

        if X.ndim != 2:
            msg = f"Found array with dim {X.ndim}. {name} expected <= 2."
            raise ValueError(msg)
        if X.layout != torch.sparse_csr:
            X = X.coalesce() if X.layout == torch.sparse_coo else X
            with _quiet_torch_csr():
                X = X.to_sparse_csr()
        data = X.values()
        if data.is_complex():
            msg = f"Complex data not supported: got {data.dtype}. {name} accepts real numbers only."
            raise ValueError(msg)
        if data.dtype not in (torch.float32, torch.float64):
            data = data.to(default_float(xp, data.device))
        return SparseRows(X.crow_indices(), X.col_indices(), data, tuple(X.shape), xp=xp), xp
    msg = f"{type(X).__name__} is not a sparse matrix."
    raise TypeError(msg)
