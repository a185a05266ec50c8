"""Fast paths give the portable answer: identical labels, sums within tolerance."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import assert_labels_up_to_ties
from hypothesis import given, settings
from hypothesis import strategies as st

from xkmeans import config_context
from xkmeans._primitives import _portable, grouped_sum, nearest_centre

SHAPES = [  # (n, d, k)
    (1, 1, 1), (50, 1, 7), (200, 3, 1), (64, 3, 64), (500, 3, 16), (300, 17, 40), (1000, 2, 3),
]


def _case(n, d, k, seed, duplicates=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if duplicates and n > 4:
        X[n // 2:] = X[: n - n // 2]
    C = X[rng.choice(n, size=k, replace=False)] if k <= n else rng.normal(size=(k, d))
    return X, C


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("duplicates", [False, True])
def test_nearest_centre_fast_equals_portable(backend, n, d, k, duplicates):
    X, C = _case(n, d, k, seed=n + d + k, duplicates=duplicates)
    Xb, Cb = backend.asarray(X), backend.asarray(C)
    import array_api_compat

    xp = array_api_compat.array_namespace(Xb)
    lab_fast, d_fast = nearest_centre(Xb, Cb, xp=xp)
    with config_context(fast_paths=False):
        lab_ref, d_ref = nearest_centre(Xb, Cb, xp=xp)
    backend.check_array(lab_fast, shape=(n,))
    backend.check_array(d_fast, dtype=backend.dtype, shape=(n,))
    lab_fast, lab_ref = backend.to_numpy(lab_fast), backend.to_numpy(lab_ref)
    # Same labels up to ties at the dtype's rounding; both an argmin of the
    # exact distances up to the same ties.
    Xd, Cd = X.astype(backend.dtype), C.astype(backend.dtype)
    assert_labels_up_to_ties(Xd, Cd, lab_fast, lab_ref, backend.dtype)
    exact = ((Xd[:, None, :].astype(float) - Cd[None, :, :]) ** 2).sum(-1)
    assert_labels_up_to_ties(Xd, Cd, lab_fast, exact.argmin(1), backend.dtype)
    np.testing.assert_allclose(backend.to_numpy(d_fast), backend.to_numpy(d_ref),
                               rtol=backend.rtol, atol=backend.rtol)
    np.testing.assert_allclose(backend.to_numpy(d_fast), exact.min(1), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("n", [1, 1000, 70_000])
def test_assign_tile_fast_equals_portable(backend, n):
    """A tile of uint8 pixels: labels (identical palette colours included:
    the first wins) and summed squared errors as the portable sequence
    (cast, centre, nearest_centre, sum) gives them; several thread blocks at
    70,000 rows."""
    import array_api_compat

    from xkmeans._primitives import assign_tile

    rng = np.random.default_rng(n)
    src = rng.integers(0, 256, size=(n, 3), dtype=np.uint8)
    colours = rng.integers(0, 256, size=(12, 3)).astype(backend.dtype)
    colours[7] = colours[2]  # a palette colour twice: ties to the lower index
    srcb = backend.asarray(src)
    xp = array_api_compat.array_namespace(srcb)
    offset = backend.asarray(src.mean(axis=0).astype(backend.dtype))
    C = backend.asarray(colours) - offset
    out = {}
    for fast in (True, False):
        with config_context(fast_paths=fast):
            labels, sse = assign_tile(srcb, offset, C, work=getattr(xp, backend.dtype),
                                      index_dtype=xp.uint8, with_sse=True, xp=xp)
        backend.check_array(labels, shape=(n,))
        assert labels.dtype == xp.uint8
        out[fast] = backend.to_numpy(labels).astype(np.int64), float(sse)
    X = src.astype(np.float64) - backend.to_numpy(offset)
    Cn = backend.to_numpy(C).astype(np.float64)
    assert_labels_up_to_ties(X, Cn, out[True][0], out[False][0], backend.dtype)
    assert not np.any(out[True][0] == 7) and not np.any(out[False][0] == 7)
    exact = ((X[:, None, :] - Cn[None]) ** 2).sum(-1).min(1).sum()
    assert out[True][1] == pytest.approx(out[False][1], rel=backend.rtol)
    assert out[True][1] == pytest.approx(exact, rel=backend.rtol)


@pytest.mark.parametrize("n", [1, 511, 512, 5 * 512 + 3])
@pytest.mark.parametrize("work", [np.float32, np.float64])
def test_numpy_centred_copy_is_the_plain_subtraction(n, work):
    # The fast path subtracts over 512 rows at a time (a long inner loop): the same
    # float operation on every value as cast-then-subtract, so the same bits.
    from xkmeans._primitives._numpy import _centred_copy

    src = np.random.default_rng(n).integers(0, 256, size=(n, 3), dtype=np.uint8)
    offset = np.array([127.3, 18.9, 200.01])
    expected = src.astype(work) - offset.astype(work)
    got = _centred_copy(src, offset, work)
    assert got.dtype == work
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("d", [1, 3, 17])
def test_identical_centres_give_lowest_index(backend, fast, d):
    # Several copies of each centre, scattered among 40 columns: whatever the
    # BLAS kernel rounds, every point goes to the first copy of its centre.
    rng = np.random.default_rng(d)
    base = rng.normal(size=(8, d))
    pick = np.concatenate([np.arange(8), rng.integers(0, 8, size=32)])
    rng.shuffle(pick)
    C = base[pick]
    X = np.concatenate([base[pick], base[pick] + 1e-3 * rng.normal(size=(40, d))])
    first_copy = np.array([np.flatnonzero(pick == p)[0] for p in range(8)])
    nearest_base = ((X[:, None, :] - base[None, :, :]) ** 2).sum(-1).argmin(1)
    import array_api_compat

    Xb, Cb = backend.asarray(X), backend.asarray(C)
    xp = array_api_compat.array_namespace(Xb)
    with config_context(fast_paths=fast):
        lab, dist2 = nearest_centre(Xb, Cb, xp=xp)
    np.testing.assert_array_equal(backend.to_numpy(lab), first_copy[nearest_base])
    assert np.all(backend.to_numpy(dist2)[:40] <= 1e-5)


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_grouped_sum_fast_equals_portable(backend, n, d, k, weighted):
    rng = np.random.default_rng(n * k + d)
    X = rng.normal(size=(n, d))
    labels = rng.integers(0, max(1, k // 2), size=n)  # leaves empty groups
    w = rng.uniform(0.1, 2.0, size=n) if weighted else None
    import array_api_compat

    Xb = backend.asarray(X)
    lb = backend.asarray(labels, dtype="int64")
    wb = None if w is None else backend.asarray(w)
    xp = array_api_compat.array_namespace(Xb)
    s_fast, c_fast = grouped_sum(Xb, lb, wb, k, xp=xp)
    with config_context(fast_paths=False):
        s_ref, c_ref = grouped_sum(Xb, lb, wb, k, xp=xp)
    backend.check_array(s_fast, shape=(k, d))
    backend.check_array(c_fast, shape=(k,))
    np.testing.assert_allclose(backend.to_numpy(s_fast), backend.to_numpy(s_ref),
                               rtol=backend.rtol, atol=backend.rtol)
    np.testing.assert_allclose(backend.to_numpy(c_fast), backend.to_numpy(c_ref),
                               rtol=backend.rtol, atol=backend.rtol)
    ww = np.ones(n) if w is None else w
    Xw = X.astype(backend.dtype).astype(np.float64) * ww[:, None]
    expect = np.zeros((k, d))
    np.add.at(expect, labels, Xw)
    np.testing.assert_allclose(backend.to_numpy(s_fast), expect, rtol=1e-4, atol=1e-4)


def test_chunked_equals_unchunked():
    X, C = _case(3000, 4, 50, seed=5)
    import array_api_compat

    xp = array_api_compat.array_namespace(X)
    ref = _portable.nearest_centre(X, C, xp=xp)
    with config_context(working_memory=0.01, fast_paths=True):
        lab, dist = nearest_centre(X, C, xp=xp)
    np.testing.assert_array_equal(lab, ref[0])
    np.testing.assert_allclose(dist, ref[1], rtol=1e-12, atol=1e-12)
    # Portable: ~12-row chunks, a budget far too small, and it says so.
    with config_context(working_memory=0.01, fast_paths=False), \
            pytest.warns(RuntimeWarning, match="working_memory"):
        lab, dist = nearest_centre(X, C, xp=xp)
    np.testing.assert_array_equal(lab, ref[0])
    np.testing.assert_allclose(dist, ref[1], rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 60), d=st.integers(1, 5), k=st.integers(1, 8), seed=st.integers(0, 10**6),
)
def test_labels_are_argmin_of_distances(n, d, k, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    C = rng.normal(size=(k, d))
    import array_api_compat

    lab, _ = nearest_centre(X, C, xp=array_api_compat.array_namespace(X))
    exact = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    chosen = exact[np.arange(n), lab]
    np.testing.assert_allclose(chosen, exact.min(1), rtol=1e-9, atol=1e-9)


def test_without_sklearn_kernel_portable_answers_and_warns_once(monkeypatch):
    # scikit-learn's compiled Lloyd kernel is private: if it is gone (or its
    # signature changed), KMeans gives the same answer and says why, once.
    from conftest import blobs
    from sklearn.cluster import KMeans as SKKMeans

    import xkmeans
    from xkmeans import _primitives
    from xkmeans._primitives import _numpy

    X, _ = blobs(n=400, d=3, centres=5, seed=3)
    init = X[:5]
    ref = SKKMeans(5, init=init, n_init=1).fit(X)
    monkeypatch.setitem(sys.modules, "sklearn.cluster._k_means_lloyd", None)
    _numpy._sklearn_kernel.cache_clear()
    _primitives._resolve.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            km = xkmeans.KMeans(5, init=init, n_init=1).fit(X)
            xkmeans.KMeans(5, init=init, n_init=1).fit(X)
        said = [w for w in record if "compiled Lloyd kernel" in str(w.message)]
        assert len(said) == 1 and said[0].category is RuntimeWarning
        assert _primitives._impl("lloyd_step", np) is None
        np.testing.assert_array_equal(km.labels_, ref.labels_)
        np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    finally:
        _numpy._sklearn_kernel.cache_clear()
        _primitives._resolve.cache_clear()


def test_import_does_not_import_cupy_or_torch():
    # Nor Dask: KMeans recognises Dask arrays by their type's module name.
    code = (
        "import sys, numpy as np, xkmeans; "
        "xkmeans.KMeans(2, random_state=0).fit(np.random.rand(20, 2)); "
        "xkmeans.MiniBatchKMeans(2, random_state=0).fit(np.random.rand(20, 2)); "
        "print(sorted(m for m in ('cupy', 'torch', 'dask', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
