// Lloyd's E- and M-steps for CuPy arrays (PyTorch CUDA tensors reach them through DLPack).
//
// Compiled by CuPy (RawModule) with macros, one module per combination:
//   XK_T        float or double (X, centres, weights): type `real` below
//   XK_DIM      features, for the low-dimension kernels (a compile-time loop bound): DIM
//   XK_PPT      points per thread in lowd_* (register blocking: a centre load serves PPT points)
//   XK_WEIGHTED 1 if a weight array is passed
//   XK_LABEL    int or long long (labels read by grouped_sum_fixed)
//
// Sums are deterministic: every contribution is rounded to a 64-bit fixed-point integer
// (scale 2^(62 - ceil(log2(n * max|value|))), see fixed_scales), so the order in which atomics
// land cannot change the result. Labels: strict < over centres in index order, so among equal
// distances (identical centres give bit-identical ones here) the lowest index wins.
#ifndef XK_T
#define XK_T float
#endif
#ifndef XK_DIM
#define XK_DIM 1
#endif
#ifndef XK_PPT
#define XK_PPT 1
#endif
#ifndef XK_WEIGHTED
#define XK_WEIGHTED 0
#endif
#ifndef XK_LABEL
#define XK_LABEL int
#endif
#define FULL_MASK 0xffffffffu

typedef unsigned long long u64;
typedef XK_T real;
typedef XK_LABEL label_t;
#define DIM XK_DIM
#define PPT XK_PPT

// +infinity in `real` (NVRTC has no math.h macros).
#define XK_INF ((real)__longlong_as_double(0x7ff0000000000000LL))

__device__ __forceinline__ long long to_fixed(double v, double scale) {
    return __double2ll_rn(v * scale);
}

// 2^(62 - e) with bound = m 2^e, 0.5 <= m < 1: any sum of terms whose magnitudes add up to
// at most `bound` fits in int64 with room for each term's rounding. Zero or non-finite
// bounds give 1 (all terms zero; or a caller error caught by input validation).
__device__ __forceinline__ double scale_for(double bound) {
    int e = 0;
    if (bound > 0.0 && isfinite(bound)) frexp(bound, &e), e = 62 - e;
    return ldexp(1.0, e > 1000 ? 1000 : (e < -1000 ? -1000 : e));
}

// One thread: scales[0] for w * x values, scales[1] for weights, from vmax = [max|x|, max w].
extern "C" __global__ void fixed_scales(const real* vmax, double n, double* scales) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    double bx = n * (double)vmax[0] * (double)vmax[1];
    double bw = n * (double)vmax[1];
    double b[2] = {bx, bw};
    for (int i = 0; i < 2; ++i) scales[i] = scale_for(b[i]);
}

// Block: centres as (|c|^2, -2c_0, ..., -2c_{DIM-1}) in shared memory.
__device__ __forceinline__ void load_centres(const real* __restrict__ C, int k, real* cs) {
    for (int c = threadIdx.x; c < k; c += blockDim.x) {
        real s = 0;
#pragma unroll
        for (int j = 0; j < DIM; ++j) {
            real v = C[(size_t)c * DIM + j];
            cs[c * (DIM + 1) + 1 + j] = -2 * v;
            s = fma(v, v, s);
        }
        cs[c * (DIM + 1)] = s;
    }
}

// Nearest centre of PPT points in registers; best holds |c|^2 - 2 x.c.
__device__ __forceinline__ void nearest(const real* cs, int k, const real (&x)[PPT][DIM],
                                        real (&best)[PPT], int (&arg)[PPT]) {
#pragma unroll
    for (int q = 0; q < PPT; ++q) { best[q] = XK_INF; arg[q] = 0; }
    for (int c = 0; c < k; ++c) {
        const real* cc = cs + c * (DIM + 1);
        real m[DIM];
#pragma unroll
        for (int j = 0; j < DIM; ++j) m[j] = cc[1 + j];
        const real c0 = cc[0];
#pragma unroll
        for (int q = 0; q < PPT; ++q) {
            real dd = c0;
#pragma unroll
            for (int j = 0; j < DIM; ++j) dd = fma(x[q][j], m[j], dd);
            if (dd < best[q]) { best[q] = dd; arg[q] = c; }
        }
    }
}

