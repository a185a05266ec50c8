"""CUDA kernels against the portable oracle, on CuPy and PyTorch CUDA arrays.

Runs only where a GPU is present (``benchmarks/gpu_check.sh``); elsewhere every
test here is skipped for lack of a GPU backend.
"""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest
from conftest import BACKENDS, assert_labels_up_to_ties, blobs

import xkmeans
from xkmeans import config_context
from xkmeans._primitives import grouped_sum, nearest_centre

GPU = [b for b in BACKENDS if b.lib == "cupy" or (b.lib == "torch" and "cuda" in b.name)]
_PARAMS = [pytest.param(b, id=b.name) for b in GPU] or [
    pytest.param(None, id="no-gpu", marks=pytest.mark.skip(reason="needs a GPU (CuPy or "
                                                                   "PyTorch CUDA)"))]


@pytest.fixture(params=_PARAMS)
def gpu(request):
    return request.param


# (n, d, k): k = 1, k = n, n not a multiple of a block, d = 1, the low-d kernel's
# limits, centres too large for shared memory (GEMM path), high d (GEMM path).
SHAPES = [(1, 1, 1), (37, 3, 37), (1000, 3, 1), (5003, 3, 16), (4097, 1, 7), (3001, 16, 64),
          (2000, 3, 4096), (1500, 20, 33), (2500, 128, 300)]


