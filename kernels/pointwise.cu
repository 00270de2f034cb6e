// Kernels of the pointwise (1x1) layers on CUDA (src/model/pointwise_cuda.rs):
// the epilogue after the cuBLAS matmul, y = act(z + bias[c] + skip), in one
// pass that also writes GELU's derivative for the backward pass, and the
// per-channel sum that gives the bias gradient. Both replace several of
// candle's generic elementwise passes over full activations.

#include <stdint.h>

#define GRID_STRIDE(idx, total)                                                \
    for (uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         idx < (total); idx += (uint64_t)blockDim.x * gridDim.x)

__device__ __forceinline__ float erf_of(float x) { return erff(x); }
__device__ __forceinline__ double erf_of(double x) { return erf(x); }
__device__ __forceinline__ float exp_of(float x) { return expf(x); }
__device__ __forceinline__ double exp_of(double x) { return exp(x); }

// z, skip, out, deriv: [batch, channels, inner] contiguous; bias [channels].
// skip may be null (no skip term), deriv may be null (no GELU: out is the
// affine value itself). GELU is the exact (erf) form, as candle's gelu_erf.
template <typename R>
__device__ void epilogue(const R *z, const R *bias, const R *skip, R *out,
                         R *deriv, uint64_t total, uint32_t channels,
                         uint64_t inner) {
    const R inv_sqrt2 = (R)0.70710678118654752440;
    const R inv_sqrt2pi = (R)0.39894228040143267794;
    GRID_STRIDE(idx, total) {
        uint32_t c = (uint32_t)((idx / inner) % channels);
        R pre = z[idx] + bias[c];
        if (skip) pre += skip[idx];
        if (deriv) {
            R cdf = (R)0.5 * ((R)1 + erf_of(pre * inv_sqrt2));
            out[idx] = pre * cdf;
            deriv[idx] = cdf + pre * inv_sqrt2pi * exp_of((R)-0.5 * pre * pre);
        } else {
            out[idx] = pre;
        }
    }
}

// out[c] += sum over batch and inner of g[b, c, i]; out zeroed by the caller.
// blockIdx.y is the channel; the blocks along x split the batch x inner
// elements and reduce in shared memory, one atomic add per block.
template <typename R>
__device__ void channel_sum(const R *g, R *out, uint64_t batch,
                            uint32_t channels, uint64_t inner) {
    __shared__ R partial[256];
    uint32_t c = blockIdx.y;
    uint64_t count = batch * inner;
    R acc = 0;
    GRID_STRIDE(e, count) {
        uint64_t b = e / inner;
        uint64_t i = e % inner;
        acc += g[(b * channels + c) * inner + i];
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (uint32_t s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(out + c, partial[0]);
}

#define FNO_POINTWISE_KERNELS(R, SUFFIX)                                       \
    extern "C" __global__ void fno_epilogue_##SUFFIX(                          \
        const R *z, const R *bias, const R *skip, R *out, R *deriv,            \
        uint64_t total, uint32_t channels, uint64_t inner) {                   \
        epilogue<R>(z, bias, skip, out, deriv, total, channels, inner);        \
    }                                                                          \
    extern "C" __global__ void fno_channel_sum_##SUFFIX(                       \
        const R *g, R *out, uint64_t batch, uint32_t channels,                 \
        uint64_t inner) {                                                      \
        channel_sum<R>(g, out, batch, channels, inner);                        \
    }

FNO_POINTWISE_KERNELS(float, f32)
FNO_POINTWISE_KERNELS(double, f64)