// Launch: 1-D grid, blockDim a multiple of 32; dynamic shared memory = lowd_smem_bytes (host).
// Each thread takes PPT points blockDim apart in a tile of blockDim * PPT points, tiles
// grid-strided. Labels out (int32); changed labels counted; w * x and w added per label to
// block accumulators (a warp whose lanes share one label reduces first), then to acc (k, DIM+1).
// (The body, for block `block` of `n_blocks` working on one problem; lowd_step and
// lowd_step_batched below launch it.)
__device__ __forceinline__ void lowd_step_body(const real* __restrict__ X,
                                               const real* __restrict__ W,
                                               const real* __restrict__ C, long long n, int k,
                                               const double* __restrict__ scales,
                                               const int* __restrict__ labels_old, int has_old,
                                               int* __restrict__ labels,
                                               long long* __restrict__ acc,
                                               u64* __restrict__ changed, int want_inertia,
                                               double* __restrict__ block_inertia,
                                               long long block, long long n_blocks) {
    extern __shared__ __align__(16) unsigned char step_smem[];
    __shared__ double warp_inertia[32];
    real* cs = reinterpret_cast<real*>(step_smem);
    const int cs_bytes = ((k * (DIM + 1) * (int)sizeof(real) + 15) / 16) * 16;
    long long* sacc = reinterpret_cast<long long*>(step_smem + cs_bytes);
    double inertia = 0.0;
    load_centres(C, k, cs);
    for (int e = threadIdx.x; e < k * (DIM + 1); e += blockDim.x) sacc[e] = 0;
    __syncthreads();
    const double sx = scales[0], sw = scales[1];
    const int lane = threadIdx.x & 31;
    u64 n_changed = 0;
    const long long tile = (long long)blockDim.x * PPT;
    for (long long base = block * tile; base < n; base += n_blocks * tile) {
        real x[PPT][DIM];
        bool ok[PPT];
#pragma unroll
        for (int q = 0; q < PPT; ++q) {
            long long p = base + (long long)q * blockDim.x + threadIdx.x;
            ok[q] = p < n;
#pragma unroll
            for (int j = 0; j < DIM; ++j) x[q][j] = ok[q] ? X[p * DIM + j] : real(0);
        }
        real best[PPT];
        int arg[PPT];
        nearest(cs, k, x, best, arg);
#pragma unroll
        for (int q = 0; q < PPT; ++q) {
            long long p = base + (long long)q * blockDim.x + threadIdx.x;
            int lab = ok[q] ? arg[q] : -1;
            double w = 1.0;
            if (ok[q]) {
                labels[p] = lab;
                n_changed += has_old ? (labels_old[p] != lab) : 1;
#if XK_WEIGHTED
                w = (double)W[p];
#endif
                if (want_inertia) {  // |x - c|^2 directly; c = -0.5 * (-2c) exactly
                    const real* cc = cs + lab * (DIM + 1) + 1;
                    real s = 0;
#pragma unroll
                    for (int j = 0; j < DIM; ++j) {
                        const real diff = x[q][j] + real(0.5) * cc[j];
                        s = fma(diff, diff, s);
                    }
                    inertia += w * (double)s;
                }
            }
            long long v[DIM + 1];
#pragma unroll
            for (int j = 0; j < DIM; ++j) v[j] = ok[q] ? to_fixed((double)x[q][j] * w, sx) : 0;
            v[DIM] = ok[q] ? to_fixed(w, sw) : 0;
            // Neighbouring pixels share a label: then one atomic per warp, not 32.
            const int lab0 = __shfl_sync(FULL_MASK, lab, 0);
            if (__all_sync(FULL_MASK, lab == lab0)) {
#pragma unroll
                for (int j = 0; j <= DIM; ++j)
#pragma unroll
                    for (int off = 16; off > 0; off >>= 1)
                        v[j] += __shfl_xor_sync(FULL_MASK, v[j], off);
                if (lane == 0 && lab0 >= 0)
#pragma unroll
                    for (int j = 0; j <= DIM; ++j)
                        atomicAdd(reinterpret_cast<u64*>(&sacc[lab0 * (DIM + 1) + j]), (u64)v[j]);
            } else if (lab >= 0) {
#pragma unroll
                for (int j = 0; j <= DIM; ++j)
                    atomicAdd(reinterpret_cast<u64*>(&sacc[lab * (DIM + 1) + j]), (u64)v[j]);
            }
        }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) n_changed += __shfl_xor_sync(FULL_MASK, n_changed, off);
    if (lane == 0 && n_changed) atomicAdd(changed, n_changed);
    if (want_inertia) {  // fixed order: butterfly in the warp, then warps in order
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) inertia += __shfl_xor_sync(FULL_MASK, inertia, off);
        if (lane == 0) warp_inertia[threadIdx.x >> 5] = inertia;
    }
    __syncthreads();
    if (want_inertia && threadIdx.x == 0) {
        double total = 0.0;
        for (int w = 0; w < (int)(blockDim.x >> 5); ++w) total += warp_inertia[w];
        block_inertia[block] = total;
    }
    for (int e = threadIdx.x; e < k * (DIM + 1); e += blockDim.x)
        if (sacc[e] != 0) atomicAdd(reinterpret_cast<u64*>(&acc[e]), (u64)sacc[e]);
}

