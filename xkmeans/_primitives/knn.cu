// Exact k nearest neighbours of every row of X among the other rows, for low dimensions.
//
// Compiled by CuPy with XK_T (float or double), XK_DIM (features), XK_KMAX (the largest
// number of other neighbours a thread keeps) and XK_TILE (rows per shared-memory tile).
// Launch: 1-D grid of ceil(n / blockDim) blocks, dynamic shared memory
// XK_TILE * DIM * sizeof(real). Each thread owns one query row and keeps
// its kk nearest other rows sorted by (squared distance, index) while all rows stream through
// shared memory in tiles, in index order: a later row replaces a kept one only if strictly
// closer, so ties go to the lowest index. Never more than one tile of distances exists.
#ifndef XK_T
#define XK_T float
#endif
#ifndef XK_DIM
#define XK_DIM 2
#endif
#ifndef XK_KMAX
#define XK_KMAX 32
#endif
#ifndef XK_TILE
#define XK_TILE 512
#endif
#define KNN_TILE XK_TILE

typedef XK_T real;
#define DIM XK_DIM
#define XK_INF ((real)__longlong_as_double(0x7ff0000000000000LL))

// A kept list update (knn_lowd's thread, knn_tile_merge's lane): (s, q) clipped at 0
// enters the sorted kk best if strictly closer than the worst and not the row itself.
__device__ __forceinline__ void knn_keep(real* bd, long long* bi, int kk, real& worst, real s,
                                         long long q, long long self) {
    s = s > real(0) ? s : real(0);
    if (s < worst && q != self) {
        int pos = kk - 1;
        while (pos > 0 && bd[pos - 1] > s) {
            bd[pos] = bd[pos - 1];
            bi[pos] = bi[pos - 1];
            --pos;
        }
        bd[pos] = s;
        bi[pos] = q;
        worst = bd[kk - 1];
    }
}

// Output row q: (0, q) first, then its kk nearest other rows, ascending; distances are
// Euclidean (square roots of the direct sums of squared differences).
extern "C" __global__ void knn_lowd(const real* __restrict__ X, long long n, int kk,
                                    real* __restrict__ dist, long long* __restrict__ ind) {
    extern __shared__ __align__(16) unsigned char smem[];
    real* tile = reinterpret_cast<real*>(smem);
    const long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = q < n;
    real x[DIM];
#pragma unroll
    for (int j = 0; j < DIM; ++j) x[j] = active ? X[q * DIM + j] : real(0);
    real bd[XK_KMAX];
    long long bi[XK_KMAX];
    for (int i = 0; i < kk; ++i) { bd[i] = XK_INF; bi[i] = -1; }
    real worst = kk > 0 ? XK_INF : real(-1);
    for (long long t0 = 0; t0 < n; t0 += KNN_TILE) {
        const int m = (int)(n - t0 < KNN_TILE ? n - t0 : KNN_TILE);
        __syncthreads();  // the previous tile is no longer read
        for (int e = threadIdx.x; e < m * DIM; e += blockDim.x) tile[e] = X[t0 * DIM + e];
        __syncthreads();
        if (!active) continue;
        for (int j = 0; j < m; ++j) {
            real s = 0;
#pragma unroll
            for (int dd = 0; dd < DIM; ++dd) {
                const real diff = x[dd] - tile[j * DIM + dd];
                s = fma(diff, diff, s);
            }
            knn_keep(bd, bi, kk, worst, s, t0 + j, q);  // s >= 0: the clip changes nothing
        }
    }
    if (!active) return;
    const long long k = kk + 1;
    dist[q * k] = real(0);
    ind[q * k] = q;
    for (int i = 0; i < kk; ++i) {
        dist[q * k + 1 + i] = sqrt(bd[i]);
        ind[q * k + 1 + i] = bi[i];
    }
}

