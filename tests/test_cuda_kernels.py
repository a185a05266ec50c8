"""CUDA kernels: compiled by NVRTC on any machine; launch planning checked on the CPU.

The GPU parity tests (fast == portable, determinism, ...) are in
``test_cuda_parity.py`` and run where CuPy sees a GPU (``benchmarks/gpu_check.sh``).
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import pytest

from xkmeans._primitives import _cuda_plan as plan
from xkmeans._primitives import _cupy


def _nvrtc_missing():
    """Why NVRTC cannot run here, or None."""
    code = "from cuda.bindings import nvrtc; nvrtc.nvrtcVersion()"
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True)
    return None if out.returncode == 0 else out.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("arch", plan.ARCHES)
def test_every_kernel_compiles_with_nvrtc_without_warnings(arch):
    missing = _nvrtc_missing()
    if missing:
        pytest.skip(f"NVRTC not usable ({missing}); pip install 'xkmeans[nvrtc]' (CI does)")
    # Its own process: NVRTC loaded here upset later joblib memmap loads.
    script = pathlib.Path(__file__).parents[1] / "tools" / "nvrtc_compile.py"
    out = subprocess.run([sys.executable, str(script), arch], capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout)
    assert result["compiled"] >= 60
    for f in result["failures"]:
        pytest.fail(f"{f['name']} {' '.join(f['options'])}:\n{f['log']}")


def test_source_is_package_data_and_matches_the_plan():
    src = _cupy.source()
    for name in ("lowd_step", "lowd_assign", "centre_prep", "argmin_rows",
                 "grouped_sum_fixed", "finalize", "fixed_scales", "argmin_rows_certify",
                 "recompute_rows"):
        assert f'extern "C" __global__ void {name}(' in src
    # The one-block reduction in finalize assumes exactly FINAL_THREADS threads.
    assert re.search(rf"#define FINAL_THREADS {plan.FINAL_THREADS}\b", src)
    assert plan.BLOCK % 32 == 0  # warp-synchronous code needs whole warps


@pytest.mark.parametrize("itemsize", [4, 8])
def test_lowd_shared_memory_fits_and_is_chosen_where_it_fits(itemsize):
    for d in range(1, 40):
        for k in (1, 2, 16, 64, 256, 1000, 1024, 4096):
            smem = plan.lowd_smem(k, d, itemsize)
            # Centres padded to 16 bytes, then 8-byte sums: the offset lowd_step computes.
            assert smem == -(-k * (d + 1) * itemsize // 16) * 16 + 8 * k * (d + 1)
            assert plan.use_lowd(k, d, itemsize) == (d <= 16 and smem <= plan.SMEM_LIMIT)
    # The colour workloads take the fused kernel up to k = 256 and beyond.
    assert plan.use_lowd(256, 3, 4) and plan.use_lowd(512, 3, 4)
    assert not plan.use_lowd(1024, 128, 4)


def test_grids_cover_the_data_and_stay_bounded():
    for n in (1, 31, 256, 1024 + 1, 16_777_216):
        for d in (1, 3, 8, 16):
            grid = plan.lowd_grid(n, d, sm_count=132)
            assert 1 <= grid <= 132 * plan.BLOCKS_PER_SM
            # Grid-stride tiles: every point is visited.
            tile = plan.BLOCK * plan.points_per_thread(d)
            assert grid * tile >= min(n, 132 * plan.BLOCKS_PER_SM * tile)
        assert plan.elementwise_grid(n * 4, 132) >= 1
        assert plan.warp_rows_grid(n, 132) >= 1


def test_gemm_tiles_follow_the_budget():
    assert plan.gemm_rows(1_000_000, 1024, 4, 256 << 20) == 65536
    assert plan.gemm_rows(10, 1024, 4, 256 << 20) == 10
    assert plan.gemm_rows(100, 10**9, 8, 1) == 1
    # On a GPU the budget grows with free memory (capped), never below the setting.
    assert plan.gpu_budget(256 << 20, 100 << 30) == 2 << 30
    assert plan.gpu_budget(256 << 20, 512 << 20) == 256 << 20
    # The embeddings workload: a handful of launches per iteration, not hundreds.
    step = plan.step_plan(1_000_000, 128, 1024, 4, sm_count=132, budget_bytes=2 << 30)
    assert not step.lowd and step.launches <= 8
    step = plan.step_plan(16_777_216, 3, 256, 4, sm_count=132, budget_bytes=2 << 30)
    assert step.lowd and step.launches == 2 and step.smem <= plan.SMEM_LIMIT


def test_options_name_one_specialisation():
    opts = plan.options("float32", 3, True, "int64")
    assert "-DXK_T=float" in opts and "-DXK_DIM=3" in opts and "-DXK_WEIGHTED=1" in opts
    assert "-DXK_LABEL=long long" in opts and "-DXK_PPT=4" in opts
    with pytest.raises(ValueError, match="float32 or float64"):
        plan.options("float16", 3)


def test_cupy_module_imports_without_cupy():
    # The fast-path module is importable (and its planning usable) on any machine;
    # it imports CuPy only inside functions that run on CuPy arrays.
    import sys

    assert "cupy" not in sys.modules or sys.modules["cupy"] is not None
    assert callable(_cupy.lloyd_plan) and _cupy.nearest_centre.exact_ties


def test_knn_planning():
    assert plan.use_knn_lowd(2, 10) and plan.use_knn_lowd(16, 65)
    assert not plan.use_knn_lowd(17, 10) and not plan.use_knn_lowd(2, 66)
    for d in range(1, plan.KNN_MAX_DIM + 1):
        for itemsize in (4, 8):
            tile = plan.knn_tile(d, itemsize)
            assert tile % 32 == 0 and 32 <= tile <= 512
            assert tile * d * itemsize <= plan.SMEM_LIMIT
    opts = plan.knn_options("float32", 2, 11)
    assert "-DXK_KMAX=16" in opts and "-DXK_TILE=512" in opts
    assert "-DXK_KMAX=8" in plan.knn_options("float64", 16, 1)
    assert 'extern "C" __global__ void knn_lowd(' in _cupy.source("knn.cu")


def test_knn_path_and_tile_merge_options():
    assert plan.knn_path(16, 65, "float32") == "lowd" and plan.knn_path(2, 1, "float64") == "lowd"
    assert plan.knn_path(17, 10, "float32") == "gemm" and plan.knn_path(128, 65, "float64") == "gemm"
    for d, k, dtype in ((2, 66, "float32"), (128, 66, "float64"), (128, 10, "float16")):
        assert plan.knn_path(d, k, dtype) == "portable"
    opts = plan.knn_tile_options("float32", 11)
    assert "-DXK_T=float" in opts and "-DXK_KMAX=16" in opts
    assert not any(o.startswith(("-DXK_DIM", "-DXK_TILE")) for o in opts)  # d is the GEMM's
    assert "-DXK_T=double" in plan.knn_tile_options("float64", 65)
    assert "-DXK_KMAX=64" in plan.knn_tile_options("float64", 65)
    with pytest.raises(ValueError, match="float32 or float64"):
        plan.knn_tile_options("float16", 3)
    compiled = {o for v in plan.knn_tile_variants() for o in v if o.startswith("-DXK_KMAX")}
    assert compiled == {f"-DXK_KMAX={m}" for m in (8, 16, 32, 64)}  # every list size
    src = _cupy.source("knn.cu")
    assert 'extern "C" __global__ void knn_tile_merge(' in src
    assert 'extern "C" __global__ void knn_lowd(' in src


@pytest.mark.parametrize("itemsize", [4, 8])
def test_knn_gemm_tiles_fit_the_budget_and_cover_the_rows(itemsize):
    for n in (1, 2, 65, 1000, 100_000, 1_000_000, 5_000_000):
        for k in (1, 2, 11, 65):
            if k > n:
                continue
            for budget in (1, 4096, 96 << 10, 1 << 20, 256 << 20, 2 << 30):
                p = plan.knn_tile_plan(n, k, itemsize, sm_count=132, budget_bytes=budget)
                assert 1 <= p.rows <= n and k <= p.cols <= n  # first tile fills the lists
                assert p.grid == plan.warp_rows_grid(p.rows, 132)
                # The G tile and the two (rows, k - 1) lists fit, unless one row cannot.
                lists = 2 * (k - 1) * (itemsize + 8)
                assert p.rows * (p.cols * itemsize + lists) <= budget or p.rows == 1
                if budget // (n * itemsize + lists) >= plan.KNN_MIN_ROWS:
                    assert p.cols == n  # whole rows while 256 of them fit
                else:  # else 256 rows' worth of columns, at least k
                    assert ((p.cols * itemsize + lists) * plan.KNN_MIN_ROWS <= budget
                            or p.cols in (k, n))
                if p.rows >= 256:
                    assert p.rows % 256 == 0 or p.rows == n
    # The shapes on an H200 budget (2 GiB): few chunks, one column tile each.
    assert plan.knn_tile_plan(100_000, 11, 4, sm_count=132, budget_bytes=2 << 30) == (
        plan.KnnTilePlan(rows=5120, cols=100_000, grid=640))
    big = plan.knn_tile_plan(5_000_000, 11, 4, sm_count=132, budget_bytes=2 << 30)
    assert big.cols == (2 << 20) - 256 and big.rows == 256  # 256-row GEMMs, lists included


def test_gpu_distances_setting_is_validated():
    from xkmeans import config_context, get_config, set_config

    assert get_config()["gpu_distances"] == "exact"
    with config_context(gpu_distances="tf32-certified"):
        assert get_config()["gpu_distances"] == "tf32-certified"
    with pytest.raises(ValueError, match="gpu_distances='bf16' should be one of 'exact'"):
        set_config(gpu_distances="bf16")


def test_batched_grid_spreads_the_gpu_over_the_problems():
    src = _cupy.source()
    for name in ("lowd_step_batched", "finalize_batched"):
        assert f'extern "C" __global__ void {name}(' in src
    for n_problems in (1, 2, 256, 5000, plan.MAX_GRID_Y):
        for max_n in (1, 300, 65_536, 16_777_216):
            grid = plan.batched_grid(max_n, 3, n_problems, sm_count=132)
            tiles = -(-max_n // (plan.BLOCK * plan.points_per_thread(3)))
            assert 1 <= grid <= tiles  # never a block without a tile of its problem
            # Together about what one problem's lowd_grid fills the GPU with.
            assert grid * n_problems <= max(n_problems, 132 * plan.BLOCKS_PER_SM + n_problems)
    assert plan.batched_grid(100, 3, 1, 132) == plan.lowd_grid(100, 3, 132)
    assert plan.batched_grid(100, 3, plan.MAX_GRID_Y + 1, 132) is None  # gridDim.y's limit