extern "C" __global__ void lowd_step(const real* __restrict__ X, const real* __restrict__ W,
                                     const real* __restrict__ C, long long n, int k,
                                     const double* __restrict__ scales,
                                     const int* __restrict__ labels_old, int has_old,
                                     int* __restrict__ labels, long long* __restrict__ acc,
                                     u64* __restrict__ changed, int want_inertia,
                                     double* __restrict__ block_inertia) {
    lowd_step_body(X, W, C, n, k, scales, labels_old, has_old, labels, acc, changed,
                   want_inertia, block_inertia, blockIdx.x, gridDim.x);
}

// Many independent problems of the same k and DIM in one launch (palettes of a batch of
// images). Grid (blocks per problem, problems), shared memory as lowd_step. Problem
// p = blockIdx.y owns rows offsets[p]:offsets[p + 1] of X, W, labels and labels_old, centres
// C + p k DIM, sums acc + p k (DIM + 1), scales + 2p and changed + p; its blocks do exactly
// what lowd_step's blocks do on that problem alone (fixed-point sums: the same bits).
// Problems with active[p] == 0 are left alone.
extern "C" __global__ void lowd_step_batched(const real* __restrict__ X,
                                             const real* __restrict__ W,
                                             const real* __restrict__ C,
                                             const long long* __restrict__ offsets, int k,
                                             const double* __restrict__ scales,
                                             const int* __restrict__ labels_old, int has_old,
                                             int* __restrict__ labels,
                                             long long* __restrict__ acc,
                                             u64* __restrict__ changed,
                                             const int* __restrict__ active) {
    const int p = blockIdx.y;
    if (!active[p]) return;  // the whole block: no barrier is left waiting
    const long long a = offsets[p];
    lowd_step_body(X + a * DIM, XK_WEIGHTED ? W + a : W, C + (size_t)p * k * DIM,
                   offsets[p + 1] - a, k, scales + 2 * p, has_old ? labels_old + a : labels_old,
                   has_old, labels + a, acc + (size_t)p * k * (DIM + 1), changed + p, 0,
                   nullptr, blockIdx.x, gridDim.x);
}

