"""Primitives the Array API standard lacks, with per-library fast paths.

Each primitive has a portable implementation (``_portable``) and optional
fast paths with the same signature in ``_numpy``, ``_torch`` and ``_cupy``.
``_FAST_PATHS`` is the one table that registers them; a (primitive, backend)
pair is resolved once and cached. ``xkmeans.config_context(fast_paths=False)``
(or ``XKMEANS_DISABLE_FAST_PATHS=1``) forces the portable versions.
"""

from __future__ import annotations

import functools
import importlib

from .._backend import backend_name, is_cpu
from .._config import get_config
from .._sparse import is_sparse
from . import _portable

__all__ = [
    "affinity_row_norms",
    "affinity_sweep",
    "assign_tile",
    "bound_update",
    "connected_components",
    "csr_matmul",
    "fused_hamerly_refresh",
    "fused_lloyd_step",
    "fused_minibatch_update",
    "grouped_sum",
    "has_identical_rows",
    "k_smallest",
    "kernel_scope",
    "laplacian_eigsh_fast",
    "lloyd_plan",
    "lloyd_plan_batch",
    "mask_indices",
    "masked_assign",
    "nearest_centre",
    "nearest_group_mins",
    "row_sq_norms",
    "scale_rows",
    "self_kneighbors",
    "self_radius_neighbors",
    "serial_blas",
    "sparse_mean_variance",
    "sq_distances",
    "take_rows",
    "to_dense",
]

_FAST_PATHS = {
    "nearest_centre": {"numpy": "_numpy", "torch": "_torch", "cupy": "_cupy"},
    "grouped_sum": {"numpy": "_numpy", "torch": "_torch", "cupy": "_cupy"},
    "k_smallest": {"numpy": "_numpy", "torch": "_torch", "cupy": "_cupy"},
    "csr_matmul": {"numpy": "_numpy", "torch": "_torch", "cupy": "_cupy"},
    "row_sq_norms": {"numpy": "_numpy"},
    "assign_tile": {"numpy": "_numpy"},
    "self_kneighbors": {"numpy": "_numpy", "cupy": "_cupy", "torch": "_torch"},
    "self_radius_neighbors": {"numpy": "_numpy"},
    "connected_components": {"numpy": "_numpy"},
    # Shift-invert eigensolver for the normalized Laplacian: fast path only;
    # elsewhere the spectral embedding runs LOBPCG (Array API).
    "laplacian_eigsh": {"numpy": "_numpy"},
    # Fused E+M step: fast path only; the loop composes the two primitives
    # above where a backend has none.
    "lloyd_step": {"numpy": "_numpy", "torch": "_torch"},
    # Device Lloyd iterations and mini-batch updates (CUDA kernels): fast path only.
    "lloyd_plan": {"cupy": "_cupy", "torch": "_torch"},
    # Many independent Lloyd problems per launch (a batch of palettes): fast path only.
    "lloyd_plan_batch": {"cupy": "_cupy_batch"},
    "minibatch_update": {"cupy": "_cupy", "torch": "_torch"},
    # Affinity propagation's message update; the portable one is in _affinity.
    "affinity_sweep": {"numpy": "_affinity_numpy", "torch": "_affinity_numpy"},
    "affinity_row_norms": {"numpy": "_affinity_numpy", "torch": "_affinity_numpy"},
    # Sparse (CSR) X, a ``SparseRows``: the portable versions are in _sparse.
    "sparse_nearest_centre": {"numpy": "_sparse_numpy", "torch": "_sparse_torch"},
    "sparse_grouped_sum": {"numpy": "_sparse_numpy", "torch": "_sparse_torch",
                           "cupy": "_sparse_cupy"},
    "sparse_row_sq_norms": {"numpy": "_sparse_numpy", "torch": "_sparse_torch"},
    "sparse_take_rows": {"numpy": "_sparse_numpy", "cupy": "_sparse_cupy"},
    "sparse_to_dense": {"numpy": "_sparse_numpy", "torch": "_sparse_torch",
                        "cupy": "_sparse_cupy"},
    # Pruned Lloyd (``_bounds`` holds the portable versions).
    "nearest_group_mins": {"numpy": "_bounds_numpy"},
    "bound_update": {"numpy": "_bounds_numpy"},
    # bound_update and the recomputation of the failing points fused per
    # block (Hamerly's single bound): fast path only.
    "hamerly_refresh": {"numpy": "_bounds_numpy"},
    "mask_indices": {"numpy": "_bounds_numpy"},
    "masked_assign": {"numpy": "_bounds_numpy", "torch": "_bounds_inplace",
                      "cupy": "_bounds_inplace"},
    # Fused sparse E+M step (scikit-learn's sparse kernel): fast path only.
    "sparse_lloyd_step": {"numpy": "_sparse_numpy", "torch": "_sparse_torch"},
}


