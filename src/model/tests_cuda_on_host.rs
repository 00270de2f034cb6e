//! The kernels of `kernels/pointwise.cu` (the 1×1 layers' epilogue, bias
//! gradient, GELU-derivative product and batch sum) and `kernels/optim.cu`
//! (AdamW), run on the host ([`crate::kernel_host`]) against the CPU's
//! GELU and the formulas they implement. The channel sum reduces in shared
//! memory behind barriers and adds atomically, so its launch uses several
//! blocks of several threads along every grid axis it reads.

use std::mem::MaybeUninit;

use crate::kernel_host::{Guarded, HostKernels};
use crate::model::activation::GeluInPlace;
use crate::spectral::testutil::uniform;

type Epilogue = unsafe extern "C" fn(
    *const f64,
    *const f64,
    *const f64,
    *mut f64,
    *mut f64,
    u32,
    u32,
    u64,
    u32,
    u32,
);
type ChannelSum = unsafe extern "C" fn(*const f64, *mut f64, u64, u32, u64, u32);
type Multiply = unsafe extern "C" fn(*const f64, *const f64, *mut f64, u64);
type BatchSum = unsafe extern "C" fn(*const f64, *mut f64, u64, u32, u32, u32);
type Moment = unsafe extern "C" fn(*mut f64, *const f64, f64, u32, u64);
type Update = unsafe extern "C" fn(*mut f64, *const f64, *const f64, f64, f64, f64, f64, f64, u64);

