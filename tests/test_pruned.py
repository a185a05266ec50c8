"""Exact pruned Lloyd (algorithm='elkan'): Lloyd's iterations with fewer distances.

Every test compares the pruned loop with the Lloyd loop from the same
initial centres: labels (up to ties that rounding decides), centres,
inertia and ``n_iter_``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import assert_labels_up_to_ties, blobs
from sklearn.cluster import KMeans as SKKMeans

import xkmeans
from xkmeans import KMeans
from xkmeans._lloyd import lloyd
from xkmeans._pruned import choose_loop, half_separation, pruned_lloyd


def _namespace(backend):
    import array_api_compat

    return array_api_compat.array_namespace(backend.asarray(np.zeros(1)))


def _both(backend, X, init, *, weights=None, tol=1e-4, max_iter=300, n_groups=1):
    """(lloyd, pruned) results as NumPy, from the same backend arrays."""
    xp = _namespace(backend)
    Xb, Cb = backend.asarray(X), backend.asarray(init)
    wb = None if weights is None else backend.asarray(weights)
    x_sq = xp.sum(Xb * Xb, axis=1)
    out = []
    for loop in (lloyd, functools.partial(pruned_lloyd, n_groups=n_groups)):
        labels, inertia, centres, n_iter = loop(Xb, wb, Cb, x_sq=x_sq, max_iter=max_iter,
                                                tol=tol, verbose=0, xp=xp)
        backend.check_array(centres, dtype=backend.dtype, shape=init.shape)
        out.append((backend.to_numpy(labels), inertia, backend.to_numpy(centres), n_iter))
    return out


def _assert_same(backend, X, ref, got):
    (l0, i0, c0, n0), (l1, i1, c1, n1) = ref, got
    assert n1 == n0
    np.testing.assert_allclose(c1, c0, rtol=backend.rtol, atol=backend.rtol * 1e-2)
    # Lloyd's inertia comes from |x|^2 - 2 x.c + |c|^2: absolute rounding residue.
    assert i1 == pytest.approx(i0, rel=backend.rtol, abs=backend.rtol * 1e-3 * (X**2).sum())
    assert_labels_up_to_ties(X, c1, l1, l0, backend.dtype)


def _data(case, seed=0):
    rng = np.random.default_rng(seed)
    if case == "blobs":
        X, _ = blobs(600, 3, 8, seed=seed, spread=2.0)
        return X, X[rng.choice(600, 8, replace=False)]
    if case == "overlapping":  # many points near boundaries, many iterations
        X = rng.uniform(size=(800, 2))
        return X, X[rng.choice(800, 25, replace=False)]
    if case == "k1":
        X = rng.normal(size=(50, 4))
        return X, X[:1]
    if case == "k=n":
        X = rng.normal(size=(30, 3))
        return X, X.copy()
    if case == "duplicates":  # repeated rows and two identical initial centres
        X = np.repeat(rng.normal(size=(40, 2)), 5, axis=0)
        return X, np.concatenate([X[:1], X[:1], X[[50, 100, 150]]])
    if case == "empty":  # a centre far from every point: relocated at once
        X, _ = blobs(300, 2, 4, seed=seed)
        return X, np.concatenate([X[:3], [[1e3, -1e3]]])
    if case == "wide":
        X, _ = blobs(400, 40, 12, seed=seed, spread=4.0)
        return X, X[rng.choice(400, 12, replace=False)]
    raise ValueError(case)


CASES = ["blobs", "overlapping", "k1", "k=n", "duplicates", "empty", "wide"]


@pytest.mark.parametrize("case", CASES)
def test_pruned_equals_lloyd(backend, case):
    X, init = _data(case)
    ref, got = _both(backend, X, init)
    _assert_same(backend, X, ref, got)


@pytest.mark.parametrize("case", ["overlapping", "duplicates", "wide"])
def test_group_bounds_equal_lloyd(backend, case):
    """Yinyang-style group bounds (n_groups > 1) give Lloyd's iterations too."""
    X, init = _data(case, seed=4)
    ref, got = _both(backend, X, init, n_groups=3)
    _assert_same(backend, X, ref, got)


def test_centre_groups():
    from xkmeans._pruned import centre_groups

    C = np.concatenate([np.zeros((3, 2)), np.full((4, 2), 10.0), np.full((2, 2), -10.0)])
    C += np.random.default_rng(0).normal(scale=0.1, size=C.shape)
    perm, starts = centre_groups(C, 3, xp=np)
    assert sorted(perm.tolist()) == list(range(9)) and starts[0] == 0 and len(starts) == 3
    groups = np.split(perm, starts[1:])
    assert sorted(sorted(g.tolist()) for g in groups) == [[0, 1, 2], [3, 4, 5, 6], [7, 8]]
    perm, starts = centre_groups(C, 1, xp=np)
    assert perm.tolist() == list(range(9)) and starts == (0,)