@functools.cache
def _resolve(name: str, backend: str):
    module = _FAST_PATHS[name].get(backend)
    if module is None:
        return getattr(_portable, name, None)
    mod = importlib.import_module(f".{module}", __name__)
    # A fast path may depend on something that is missing at run time (a
    # private scikit-learn kernel, a GPU compiler): then the portable path
    # answers, and the module has said why, once.
    unavailable = getattr(mod, "unavailable", None)
    if unavailable is not None and unavailable(name):
        return getattr(_portable, name, None)
    return getattr(mod, name)


def _impl(name: str, xp):
    if not get_config()["fast_paths"]:
        return getattr(_portable, name, None)
    return _resolve(name, backend_name(xp))


def nearest_centre(X, C, *, xp, x_sq=None):
    """Nearest centre per row: ``(labels, squared distances)``; see ``_portable``.

    The tie rule holds on every backend and CPU: among identical centres the
    lowest index wins. A matrix product rounds x.c differently for different
    columns (by BLAS kernel and CPU), so identical centres can get distances
    one ulp apart; labels are mapped to the first of identical centres.
    Distinct centres whose distances differ by less than the dtype's rounding
    are a genuine tie: any of them is a right answer.
    """
    if is_sparse(X):
        labels, dist2 = _sparse_impl("sparse_nearest_centre", xp)(X, C, xp=xp, x_sq=x_sq)
        return _portable.first_of_identical(labels, C, xp=xp), dist2
    impl = _impl("nearest_centre", xp)
    labels, dist2 = impl(X, C, xp=xp, x_sq=x_sq)
    # Paths marked ``exact_ties`` compute every centre's distance by the same
    # arithmetic (own kernels) or map ties themselves, so the first wins.
    if not getattr(impl, "exact_ties", False):
        labels = _portable.first_of_identical(labels, C, xp=xp)
    return labels, dist2


def assign_tile(src, offset, C, *, work, index_dtype, with_sse, xp):
    """Labels (``index_dtype``) of a tile's rows cast to ``work`` and centred by
    ``offset``, and their summed squared distance; see ``_portable``."""
    return _impl("assign_tile", xp)(src, offset, C, work=work, index_dtype=index_dtype,
                                    with_sse=with_sse, xp=xp)


def grouped_sum(X, labels, weights, n_groups, *, xp):
    """Per-label weighted row sums and weight totals; see ``_portable``."""
    if is_sparse(X):
        return _sparse_impl("sparse_grouped_sum", xp)(X, labels, weights, n_groups, xp=xp)
    return _impl("grouped_sum", xp)(X, labels, weights, n_groups, xp=xp)


def fused_lloyd_step(xp, device, *, X=None):
    """The backend's fused Lloyd iteration, or None where the loop composes one.

    A fused step ``(X, weights, centres, *, xp) -> (labels, new_centres,
    weight_per_cluster)`` also relocates empty clusters, as the loop does.
    The ones registered run scikit-learn's compiled kernel, on arrays in host
    memory only. Pass ``X`` when it may be sparse: a ``SparseRows`` gets
    scikit-learn's sparse kernel.
    """
    sparse = X is not None and is_sparse(X)
    if sparse and max(X.nnz, X.shape[1]) >= 2**31 - 1:
        return None  # scikit-learn's sparse kernel takes int32 indices only
    impl = _impl("sparse_lloyd_step" if sparse else "lloyd_step", xp)
    return impl if impl is not None and is_cpu(xp, device) else None


def lloyd_plan(X, weights, n_clusters, *, xp, device):
    """The backend's device Lloyd iteration for (X, weights), or None.

    A plan's ``step(centres)`` returns ``(labels, new_centres,
    weight_per_cluster, stats)``, ``stats`` a small device float64 array
    [changed labels, squared centre shift, empty clusters]; empty clusters
    are left to the loop. Only GPU arrays get one (CUDA kernels).
    """
    if is_cpu(xp, device) or is_sparse(X):
        return None
    impl = _impl("lloyd_plan", xp)
    return None if impl is None else impl(X, weights, n_clusters, xp=xp)


