"""Spectral clustering: affinity graph, normalized Laplacian eigenvectors, labels.

The estimator (validation, randomness) is ``SpectralClustering``; the array
work is in ``spectral_embedding_arrays``, ``lobpcg``, ``discretize`` and
``cluster_qr``, written once against the Array API over the ``csr_matmul``
and ``connected_components`` primitives.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import array_api_compat
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import KERNEL_PARAMS
from sklearn.utils._param_validation import Interval, StrOptions

from . import _primitives as prims
from ._backend import (
    acc_dtype,
    backend_name,
    check_random_state,
    chunk_rows,
    get_device,
    get_namespace,
    itemsize,
    row_chunks,
    to_numpy,
)
from ._kmeans import KMeans
from ._neighbors import CSRGraph, _check_n_neighbors, _knn_to_csr, _self_kneighbors, symmetrize
from ._validation import check_finite, check_X

__all__ = ["SpectralClustering"]

# Up to this many nodes the Laplacian is diagonalised densely (xp.linalg.eigh).
_DENSE_MAX = 1000
# LOBPCG block: the wanted vectors plus this many guard vectors. With one
# guard, 20k noisy moons (eigenvalues 3.5e-5, 9.2e-5, 2e-4) stopped on a mix
# of the 2nd and 3rd eigenvectors; three give scikit-learn's (ARPACK) answer.
_LOBPCG_GUARD = 3
_BUILTIN_AFFINITIES = ("nearest_neighbors", "rbf", "precomputed", "precomputed_nearest_neighbors")


# ---------------------------------------------------------------- affinities


def _rbf_affinity(X, gamma, *, xp):
    """Dense ``exp(-gamma |x - y|^2)``, built in row chunks."""
    n = X.shape[0]
    X = X - xp.astype(xp.mean(xp.astype(X, acc_dtype(xp, get_device(X))), axis=0), X.dtype)
    x_sq = xp.sum(X * X, axis=1)
    rows = chunk_rows(n, 3 * n * itemsize(xp, X.dtype))
    out = []
    for a, b in row_chunks(n, rows):
        d = prims.sq_distances(X[a:b, ...], X, xp=xp, x_sq=x_sq[a:b], c_sq=x_sq)
        out.append(xp.exp(-gamma * d))
    return out[0] if len(out) == 1 else xp.concat(out)


def _graph_parts(A, *, xp):
    """CSR arrays of a sparse affinity: (indptr, indices, data)."""
    if isinstance(A, CSRGraph):
        return A.indptr, A.indices, A.data
    A = A.tocsr()
    A.sum_duplicates()
    return A.indptr.astype(np.int64), A.indices.astype(np.int64), A.data


def _sign_flip(maps, *, xp):
    """sklearn's ``_deterministic_vector_sign_flip`` on the columns of ``maps``."""
    i = xp.argmax(xp.abs(maps), axis=0)
    top = xp.take_along_axis(maps, i[None, :], axis=0)
    return maps * (1.0 - 2.0 * xp.astype(top < 0, maps.dtype))


# ---------------------------------------------------------------- eigensolver


def _orthonormal_basis(S, AS, *, xp, rtol):
    """SVQB: an orthonormal basis of span(S) (and A times it), tiny directions dropped."""
    norms = xp.linalg.vector_norm(S, axis=0)
    norms = xp.where(norms > 0, norms, 1.0)
    S, AS = S / norms, AS / norms
    w, U = xp.linalg.eigh(S.T @ S)
    keep = to_numpy(w > rtol * xp.max(w))
    cols = xp.asarray(np.flatnonzero(keep), device=get_device(S))
    U = xp.take(U, cols, axis=1) / xp.sqrt(xp.take(w, cols))
    return S @ U, AS @ U