@pytest.mark.parametrize("tol", [0.0, 1e-2])
def test_pruned_equals_lloyd_weighted(backend, tol):
    X, init = _data("overlapping", seed=1)
    w = np.random.default_rng(1).uniform(0.1, 3.0, size=X.shape[0])
    w[::7] = 0  # zero weights count for nothing
    ref, got = _both(backend, X, init, weights=w, tol=tol)
    _assert_same(backend, X, ref, got)


@pytest.mark.parametrize("max_iter", [1, 2, 5])
def test_pruned_equals_lloyd_every_iteration(max_iter):
    """Stopped after any number of iterations, the two loops agree."""
    from conftest import BACKENDS

    backend = BACKENDS[0]
    X, init = _data("overlapping", seed=2)
    ref, got = _both(backend, X, init, tol=0.0, max_iter=max_iter)
    _assert_same(backend, X, ref, got)


@pytest.mark.parametrize("fast", [True, False])
def test_pruned_equals_lloyd_many_blocks(fast, monkeypatch):
    """Several blocks of the fused NumPy refresh (blocks where few points
    fail, where most do, and where none do) and products split into several
    tiles, and the same iterations with fast paths off."""
    from conftest import BACKENDS

    from xkmeans._primitives import _bounds_numpy

    monkeypatch.setattr(_bounds_numpy, "_REFRESH_BYTES", 1 << 14)  # 4096-row blocks
    monkeypatch.setattr(_bounds_numpy, "_TILE_BYTES", 1 << 14)  # 546-row tiles
    backend = BACKENDS[0]
    rng = np.random.default_rng(5)
    # Last block: a far cluster with its own centre, whose points never fail.
    X = np.concatenate([rng.uniform(size=(20_000, 2)), rng.normal(3, 0.01, size=(15_000, 2)),
                        rng.normal(50, 0.01, size=(5_000, 2))])
    init = np.concatenate([X[rng.choice(35_000, 29, replace=False)], X[-1:]])
    with xkmeans.config_context(fast_paths=fast):
        ref, got = _both(backend, X, init, tol=0.0, max_iter=25)
    _assert_same(backend, X, ref, got)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_elkan_matches_sklearn(dtype):
    """algorithm='elkan' gives scikit-learn's fit (its elkan and lloyd agree)."""
    X, init = _data("overlapping", seed=3)
    X, init = X.astype(dtype), init.astype(dtype)
    ref = SKKMeans(25, init=init, n_init=1, algorithm="elkan").fit(X)
    km = KMeans(25, init=init, n_init=1, algorithm="elkan").fit(X)
    assert km.n_iter_ == ref.n_iter_
    rtol = 1e-6 if dtype == "float64" else 1e-3
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=1e-6)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=rtol)
    assert_labels_up_to_ties(X, km.cluster_centers_, km.labels_, ref.labels_, dtype)


def test_elkan_estimator_every_backend(backend):
    X, _ = blobs(500, 4, 6, seed=4, spread=2.0)
    ref = KMeans(6, n_init=2, random_state=0, algorithm="lloyd").fit(backend.asarray(X))
    km = KMeans(6, n_init=2, random_state=0, algorithm="elkan").fit(backend.asarray(X))
    backend.check_array(km.cluster_centers_, dtype=backend.dtype, shape=(6, 4))
    backend.check_array(km.labels_, shape=(500,))
    assert km.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(backend.to_numpy(km.cluster_centers_),
                               backend.to_numpy(ref.cluster_centers_), rtol=backend.rtol)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=backend.rtol)


def test_choose_loop():
    X = np.zeros((4, 2))
    assert choose_loop("elkan", X, 3, spherical=False) is pruned_lloyd
    assert choose_loop("lloyd", X, 3, spherical=False) is lloyd
    assert choose_loop("elkan", X, 1, spherical=False) is lloyd
    assert choose_loop("elkan", X, 3, spherical=True) is lloyd
    with pytest.raises(ValueError, match="Euclidean"):
        pruned_lloyd(X, None, X[:2], x_sq=X[:, 0], max_iter=1, tol=0, verbose=0, xp=np,
                     spherical=True)


def test_elkan_verbose_prints_like_lloyd(capsys):
    X, init = _data("blobs")
    KMeans(8, init=init, n_init=1, algorithm="lloyd", verbose=1).fit(X)
    ref = capsys.readouterr().out
    KMeans(8, init=init, n_init=1, algorithm="elkan", verbose=1).fit(X)
    got = capsys.readouterr().out
    assert [line.split(",")[0] for line in got.splitlines()] == [
        line.split(",")[0] for line in ref.splitlines()]
    assert "Converged at iteration" in got


def test_half_separation():
    C = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    s = half_separation(C, xp=np, acc=np.float64)
    np.testing.assert_allclose(s, [0.5, np.sqrt(18) / 2, 0.5], rtol=1e-12)
    assert np.isinf(half_separation(C[:1], xp=np, acc=np.float64)).all()


