// Kernels of the CUDA spectral ops (src/spectral/cuda/): moving Fourier
// bins between cuFFT's batched layouts and the ops' tensors (mode
// truncation, zero padding, per-bin weights) and the complex mode mixing of
// the spectral convolution with its two adjoints.
//
// Every complex array is interleaved (re, im) pairs of the real type R and
// is indexed as R*, never as float2/double2: a candle tensor may start at an
// odd offset, so a vector load would be misaligned. Every kernel runs a
// grid-stride loop over its output elements, so any launch size covers any
// problem size.

#include <stdint.h>

#define GRID_STRIDE(idx, total)                                                \
    for (uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
         idx < (total); idx += (uint64_t)blockDim.x * gridDim.x)

// Keeps bins 0..keep of each row of a real-to-complex transform (`half` =
// n/2 + 1 bins per row) and multiplies bin k by w[k]: the analysis step of
// the last (real) axis.
template <typename R>
__device__ void rows_take(const R *full, const R *w, R *out, uint64_t rows,
                          uint32_t half, uint32_t keep) {
    GRID_STRIDE(idx, rows * keep) {
        uint64_t r = idx / keep;
        uint32_t k = idx % keep;
        uint64_t src = r * half + k;
        out[2 * idx] = full[2 * src] * w[k];
        out[2 * idx + 1] = full[2 * src + 1] * w[k];
    }
}

// Builds the Hermitian half spectrum (`half` = n/2 + 1 bins per row) a
// complex-to-real transform of length n reads: bin k < keep gets
// w[k] * spec[k], the rest zero. The imaginary parts of the zero bin and of
// the Nyquist bin (2k = n) are zeroed, which is what the real inverse
// assumes; the caller folds the Hermitian coefficient into w.
template <typename R>
__device__ void rows_pad(const R *spec, const R *w, R *full, uint64_t rows,
                         uint32_t half, uint32_t keep, uint32_t n) {
    GRID_STRIDE(idx, rows * half) {
        uint64_t r = idx / half;
        uint32_t k = idx % half;
        R re = 0, im = 0;
        if (k < keep) {
            uint64_t src = r * keep + k;
            re = spec[2 * src] * w[k];
            im = spec[2 * src + 1] * w[k];
            if (k == 0 || 2 * k == n) im = 0;
        }
        full[2 * idx] = re;
        full[2 * idx + 1] = im;
    }
}

// src [outer, n_src, inner] -> buf [outer, inner, n]: FFT bin b of row
// (o, i) takes src[o, src_of_bin[b], i], or zero where src_of_bin[b] < 0
// (zero padding). Puts the transformed axis last so cuFFT runs on
// contiguous rows.
template <typename R>
__device__ void axis_gather(const R *src, const int32_t *src_of_bin, R *buf,
                            uint64_t outer, uint32_t n_src, uint64_t inner,
                            uint32_t n) {
    GRID_STRIDE(idx, outer * inner * n) {
        uint32_t b = idx % n;
        uint64_t row = idx / n;
        uint64_t i = row % inner;
        uint64_t o = row / inner;
        int32_t s = src_of_bin[b];
        R re = 0, im = 0;
        if (s >= 0) {
            uint64_t at = (o * n_src + (uint64_t)s) * inner + i;
            re = src[2 * at];
            im = src[2 * at + 1];
        }
        buf[2 * idx] = re;
        buf[2 * idx + 1] = im;
    }
}

// buf [outer, inner, n] -> dst [outer, n_dst, inner]: dst[o, j, i] =
// scale * buf[o, i, bin_of_dst[j]] (mode truncation when n_dst < n).
template <typename R>
__device__ void axis_scatter(const R *buf, const int32_t *bin_of_dst, R scale,
                             R *dst, uint64_t outer, uint32_t n_dst,
                             uint64_t inner, uint32_t n) {
    GRID_STRIDE(idx, outer * n_dst * inner) {
        uint64_t i = idx % inner;
        uint64_t rest = idx / inner;
        uint32_t j = rest % n_dst;
        uint64_t o = rest / n_dst;
        uint64_t at = (o * inner + i) * n + (uint64_t)bin_of_dst[j];
        dst[2 * idx] = buf[2 * at] * scale;
        dst[2 * idx + 1] = buf[2 * at + 1] * scale;
    }
}

// Y[b, o, k] = sum_i X[b, i, k] W[i, o, k], with X [batch, c_in, modes]
// complex and W read from the full weight tensors (real and imaginary parts
// [c_in, c_out, full]) at the flat spatial index widx[k] of kept mode k.
template <typename R>
__device__ void mix(const R *x, const R *w_re, const R *w_im,
                    const int32_t *widx, R *y, uint32_t batch, uint32_t c_in,
                    uint32_t c_out, uint32_t modes, uint64_t full) {
    GRID_STRIDE(idx, (uint64_t)batch * c_out * modes) {
        uint32_t k = idx % modes;
        uint32_t o = (idx / modes) % c_out;
        uint64_t b = idx / ((uint64_t)modes * c_out);
        uint64_t wk = (uint64_t)widx[k];
        R yr = 0, yi = 0;
        for (uint32_t i = 0; i < c_in; ++i) {
            uint64_t xa = (b * c_in + i) * modes + k;
            R a = x[2 * xa], c = x[2 * xa + 1];
            uint64_t wa = ((uint64_t)i * c_out + o) * full + wk;
            R p = w_re[wa], q = w_im[wa];
            yr += a * p - c * q;
            yi += a * q + c * p;
        }
        y[2 * idx] = yr;
        y[2 * idx + 1] = yi;
    }
}