// Launch as lowd_step. Labels (int32) and |x - c|^2 to the chosen centre, computed directly.
extern "C" __global__ void lowd_assign(const real* __restrict__ X, const real* __restrict__ C,
                                       long long n, int k, int* __restrict__ labels,
                                       real* __restrict__ dist2) {
    extern __shared__ __align__(16) unsigned char smem[];
    real* cs = reinterpret_cast<real*>(smem);
    load_centres(C, k, cs);
    __syncthreads();
    const long long tile = (long long)blockDim.x * PPT;
    for (long long base = blockIdx.x * tile; base < n; base += (long long)gridDim.x * tile) {
        real x[PPT][DIM];
#pragma unroll
        for (int q = 0; q < PPT; ++q) {
            long long p = base + (long long)q * blockDim.x + threadIdx.x;
#pragma unroll
            for (int j = 0; j < DIM; ++j) x[q][j] = p < n ? X[p * DIM + j] : real(0);
        }
        real best[PPT];
        int arg[PPT];
        nearest(cs, k, x, best, arg);
#pragma unroll
        for (int q = 0; q < PPT; ++q) {
            long long p = base + (long long)q * blockDim.x + threadIdx.x;
            if (p >= n) continue;
            real s = 0;
#pragma unroll
            for (int j = 0; j < DIM; ++j) {
                real diff = x[q][j] - C[(size_t)arg[q] * DIM + j];
                s = fma(diff, diff, s);
            }
            labels[p] = arg[q];
            dist2[p] = s;
        }
    }
}

// One thread per centre i: canon[i] = first j <= i with C[j] == C[i] (row by row),
// csq[i] = |c_i|^2 and m2c = -2 C, for the GEMM path (any d).
extern "C" __global__ void centre_prep(const real* __restrict__ C, int k, int d,
                                       int* __restrict__ canon, real* __restrict__ csq,
                                       real* __restrict__ m2c) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= k) return;
    const real* ci = C + (size_t)i * d;
    real s = 0;
    for (int j = 0; j < d; ++j) {
        s = fma(ci[j], ci[j], s);
        m2c[(size_t)i * d + j] = -2 * ci[j];
    }
    csq[i] = s;
    int first = i;
    for (int r = 0; r < i; ++r) {
        const real* cr = C + (size_t)r * d;
        int j = 0;
        while (j < d && cr[j] == ci[j]) ++j;
        if (j == d) { first = r; break; }
    }
    canon[i] = first;
}

// One warp per row of D = X_tile @ (-2C)^real (rows x k, from cuBLAS): the argmin of
// csq + D (ties: lowest column), mapped through canon, as label row0 + r. Optionally the
// squared distance max(x_sq + best, 0); labels that changed (all, without old ones) counted.
extern "C" __global__ void argmin_rows(const real* __restrict__ D, const real* __restrict__ csq,
                                       const int* __restrict__ canon, int rows, int k,
                                       long long row0, const int* __restrict__ labels_old,
                                       int has_old, int* __restrict__ labels, int want_dist,
                                       const real* __restrict__ x_sq, real* __restrict__ dist2,
                                       u64* __restrict__ changed) {
    const int lane = threadIdx.x & 31;
    const int warps = blockDim.x >> 5;
    u64 n_changed = 0;
    for (long long r = (long long)blockIdx.x * warps + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warps) {
        const real* row = D + r * k;
        real best = XK_INF;
        int arg = k;
        for (int c = lane; c < k; c += 32) {
            real v = row[c] + csq[c];
            if (v < best) { best = v; arg = c; }
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) {
            real ob = __shfl_xor_sync(FULL_MASK, best, off);
            int oa = __shfl_xor_sync(FULL_MASK, arg, off);
            if (ob < best || (ob == best && oa < arg)) { best = ob; arg = oa; }
        }
        if (lane == 0) {
            const long long p = row0 + r;
            const int lab = canon[arg < k ? arg : 0];
            labels[p] = lab;
            n_changed += has_old ? (labels_old[p] != lab) : 1;
            if (want_dist) {
                real d2 = x_sq[p] + best;
                dist2[p] = d2 > real(0) ? d2 : real(0);
            }
        }
    }
    if (lane == 0 && n_changed) atomicAdd(changed, n_changed);
}

