// The AdamW update on CUDA (src/train/adamw_cuda.rs): the two moment
// updates and the parameter update, each one pass over its tensors in
// place, instead of about eighteen of candle's elementwise kernels per
// parameter tensor.

#include <stdint.h>

#define GRID_STRIDE(idx, total)                                                \
    for (uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         idx < (total); idx += (uint64_t)blockDim.x * gridDim.x)

__device__ __forceinline__ float sqrt_of(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_of(double x) { return sqrt(x); }

// d = decay * d + (1 - decay) * (square ? g * g : g)
template <typename R>
__device__ void moment(R *d, const R *g, R decay, uint32_t square,
                       uint64_t n) {
    R keep = (R)1 - decay;
    GRID_STRIDE(i, n) {
        R x = square ? g[i] * g[i] : g[i];
        d[i] = decay * d[i] + keep * x;
    }
}

// p = p * shrink - lr * (m * inv_b1) / (sqrt(v * inv_b2) + eps)
template <typename R>
__device__ void update(R *p, const R *m, const R *v, R shrink, R lr,
                       R inv_b1, R inv_b2, R eps, uint64_t n) {
    GRID_STRIDE(i, n) {
        p[i] = p[i] * shrink - lr * (m[i] * inv_b1) / (sqrt_of(v[i] * inv_b2) + eps);
    }
}

#define FNO_OPTIM_KERNELS(R, SUFFIX)                                           \
    extern "C" __global__ void fno_adamw_moment_##SUFFIX(                      \
        R *d, const R *g, R decay, uint32_t square, uint64_t n) {              \
        moment<R>(d, g, decay, square, n);                                     \
    }                                                                          \
    extern "C" __global__ void fno_adamw_update_##SUFFIX(                      \
        R *p, const R *m, const R *v, R shrink, R lr, R inv_b1, R inv_b2,      \
        R eps, uint64_t n) {                                                   \
        update<R>(p, m, v, shrink, lr, inv_b1, inv_b2, eps, n);                \
    }

FNO_OPTIM_KERNELS(float, f32)
FNO_OPTIM_KERNELS(double, f64)