def lloyd_plan_batch(Xs, weights, n_clusters, *, xp, device):
    """The backend's device Lloyd iteration for many problems at once, or None.

    ``Xs`` are dense arrays of one dtype and width on one device, ``weights``
    None or one array per problem. The plan's ``step(centres, active)`` takes
    centres of shape (n_problems, k, d) and a host sequence of flags, and
    returns ``(labels, new_centres, weight_per_cluster, stats)``: a list of
    labels per problem, then arrays with a leading problem axis (``stats``
    (n_problems, 3), per problem what ``lloyd_plan`` reports). Each problem
    gets what its own ``lloyd_plan`` gives. Only GPU arrays get one.
    """
    if is_cpu(xp, device) or any(is_sparse(X) for X in Xs):
        return None
    impl = _impl("lloyd_plan_batch", xp)
    return None if impl is None else impl(Xs, weights, n_clusters, xp=xp)


def fused_minibatch_update(X, weights, centres, counts, *, xp, device):
    """One mini-batch update by the backend's fused kernels, or None.

    ``(new_centres, new_counts, stats)`` as ``minibatch_step`` computes them
    before reassignment (``stats[3] == 0``); None where no kernel takes the
    shape or the backend (then the caller composes the primitives).
    """
    if is_cpu(xp, device) or is_sparse(X):
        return None
    impl = _impl("minibatch_update", xp)
    return None if impl is None else impl(X, weights, centres, counts, xp=xp)


def serial_blas(xp):
    """A context in which NumPy's matrix products run on one thread.

    For many small products (k-means++ on a few thousand k-means||
    candidates): on a busy 2-core machine, waking BLAS threads for each one
    cost 3-6x the work itself. A no-op for other backends.
    """
    import contextlib

    if backend_name(xp) != "numpy":
        return contextlib.nullcontext()
    from ._numpy import _blas_controller

    return _blas_controller().limit(limits=1, user_api="blas")


def kernel_scope(xp, device):
    """A context for a whole loop of host kernel calls (NumPy, PyTorch CPU):
    the BLAS thread limit and scikit-learn settings that each compiled kernel
    call needs are set once instead of at every call; a no-op elsewhere."""
    import contextlib

    if backend_name(xp) not in ("numpy", "torch") or not is_cpu(xp, device):
        return contextlib.nullcontext()
    from ._numpy import _kernel_context

    return _kernel_context()


def has_identical_rows(C, *, xp) -> bool:
    """True if two rows of a small array are identical (reads C back)."""
    return _portable.identical_row_map(C, xp=xp) is not None


def laplacian_eigsh_fast(xp):
    """The backend's shift-invert Laplacian eigensolver, or None (use LOBPCG).

    ``(indptr, indices, data, dinv, n_vectors, v0, tol, *, xp) -> vectors``:
    the eigenvectors of the smallest eigenvalues of I - D^-1/2 A D^-1/2, for
    A given by CSR arrays with an empty diagonal and dinv = D^-1/2, in
    ascending order of eigenvalue.
    """
    return _impl("laplacian_eigsh", xp)


def k_smallest(D, k, *, xp):
    """The k smallest values per row and their columns, ties by lowest column."""
    return _impl("k_smallest", xp)(D, k, xp=xp)


def csr_matmul(indptr, indices, data, V, *, xp):
    """``A @ V`` for a CSR matrix A given by its arrays; see ``_portable``."""
    return _impl("csr_matmul", xp)(indptr, indices, data, V, xp=xp)


def self_kneighbors(X, k, *, xp):
    """Each row's k nearest rows (itself first): ``(distances, indices)``."""
    return _impl("self_kneighbors", xp)(X, k, xp=xp)


def self_radius_neighbors(X, radius, *, xp, return_distance=True):
    """``(indptr, indices, distances)``: each row's rows within ``radius`` (itself
    included, ascending) as CSR arrays; see ``_portable``."""
    return _impl("self_radius_neighbors", xp)(X, radius, xp=xp, return_distance=return_distance)


def connected_components(indptr, indices, *, xp):
    """``(n_components, labels)`` of a symmetric CSR graph; see ``_portable``."""
    return _impl("connected_components", xp)(indptr, indices, xp=xp)


def components_from_one_triangle(xp) -> bool:
    """True if ``connected_components`` reads a graph in both directions, so that
    one triangle of a symmetric graph is enough (the portable one needs both)."""
    return getattr(_impl("connected_components", xp), "symmetrizes", False)