def lobpcg(op, X, *, Y=None, tol, maxiter, n_wanted, xp):
    """Smallest eigenpairs of a symmetric operator by LOBPCG (no preconditioner).

    Parameters
    ----------
    op : callable
        ``op(V)`` returns ``A @ V`` for an ``(n, b)`` block.
    X : array of shape (n, b)
        Initial block (b >= n_wanted).
    Y : array of shape (n, c), optional
        Orthonormal constraints: the iterates stay orthogonal to them.
    tol : float
        Converged when the first ``n_wanted`` residual norms are below it.

    Returns
    -------
    values : array of shape (n_wanted,)
    vectors : array of shape (n, n_wanted)
    converged : bool
    """
    eps = float(xp.finfo(X.dtype).eps)
    rtol = 1e3 * eps

    def project(V):
        return V if Y is None else V - Y @ (Y.T @ V)

    X = project(X)
    X, AX = _orthonormal_basis(X, op(X), xp=xp, rtol=rtol)
    b = X.shape[1]
    P = AP = None
    converged = False
    for _ in range(maxiter):
        H = X.T @ AX
        lam, C = xp.linalg.eigh(0.5 * (H + H.T))
        X, AX, lam = X @ C[:, :b], AX @ C[:, :b], lam[:b]
        R = AX - X * lam[None, :]
        res = to_numpy(xp.linalg.vector_norm(R, axis=0))
        if np.all(res[:n_wanted] < tol):
            converged = True
            break
        if not np.all(np.isfinite(res)):
            # Below the dtype's rounding floor the basis degenerates: stop
            # (the caller warns) rather than iterate on infinities.
            break
        # Soft locking: converged columns add no search directions. Their
        # residuals are rounding noise, and normalising noise (and the
        # matching P columns) made the iteration blow up on dense RBF graphs.
        active = xp.asarray(np.flatnonzero(res >= tol), device=get_device(X))
        W = project(xp.take(R, active, axis=1))
        parts, aparts = [X, W], [AX, op(W)]
        if P is not None:
            parts.append(xp.take(P, active, axis=1))
            aparts.append(xp.take(AP, active, axis=1))
        Q, AQ = _orthonormal_basis(xp.concat(parts, axis=1), xp.concat(aparts, axis=1),
                                   xp=xp, rtol=rtol)
        H = Q.T @ AQ
        _, C = xp.linalg.eigh(0.5 * (H + H.T))
        Xn, AXn = Q @ C[:, :b], AQ @ C[:, :b]
        G = X.T @ Xn
        P, AP = Xn - X @ G, AXn - AX @ G
        X, AX = Xn, AXn
    return lam[:n_wanted], X[:, :n_wanted], converged


# ---------------------------------------------------------------- embedding


def _is_connected_dense(A, *, xp):
    n = A.shape[0]
    device = get_device(A)
    adj = xp.astype(A != 0, A.dtype)
    seen = xp.astype(xp.arange(n, device=device) == 0, A.dtype)
    count = 1
    while True:
        seen = xp.astype((adj @ seen + seen) > 0, A.dtype)
        new = int(xp.sum(seen))
        if new == count or new == n:
            return new == n
        count = new


def _disconnected_warning():
    warnings.warn(
        "Graph is not fully connected, spectral embedding may not work as expected.",
        UserWarning,
        stacklevel=4,
    )


