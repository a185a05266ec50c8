"""PyTorch fast paths for sparse (CSR) X.

CPU tensors share their memory with NumPy, so they run the NumPy / SciPy
sparse fast paths (scikit-learn's compiled sparse kernel) on views: no copy
of the stored values. CUDA tensors use the portable versions, whose product
is ``torch.sparse`` (``csr_matmul``) and whose sums are sorted segment sums,
deterministic unlike ``index_add_``'s float atomics. (Written, not measured:
no GPU was at hand.)
"""

from __future__ import annotations

from .._sparse import SparseRows
from . import _sparse, _sparse_numpy


def unavailable(name: str) -> bool:
    """The fused CPU step needs scikit-learn's sparse kernel."""
    return name == "sparse_lloyd_step" and _sparse_numpy.unavailable(name)


def _on_cpu(X) -> bool:
    return X.data.device.type == "cpu"


def _view(t):
    return None if t is None else t.detach().numpy()


def _np_xp():
    import array_api_compat.numpy as np_xp

    return np_xp


def _numpy_rows(X):
    """NumPy views of the stored values; indices as int32 where they fit (the kernel's type)."""
    import numpy as np

    indptr, indices = _view(X.indptr), _view(X.indices)
    if max(X.nnz, X.shape[1]) < np.iinfo(np.int32).max:
        indptr, indices = indptr.astype(np.int32), indices.astype(np.int32)
    return SparseRows(indptr, indices, _view(X.data), X.shape, xp=_np_xp(), indptr_host=indptr)


def _torch(a):
    import numpy as np
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


def sparse_nearest_centre(X, C, *, xp, x_sq=None):
    if not _on_cpu(X) or _sparse_numpy.unavailable("sparse_nearest_centre"):
        return _sparse.sparse_nearest_centre(X, C, xp=xp, x_sq=x_sq)
    labels, dist2 = _sparse_numpy.sparse_nearest_centre(_numpy_rows(X), _view(C), xp=_np_xp(),
                                                        x_sq=_view(x_sq))
    return _torch(labels), _torch(dist2)


def sparse_lloyd_step(X, weights, centres, *, xp):
    if not _on_cpu(X):
        return None
    out = _sparse_numpy.sparse_lloyd_step(_numpy_rows(X), _view(weights), _view(centres),
                                          xp=_np_xp())
    return None if out is None else tuple(_torch(a) for a in out)


def sparse_grouped_sum(X, labels, weights, n_groups, *, xp):
    if not _on_cpu(X):
        return _sparse.sparse_grouped_sum(X, labels, weights, n_groups, xp=xp)
    sums, counts = _sparse_numpy.sparse_grouped_sum(_numpy_rows(X), _view(labels),
                                                    _view(weights), n_groups, xp=_np_xp())
    return _torch(sums), _torch(counts)


def sparse_row_sq_norms(X, *, xp):
    if not _on_cpu(X):
        return _sparse.sparse_row_sq_norms(X, xp=xp)
    return _torch(_sparse_numpy.sparse_row_sq_norms(_numpy_rows(X), xp=_np_xp()))


def sparse_to_dense(X, *, xp):
    return X.to_native().to_dense()
