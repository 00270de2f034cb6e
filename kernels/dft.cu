// The complex axes of the direct, pruned transforms of the spectral
// convolution on CUDA (src/spectral/cuda/direct.rs, planned by
// src/spectral/dft_plan.rs; the real last axis is a cuBLAS GEMM): one
// launch per axis that reads its input once and writes only the bins the
// layer keeps (analysis) or only the grid points (synthesis), with no
// full-length spectrum and no zero-padded one in between. Each output is a
// dot product along the axis with a row of a small complex factor matrix
// the host builds (twiddles and signs folded in), so an axis of n points
// keeping K bins costs n*K complex multiply-adds per line and evaluates no
// trigonometric function and no modulo on the device.
//
// Complex arrays are interleaved (re, im) pairs of R, indexed as R* (a
// candle tensor may start at an odd offset). The kernel runs a grid-stride
// loop over its outputs.

#include <stdint.h>

#define GRID_STRIDE(idx, total)                                                \
    for (uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         idx < (total); idx += (uint64_t)blockDim.x * gridDim.x)

// dst[o, p, i] = sum_q src[o, q, i] f[p, q] for src [outer, n_in, inner],
// f [n_out, n_in] and dst [outer, n_out, inner] complex: one complex axis,
// keeping bins (analysis) or padding them onto the grid (synthesis).
// Neighbouring threads take neighbouring i, so each term's loads are
// contiguous.
template <typename R>
__device__ void dft_axis(const R *src, const R *f, R *dst, uint64_t outer,
                         uint32_t n_in, uint64_t inner, uint32_t n_out) {
    GRID_STRIDE(idx, outer * n_out * inner) {
        uint64_t i = idx % inner;
        uint64_t rest = idx / inner;
        uint32_t p = rest % n_out;
        uint64_t o = rest / n_out;
        const R *line = src + 2 * (o * n_in * inner + i);
        const R *fp = f + 2 * (uint64_t)p * n_in;
        R re = 0, im = 0;
        for (uint32_t q = 0; q < n_in; ++q) {
            R a = line[2 * q * inner], b = line[2 * q * inner + 1];
            R c = fp[2 * q], s = fp[2 * q + 1];
            re += a * c - b * s;
            im += a * s + b * c;
        }
        dst[2 * idx] = re;
        dst[2 * idx + 1] = im;
    }
}

#define FNO_DFT_KERNELS(R, SUFFIX)                                             \
    extern "C" __global__ void fno_dft_axis_##SUFFIX(                          \
        const R *src, const R *f, R *dst, uint64_t outer, uint32_t n_in,       \
        uint64_t inner, uint32_t n_out) {                                      \
        dft_axis<R>(src, f, dst, outer, n_in, inner, n_out);                   \
    }

FNO_DFT_KERNELS(float, f32)
FNO_DFT_KERNELS(double, f64)
