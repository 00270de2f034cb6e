// Kernels of the pointwise (1x1) layers on CUDA (src/model/pointwise_cuda.rs,
// src/model/block_cuda.rs): the epilogue after the cuBLAS matmul,
// y = act(z + bias[c] + skip), in one pass that also writes GELU's derivative
// for the backward pass; the per-channel sum that gives the bias gradient;
// the product of a gradient with that derivative; and the sum over the batch
// of per-sample weight gradients. They replace several of candle's generic
// elementwise passes over full activations.

#include <stdint.h>

#define GRID_STRIDE(idx, total)                                                \
    for (uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         idx < (total); idx += (uint64_t)blockDim.x * gridDim.x)

__device__ __forceinline__ float erf_of(float x) { return erff(x); }
__device__ __forceinline__ double erf_of(double x) { return erf(x); }
__device__ __forceinline__ float exp_of(float x) { return expf(x); }
__device__ __forceinline__ double exp_of(double x) { return exp(x); }

// z, skip, out, deriv: [rows = batch x channels, inner] contiguous; bias[c]
// at bias[c * bias_stride] (the packed [C, C + 1] weights keep it in a
// column). GELU when gelu != 0; its derivative is written when deriv is not
// null. skip may be null (no skip term). GELU is the exact (erf) form, as
// candle's gelu_erf. Blocks along x walk the rows and along y the points of
// a row, so the channel comes from one 32-bit remainder per row instead of
// a 64-bit division per element.
template <typename R>
__device__ void epilogue(const R *z, const R *bias, const R *skip, R *out,
                         R *deriv, uint32_t rows, uint32_t channels,
                         uint64_t inner, uint32_t bias_stride, uint32_t gelu) {
    const R inv_sqrt2 = (R)0.70710678118654752440;
    const R inv_sqrt2pi = (R)0.39894228040143267794;
    for (uint32_t row = blockIdx.x; row < rows; row += gridDim.x) {
        R b = bias[(uint64_t)(row % channels) * bias_stride];
        uint64_t base = (uint64_t)row * inner;
        for (uint64_t i = (uint64_t)blockIdx.y * blockDim.x + threadIdx.x;
             i < inner; i += (uint64_t)gridDim.y * blockDim.x) {
            uint64_t idx = base + i;
            R pre = z[idx] + b;
            if (skip) pre += skip[idx];
            if (gelu) {
                R cdf = (R)0.5 * ((R)1 + erf_of(pre * inv_sqrt2));
                out[idx] = pre * cdf;
                if (deriv)
                    deriv[idx] =
                        cdf + pre * inv_sqrt2pi * exp_of((R)-0.5 * pre * pre);
            } else {
                out[idx] = pre;
            }
        }
    }
}

// out[c * out_stride] += sum over batch and inner of g[b, c, i]; out zeroed
// by the caller. blockIdx.y is the channel; blocks along x split a row's
// points and along z the batch; each block reduces in shared memory and
// adds its sum atomically.
template <typename R>
__device__ void channel_sum(const R *g, R *out, uint64_t batch,
                            uint32_t channels, uint64_t inner,
                            uint32_t out_stride) {
    __shared__ R partial[256];
    uint32_t c = blockIdx.y;
    R acc = 0;
    for (uint64_t b = blockIdx.z; b < batch; b += gridDim.z) {
        const R *row = g + (b * channels + c) * inner;
        for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
             i < inner; i += (uint64_t)gridDim.x * blockDim.x)
            acc += row[i];
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (uint32_t s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(out + (uint64_t)c * out_stride, partial[0]);
}

// out = a * b elementwise (a gradient times the saved GELU derivative).
template <typename R>
__device__ void multiply(const R *a, const R *b, R *out, uint64_t total) {
    GRID_STRIDE(idx, total) { out[idx] = a[idx] * b[idx]; }
}

// out[r * ld_out + c] = sum over b of x[b, r, c] for x [batch, rows, cols]:
// per-sample weight gradients summed into the packed [rows, ld_out] layout.
template <typename R>
__device__ void batch_sum(const R *x, R *out, uint64_t batch, uint32_t rows,
                          uint32_t cols, uint32_t ld_out) {
    uint64_t per_sample = (uint64_t)rows * cols;
    GRID_STRIDE(e, per_sample) {
        R acc = 0;
        for (uint64_t b = 0; b < batch; ++b) acc += x[b * per_sample + e];
        out[(e / cols) * ld_out + e % cols] = acc;
    }
}

#define FNO_POINTWISE_KERNELS(R, SUFFIX)                                       \
    extern "C" __global__ void fno_epilogue_##SUFFIX(                          \
        const R *z, const R *bias, const R *skip, R *out, R *deriv,            \
        uint32_t rows, uint32_t channels, uint64_t inner,                      \
        uint32_t bias_stride, uint32_t gelu) {                                 \
        epilogue<R>(z, bias, skip, out, deriv, rows, channels, inner,          \
                    bias_stride, gelu);                                        \
    }                                                                          \
    extern "C" __global__ void fno_channel_sum_##SUFFIX(                       \
        const R *g, R *out, uint64_t batch, uint32_t channels,                 \
        uint64_t inner, uint32_t out_stride) {                                 \
        channel_sum<R>(g, out, batch, channels, inner, out_stride);            \
    }                                                                          \
    extern "C" __global__ void fno_multiply_##SUFFIX(                          \
        const R *a, const R *b, R *out, uint64_t total) {                      \
        multiply<R>(a, b, out, total);                                         \
    }                                                                          \
    extern "C" __global__ void fno_batch_sum_##SUFFIX(                         \
        const R *x, R *out, uint64_t batch, uint32_t rows, uint32_t cols,      \
        uint32_t ld_out) {                                                     \
        batch_sum<R>(x, out, batch, rows, cols, ld_out);                       \
    }

FNO_POINTWISE_KERNELS(float, f32)
FNO_POINTWISE_KERNELS(double, f64)