// Adjoint of `mix` in X: dX[b, i, k] = sum_o G[b, o, k] conj(W[i, o, k]).
template <typename R>
__device__ void mix_adjoint_x(const R *g, const R *w_re, const R *w_im,
                              const int32_t *widx, R *gx, uint32_t batch,
                              uint32_t c_in, uint32_t c_out, uint32_t modes,
                              uint64_t full) {
    GRID_STRIDE(idx, (uint64_t)batch * c_in * modes) {
        uint32_t k = idx % modes;
        uint32_t i = (idx / modes) % c_in;
        uint64_t b = idx / ((uint64_t)modes * c_in);
        uint64_t wk = (uint64_t)widx[k];
        R xr = 0, xi = 0;
        for (uint32_t o = 0; o < c_out; ++o) {
            uint64_t ga = (b * c_out + o) * modes + k;
            R gr = g[2 * ga], gi = g[2 * ga + 1];
            uint64_t wa = ((uint64_t)i * c_out + o) * full + wk;
            R p = w_re[wa], q = w_im[wa];
            xr += gr * p + gi * q;
            xi += gi * p - gr * q;
        }
        gx[2 * idx] = xr;
        gx[2 * idx + 1] = xi;
    }
}

// Adjoint of `mix` in W: dW[i, o, k] = sum_b G[b, o, k] conj(X[b, i, k]),
// written into the full (zero-initialised) weight gradients at widx[k], so
// clipped modes keep a zero gradient. Kept modes have distinct widx, so no
// two threads write the same element.
template <typename R>
__device__ void mix_adjoint_w(const R *g, const R *x, const int32_t *widx,
                              R *gw_re, R *gw_im, uint32_t batch,
                              uint32_t c_in, uint32_t c_out, uint32_t modes,
                              uint64_t full) {
    GRID_STRIDE(idx, (uint64_t)c_in * c_out * modes) {
        uint32_t k = idx % modes;
        uint64_t io = idx / modes;
        uint32_t o = io % c_out;
        uint32_t i = io / c_out;
        R wr = 0, wi = 0;
        for (uint32_t b = 0; b < batch; ++b) {
            uint64_t ga = ((uint64_t)b * c_out + o) * modes + k;
            uint64_t xa = ((uint64_t)b * c_in + i) * modes + k;
            R gr = g[2 * ga], gi = g[2 * ga + 1];
            R a = x[2 * xa], c = x[2 * xa + 1];
            wr += gr * a + gi * c;
            wi += gi * a - gr * c;
        }
        uint64_t at = io * full + (uint64_t)widx[k];
        gw_re[at] = wr;
        gw_im[at] = wi;
    }
}

#define INSTANTIATE(R, SUFFIX)                                                  \
    extern "C" __global__ void fno_rows_take_##SUFFIX(                          \
        const R *full, const R *w, R *out, uint64_t rows, uint32_t half,        \
        uint32_t keep) {                                                        \
        rows_take<R>(full, w, out, rows, half, keep);                           \
    }                                                                           \
    extern "C" __global__ void fno_rows_pad_##SUFFIX(                           \
        const R *spec, const R *w, R *full, uint64_t rows, uint32_t half,       \
        uint32_t keep, uint32_t n) {                                            \
        rows_pad<R>(spec, w, full, rows, half, keep, n);                        \
    }                                                                           \
    extern "C" __global__ void fno_axis_gather_##SUFFIX(                        \
        const R *src, const int32_t *src_of_bin, R *buf, uint64_t outer,        \
        uint32_t n_src, uint64_t inner, uint32_t n) {                           \
        axis_gather<R>(src, src_of_bin, buf, outer, n_src, inner, n);           \
    }                                                                           \
    extern "C" __global__ void fno_axis_scatter_##SUFFIX(                       \
        const R *buf, const int32_t *bin_of_dst, R scale, R *dst,               \
        uint64_t outer, uint32_t n_dst, uint64_t inner, uint32_t n) {           \
        axis_scatter<R>(buf, bin_of_dst, scale, dst, outer, n_dst, inner, n);   \
    }                                                                           \
    extern "C" __global__ void fno_mix_##SUFFIX(                                \
        const R *x, const R *w_re, const R *w_im, const int32_t *widx, R *y,    \
        uint32_t batch, uint32_t c_in, uint32_t c_out, uint32_t modes,          \
        uint64_t full) {                                                        \
        mix<R>(x, w_re, w_im, widx, y, batch, c_in, c_out, modes, full);        \
    }                                                                           \
    extern "C" __global__ void fno_mix_adjoint_x_##SUFFIX(                      \
        const R *g, const R *w_re, const R *w_im, const int32_t *widx, R *gx,   \
        uint32_t batch, uint32_t c_in, uint32_t c_out, uint32_t modes,          \
        uint64_t full) {                                                        \
        mix_adjoint_x<R>(g, w_re, w_im, widx, gx, batch, c_in, c_out, modes,    \
                         full);                                                 \
    }                                                                           \
    extern "C" __global__ void fno_mix_adjoint_w_##SUFFIX(                      \
        const R *g, const R *x, const int32_t *widx, R *gw_re, R *gw_im,        \
        uint32_t batch, uint32_t c_in, uint32_t c_out, uint32_t modes,          \
        uint64_t full) {                                                        \
        mix_adjoint_w<R>(g, x, widx, gw_re, gw_im, batch, c_in, c_out, modes,   \
                         full);                                                 \
    }

INSTANTIATE(float, f32)
INSTANTIATE(double, f64)
