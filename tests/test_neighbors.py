"""k-NN search, graph and the k_smallest primitive on every backend, against sklearn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors
from sklearn.neighbors import kneighbors_graph as sk_kneighbors_graph

import xkmeans
from xkmeans import CSRGraph, kneighbors, kneighbors_graph
from xkmeans._neighbors import symmetrize
from xkmeans._primitives import _portable, connected_components, csr_matmul, k_smallest


def _dense(G, backend):
    if sp.issparse(G):
        return G.toarray()
    assert isinstance(G, CSRGraph)
    backend.check_array(G.data, dtype=backend.dtype)
    backend.check_array(G.indices)
    return backend.to_numpy(G.toarray())


@pytest.mark.parametrize("d", [2, 20])
@pytest.mark.parametrize("fast", [True, False])
def test_kneighbors_match_sklearn(backend, d, fast):
    X = np.random.default_rng(d).normal(size=(300, d)).astype(backend.dtype)
    ref_d, ref_i = NearestNeighbors(n_neighbors=7).fit(X).kneighbors()
    with xkmeans.config_context(fast_paths=fast):
        dist, ind = kneighbors(backend.asarray(X), 7)
    backend.check_array(dist, dtype=backend.dtype, shape=(300, 7))
    backend.check_array(ind, shape=(300, 7))
    np.testing.assert_array_equal(backend.to_numpy(ind), ref_i)
    np.testing.assert_allclose(backend.to_numpy(dist), ref_d, rtol=backend.rtol,
                               atol=10 * backend.rtol)


def test_include_self_puts_each_sample_first(backend):
    X = np.random.default_rng(1).normal(size=(80, 3))
    dist, ind = kneighbors(backend.asarray(X), 4, include_self=True)
    np.testing.assert_array_equal(backend.to_numpy(ind)[:, 0], np.arange(80))
    np.testing.assert_array_equal(backend.to_numpy(dist)[:, 0], 0.0)
    _, ref_i = NearestNeighbors(n_neighbors=3).fit(X).kneighbors()
    np.testing.assert_array_equal(backend.to_numpy(ind)[:, 1:], ref_i)


@pytest.mark.parametrize("mode", ["connectivity", "distance"])
@pytest.mark.parametrize("include_self", [False, True])
def test_kneighbors_graph_matches_sklearn(backend, mode, include_self):
    X = np.random.default_rng(2).normal(size=(120, 3)).astype(backend.dtype)
    ref = sk_kneighbors_graph(X, 5, mode=mode, include_self=include_self)
    G = kneighbors_graph(backend.asarray(X), 5, mode=mode, include_self=include_self)
    if backend.lib == "numpy":
        assert isinstance(G, sp.csr_matrix)
    np.testing.assert_allclose(_dense(G, backend), ref.toarray(), rtol=backend.rtol,
                               atol=10 * backend.rtol)
    sym = 0.5 * (ref + ref.T)
    if backend.lib != "numpy":
        np.testing.assert_allclose(_dense(symmetrize(G), backend), sym.toarray(),
                                   rtol=backend.rtol, atol=10 * backend.rtol)


@pytest.mark.parametrize("memory", [None, 0.005])
def test_ties_broken_by_lowest_index(backend, memory):
    """Points on a grid: many exactly equal distances. With a tiny working
    memory the portable search tiles the columns and merges each tile's best
    with those kept so far: the ties still go to the lowest index."""
    g = np.arange(6, dtype=float)
    X = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    memory = {} if memory is None else {"working_memory": memory}
    for fast in (True, False):
        with xkmeans.config_context(fast_paths=fast, **memory), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # tiny chunks, on purpose
            dist, ind = kneighbors(backend.asarray(X), 6)
        dist, ind = backend.to_numpy(dist), backend.to_numpy(ind)
        d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
        np.fill_diagonal(d2, -1)
        order = np.lexsort((np.broadcast_to(np.arange(36), d2.shape), d2), axis=1)[:, 1:7]
        np.testing.assert_array_equal(ind, order)
        np.testing.assert_allclose(dist, np.sqrt(np.take_along_axis(d2, order, axis=1)),
                                   rtol=backend.rtol, atol=backend.rtol)


@pytest.mark.parametrize("k", [1, 11, 70])
def test_numpy_bounded_selection_keeps_the_tie_rule(k):
    # More than 4096 rows of d > 16: the NumPy path gathers only the values up to a
    # bound from each row's first columns. Integer data with repeated rows gives exact
    # ties and zero distances; a repeated block at the start makes the first columns'
    # bound tight. Mirrored rows: the mean is exactly 0, so centring changes nothing
    # and the distances are exact. Same indices, bit for bit, as a stable sort of
    # them.
    rng = np.random.default_rng(k)
    A = rng.integers(-1, 2, size=(2200, 18)).astype(np.float64)
    A[1100:1400] = A[:300]
    X = np.concatenate([A, -A])
    n = X.shape[0]
    with xkmeans.config_context(working_memory=64):  # several row chunks
        dist, ind = kneighbors(X, k)
    sq = (X * X).sum(1)
    d2 = np.maximum(sq[:, None] - 2 * X @ X.T + sq[None, :], 0)
    np.fill_diagonal(d2, -1)
    order = np.argsort(d2, axis=1, kind="stable")[:, 1:k + 1]
    np.testing.assert_array_equal(ind, order)
    assert ind.shape == (n, k) and ind.dtype == np.int64
    np.testing.assert_allclose(dist, np.sqrt(np.take_along_axis(d2, order, 1)), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_bounded_selection_puts_each_row_first_among_its_duplicates(dtype):
    # Float rows with 59 duplicates in the first columns: each duplicate's computed
    # distance rounds to a tiny value around 0, and so may the row's own. The row must
    # still come first, and the others be its duplicates (up to which ones: rounding).
    rng = np.random.default_rng(0)  # in float32, 24 rows lost their first place once
    X = (rng.normal(size=(4500, 20)) * 3 + 5).astype(dtype)
    X[:60] = X[0]
    dist, ind = kneighbors(X, 6, include_self=True)
    np.testing.assert_array_equal(ind[:, 0], np.arange(X.shape[0]))
    assert np.all(ind[:60] < 60) and np.all(dist[:60] < 1e-2)
    with xkmeans.config_context(fast_paths=False):
        dist_ref, _ = kneighbors(X, 6, include_self=True)
    np.testing.assert_allclose(dist, dist_ref, rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("shape,k", [((7, 30), 1), ((7, 30), 30), ((40, 50), 5), ((3, 9), 4)])
def test_k_smallest_fast_equals_portable(backend, shape, k):
    rng = np.random.default_rng(0)
    D = rng.integers(0, 5, size=shape).astype(float)  # heavy ties
    Db = backend.asarray(D)
    xp = xkmeans._backend.get_namespace(Db)
    v1, i1 = k_smallest(Db, k, xp=xp)
    v2, i2 = _portable.k_smallest(Db, k, xp=xp)
    np.testing.assert_array_equal(backend.to_numpy(i1), backend.to_numpy(i2))
    np.testing.assert_array_equal(backend.to_numpy(v1), backend.to_numpy(v2))
    ref = np.argsort(D, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(backend.to_numpy(i1), ref)


def test_csr_matmul_and_components(backend):
    rng = np.random.default_rng(3)
    A = sp.random(60, 60, density=0.03, random_state=4, format="csr")
    A = (A + A.T).tocsr()
    A.sort_indices()
    V = rng.normal(size=(60, 3))
    ip, ix = backend.asarray(A.indptr, "int64"), backend.asarray(A.indices, "int64")
    xp = xkmeans._backend.get_namespace(ip)
    data, Vb = backend.asarray(A.data), backend.asarray(V)
    for f in (csr_matmul, _portable.csr_matmul):
        out = f(ip, ix, data, Vb, xp=xp)
        backend.check_array(out, dtype=backend.dtype, shape=(60, 3))
        np.testing.assert_allclose(backend.to_numpy(out), A @ V, rtol=backend.rtol,
                                   atol=backend.rtol)
    from scipy.sparse.csgraph import connected_components as sp_cc

    n_ref, lab_ref = sp_cc(A, directed=False)
    for f in (connected_components, _portable.connected_components):
        n, lab = f(ip, ix, xp=xp)
        assert n == n_ref
        np.testing.assert_array_equal(backend.to_numpy(lab), lab_ref)


def test_bad_inputs():
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="n_neighbors < n_samples"):
        kneighbors(X, 10)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples"):
        kneighbors_graph(X, 11, include_self=True)
    with pytest.raises(ValueError, match="n_neighbors must be an int >= 1"):
        kneighbors(X, 0)
    with pytest.raises(ValueError, match="mode must be"):
        kneighbors_graph(X, 2, mode="weights")


def test_chunked_search_equals_one_chunk(backend):
    X = np.random.default_rng(5).normal(size=(200, 20))
    _, ref = kneighbors(backend.asarray(X), 5)
    with xkmeans.config_context(working_memory=0.05), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # tiny chunks, on purpose
        _, ind = kneighbors(backend.asarray(X), 5)
    np.testing.assert_array_equal(backend.to_numpy(ind), backend.to_numpy(ref))
