"""Launch planning for the CUDA kernels in ``lloyd.cu``: plain Python, no GPU needed.

Which kernel family a shape takes, compile options, shared-memory bytes, grid
sizes and GEMM row tiles are computed here from shapes and device facts, so
they can be tested on any machine; ``_cupy`` only follows the plan.
"""

from __future__ import annotations

import dataclasses
import functools
import math

from .._backend import gpu_budget  # noqa: F401 - the planner's budget rule

BLOCK = 256  # threads per block of the row kernels (a multiple of 32)
FINAL_THREADS = 256  # must equal FINAL_THREADS in lloyd.cu
LOWD_MAX_DIM = 16  # above this, distances come from cuBLAS GEMM tiles
# Dynamic shared memory without an opt-in (48 KB on every GPU since sm_50), less 1 KB
# for the kernels' static shared arrays.
SMEM_LIMIT = 47 * 1024
BLOCKS_PER_SM = 8
ARCHES = ("compute_80", "compute_90")  # what the NVRTC check compiles for


def points_per_thread(d: int) -> int:
    """Register blocking of lowd_*: points a thread keeps while it reads each centre."""
    return 4 if d <= 4 else 2 if d <= 8 else 1


def _align(nbytes: int, to: int = 16) -> int:
    return (nbytes + to - 1) // to * to


def lowd_smem(k: int, d: int, itemsize: int, *, accumulate: bool = True) -> int:
    """Bytes of dynamic shared memory: centres (|c|^2, -2c), then int64 sums."""
    centres = _align(k * (d + 1) * itemsize)
    return centres + (k * (d + 1) * 8 if accumulate else 0)


def use_lowd(k: int, d: int, itemsize: int) -> bool:
    """True if the fused low-dimension kernels take this shape (else GEMM tiles)."""
    return d <= LOWD_MAX_DIM and lowd_smem(k, d, itemsize) <= SMEM_LIMIT


def lowd_grid(n: int, d: int, sm_count: int) -> int:
    """Blocks for lowd_*: enough to fill the GPU, no more than there are tiles."""
    tiles = math.ceil(n / (BLOCK * points_per_thread(d)))
    return max(1, min(tiles, sm_count * BLOCKS_PER_SM))


MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y


def batched_grid(max_n: int, d: int, n_problems: int, sm_count: int) -> int | None:
    """Blocks per problem for lowd_step_batched (grid (this, n_problems)): together about
    as many blocks as lowd_grid fills the GPU with, at least one per problem, no more than
    the largest problem has tiles. None when there are too many problems for one grid."""
    if not 1 <= n_problems <= MAX_GRID_Y:
        return None
    tiles = math.ceil(max(max_n, 1) / (BLOCK * points_per_thread(d)))
    return max(1, min(tiles, math.ceil(sm_count * BLOCKS_PER_SM / n_problems)))


def elementwise_grid(total: int, sm_count: int) -> int:
    """Blocks for a grid-stride kernel over ``total`` elements."""
    return max(1, min(math.ceil(total / BLOCK), sm_count * 32))