def spectral_embedding_arrays(A, n_components, *, rng, eigen_solver, eigen_tol, xp, device):
    """Leading eigenvectors of the normalized Laplacian of affinity ``A``, scaled by D^-1/2.

    ``A`` is a dense symmetric array or a sparse matrix (SciPy CSR for NumPy,
    :class:`CSRGraph` otherwise). Returns ``(n, n_components)`` in the widest
    float of the device: what sklearn's ``spectral_embedding(...,
    drop_first=False)`` returns, up to sign and rotation within an eigenspace.
    """
    acc = acc_dtype(xp, device)
    n = A.shape[0]
    dense = array_api_compat.is_array_api_obj(A)
    if dense:
        Aa = xp.astype(A, acc)
        diag = xp.linalg.diagonal(Aa)
        deg = xp.sum(Aa, axis=1) - diag
    else:
        indptr, indices, data = _graph_parts(A, xp=xp)
        data = xp.astype(data, acc)
        rows = CSRGraph(indptr, indices, data, (n, n)).rows()
        on_diag = rows == xp.astype(indices, xp.int64)
        data_off = xp.where(on_diag, 0.0, data)
        ones = xp.ones((n, 1), dtype=acc, device=device)
        deg = prims.csr_matmul(indptr, indices, data_off, ones, xp=xp)[:, 0]
    dd = xp.where(deg > 0, xp.sqrt(xp.where(deg > 0, deg, 1.0)), 1.0)
    dinv = 1.0 / dd

    if dense:
        if not _is_connected_dense(Aa, xp=xp):
            _disconnected_warning()
        A_off = Aa - xp.linalg.diagonal(Aa)[:, None] * xp.eye(n, dtype=acc, device=device)

        def matmul(V):
            return A_off @ V

        n_null, Y, null_maps = 0, None, None
    else:
        # Components give the Laplacian's null space exactly: D^1/2 1_C per
        # component with edges. Iterating for it converges slowly.
        struct = xp.nonzero(xp.reshape(data_off != 0, (-1,)))[0]
        s_ind = xp.take(indices, struct)
        s_ptr = xp.searchsorted(xp.take(rows, struct), xp.arange(n + 1, device=device))
        n_comp, comp = prims.connected_components(s_ptr, s_ind, xp=xp)
        if n_comp > 1:
            _disconnected_warning()
        n_null, Y, null_maps = _null_space(comp, n_comp, deg, dd, n_components, xp=xp)

        def matmul(V):
            return prims.csr_matmul(indptr, indices, data_off, V, xp=xp)

    if n_null >= n_components:
        return _sign_flip(null_maps, xp=xp)
    if eigen_solver != "lobpcg" and n <= _DENSE_MAX:
        if dense:
            M = A_off
        else:
            M = CSRGraph(indptr, indices, data_off, (n, n)).toarray()
        L = xp.eye(n, dtype=acc, device=device) - dinv[:, None] * M * dinv[None, :]
        _, vecs = xp.linalg.eigh(0.5 * (L + L.T))
        return _sign_flip(vecs[:, :n_components] * dinv[:, None], xp=xp)

    shift_invert = prims.laplacian_eigsh_fast(xp)
    if shift_invert is not None and eigen_solver is None and not dense and n_comp == 1:
        # A connected sparse graph on a backend with a shift-invert solver:
        # scikit-learn's own method (ARPACK), much faster than LOBPCG here
        # (50k noisy moons: 9 s with LOBPCG, about 1 s like scikit-learn).
        v0 = rng.uniform(-1, 1, n)
        tol = 0.0 if eigen_tol == "auto" else float(eigen_tol)
        vecs = shift_invert(indptr, indices, data_off, dinv, n_components, v0, tol, xp=xp)
        return _sign_flip(vecs * dinv[:, None], xp=xp)

    def op(V):
        return V - dinv[:, None] * matmul(dinv[:, None] * V)

    n_wanted = n_components - n_null
    b = n_wanted + _LOBPCG_GUARD
    X0 = xp.asarray(rng.standard_normal((n, b)), dtype=acc, device=device)
    if n_null == 0:
        X0 = xp.concat([dd[:, None], X0[:, 1:]], axis=1)
    # SciPy's default n * sqrt(eps), capped: the small eigenvalues of a k-NN
    # graph Laplacian (1e-5 .. 1e-4 on 20k noisy moons) need residuals far
    # below them. float64: 1e-6 (1e-4 picked the wrong eigenvector there);
    # float32 cannot go much below 1e-4 (at 1e-5 the basis degenerates; at 1e-3
    # blobs on a float32-only device came out at ARI 0.95, at 1e-4 at 1.0).
    cap = 1e-6 if xp.finfo(acc).bits >= 64 else 1e-4
    tol = min(float(np.sqrt(float(xp.finfo(acc).eps)) * n), cap)
    if eigen_tol != "auto":
        tol = float(eigen_tol)
    _, vecs, ok = lobpcg(op, X0, Y=Y, tol=tol, maxiter=2000, n_wanted=n_wanted, xp=xp)
    if not ok:
        warnings.warn(
            f"The eigensolver (LOBPCG) did not reach eigen_tol={tol:g} in 2000 "
            "iterations; the embedding may be inaccurate.",
            ConvergenceWarning,
            stacklevel=3,
        )
    maps = vecs * dinv[:, None]
    if null_maps is not None and n_null > 0:
        maps = xp.concat([null_maps, maps], axis=1)
    return _sign_flip(maps, xp=xp)