// As argmin_rows, on D from a TF32 (tensor-core) product, with a certificate: the best two
// values per row are compared with the error bound of TF32 products for this row,
//   E = 2 ((2^-9 + (d + 2) 2^-23) |x| |c|max + (d + 2) 2^-23 |c|max^2)  (each value off by <= E),
// and rows whose margin is <= 2E are appended to `flagged` (order irrelevant: each is
// recomputed on its own by recompute_rows, which also counts their changed labels).
extern "C" __global__ void argmin_rows_certify(const real* __restrict__ D,
                                               const real* __restrict__ csq,
                                               const int* __restrict__ canon, int rows, int k,
                                               int d, long long row0,
                                               const int* __restrict__ labels_old, int has_old,
                                               int* __restrict__ labels,
                                               const real* __restrict__ x_sq,
                                               const real* __restrict__ csq_max,
                                               long long* __restrict__ flagged,
                                               unsigned int* __restrict__ n_flagged,
                                               u64* __restrict__ changed) {
    const int lane = threadIdx.x & 31;
    const int warps = blockDim.x >> 5;
    const double cn = sqrt((double)*csq_max);
    const double rel = ldexp(1.0, -9) + (d + 2) * ldexp(1.0, -23);
    u64 n_changed = 0;
    for (long long r = (long long)blockIdx.x * warps + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warps) {
        const real* row = D + r * k;
        real best = XK_INF, second = XK_INF;
        int arg = k;
        for (int c = lane; c < k; c += 32) {
            const real v = row[c] + csq[c];
            if (v < best) { second = best; best = v; arg = c; }
            else if (v < second) { second = v; }
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) {
            const real ob = __shfl_xor_sync(FULL_MASK, best, off);
            const real os = __shfl_xor_sync(FULL_MASK, second, off);
            const int oa = __shfl_xor_sync(FULL_MASK, arg, off);
            if (ob < best || (ob == best && oa < arg)) {
                second = best < os ? best : os;
                best = ob; arg = oa;
            } else {
                second = ob < second ? ob : second;
            }
        }
        if (lane == 0) {
            const long long p = row0 + r;
            const double xn = sqrt((double)(x_sq[p] > real(0) ? x_sq[p] : real(0)));
            const double bound = 2.0 * (rel * xn * cn + (d + 2) * ldexp(1.0, -23) * cn * cn);
            if ((double)second - (double)best > 2.0 * bound) {
                const int lab = canon[arg < k ? arg : 0];
                labels[p] = lab;
                n_changed += has_old ? (labels_old[p] != lab) : 1;
            } else {
                flagged[atomicAdd(n_flagged, 1u)] = p;
            }
        }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) n_changed += __shfl_xor_sync(FULL_MASK, n_changed, off);
    if (lane == 0 && n_changed) atomicAdd(changed, n_changed);
}

// One warp per flagged row (any grid; the count is read on the device): the label from
// float32 distances sum_j (x_j - c_j)^2, ties to the lowest index; changed labels counted.
extern "C" __global__ void recompute_rows(const real* __restrict__ X, const real* __restrict__ C,
                                          int k, int d, const long long* __restrict__ flagged,
                                          const unsigned int* __restrict__ n_flagged,
                                          const int* __restrict__ labels_old, int has_old,
                                          int* __restrict__ labels, u64* __restrict__ changed) {
    const int lane = threadIdx.x & 31;
    const int warps = blockDim.x >> 5;
    const long long count = *n_flagged;
    u64 n_changed = 0;
    for (long long f = (long long)blockIdx.x * warps + (threadIdx.x >> 5); f < count;
         f += (long long)gridDim.x * warps) {
        const long long p = flagged[f];
        const real* x = X + p * d;
        real best = XK_INF;
        int arg = k;
        for (int c = lane; c < k; c += 32) {
            const real* cc = C + (size_t)c * d;
            real s = 0;
            for (int j = 0; j < d; ++j) {
                const real diff = x[j] - cc[j];
                s = fma(diff, diff, s);
            }
            if (s < best) { best = s; arg = c; }
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) {
            const real ob = __shfl_xor_sync(FULL_MASK, best, off);
            const int oa = __shfl_xor_sync(FULL_MASK, arg, off);
            if (ob < best || (ob == best && oa < arg)) { best = ob; arg = oa; }
        }
        if (lane == 0) {
            const int lab = arg < k ? arg : 0;
            labels[p] = lab;
            n_changed += has_old ? (labels_old[p] != lab) : 1;
        }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) n_changed += __shfl_xor_sync(FULL_MASK, n_changed, off);
    if (lane == 0 && n_changed) atomicAdd(changed, n_changed);
}