def test_bound_primitives_fast_equals_portable(backend):
    """nearest_group_mins, mask_indices, masked_assign: fast paths == portable."""
    from xkmeans._primitives import mask_indices, masked_assign, nearest_group_mins

    xp = _namespace(backend)
    rng = np.random.default_rng(5)
    X = backend.asarray(rng.normal(size=(300, 5)))
    C = backend.asarray(np.concatenate([rng.normal(size=(6, 5)), np.zeros((1, 5))]))
    mask_np = rng.uniform(size=300) < 0.3
    mask = backend.asarray(mask_np)
    ident = xp.arange(7, device=backend.device)
    perm = xp.asarray([3, 0, 6, 1, 4, 2, 5], device=backend.device)
    out = {}
    for fast in (True, False):
        with xkmeans.config_context(fast_paths=fast):
            lab, d1, d2 = nearest_group_mins(X, C, ident, (0,), xp=xp)
            idx = mask_indices(mask, int(mask_np.sum()), xp=xp)
            base = xp.zeros((300,), dtype=d1.dtype, device=backend.device)
            put = masked_assign(base, mask, xp.take(d1, idx), xp=xp)
            base = xp.zeros((300,), dtype=d1.dtype, device=backend.device)
            put_idx = masked_assign(base, mask, xp.take(d1, idx), xp=xp, idx=idx)
            g_lab, g_d1, mins = nearest_group_mins(X, C, perm, (0, 2, 5), xp=xp)
        out[fast] = [backend.to_numpy(a) for a in (lab, d1, d2[:, 0], idx, put, put_idx, g_lab,
                                                   g_d1, mins)]
    for a, b in zip(out[True], out[False], strict=True):
        np.testing.assert_allclose(a, b, rtol=backend.rtol, atol=1e-5)
    lab, d1, d2, idx, put, put_idx, g_lab, g_d1, mins = out[False]
    np.testing.assert_array_equal(g_lab, lab)
    np.testing.assert_allclose(g_d1, d1, rtol=backend.rtol, atol=1e-5)
    np.testing.assert_allclose(put_idx, put)
    # The smallest group minimum is the runner-up distance.
    np.testing.assert_allclose(mins.min(axis=1), d2, rtol=backend.rtol, atol=1e-5)
    np.testing.assert_array_equal(idx, np.flatnonzero(mask_np))
    Xn, Cn = backend.to_numpy(X), backend.to_numpy(C)
    exact = ((Xn[:, None, :].astype(float) - Cn[None]) ** 2).sum(-1)
    srt = np.sort(exact, axis=1)
    np.testing.assert_array_equal(lab, exact.argmin(axis=1))
    np.testing.assert_allclose(d1, srt[:, 0], rtol=backend.rtol, atol=1e-5)
    np.testing.assert_allclose(d2, srt[:, 1], rtol=backend.rtol, atol=1e-5)
    np.testing.assert_allclose(put, np.where(mask_np, d1, 0))


def test_group_mins_one_centre_and_identical_centres():
    from xkmeans._primitives import nearest_group_mins

    X = np.arange(6.0).reshape(3, 2)
    C = np.array([[9.0, 9.0], [0.0, 1.0], [0.0, 1.0]])
    for fast in (True, False):
        with xkmeans.config_context(fast_paths=fast):
            lab, _, d2 = nearest_group_mins(X, X[:1], np.arange(1), (0,), xp=np)
            assert lab.tolist() == [0, 0, 0] and np.isinf(d2).all()
            # Identical centres: the lowest index, whatever the group order.
            lab, _, _ = nearest_group_mins(X, C, np.array([2, 0, 1]), (0, 1), xp=np)
            assert lab.tolist() == [1, 1, 1]


@pytest.mark.parametrize("n_groups", [1, 3])
def test_bound_update_fast_equals_portable(backend, n_groups):
    from xkmeans._primitives import bound_update

    xp = _namespace(backend)
    rng = np.random.default_rng(6)
    n, k = 40_000, 9  # more than one block of the NumPy fast path
    u = rng.uniform(0, 2, n)
    l = rng.uniform(0, 2, (n, n_groups))
    labels = rng.integers(k, size=n)
    delta, sep = rng.uniform(0, 0.3, k), rng.uniform(0, 1, k)
    drop = rng.uniform(0, 0.3, n_groups)
    args = [backend.asarray(a, dtype="float64" if a.dtype.kind == "f" and backend.dtype ==
                            "float64" else None) for a in (u, l, labels, delta, drop, sep)]
    out = {}
    for fast in (True, False):
        with xkmeans.config_context(fast_paths=fast):
            res = bound_update(*args, 1e-15, xp=xp)
        out[fast] = [backend.to_numpy(a) for a in res]
    for a, b in zip(out[True], out[False], strict=True):
        np.testing.assert_array_equal(a, b)
    u2 = (u + delta[labels]) * (1 + 1e-15)
    l2 = (l - drop) * (1 - 1e-15)
    mask = u2 > np.maximum(l2.min(axis=1), sep[labels])
    np.testing.assert_allclose(out[False][0], u2, rtol=backend.rtol)
    assert (out[False][2] != mask).sum() <= (0 if backend.dtype == "float64" else n // 1000)
    assert int(out[False][3]) == int(out[False][2].sum())