def _null_space(comp, n_comp, deg, dd, n_components, *, xp):
    """Null vectors D^1/2 1_C / sqrt(vol C) of the largest-volume components."""
    device = get_device(deg)
    acc = deg.dtype
    order = xp.argsort(comp, stable=True)
    cs = xp.cumulative_sum(xp.take(deg, order), include_initial=True)
    bounds = xp.searchsorted(xp.take(comp, order), xp.arange(n_comp + 1, device=device))
    vol = xp.take(cs, bounds[1:]) - xp.take(cs, bounds[:-1])
    vol_h = to_numpy(vol)
    nontrivial = np.flatnonzero(vol_h > 0)
    pick = nontrivial[np.argsort(-vol_h[nontrivial], kind="stable")][:n_components]
    if pick.size == 0:
        return 0, None, None
    pick_d = xp.asarray(pick, device=device)
    ind = xp.astype(comp[:, None] == xp.astype(pick_d, comp.dtype)[None, :], acc)
    null_maps = ind / xp.sqrt(xp.take(vol, pick_d))[None, :]
    return int(pick.size), null_maps * dd[:, None], null_maps


# ---------------------------------------------------------------- label assignment


def cluster_qr(vectors, *, xp):
    """Labels from an embedding by column-pivoted QR (Damle, Minden, Ying 2019)."""
    k = vectors.shape[1]
    resid = vectors
    piv = []
    for _ in range(k):
        i = xp.argmax(xp.sum(resid * resid, axis=1), keepdims=True)
        piv.append(i)
        q = xp.take(resid, i, axis=0)[0, :]
        q = q / xp.linalg.vector_norm(q)
        resid = resid - (resid @ q)[:, None] * q[None, :]
    rows = xp.take(vectors, xp.concat(piv), axis=0)
    ut, _, v = xp.linalg.svd(rows.T)
    rot = xp.abs(vectors @ (ut @ v))
    return xp.argmax(rot, axis=1)


def discretize(vectors, *, rng, xp, max_svd_restarts=30, n_iter_max=20):
    """sklearn's ``discretize``: the partition matrix nearest the embedding."""
    n, k = vectors.shape
    eps = np.finfo(float).eps
    vectors = vectors / xp.linalg.vector_norm(vectors, axis=0)[None, :] * float(np.sqrt(n))
    first = vectors[0, :]
    vectors = vectors * (1.0 - 2.0 * xp.astype(first > 0, vectors.dtype))[None, :]
    vectors = vectors / xp.linalg.vector_norm(vectors, axis=1)[:, None]
    for _ in range(max_svd_restarts):
        cols = [xp.take(vectors, xp.asarray([int(rng.integers(n))], device=get_device(vectors)),
                        axis=0)[0, :]]
        c = xp.zeros((n,), dtype=vectors.dtype, device=get_device(vectors))
        for _j in range(1, k):
            c = c + xp.abs(vectors @ cols[-1])
            cols.append(xp.take(vectors, xp.argmin(c, keepdims=True), axis=0)[0, :])
        rotation = xp.stack(cols, axis=1)
        last = 0.0
        for n_iter in range(1, n_iter_max + 2):
            labels = xp.argmax(vectors @ rotation, axis=1)
            t_svd, _ = prims.grouped_sum(vectors, labels, None, k, xp=xp)
            t_svd = xp.astype(t_svd, vectors.dtype)
            try:
                U, S, Vh = xp.linalg.svd(t_svd)
            except Exception:  # noqa: BLE001 - LinAlgError differs per library
                break
            ncut = 2.0 * (n - float(xp.sum(S)))
            if abs(ncut - last) < eps or n_iter > n_iter_max:
                return labels
            last = ncut
            rotation = Vh.T @ U.T
    msg = "SVD did not converge"
    raise np.linalg.LinAlgError(msg)


# ---------------------------------------------------------------- estimator


