"""Radius neighbours: every pair of samples within a distance, as a CSR graph.

Brute force over row chunks sized from the working-memory budget (never the
whole n x n distance matrix), the matrix product picking candidates and the
difference form deciding them; NumPy input in low dimension goes through
SciPy's k-d tree instead (same pairs, same arithmetic). See the
``self_radius_neighbors`` primitive.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _primitives as prims
from ._backend import backend_name, get_device
from ._neighbors import CSRGraph, _validator
from ._validation import check_X

__all__ = ["radius_neighbors", "radius_neighbors_graph"]


def _check_radius(radius):
    if (not isinstance(radius, numbers.Real) or isinstance(radius, bool)
            or not math.isfinite(radius) or radius < 0):
        msg = f"radius must be a finite float >= 0, got {radius!r}."
        raise ValueError(msg)


def entry_rows(indptr, *, xp):
    """Row of every entry of a CSR matrix, shape (nnz,), int64.

    ``repeat`` with per-row counts; CuPy's ``repeat`` takes no array of
    counts, so there a binary search finds each entry's row.
    """
    device = get_device(indptr)
    n = indptr.shape[0] - 1
    if backend_name(xp) == "cupy":
        nnz = int(indptr[-1])
        entries = xp.arange(nnz, dtype=xp.int64, device=device)
        return xp.searchsorted(indptr, entries, side="right") - 1
    return xp.repeat(xp.arange(n, dtype=xp.int64, device=device), indptr[1:] - indptr[:-1])


def _drop_self(indptr, indices, dist, *, xp):
    """The CSR arrays without each row's own entry (always present)."""
    device = get_device(indices)
    n = indptr.shape[0] - 1
    keep = indices != entry_rows(indptr, xp=xp)
    # Exactly one entry per row goes: row i's start moves back by i.
    indptr = indptr - xp.arange(n + 1, dtype=xp.int64, device=device)
    return indptr, indices[keep], (None if dist is None else dist[keep])


def _sort_by_distance(indptr, indices, dist, *, xp):
    """Entries of each row by increasing distance (ties: lower index first)."""
    rows = entry_rows(indptr, xp=xp)
    order = xp.argsort(dist, stable=True)  # indices ascending within a row already
    order = xp.take(order, xp.argsort(xp.take(rows, order), stable=True))
    return xp.take(indices, order), xp.take(dist, order)


def _self_radius(X, radius, *, include_self, return_distance, xp):
    indptr, indices, dist = prims.self_radius_neighbors(
        X, radius, xp=xp, return_distance=return_distance)
    if not include_self:
        indptr, indices, dist = _drop_self(indptr, indices, dist, xp=xp)
    return indptr, indices, dist