def warp_rows_grid(rows: int, sm_count: int) -> int:
    """Blocks for argmin_rows (one warp per row)."""
    return max(1, min(math.ceil(rows / (BLOCK // 32)), sm_count * 32))


def gemm_rows(n: int, k: int, itemsize: int, budget_bytes: int) -> int:
    """Rows per GEMM tile so that the (rows, k) distance tile fits the budget: a multiple
    of 256 (the same cuBLAS kernels for every full tile) below 2^31."""
    rows = budget_bytes // max(1, k * itemsize)
    if rows >= 256:
        rows -= rows % 256
    return max(1, min(n, rows, 2**31 - 256))


def _real_type(dtype: str) -> str:
    """The kernels' `real` (XK_T) for a dtype name; float32 and float64 only."""
    if dtype not in ("float32", "float64"):
        msg = f"CUDA kernels take float32 or float64, not {dtype}."
        raise ValueError(msg)
    return "float" if dtype == "float32" else "double"


@functools.cache
def options(dtype: str, d: int = 1, weighted: bool = False, label: str = "int") -> tuple:
    """NVRTC options selecting one specialisation of ``lloyd.cu``."""
    real = _real_type(dtype)
    label_c = {"int32": "int", "int": "int", "int64": "long long"}[label]
    return (
        "--std=c++14",
        f"-DXK_T={real}",
        f"-DXK_DIM={int(d)}",
        f"-DXK_PPT={points_per_thread(d)}",
        f"-DXK_WEIGHTED={int(bool(weighted))}",
        f"-DXK_LABEL={label_c}",
    )


KNN_MAX_DIM = 16  # the tiled k-NN kernel keeps queries in registers
KNN_MAX_OTHERS = 64  # neighbours besides the row itself, kept per thread


def use_knn_lowd(d: int, n_neighbors: int) -> bool:
    """True if the tiled k-NN kernel takes this shape (else the portable path)."""
    return d <= KNN_MAX_DIM and n_neighbors - 1 <= KNN_MAX_OTHERS


def knn_tile(d: int, itemsize: int) -> int:
    """Rows per shared-memory tile of knn_lowd: 512, fewer where they would not fit."""
    return max(32, min(512, SMEM_LIMIT // (d * itemsize)) // 32 * 32)


def _knn_kmax(n_neighbors: int) -> int:
    """XK_KMAX: the power of two (at least 8) that holds the n_neighbors - 1 others."""
    others = max(1, n_neighbors - 1)
    kmax = 8
    while kmax < others:
        kmax *= 2
    return kmax


@functools.cache
def knn_options(dtype: str, d: int, n_neighbors: int) -> tuple:
    """NVRTC options of the knn.cu specialisation for (dtype, d, n_neighbors)."""
    real = _real_type(dtype)
    itemsize = 4 if dtype == "float32" else 8
    return (
        "--std=c++14",
        f"-DXK_T={real}",
        f"-DXK_DIM={int(d)}",
        f"-DXK_KMAX={_knn_kmax(n_neighbors)}",
        f"-DXK_TILE={knn_tile(d, itemsize)}",
    )


@functools.cache
def knn_tile_options(dtype: str, n_neighbors: int) -> tuple:
    """NVRTC options of knn_tile_merge (any d: the GEMM has taken the features)."""
    return ("--std=c++14", f"-DXK_T={_real_type(dtype)}",
            f"-DXK_KMAX={_knn_kmax(n_neighbors)}")


def knn_path(d: int, n_neighbors: int, dtype: str) -> str:
    """Which CuPy k-NN a shape takes: 'lowd' (knn_lowd), 'gemm' (GEMM tiles and
    knn_tile_merge) or 'portable' (other dtypes, or more others than a warp keeps)."""
    if dtype not in ("float32", "float64") or n_neighbors - 1 > KNN_MAX_OTHERS:
        return "portable"
    return "lowd" if use_knn_lowd(d, n_neighbors) else "gemm"


KNN_MIN_ROWS = 256  # fewest rows of a chunk before the columns are tiled (as _portable)
_INT_MAX_TILE = 2**31 - 256  # cuBLAS and the kernel take rows and cols as int


@dataclasses.dataclass(frozen=True)
class KnnTilePlan:
    """Row chunks x column tiles of the GEMM k-NN."""

    rows: int  # rows per chunk (the last may be shorter)
    cols: int  # columns per tile (n: one tile per chunk)
    grid: int  # blocks of knn_tile_merge (BLOCK threads) for a full chunk


def knn_tile_plan(n: int, n_neighbors: int, itemsize: int, *, sm_count: int,
                  budget_bytes: int) -> KnnTilePlan:
    """Tiles whose G (rows x cols) and two (rows, kk) best lists fit the budget.

    Whole rows of n while at least KNN_MIN_ROWS of them fit, else column tiles of
    KNN_MIN_ROWS rows' worth (never fewer than n_neighbors columns, so the first tile
    alone fills each row's list); rows and cols multiples of 256 where they can be.
    """
    n = max(1, n)
    lists = 2 * max(0, n_neighbors - 1) * (itemsize + 8)  # bytes per row: prev and next
    if budget_bytes // (n * itemsize + lists) >= KNN_MIN_ROWS and n <= _INT_MAX_TILE:
        cols = n
    else:
        cols = (budget_bytes // KNN_MIN_ROWS - lists) // itemsize
        if cols >= 256:
            cols -= cols % 256
        cols = min(n, max(n_neighbors, cols), _INT_MAX_TILE)
    rows = budget_bytes // (cols * itemsize + lists)
    if rows >= 256:
        rows -= rows % 256
    rows = max(1, min(n, rows, _INT_MAX_TILE))
    return KnnTilePlan(rows, cols, warp_rows_grid(rows, sm_count))


@dataclasses.dataclass(frozen=True)
class StepPlan:
    """How one Lloyd iteration runs for an (n, d) array and k centres."""

    lowd: bool
    grid: int  # blocks of lowd_step, or of grouped_sum_fixed on the GEMM path
    smem: int  # dynamic shared memory of lowd_step (0 on the GEMM path)
    tile_rows: int  # GEMM rows per tile (n on the low-d path)
    launches: int  # kernel launches per iteration (cuBLAS GEMMs counted)


def step_plan(n: int, d: int, k: int, itemsize: int, *, sm_count: int,
              budget_bytes: int) -> StepPlan:
    """Plan a Lloyd iteration: the fused kernel, or GEMM tiles + argmin + sums."""
    if use_lowd(k, d, itemsize):
        return StepPlan(True, lowd_grid(n, d, sm_count), lowd_smem(k, d, itemsize), n, 2)
    rows = gemm_rows(n, k, itemsize, budget_bytes)
    tiles = math.ceil(n / rows)
    grid = warp_rows_grid(n, sm_count)
    return StepPlan(False, grid, 0, rows, 1 + 2 * tiles + 2)


def knn_variants():
    """The knn.cu option sets the NVRTC check compiles (ends of each range)."""
    return [knn_options(dtype, d, k) for dtype in ("float32", "float64")
            for d in (1, 2, 3, KNN_MAX_DIM) for k in (1, 10, 17, KNN_MAX_OTHERS + 1)]


def knn_tile_variants():
    """The knn_tile_merge option sets the NVRTC check compiles (every XK_KMAX)."""
    return list(dict.fromkeys(knn_tile_options(dtype, k) for dtype in ("float32", "float64")
                              for k in (1, 10, 17, 33, KNN_MAX_OTHERS + 1)))


def kernel_variants():
    """Every option set the library compiles, for the NVRTC check."""
    out = []
    for dtype in ("float32", "float64"):
        for d in range(1, LOWD_MAX_DIM + 1):
            for weighted in (False, True):
                out.append(options(dtype, d, weighted, "int"))
        for weighted in (False, True):
            out.append(options(dtype, 1, weighted, "int64"))
    return out