// One warp per point, lanes over its d + 1 columns: w * x values and the weight w itself, as
// fixed point, added to acc[label] (k, d + 1). Integer atomics: order-independent.
extern "C" __global__ void grouped_sum_fixed(const real* __restrict__ X, const real* __restrict__ W,
                                             const label_t* __restrict__ labels, long long n,
                                             int d, const double* __restrict__ scales,
                                             long long* __restrict__ acc) {
    const double sx = scales[0], sw = scales[1];
    const int lane = threadIdx.x & 31;
    const int warps = blockDim.x >> 5;
    for (long long i = (long long)blockIdx.x * warps + (threadIdx.x >> 5); i < n;
         i += (long long)gridDim.x * warps) {
        const long long base = (long long)labels[i] * (d + 1);
        double w = 1.0;
#if XK_WEIGHTED
        w = (double)W[i];
#endif
        for (int j = lane; j <= d; j += 32) {
            const long long v = j < d ? to_fixed((double)X[i * d + j] * w, sx) : to_fixed(w, sw);
            if (v != 0) atomicAdd(reinterpret_cast<u64*>(&acc[base + j]), (u64)v);
        }
    }
}

#define FINAL_THREADS 256

// Sum of v over a block of FINAL_THREADS threads, in a fixed tree order (deterministic);
// every thread gets the result. `red` is FINAL_THREADS doubles of shared memory.
__device__ double block_sum(double v, double* red) {
    __syncthreads();  // a previous call's result may still be read from red[0]
    red[threadIdx.x] = v;
    __syncthreads();
    for (int s = FINAL_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    return red[0];
}

// One block of FINAL_THREADS: acc (k, d + 1) -> weight per cluster (counts) and the means
// (new centres; a cluster of weight 0 gets 0, as the portable loop); acc and changed are
// zeroed for the next step. stats = [changed labels, sum of squared centre shifts,
// empty clusters], summed in a fixed order.
__device__ __forceinline__ void finalize_body(long long* __restrict__ acc, int k, int d,
                                              const double* __restrict__ scales,
                                              const real* __restrict__ C_old,
                                              real* __restrict__ C_new,
                                              double* __restrict__ counts,
                                              u64* __restrict__ changed,
                                              double* __restrict__ stats) {
    __shared__ double red[FINAL_THREADS];
    const double sx = scales[0], sw = scales[1];
    double shift = 0.0, empty = 0.0;
    for (int c = threadIdx.x; c < k; c += blockDim.x) {
        long long* a = acc + (size_t)c * (d + 1);
        const double cnt = (double)a[d] / sw;
        counts[c] = cnt;
        empty += cnt == 0.0;
        const double safe = cnt > 0.0 ? cnt : 1.0;
        for (int j = 0; j < d; ++j) {
            const real nv = (real)(((double)a[j] / sx) / safe);
            const real old = C_old[(size_t)c * d + j];
            C_new[(size_t)c * d + j] = nv;
            const double diff = (double)(real)(nv - old);
            shift += diff * diff;
            a[j] = 0;
        }
        a[d] = 0;
    }
    shift = block_sum(shift, red);
    empty = block_sum(empty, red);
    if (threadIdx.x == 0) {
        stats[0] = (double)*changed;
        stats[1] = shift;
        stats[2] = empty;
        *changed = 0;
    }
}

extern "C" __global__ void finalize(long long* __restrict__ acc, int k, int d,
                                    const double* __restrict__ scales,
                                    const real* __restrict__ C_old, real* __restrict__ C_new,
                                    double* __restrict__ counts, u64* __restrict__ changed,
                                    double* __restrict__ stats) {
    finalize_body(acc, k, d, scales, C_old, C_new, counts, changed, stats);
}

// Grid (problems), FINAL_THREADS threads: finalize for problem p = blockIdx.x of
// lowd_step_batched (acc, C_old, C_new, counts and stats of problem p at p k (d + 1), p k d,
// p k d, p k and 3p). An inactive problem's centres are copied through unchanged.
extern "C" __global__ void finalize_batched(long long* __restrict__ acc, int k, int d,
                                            const double* __restrict__ scales,
                                            const real* __restrict__ C_old,
                                            real* __restrict__ C_new,
                                            double* __restrict__ counts,
                                            u64* __restrict__ changed,
                                            double* __restrict__ stats,
                                            const int* __restrict__ active) {
    const int p = blockIdx.x;
    const size_t kd = (size_t)k * d;
    if (!active[p]) {
        for (size_t e = threadIdx.x; e < kd; e += blockDim.x) C_new[p * kd + e] = C_old[p * kd + e];
        return;
    }
    finalize_body(acc + p * (kd + k), k, d, scales + 2 * p, C_old + p * kd, C_new + p * kd,
                  counts + (size_t)p * k, changed + p, stats + 3 * p);
}

// One block of FINAL_THREADS, for small arrays (a mini-batch): as fixed_scales, with
// max|x| over the n * d values of X and max|w| over W (1 when unweighted) found here.
extern "C" __global__ void batch_scales(const real* __restrict__ X, const real* __restrict__ W,
                                        long long n, int d, int weighted,
                                        double* __restrict__ scales) {
    __shared__ double red_x[FINAL_THREADS];
    __shared__ double red_w[FINAL_THREADS];
    double mx = 0.0, mw = weighted ? 0.0 : 1.0;
    for (long long e = threadIdx.x; e < n * d; e += blockDim.x) mx = fmax(mx, fabs((double)X[e]));
    if (weighted)
        for (long long e = threadIdx.x; e < n; e += blockDim.x) mw = fmax(mw, fabs((double)W[e]));
    red_x[threadIdx.x] = mx;
    red_w[threadIdx.x] = mw;
    __syncthreads();
    for (int s = FINAL_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            red_x[threadIdx.x] = fmax(red_x[threadIdx.x], red_x[threadIdx.x + s]);
            red_w[threadIdx.x] = fmax(red_w[threadIdx.x], red_w[threadIdx.x + s]);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        const double b[2] = {(double)n * red_x[0] * red_w[0], (double)n * red_w[0]};
        for (int i = 0; i < 2; ++i) scales[i] = scale_for(b[i]);
    }
}

// One block of FINAL_THREADS: scikit-learn's mini-batch update from the batch sums in acc:
// counts += batch weight; a centre that got weight moves to (c * old count + sum) / new count
// (in double, then rounded to real). acc and changed are zeroed for the next step.
// stats = [sum of w |x - c|^2 over the grid's block partials (in block order), batch weight,
// squared shift (double new - old), 0 (reassignments: the caller's), centres of count 0].
extern "C" __global__ void minibatch_finalize(long long* __restrict__ acc, int k, int d,
                                              const double* __restrict__ scales,
                                              const real* __restrict__ C_old,
                                              real* __restrict__ C_new,
                                              double* __restrict__ counts,
                                              const double* __restrict__ block_inertia,
                                              int n_blocks, u64* __restrict__ changed,
                                              double* __restrict__ stats) {
    __shared__ double red[FINAL_THREADS];
    const double sx = scales[0], sw = scales[1];
    double shift = 0.0, wtot = 0.0, zero = 0.0;
    for (int c = threadIdx.x; c < k; c += blockDim.x) {
        long long* a = acc + (size_t)c * (d + 1);
        const double wsum = (double)a[d] / sw;
        const double old_count = counts[c];
        const double new_count = old_count + wsum;
        counts[c] = new_count;
        wtot += wsum;
        zero += new_count == 0.0;
        for (int j = 0; j < d; ++j) {
            const double old = (double)C_old[(size_t)c * d + j];
            const double nv = wsum > 0.0 ? (old * old_count + (double)a[j] / sx) / new_count : old;
            C_new[(size_t)c * d + j] = (real)nv;
            shift += (nv - old) * (nv - old);
            a[j] = 0;
        }
        a[d] = 0;
    }
    shift = block_sum(shift, red);
    wtot = block_sum(wtot, red);
    zero = block_sum(zero, red);
    if (threadIdx.x == 0) {
        double inertia = 0.0;
        for (int b = 0; b < n_blocks; ++b) inertia += block_inertia[b];
        stats[0] = inertia;
        stats[1] = wtot;
        stats[2] = shift;
        stats[3] = 0.0;
        stats[4] = zero;
        *changed = 0;
    }
}