// High dimensions: one column tile of one row chunk, G = Xa @ Xc^T (rows x cols, from
// cuBLAS), merged into each row's running kk best (squared distance, index). Distances
// are summed as the portable path sums them: (-2 g + x_sq[p]) + x_sq[q], clipped at 0.
// Launch: 1-D grid of warps (blockDim a multiple of 32, grid-stride over rows), no shared
// memory. One warp per row r (global row row0 + r): lane l scans columns l, l + 32, ... of
// the tile and keeps its own kk best (the row itself skipped), sorted, a later column
// entering only if strictly closer (so ties keep the lower index); then kk rounds of a warp-wide (distance, index) minimum over the 32 lanes' heads
// and the head of the row's previous list (earlier column tiles, hence lower indices) pop
// the merged list in order. It goes to next_d/next_i (never the buffers read as prev), or,
// on the last tile, out as the final row: (0, row) then the square roots, ascending.
#define XK_NONE 0x7fffffffffffffffLL  // index of an empty slot: loses every tie

__device__ __forceinline__ bool knn_less(real a, long long ia, real b, long long ib) {
    return a < b || (a == b && ia < ib);
}


extern "C" __global__ void knn_tile_merge(
        const real* __restrict__ G, const real* __restrict__ x_sq, int rows, int cols,
        long long row0, long long col0, int kk, int has_prev,
        const real* __restrict__ prev_d, const long long* __restrict__ prev_i,
        int last, real* __restrict__ next_d, long long* __restrict__ next_i,
        real* __restrict__ dist, long long* __restrict__ ind) {
    const int lane = threadIdx.x & 31;
    const int warps = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warps + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warps) {
        const long long p = row0 + r;
        const real* g = G + r * cols;
        const real xp = x_sq[p];
        real bd[XK_KMAX];
        long long bi[XK_KMAX];
        for (int i = 0; i < kk; ++i) { bd[i] = XK_INF; bi[i] = XK_NONE; }
        real worst = kk > 0 ? XK_INF : real(-1);  // kk = 0: keep nothing
        int j = lane;
        for (; j + 96 < cols; j += 128) {  // four loads in flight per lane, then the four
            real gv[4], xv[4];
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                gv[u] = g[j + 32 * u];
                xv[u] = x_sq[col0 + j + 32 * u];
            }
#pragma unroll
            for (int u = 0; u < 4; ++u)
                knn_keep(bd, bi, kk, worst, real(-2) * gv[u] + xp + xv[u], col0 + j + 32 * u, p);
        }
        for (; j < cols; j += 32)
            knn_keep(bd, bi, kk, worst, real(-2) * g[j] + xp + x_sq[col0 + j], col0 + j, p);
        int head = 0, ph = 0;  // next unread entry of this lane's list / of prev
        const long long k = kk + 1;
        if (last && lane == 0) { dist[p * k] = real(0); ind[p * k] = p; }
        for (int t = 0; t < kk; ++t) {
            real v = head < kk ? bd[head] : XK_INF;
            long long vi = head < kk ? bi[head] : XK_NONE;
            const real pv = has_prev && ph < kk ? prev_d[r * kk + ph] : XK_INF;
            const long long pi = has_prev && ph < kk ? prev_i[r * kk + ph] : XK_NONE;
            if (knn_less(pv, pi, v, vi)) { v = pv; vi = pi; }
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) {
                const real ov = __shfl_xor_sync(0xffffffffu, v, off);
                const long long oi = __shfl_xor_sync(0xffffffffu, vi, off);
                if (knn_less(ov, oi, v, vi)) { v = ov; vi = oi; }
            }
            // Indices are unique (prev holds earlier columns), so the winner is known by it.
            if (vi != XK_NONE) {
                if (head < kk && bi[head] == vi) ++head;
                if (has_prev && ph < kk && pi == vi) ++ph;
            }
            if (lane == 0) {
                if (last) {
                    dist[p * k + 1 + t] = sqrt(v);
                    ind[p * k + 1 + t] = vi;
                } else {
                    next_d[r * kk + t] = v;
                    next_i[r * kk + t] = vi;
                }
            }
        }
    }
}