fn worst(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// The address of a buffer a kernel reads, so that a launch's threads can
/// share it (raw pointers are not `Sync`).
fn at(v: &[f64]) -> usize {
    v.as_ptr() as usize
}

/// A value no kernel here writes, around every output.
const SENTINEL: f64 = 1234.5;

#[test]
fn epilogue_adds_bias_and_skip_and_keeps_gelus_derivative() {
    let k = HostKernels::get("pointwise");
    // SAFETY: the kernel's signature in pointwise.cu.
    let kernel: Epilogue = unsafe { k.function("fno_epilogue_f64") };
    let (batch, channels, inner, bias_stride) = (2usize, 3usize, 10usize, 4usize);
    let rows = batch * channels;
    let z: Vec<f64> = uniform(1, rows * inner).iter().map(|v| 3.0 * v).collect();
    let skip = uniform(2, rows * inner);
    let bias = uniform(3, channels * bias_stride);
    for (gelu, with_skip) in [(1u32, true), (0, false)] {
        let mut out = Guarded::new(rows * inner, f64::NAN, SENTINEL);
        let mut deriv = Guarded::new(rows * inner, f64::NAN, SENTINEL);
        let p = [at(&z), at(&bias), at(&skip), out.address(), deriv.address()];
        k.launch([2, 2, 1], [3, 1, 1], || {
            let skip = if with_skip {
                p[2] as *const f64
            } else {
                std::ptr::null()
            };
            let deriv = if gelu == 1 {
                p[4] as *mut f64
            } else {
                std::ptr::null_mut()
            };
            // SAFETY: every buffer holds `rows * inner` values, the bias
            // `channels * bias_stride`.
            unsafe {
                kernel(
                    p[0] as *const f64,
                    p[1] as *const f64,
                    skip,
                    p[3] as *mut f64,
                    deriv,
                    rows as u32,
                    channels as u32,
                    inner as u64,
                    bias_stride as u32,
                    gelu,
                )
            }
        });
        let (out, deriv) = (out.checked(), deriv.checked());
        let mut pre: Vec<f64> = (0..rows * inner)
            .map(|i| {
                let b = bias[(i / inner) % channels * bias_stride];
                z[i] + b + if with_skip { skip[i] } else { 0.0 }
            })
            .collect();
        if gelu == 1 {
            let mut d = vec![MaybeUninit::uninit(); pre.len()];
            f64::gelu_in_place(&mut pre, &mut d);
            // SAFETY: `gelu_in_place` writes every derivative.
            let d: Vec<f64> = d.iter().map(|v| unsafe { v.assume_init() }).collect();
            assert!(worst(&deriv, &d) < 1e-12, "derivative");
        } else {
            assert!(deriv.iter().all(|v| v.is_nan()), "no derivative asked for");
        }
        assert!(worst(&out, &pre) < 1e-12, "gelu {gelu}: output");
    }
}

#[test]
fn channel_sum_reduces_over_batch_and_points() {
    let k = HostKernels::get("pointwise");
    // SAFETY: the kernel's signature in pointwise.cu.
    let kernel: ChannelSum = unsafe { k.function("fno_channel_sum_f64") };
    let (batch, channels, inner, stride) = (3usize, 4usize, 37usize, 2usize);
    let g = uniform(4, batch * channels * inner);
    let mut out = Guarded::new(channels * stride, 0.0, SENTINEL);
    let p = [at(&g), out.address()];
    // Blocks: 2 along the points, one per channel, 2 along the batch; 8
    // threads each, reducing through shared memory.
    k.launch([2, channels as u32, 2], [8, 1, 1], || {
        // SAFETY: `g` holds `batch * channels * inner` values, `out`
        // `channels * stride`.
        unsafe {
            kernel(
                p[0] as *const f64,
                p[1] as *mut f64,
                batch as u64,
                channels as u32,
                inner as u64,
                stride as u32,
            )
        }
    });
    let out = out.checked();
    let expected: Vec<f64> = (0..channels * stride)
        .map(|i| match i % stride {
            0 => (0..batch)
                .flat_map(|b| {
                    let c = i / stride;
                    g[(b * channels + c) * inner..(b * channels + c + 1) * inner].iter()
                })
                .sum(),
            _ => 0.0,
        })
        .collect();
    assert!(worst(&out, &expected) < 1e-12, "{out:?} vs {expected:?}");
}

#[test]
fn multiply_and_batch_sum() {
    let k = HostKernels::get("pointwise");
    // SAFETY: the kernels' signatures in pointwise.cu.
    let (multiply, batch_sum): (Multiply, BatchSum) = unsafe {
        (
            k.function("fno_multiply_f64"),
            k.function("fno_batch_sum_f64"),
        )
    };
    let (a, b) = (uniform(5, 23), uniform(6, 23));
    let mut out = Guarded::new(23, 0.0, SENTINEL);
    let p = [at(&a), at(&b), out.address()];
    k.launch([2, 1, 1], [4, 1, 1], || {
        // SAFETY: three buffers of 23 values.
        unsafe { multiply(p[0] as *const f64, p[1] as *const f64, p[2] as *mut f64, 23) }
    });
    let out = out.checked();
    let expected: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
    assert!(worst(&out, &expected) < 1e-15);

    let (batch, rows, cols, ld) = (3usize, 4usize, 5usize, 6usize);
    let x = uniform(7, batch * rows * cols);
    let mut out = Guarded::new(rows * ld, -1.0, SENTINEL);
    let p = [at(&x), out.address()];
    k.launch([2, 1, 1], [4, 1, 1], || {
        // SAFETY: `x` holds `batch * rows * cols` values, `out` `rows * ld`.
        unsafe {
            batch_sum(
                p[0] as *const f64,
                p[1] as *mut f64,
                batch as u64,
                rows as u32,
                cols as u32,
                ld as u32,
            )
        }
    });
    let out = out.checked();
    for r in 0..rows {
        for c in 0..ld {
            let want = if c < cols {
                (0..batch).map(|b| x[(b * rows + r) * cols + c]).sum()
            } else {
                -1.0
            };
            assert!((out[r * ld + c] - want).abs() < 1e-14, "({r}, {c})");
        }
    }
}

#[test]
fn adamw_moments_and_update() {
    let k = HostKernels::get("optim");
    // SAFETY: the kernels' signatures in optim.cu.
    let (moment, update): (Moment, Update) = unsafe {
        (
            k.function("fno_adamw_moment_f64"),
            k.function("fno_adamw_update_f64"),
        )
    };
    let n = 19;
    let g = uniform(8, n);
    let (m0, v0, p0) = (
        uniform(9, n),
        uniform(10, n).iter().map(|v| v.abs()).collect::<Vec<_>>(),
        uniform(11, n),
    );
    let (mut m, mut v, mut p) = (
        Guarded::holding(&m0, SENTINEL),
        Guarded::holding(&v0, SENTINEL),
        Guarded::holding(&p0, SENTINEL),
    );
    let ptr = [m.address(), v.address(), p.address(), at(&g)];
    for (dst, decay, square) in [(ptr[0], 0.9, 0u32), (ptr[1], 0.999, 1)] {
        k.launch([2, 1, 1], [3, 1, 1], || {
            // SAFETY: buffers of `n` values.
            unsafe {
                moment(
                    dst as *mut f64,
                    ptr[3] as *const f64,
                    decay,
                    square,
                    n as u64,
                )
            }
        });
    }
    let (shrink, lr, inv_b1, inv_b2, eps) = (0.99, 1e-2, 10.0, 1000.0, 1e-8);
    k.launch([2, 1, 1], [3, 1, 1], || {
        // SAFETY: as above.
        unsafe {
            update(
                ptr[2] as *mut f64,
                ptr[0] as *const f64,
                ptr[1] as *const f64,
                shrink,
                lr,
                inv_b1,
                inv_b2,
                eps,
                n as u64,
            )
        }
    });
    let (m, v, p) = (m.checked(), v.checked(), p.checked());
    for i in 0..n {
        let mi = 0.9 * m0[i] + 0.1 * g[i];
        let vi = 0.999 * v0[i] + 0.001 * g[i] * g[i];
        let pi = p0[i] * shrink - lr * (mi * inv_b1) / ((vi * inv_b2).sqrt() + eps);
        assert!(
            (m[i] - mi).abs() < 1e-15 && (v[i] - vi).abs() < 1e-15,
            "moments {i}"
        );
        assert!((p[i] - pi).abs() < 1e-14, "parameter {i}");
    }
}