def radius_neighbors(X, radius=1.0, *, include_self=False, return_distance=True,
                     sort_results=False):
    """Every sample's neighbours within ``radius`` among the samples.

    The neighbours ``sklearn.neighbors.NearestNeighbors(radius=radius)
    .fit(X).radius_neighbors()`` finds (Euclidean distance, ``<= radius``),
    returned as the arrays of a CSR matrix instead of arrays of arrays:
    row ``i``'s neighbours are ``indices[indptr[i]:indptr[i + 1]]``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        NumPy, CuPy, PyTorch or other Array API array.
    radius : float, default=1.0
        Largest distance of a neighbour (included).
    include_self : bool, default=False
        Whether each sample is its own neighbour.
    return_distance : bool, default=True
        Whether to return the distances too.
    sort_results : bool, default=False
        Order each row by distance (ties by index) instead of by index.
        Needs ``return_distance=True``, as in scikit-learn.

    Returns
    -------
    distances : array of shape (nnz,)
        Euclidean distances in X's dtype; only if ``return_distance``.
    indices : int64 array of shape (nnz,)
        The neighbours, row after row; within a row by increasing index
        (or distance, with ``sort_results``).
    indptr : int64 array of shape (n_samples + 1,)
        Where each row starts and ends. All outputs are in X's namespace and
        on its device.

    See Also
    --------
    radius_neighbors_graph : The same neighbours as a sparse matrix.
    kneighbors : A fixed number of neighbours instead of a radius.

    Notes
    -----
    A pair is neighbours when ``sum_j (x_j - y_j)^2 <= radius^2``, summed in
    the widest float the device offers: scikit-learn's k-d tree arithmetic
    (in float64), so the pairs are scikit-learn's except for distances that
    equal the radius up to the last bit, where summing the features in
    another order may decide otherwise. NumPy data with at most 16 features
    and more than 256 rows use SciPy's ``cKDTree`` (pair search); elsewhere
    each chunk of rows gets its distances to every sample by a matrix product,
    which only picks candidates (with a margin covering its rounding) for the
    exact test. Memory: one chunk of the n x n matrix, the candidates of
    that chunk (a little more than its share of the output, times the
    features), plus the output.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import radius_neighbors
    >>> X = np.array([[0.0], [1.0], [3.0], [3.5]])
    >>> dist, ind, indptr = radius_neighbors(X, 1.0)
    >>> ind, indptr
    (array([1, 0, 3, 2]), array([0, 1, 2, 3, 4]))
    >>> dist
    array([1. , 1. , 0.5, 0.5])
    """
    X, xp, _ = check_X(_validator("radius_neighbors"), X, reset=True)
    _check_radius(radius)
    if sort_results and not return_distance:
        msg = "return_distance must be True if sort_results is True."
        raise ValueError(msg)
    indptr, indices, dist = _self_radius(X, radius, include_self=include_self,
                                         return_distance=return_distance, xp=xp)
    if not return_distance:
        return indices, indptr
    if sort_results:
        indices, dist = _sort_by_distance(indptr, indices, dist, xp=xp)
    return dist, indices, indptr


def radius_neighbors_graph(X, radius, *, mode="connectivity", include_self=False):
    """The graph of the samples within ``radius`` of each other, as a sparse matrix.

    Same meaning as ``sklearn.neighbors.radius_neighbors_graph`` with the
    Euclidean metric.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    radius : float
        Largest distance of a neighbour (included).
    mode : {'connectivity', 'distance'}, default='connectivity'
        Entries are ones, or the Euclidean distances.
    include_self : bool, default=False
        Whether each sample is its own neighbour (an entry 1, or 0.0 in
        'distance' mode, stored explicitly).

    Returns
    -------
    A : sparse matrix of shape (n_samples, n_samples)
        For NumPy input a ``scipy.sparse.csr_matrix`` (float64, as
        scikit-learn returns); for other libraries a :class:`CSRGraph` whose
        arrays are in X's namespace, dtype and device. Columns ascend within
        each row.

    See Also
    --------
    radius_neighbors : The same neighbours as arrays.
    kneighbors_graph : The k-nearest-neighbour graph.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import radius_neighbors_graph
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> radius_neighbors_graph(X, 1.5).toarray()
    array([[0., 1., 0.],
           [1., 0., 0.],
           [0., 0., 0.]])
    """
    if mode not in ("connectivity", "distance"):
        msg = f"mode must be 'connectivity' or 'distance', got {mode!r}."
        raise ValueError(msg)
    X, xp, device = check_X(_validator("radius_neighbors_graph"), X, reset=True)
    _check_radius(radius)
    n = X.shape[0]
    indptr, indices, dist = _self_radius(X, radius, include_self=include_self,
                                         return_distance=mode == "distance", xp=xp)
    if mode == "connectivity":
        data = xp.ones((indices.shape[0],), dtype=X.dtype, device=device)
    else:
        data = dist
    if isinstance(indices, np.ndarray):
        import scipy.sparse as sp

        return sp.csr_matrix((data.astype(np.float64, copy=False), indices, indptr),
                             shape=(n, n))
    return CSRGraph(indptr, indices, data, (n, n))