def _data(n, d, k, seed, duplicates):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if duplicates and n > 4:
        X[n // 2:] = X[: n - n // 2]
    C = X[rng.choice(n, size=k, replace=False)] if k <= n else rng.normal(size=(k, d))
    if duplicates and k > 3:
        C[k // 2] = C[1]  # identical centres: the lower index must win
    return X, C


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("duplicates", [False, True])
def test_nearest_centre_kernel_equals_portable(gpu, n, d, k, duplicates):
    X, C = _data(n, d, k, n + d + k, duplicates)
    Xb, Cb = gpu.asarray(X), gpu.asarray(C)
    xp = array_api_compat.array_namespace(Xb)
    lab, dist = nearest_centre(Xb, Cb, xp=xp)
    with config_context(fast_paths=False):
        lab_ref, dist_ref = nearest_centre(Xb, Cb, xp=xp)
    gpu.check_array(lab, shape=(n,))
    gpu.check_array(dist, dtype=gpu.dtype, shape=(n,))
    Xd, Cd = X.astype(gpu.dtype), C.astype(gpu.dtype)
    assert_labels_up_to_ties(Xd, Cd, gpu.to_numpy(lab), gpu.to_numpy(lab_ref), gpu.dtype)
    np.testing.assert_allclose(gpu.to_numpy(dist), gpu.to_numpy(dist_ref),
                               rtol=gpu.rtol, atol=gpu.rtol)


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_grouped_sum_kernel_equals_portable_and_is_deterministic(gpu, n, d, k, weighted):
    rng = np.random.default_rng(n * k + d)
    X = rng.normal(size=(n, d))
    labels = rng.integers(0, max(1, k // 2), size=n)  # leaves empty groups
    w = rng.uniform(0.1, 2.0, size=n) if weighted else None
    Xb, lb = gpu.asarray(X), gpu.asarray(labels, dtype="int64")
    wb = None if w is None else gpu.asarray(w)
    xp = array_api_compat.array_namespace(Xb)
    s1, c1 = grouped_sum(Xb, lb, wb, k, xp=xp)
    s2, c2 = grouped_sum(Xb, lb, wb, k, xp=xp)
    with config_context(fast_paths=False):
        s_ref, c_ref = grouped_sum(Xb, lb, wb, k, xp=xp)
    rtol = 1e-6 if gpu.dtype == "float64" else 1e-5
    np.testing.assert_allclose(gpu.to_numpy(s1), gpu.to_numpy(s_ref), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(gpu.to_numpy(c1), gpu.to_numpy(c_ref), rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(gpu.to_numpy(s1), gpu.to_numpy(s2))  # bit for bit
    np.testing.assert_array_equal(gpu.to_numpy(c1), gpu.to_numpy(c2))


@pytest.mark.parametrize("n,d,k", [(5003, 3, 16), (3001, 16, 64), (2500, 40, 50), (800, 2, 200)])
@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_kernels_equal_portable_loop_and_repeat_bit_for_bit(gpu, n, d, k, weighted):
    X, _ = blobs(n=n, d=d, centres=k, seed=d, spread=1.0, scale=5.0)
    w = np.random.default_rng(1).uniform(0.5, 2, size=n) if weighted else None
    Xb = gpu.asarray(X)
    wb = None if w is None else gpu.asarray(w)
    init = X[:k]

    def fit():
        return xkmeans.KMeans(k, init=gpu.asarray(init), n_init=1, max_iter=30).fit(
            Xb, sample_weight=wb)

    a, b = fit(), fit()
    with config_context(fast_paths=False):
        ref = fit()
    np.testing.assert_array_equal(gpu.to_numpy(a.cluster_centers_), gpu.to_numpy(b.cluster_centers_))
    np.testing.assert_array_equal(gpu.to_numpy(a.labels_), gpu.to_numpy(b.labels_))
    assert a.n_iter_ == ref.n_iter_
    assert xkmeans._lloyd.same_clustering(gpu.to_numpy(a.labels_), gpu.to_numpy(ref.labels_), k,
                                          xp=np)
    np.testing.assert_allclose(gpu.to_numpy(a.cluster_centers_),
                               gpu.to_numpy(ref.cluster_centers_), rtol=1e-4, atol=1e-4)
    assert a.inertia_ == pytest.approx(ref.inertia_, rel=gpu.rtol)


def test_empty_clusters_relocated_as_on_numpy(gpu):
    # Centres far from the data: empty clusters in the first iteration.
    X, _ = blobs(n=600, d=3, centres=4, seed=2)
    init = np.concatenate([X[:4], np.full((3, 3), 1e3)])
    ref = xkmeans.KMeans(7, init=init, n_init=1).fit(X.astype(gpu.dtype))
    km = xkmeans.KMeans(7, init=gpu.asarray(init), n_init=1).fit(gpu.asarray(X))
    assert xkmeans._lloyd.same_clustering(gpu.to_numpy(km.labels_), ref.labels_, 7, xp=np)
    np.testing.assert_allclose(gpu.to_numpy(km.cluster_centers_), ref.cluster_centers_,
                               rtol=1e-4, atol=1e-4)


def test_same_seed_same_clustering_as_numpy(gpu):
    X, _ = blobs(n=3000, d=3, centres=8, seed=5, spread=1.0, scale=6.0)
    ref = xkmeans.KMeans(8, random_state=0, n_init=2).fit(X.astype(gpu.dtype))
    km = xkmeans.KMeans(8, random_state=0, n_init=2).fit(gpu.asarray(X))
    assert xkmeans._lloyd.same_clustering(gpu.to_numpy(km.labels_), ref.labels_, 8, xp=np)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=10 * gpu.rtol)


@pytest.mark.parametrize("mode", ["tf32-certified", "tf32"])
def test_tensor_core_distances(gpu, mode):
    # The GEMM path (d > 16): certified TF32 gives the float32 clustering (up to
    # ties); unchecked TF32 a clustering of the same quality.
    X, _ = blobs(n=20_000, d=64, centres=50, seed=7, spread=3.0, scale=4.0)
    init = gpu.asarray(X[:50])
    Xb = gpu.asarray(X)

    def fit():
        return xkmeans.KMeans(50, init=init, n_init=1, max_iter=20, tol=0).fit(Xb)

    exact = fit()
    with config_context(gpu_distances=mode):
        fast = fit()
    if mode == "tf32-certified" or gpu.dtype == "float64":  # float64 ignores the setting
        assert fast.n_iter_ == exact.n_iter_
        np.testing.assert_allclose(gpu.to_numpy(fast.cluster_centers_),
                                   gpu.to_numpy(exact.cluster_centers_), rtol=1e-4, atol=1e-4)
    assert fast.inertia_ == pytest.approx(exact.inertia_, rel=1e-3)


@pytest.mark.parametrize("n,d,k", [(1, 2, 1), (700, 2, 10), (1500, 3, 1), (1025, 16, 65),
                                   (600, 17, 5), (900, 1, 30)])
def test_self_kneighbors_kernel_equals_portable(gpu, n, d, k):
    from xkmeans._primitives import self_kneighbors

    rng = np.random.default_rng(n + d)
    X = rng.normal(size=(n, d))
    X[n // 2: n // 2 + 20] = X[:20]  # duplicates: distance ties broken by lowest index
    Xb = gpu.asarray(X)
    xp = array_api_compat.array_namespace(Xb)
    dist, ind = self_kneighbors(Xb, k, xp=xp)
    with config_context(fast_paths=False):
        dist_ref, ind_ref = self_kneighbors(Xb, k, xp=xp)
    _assert_same_neighbours(gpu, dist, ind, dist_ref, ind_ref)


def _assert_same_neighbours(gpu, dist, ind, dist_ref, ind_ref):
    n, k = dist_ref.shape
    gpu.check_array(dist, dtype=gpu.dtype, shape=(n, k))
    gpu.check_array(ind, shape=(n, k))
    assert str(ind.dtype).endswith("int64")
    np.testing.assert_array_equal(gpu.to_numpy(ind)[:, 0], np.arange(n))
    np.testing.assert_allclose(gpu.to_numpy(dist), gpu.to_numpy(dist_ref),
                               rtol=10 * gpu.rtol, atol=10 * gpu.rtol)
    # Indices equal where the distances are not tied at the dtype's precision.
    d_ref = gpu.to_numpy(dist_ref)
    gaps = np.diff(d_ref, axis=1)
    clear = np.ones_like(d_ref, dtype=bool)
    clear[:, 1:] &= gaps > 10 * gpu.rtol
    clear[:, :-1] &= gaps > 10 * gpu.rtol
    np.testing.assert_array_equal(gpu.to_numpy(ind)[clear], gpu.to_numpy(ind_ref)[clear])


# Bytes that force the GEMM k-NN into many row chunks and column tiles (the GPU budget
# is at least 1/32 of the device's memory, so working_memory cannot make it small).
_SMALL_KNN_BUDGET = 96 << 10


def _gemm_knn_and_portable(gpu, monkeypatch, X, k, tiled):
    """``(dist, ind, dist_ref, ind_ref)``: CuPy's GEMM k-NN of host X and the portable
    path's. ``tiled``: CuPy's budget patched down, the plan checked to tile n."""
    from xkmeans._primitives import _cuda_plan, _cupy, self_kneighbors

    if gpu.lib != "cupy":
        pytest.skip("knn_tile_merge runs on CuPy arrays")
    Xb = gpu.asarray(X)
    xp = array_api_compat.array_namespace(Xb)
    with config_context(fast_paths=False):
        dist_ref, ind_ref = self_kneighbors(Xb, k, xp=xp)
    if tiled:
        n = X.shape[0]
        monkeypatch.setattr(_cupy, "_budget", lambda: _SMALL_KNN_BUDGET)
        p = _cuda_plan.knn_tile_plan(n, k, np.dtype(gpu.dtype).itemsize, sm_count=1,
                                     budget_bytes=_SMALL_KNN_BUDGET)
        assert p.rows < n and p.cols < n  # several chunks, several column tiles each
    dist, ind = self_kneighbors(Xb, k, xp=xp)
    return dist, ind, dist_ref, ind_ref


@pytest.mark.parametrize("n,d,k", [(2, 17, 2), (40, 20, 40), (300, 64, 1), (700, 17, 10),
                                   (1025, 128, 33), (1500, 40, 65)])
@pytest.mark.parametrize("tiled", [False, True])
def test_self_kneighbors_gemm_merge_kernel_equals_portable(gpu, monkeypatch, n, d, k, tiled):
    # d > 16: exact cuBLAS tiles merged by knn_tile_merge, in one tile or many.
    if tiled and n < 700:
        pytest.skip("too few rows to tile")
    rng = np.random.default_rng(n + d + k)
    X = rng.normal(size=(n, d))
    dup = min(20, n // 2)
    X[n // 2: n // 2 + dup] = X[:dup]  # duplicates: zero distances tied
    _assert_same_neighbours(gpu, *_gemm_knn_and_portable(gpu, monkeypatch, X, k, tiled))


@pytest.mark.parametrize("tiled", [False, True])
def test_self_kneighbors_gemm_merge_kernel_keeps_lowest_index_on_exact_ties(gpu, monkeypatch,
                                                                           tiled):
    # Grid points of -1/0/1 and their mirror images: the mean is exactly 0 and every
    # squared distance an exact small integer, so ties are exact on every path and the
    # indices must be those of a stable sort (lowest index first), bit for bit.
    n, k = 1200, 33
    A = np.random.default_rng(4).integers(-1, 2, size=(n // 2, 24)).astype(np.float64)
    A[300:350] = A[:50]
    X = np.concatenate([A, -A])
    sq = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(sq, -1)
    ind_np = np.argsort(sq, axis=1, kind="stable")[:, :k]
    dist_np = np.sqrt(np.take_along_axis(np.clip(sq, 0, None), ind_np, axis=1))
    dist, ind, dist_ref, ind_ref = _gemm_knn_and_portable(gpu, monkeypatch, X, k, tiled)
    np.testing.assert_array_equal(gpu.to_numpy(ind), ind_np)
    np.testing.assert_array_equal(gpu.to_numpy(ind), gpu.to_numpy(ind_ref))
    np.testing.assert_allclose(gpu.to_numpy(dist), dist_np, rtol=1e-6)
    np.testing.assert_array_equal(gpu.to_numpy(dist), gpu.to_numpy(dist_ref))


@pytest.mark.parametrize("weighted", [False, True])
def test_minibatch_kernel_equals_portable_steps(gpu, weighted):
    # The fused mini-batch update against the composed primitives, step by step.
    from xkmeans._minibatch import minibatch_step

    X, _ = blobs(n=4096, d=3, centres=16, seed=3, spread=0.5, scale=3.0)
    w = np.random.default_rng(2).uniform(0.5, 2, size=4096) if weighted else None
    Xb = gpu.asarray(X)
    wb = None if w is None else gpu.asarray(w)
    xp = array_api_compat.array_namespace(Xb)
    C0 = gpu.asarray(X[:16])
    counts0 = xp.zeros((16,), dtype=xp.float64, device=array_api_compat.device(Xb))
    out = minibatch_step(Xb, wb, C0, counts0, candidates=None, ratio=0.01, with_shift=True,
                         xp=xp)
    with config_context(fast_paths=False):
        ref = minibatch_step(Xb, wb, C0, counts0, candidates=None, ratio=0.01,
                             with_shift=True, xp=xp)
    for a, b in zip(out, ref):
        np.testing.assert_allclose(gpu.to_numpy(a), gpu.to_numpy(b), rtol=1e-5, atol=1e-5)
    again = minibatch_step(Xb, wb, C0, counts0, candidates=None, ratio=0.01, with_shift=True,
                           xp=xp)
    for a, b in zip(out, again):
        np.testing.assert_array_equal(gpu.to_numpy(a), gpu.to_numpy(b))


@pytest.mark.parametrize("mode", ["exact", "tf32-certified"])
def test_gemm_path_in_many_tiles_equals_one_tile(gpu, monkeypatch, mode):
    # Tiles of 16 rows: row offsets, the partial last tile, flagged rows across tiles.
    from xkmeans._primitives import _cupy

    X, _ = blobs(n=1500, d=20, centres=33, seed=9, spread=2.0, scale=3.0)
    Xb, init = gpu.asarray(X), gpu.asarray(X[:33])

    def fit():
        with config_context(gpu_distances=mode):
            return xkmeans.KMeans(33, init=init, n_init=1, max_iter=15, tol=0).fit(Xb)

    one = fit()
    monkeypatch.setattr(_cupy, "_budget", lambda: 16 * 33 * 8)
    many = fit()
    assert xkmeans._lloyd.same_clustering(gpu.to_numpy(one.labels_), gpu.to_numpy(many.labels_),
                                          33, xp=np)
    np.testing.assert_allclose(gpu.to_numpy(one.cluster_centers_),
                               gpu.to_numpy(many.cluster_centers_), rtol=1e-5, atol=1e-5)


def test_weighted_relocation_leaves_no_rounding_residue(gpu):
    # A far one-point cluster loses its point to an empty cluster: its centre must be
    # exactly what NumPy gives, not a ratio of rounding residues.
    X, _ = blobs(n=400, d=3, centres=3, seed=6)
    X = np.concatenate([X, [[50.0, 50.0, 50.0]]])
    w = np.random.default_rng(3).uniform(0.5, 2.0, size=X.shape[0])
    init = np.concatenate([X[:3], X[-1:], np.full((2, 3), 1e4)])
    ref = xkmeans.KMeans(6, init=init, n_init=1).fit(X.astype(gpu.dtype), sample_weight=w)
    km = xkmeans.KMeans(6, init=gpu.asarray(init), n_init=1).fit(gpu.asarray(X),
                                                                 sample_weight=gpu.asarray(w))
    assert xkmeans._lloyd.same_clustering(gpu.to_numpy(km.labels_), ref.labels_, 6, xp=np)
    np.testing.assert_allclose(gpu.to_numpy(km.cluster_centers_), ref.cluster_centers_,
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("k", [1, 5, 16])
@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_batched_lloyd_kernels_give_each_problem_its_own_fit(gpu, k):
    # lowd_step_batched / finalize_batched: each problem the bits of its own fit (fixed-point
    # sums), every restart of every problem in the same launches; an empty cluster refilled.
    from xkmeans._kmeans_batch import LoopedBatchPlan, _Problem, fit_many, lloyd_many
    from xkmeans._primitives import lloyd_plan_batch

    rng = np.random.default_rng(k)
    data = [rng.normal(size=(n, 3)) for n in (max(k, 2), 1000, 5003, 70_000)]
    data.append(np.repeat(rng.normal(size=(max(k, 2), 3)), 9, axis=0))
    Xs = [gpu.asarray(X) for X in data]

    def ests():
        return [xkmeans.KMeans(k, random_state=i, n_init=1 + i % 3,
                       init="random" if i == len(data) - 1 else "k-means++")
                for i in range(len(data))]

    batched = fit_many(ests(), Xs)
    for est, alone, X in zip(batched, ests(), Xs):
        alone.fit(X)
        assert est.n_iter_ == alone.n_iter_
        np.testing.assert_array_equal(gpu.to_numpy(est.cluster_centers_),
                                      gpu.to_numpy(alone.cluster_centers_))
        np.testing.assert_array_equal(gpu.to_numpy(est.labels_), gpu.to_numpy(alone.labels_))
        assert est.inertia_ == alone.inertia_
    xp = array_api_compat.array_namespace(Xs[0])
    if gpu.lib != "cupy":
        return  # PyTorch CUDA: no batched plan, each restart ran its own loop
    device = array_api_compat.device(Xs[0])
    Xc = [X - xp.mean(X, axis=0) for X in Xs]
    C0 = xp.stack([X[:k, ...] for X in Xc])
    plan = lloyd_plan_batch(Xc, None, k, xp=xp, device=device)
    assert plan is not None
    problems = [_Problem(X, None, xp.sum(X * X, axis=1), 0.0, 5) for X in Xc]
    fast = lloyd_many(problems, C0, plan, xp=xp)
    ref = lloyd_many(problems, C0, LoopedBatchPlan(Xc, None, k, xp=xp, device=device), xp=xp)
    for (lab, inertia, C, n_iter), (lab_r, inertia_r, C_r, n_iter_r) in zip(fast, ref):
        assert n_iter == n_iter_r
        np.testing.assert_allclose(gpu.to_numpy(C), gpu.to_numpy(C_r), rtol=gpu.rtol,
                                   atol=gpu.rtol)
        assert inertia == pytest.approx(inertia_r, rel=gpu.rtol)