def affinity_sweep(S, A, R, colsum, damping, *, update_a, update_r, rows, xp, device):
    """One pass of affinity propagation's message updates; see ``_affinity``."""
    from . import _affinity

    impl = _impl("affinity_sweep", xp) or _affinity.affinity_sweep
    return impl(S, A, R, colsum, damping, update_a=update_a, update_r=update_r, rows=rows,
                xp=xp, device=device)


def affinity_row_norms(X, *, xp):
    """Squared norm of every row for the similarities; NumPy sums as scikit-learn's
    ``row_norms`` does (einsum), so that they are its numbers to the last bit."""
    from . import _affinity

    return (_impl("affinity_row_norms", xp) or _affinity.affinity_row_norms)(X, xp=xp)


def _bounds_impl(name: str, xp):
    from . import _bounds

    return _impl(name, xp) or getattr(_bounds, name)


def nearest_group_mins(X, C, perm, starts, *, xp, x_sq=None):
    """``(labels, d1, mins)``: nearest centre, its squared distance, and per group
    of centres the nearest other one; see ``_bounds``. Group g holds centres
    ``perm[starts[g]:starts[g + 1]]``. Ties as ``nearest_centre``."""
    pos, d1, mins = _bounds_impl("nearest_group_mins", xp)(
        X, xp.take(C, perm, axis=0), starts, xp=xp, x_sq=x_sq)
    labels = xp.take(perm, pos)
    return _portable.first_of_identical(labels, C, xp=xp), d1, mins


def bound_update(u, l, labels, delta, drop, sep, round_out, *, xp):
    """Move pruning bounds with the centres: ``(u, l, mask, count)``; see ``_bounds``."""
    return _bounds_impl("bound_update", xp)(u, l, labels, delta, drop, sep, round_out, xp=xp)


def fused_hamerly_refresh(xp):
    """The backend's fused bound update and recomputation for Hamerly's bounds
    (``_bounds_numpy.hamerly_refresh``), or None where it has none."""
    return _impl("hamerly_refresh", xp)


def mask_indices(mask, count, *, xp):
    """Ascending indices of a mask's ``count`` True entries (count known on the host)."""
    return _bounds_impl("mask_indices", xp)(mask, count, xp=xp)


def masked_assign(base, mask, values, *, xp, idx=None):
    """``base`` with its ``mask`` positions (``idx``, if known) set to ``values``;
    may write into ``base``."""
    return _bounds_impl("masked_assign", xp)(base, mask, values, xp=xp, idx=idx)


def _sparse_impl(name: str, xp):
    from . import _sparse

    return _impl(name, xp) or getattr(_sparse, name)


def sq_distances(X, C, *, xp, x_sq=None, c_sq=None):
    """Squared Euclidean distances ``(n, k)`` of a chunk of rows; see ``_portable``."""
    if is_sparse(X):
        from ._sparse import sparse_sq_distances

        return sparse_sq_distances(X, C, xp=xp, x_sq=x_sq, c_sq=c_sq)
    return _portable.sq_distances(X, C, xp=xp, x_sq=x_sq, c_sq=c_sq)


def sparse_mean_variance(X, *, xp) -> float:
    """Mean over features of the column variances of a sparse X (one readback)."""
    from ._sparse import sparse_mean_variance as impl

    return impl(X, xp=xp)


def sparse_assigned_sq_distances(X, C, labels, *, xp, x_sq=None):
    """Squared distance of each sparse row to its assigned centre (no search)."""
    from ._sparse import sparse_assigned_sq_distances as impl

    return impl(X, C, labels, xp=xp, x_sq=x_sq)


def row_sq_norms(X, *, xp):
    """Squared Euclidean norm of each row of X (dense or sparse), X's dtype."""
    if is_sparse(X):
        return _sparse_impl("sparse_row_sq_norms", xp)(X, xp=xp)
    return _impl("row_sq_norms", xp)(X, xp=xp)


def take_rows(X, idx, *, xp):
    """Rows ``idx`` of X: a dense array, or a ``SparseRows`` for sparse X."""
    if is_sparse(X):
        return _sparse_impl("sparse_take_rows", xp)(X, idx, xp=xp)
    return xp.take(X, idx, axis=0)


def to_dense(X, *, xp):
    """X as a dense array (for a few rows of a sparse X: centres); dense X as is."""
    if is_sparse(X):
        return _sparse_impl("sparse_to_dense", xp)(X, xp=xp)
    return X


def scale_rows(X, scale, *, xp):
    """Each row of X times its factor in ``scale`` (sparse X stays sparse)."""
    if is_sparse(X):
        from ._sparse import sparse_scale_rows

        return sparse_scale_rows(X, scale, xp=xp)
    return X * scale[:, None]
