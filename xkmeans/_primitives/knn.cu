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
            const long long p = t0 + j;
            if (s < worst && p != q) {
                int pos = kk - 1;
                while (pos > 0 && bd[pos - 1] > s) {
                    bd[pos] = bd[pos - 1];
                    bi[pos] = bi[pos - 1];
                    --pos;
                }
                bd[pos] = s;
                bi[pos] = p;
                worst = bd[kk - 1];
            }
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