class SpectralClustering(ClusterMixin, BaseEstimator):
    """Spectral clustering of the samples' affinity graph, on any Array API backend.

    Builds an affinity matrix (a symmetrised k-nearest-neighbour graph, an
    RBF kernel, or one given), embeds the samples with the leading
    eigenvectors of its normalized Laplacian, and labels the embedding with
    :class:`xkmeans.KMeans`, ``discretize`` or ``cluster_qr``. Same
    constructor and semantics as :class:`sklearn.cluster.SpectralClustering`.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters (and, by default, of eigenvectors).
    eigen_solver : {'arpack', 'lobpcg', 'amg'}, default=None
        None: connected components give the Laplacian's null space exactly,
        up to 1000 nodes the rest comes from a dense ``eigh``, beyond that from
        LOBPCG written against the Array API (every backend). 'lobpcg': always
        LOBPCG. 'arpack' and 'amg': scikit-learn's own solvers, NumPy input only.
    n_components : int, default=None
        Number of eigenvectors; ``n_clusters`` if None.
    random_state : int, Generator, RandomState or None, default=None
        Seeds the eigensolver's start and the label assignment. Randomness is
        drawn on the host, so a seed gives the same labels on every backend.
    n_init : int, default=10
        Restarts of k-means when ``assign_labels='kmeans'``.
    gamma : float, default=1.0
        Kernel coefficient for 'rbf' (and sklearn's poly, sigmoid, laplacian, chi2).
    affinity : str or callable, default='rbf'
        'nearest_neighbors', 'rbf', 'precomputed' (X is an affinity matrix),
        'precomputed_nearest_neighbors' (X is a distance matrix; its
        ``n_neighbors`` smallest entries per row are kept). Other kernel names
        and callables go through ``sklearn.metrics.pairwise_kernels``: NumPy only.
    n_neighbors : int, default=10
        Neighbours per sample for the nearest-neighbour affinities.
    eigen_tol : float or 'auto', default='auto'
        Residual tolerance of LOBPCG; 'auto' is SciPy's ``n * sqrt(eps)``, at most 1e-3.
    assign_labels : {'kmeans', 'discretize', 'cluster_qr'}, default='kmeans'
        How labels are read from the embedding.
    degree : float, default=3
        Degree of the polynomial kernel (NumPy only).
    coef0 : float, default=1
        Zero coefficient of polynomial and sigmoid kernels (NumPy only).
    kernel_params : dict, default=None
        Extra parameters of a callable affinity (NumPy only).
    n_jobs : int, default=None
        Accepted for compatibility; unused.
    verbose : bool, default=False
        Verbosity of the label assignment.

    Attributes
    ----------
    affinity_matrix_ : array or sparse matrix of shape (n_samples, n_samples)
        The affinity matrix used. Sparse for the nearest-neighbour affinities
        (SciPy CSR for NumPy input, :class:`xkmeans.CSRGraph` otherwise), dense
        for kernels; in X's namespace and on its device.
    labels_ : integer array of shape (n_samples,)
        Cluster of each sample, in X's namespace and on its device.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    kneighbors_graph : The k-nearest-neighbour graph.
    KMeans : Clustering of convex clusters.

    Notes
    -----
    Tested on NumPy, array-api-strict (default, non-default and float32-only
    devices) and PyTorch on the CPU; CuPy and CUDA run through the same
    fixture on a GPU machine. The eigenvectors are computed in the widest
    float the device offers. Host traffic: component sizes and one
    convergence check per LOBPCG iteration. A disconnected graph warns like
    scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_moons
    >>> from xkmeans import SpectralClustering
    >>> X, y = make_moons(500, noise=0.08, random_state=0)
    >>> sc = SpectralClustering(2, affinity="nearest_neighbors", random_state=0)
    >>> labels = sc.fit_predict(X)
    >>> bool((labels == y).all() or (labels != y).all())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "eigen_solver": [StrOptions({"arpack", "lobpcg", "amg"}), None],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state", np.random.Generator],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "affinity": [
            callable,
            StrOptions(set(KERNEL_PARAMS) | set(_BUILTIN_AFFINITIES)),
        ],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "eigen_tol": [Interval(Real, 0.0, None, closed="left"), StrOptions({"auto"})],
        "assign_labels": [StrOptions({"kmeans", "discretize", "cluster_qr"})],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "kernel_params": [dict, None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        eigen_solver=None,
        n_components=None,
        random_state=None,
        n_init=10,
        gamma=1.0,
        affinity="rbf",
        n_neighbors=10,
        eigen_tol="auto",
        assign_labels="kmeans",
        degree=3,
        coef0=1,
        kernel_params=None,
        n_jobs=None,
        verbose=False,
    ):
        self.n_clusters = n_clusters
        self.eigen_solver = eigen_solver
        self.n_components = n_components
        self.random_state = random_state
        self.n_init = n_init
        self.gamma = gamma
        self.affinity = affinity
        self.n_neighbors = n_neighbors
        self.eigen_tol = eigen_tol
        self.assign_labels = assign_labels
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, X, y=None):
        """Perform spectral clustering from features or an affinity matrix.

        Parameters
        ----------
        X : array of shape (n_samples, n_features) or (n_samples, n_samples)
            Samples; or affinities for ``affinity='precomputed'`` (dense, a
            SciPy sparse matrix for NumPy, or a :class:`xkmeans.CSRGraph`);
            or distances for ``'precomputed_nearest_neighbors'``.
        y : Ignored

        Returns
        -------
        self : SpectralClustering
            Fitted estimator.
        """
        self._validate_params()
        X, xp, device, dtype = self._check_input(X)
        n = X.shape[0]
        self.affinity_matrix_ = self._affinity(X, xp=xp, device=device)
        A = self.affinity_matrix_
        if isinstance(A, CSRGraph) or not array_api_compat.is_array_api_obj(A):
            data = _graph_parts(A, xp=xp)[2]
            data = xp.asarray(data) if isinstance(data, np.ndarray) else data
        else:
            data = A
        check_finite(data, xp=xp, what="affinity matrix")
        low = float(xp.min(data)) if data.shape[0] else 0.0
        if low < 0:
            msg = (
                f"The affinity matrix has negative values (min={low:g}); spectral "
                "clustering needs non-negative affinities (similarities, not distances)."
            )
            raise ValueError(msg)
        rng = check_random_state(self.random_state)
        n_components = self.n_clusters if self.n_components is None else self.n_components
        if self.n_clusters > n:
            msg = f"n_samples={n} should be >= n_clusters={self.n_clusters}."
            raise ValueError(msg)
        maps = self._embed(A, n_components, rng=rng, xp=xp, device=device)
        if self.verbose:
            print(f"Computing label assignment using {self.assign_labels}")
        if self.assign_labels == "kmeans":
            km = KMeans(self.n_clusters, random_state=rng, n_init=self.n_init,
                        verbose=self.verbose)
            self.labels_ = km.fit(xp.astype(maps, dtype)).labels_
        elif self.assign_labels == "cluster_qr":
            self.labels_ = cluster_qr(maps, xp=xp)
        else:
            self.labels_ = discretize(maps, rng=rng, xp=xp)
        return self

    def fit_predict(self, X, y=None):
        """Fit, then return ``labels_``; see :meth:`fit`."""
        return self.fit(X).labels_

    # -- helpers -------------------------------------------------------------

    def _check_input(self, X):
        name = type(self).__name__
        square = self.affinity in ("precomputed", "precomputed_nearest_neighbors")
        if isinstance(X, CSRGraph):
            if self.affinity != "precomputed":
                msg = (
                    f"A CSRGraph is accepted with affinity='precomputed' only, got "
                    f"affinity={self.affinity!r}; pass a dense array instead."
                )
                raise ValueError(msg)
            xp = get_namespace(X.data)
            self.n_features_in_ = X.shape[1]
            X_out, dtype = X, X.data.dtype
        elif not array_api_compat.is_array_api_obj(X) or isinstance(X, np.ndarray):
            from sklearn.utils.validation import validate_data

            X_out = validate_data(self, X, accept_sparse=["csr", "csc", "coo"],
                                  dtype=[np.float64, np.float32], ensure_min_samples=2)
            xp = array_api_compat.array_namespace(np.zeros(1))
            dtype = X_out.dtype
        else:
            X_out, xp, _ = check_X(self, X, reset=True, min_samples=2)
            dtype = X_out.dtype
        device = get_device(X_out.data if isinstance(X_out, CSRGraph) else (
            X_out if array_api_compat.is_array_api_obj(X_out) else np.zeros(1)))
        if square and X_out.shape[0] != X_out.shape[1]:
            msg = (
                f"affinity={self.affinity!r} expects a square matrix of shape "
                f"(n_samples, n_samples), got shape {tuple(X_out.shape)} in {name}."
            )
            raise ValueError(msg)
        if not square and X_out.shape[0] == X_out.shape[1]:
            warnings.warn(
                "The spectral clustering API has changed. ``fit``now constructs an "
                "affinity matrix from data. To use a custom affinity matrix, set "
                "``affinity=precomputed``.",
                UserWarning,
                stacklevel=3,
            )
        return X_out, xp, device, dtype

    def _affinity(self, X, *, xp, device):
        aff = self.affinity
        n = X.shape[0]
        is_numpy = backend_name(xp) == "numpy"
        if aff == "nearest_neighbors":
            _check_n_neighbors(self.n_neighbors, n, include_self=True)
            dist, ind = _self_kneighbors(X, self.n_neighbors, True, xp=xp)
            G = _knn_to_csr(dist, ind, n, mode="connectivity", xp=xp, device=device)
            return 0.5 * (G + G.T) if is_numpy else symmetrize(G)
        if aff == "precomputed_nearest_neighbors":
            return self._precomputed_knn(X, xp=xp, device=device, is_numpy=is_numpy)
        if aff == "precomputed":
            return X
        if aff == "rbf" and not _is_sparse(X):
            return _rbf_affinity(X, self.gamma, xp=xp)
        if not is_numpy:
            msg = (
                f"affinity={aff!r} is computed by scikit-learn's pairwise_kernels, which "
                f"takes NumPy input only; got {backend_name(xp)} arrays. Use one of "
                f"{list(_BUILTIN_AFFINITIES)}, or compute the affinity matrix yourself "
                "and pass affinity='precomputed'."
            )
            raise ValueError(msg)
        from sklearn.metrics.pairwise import pairwise_kernels

        params = dict(self.kernel_params or {})
        if not callable(aff):
            params.update(gamma=self.gamma, degree=self.degree, coef0=self.coef0)
        return pairwise_kernels(X, metric=aff, filter_params=True, **params)

    def _precomputed_knn(self, D, *, xp, device, is_numpy):
        n = D.shape[0]
        if _is_sparse(D):
            from sklearn.neighbors import NearestNeighbors

            nn = NearestNeighbors(n_neighbors=self.n_neighbors, metric="precomputed").fit(D)
            G = nn.kneighbors_graph(X=D, mode="connectivity")
            return 0.5 * (G + G.T)
        _check_n_neighbors(self.n_neighbors, n, include_self=True)
        if float(xp.min(D)) < 0:
            msg = "Negative values in data passed to precomputed distance matrix."
            raise ValueError(msg)
        rows = chunk_rows(n, 4 * n * itemsize(xp, D.dtype))
        dist, ind = [], []
        for a, b in row_chunks(n, rows):
            v, i = prims.k_smallest(D[a:b, ...], self.n_neighbors, xp=xp)
            dist.append(v)
            ind.append(i)
        dist = dist[0] if len(dist) == 1 else xp.concat(dist)
        ind = ind[0] if len(ind) == 1 else xp.concat(ind)
        G = _knn_to_csr(dist, ind, n, mode="connectivity", xp=xp, device=device)
        return 0.5 * (G + G.T) if is_numpy else symmetrize(G)

    def _embed(self, A, n_components, *, rng, xp, device):
        solver = self.eigen_solver
        if solver in ("arpack", "amg"):
            if backend_name(xp) != "numpy":
                msg = (
                    f"eigen_solver={solver!r} is scikit-learn's (SciPy) solver and takes "
                    f"NumPy input only; got {backend_name(xp)} arrays. Use "
                    "eigen_solver=None or 'lobpcg', which run on every backend."
                )
                raise ValueError(msg)
            from sklearn.manifold._spectral_embedding import _spectral_embedding

            legacy = np.random.RandomState(rng.integers(np.iinfo(np.int32).max))
            return _spectral_embedding(A, n_components=n_components, eigen_solver=solver,
                                       random_state=legacy, eigen_tol=self.eigen_tol,
                                       drop_first=False)
        return spectral_embedding_arrays(A, n_components, rng=rng, eigen_solver=solver,
                                         eigen_tol=self.eigen_tol, xp=xp, device=device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = self.affinity in (
            "precomputed", "precomputed_nearest_neighbors")
        return tags


def _is_sparse(X):
    import scipy.sparse as sp

    return sp.issparse(X) or isinstance(X, CSRGraph)
