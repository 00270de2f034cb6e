//! The cuFFT path's helper kernels of `kernels/spectral.cu` (keeping and
//! padding a band of bins, moving an axis last and back), run on the host
//! ([`crate::kernel_host`]) against the formulas their comments state, on
//! uneven sizes so that the grid-stride loops wrap.

use crate::kernel_host::{Guarded, HostKernels};

/// A value no kernel here writes, around every output.
const SENTINEL: f64 = 1234.5;
use crate::spectral::testutil::uniform;

type RowsTake = unsafe extern "C" fn(*const f64, *const f64, *mut f64, u64, u32, u32);
type RowsPad = unsafe extern "C" fn(*const f64, *const f64, *mut f64, u64, u32, u32, u32);
type Gather = unsafe extern "C" fn(*const f64, *const i32, *mut f64, u64, u32, u64, u32);
type Scatter = unsafe extern "C" fn(*const f64, *const i32, f64, *mut f64, u64, u32, u64, u32);

const GRID: [u32; 3] = [3, 1, 1];
const BLOCK: [u32; 3] = [4, 1, 1];

fn kernel<F: Copy>(name: &str) -> (&'static HostKernels, F) {
    let k = HostKernels::get("spectral");
    // SAFETY: each caller names the kernel with its signature above.
    (k, unsafe { k.function(name) })
}

#[test]
fn rows_take_keeps_and_weights_the_first_bins() {
    let (k, take): (_, RowsTake) = kernel("fno_rows_take_f64");
    let (rows, half, keep) = (5usize, 9usize, 4usize);
    let full = uniform(1, 2 * rows * half);
    let w = uniform(2, keep);
    let mut out = Guarded::new(2 * rows * keep, 0.0, SENTINEL);
    let p = [full.as_ptr() as usize, w.as_ptr() as usize, out.address()];
    k.launch(GRID, BLOCK, || {
        // SAFETY: the buffers hold what the sizes say.
        unsafe {
            take(
                p[0] as *const f64,
                p[1] as *const f64,
                p[2] as *mut f64,
                rows as u64,
                half as u32,
                keep as u32,
            )
        }
    });
    let out = out.checked();
    for r in 0..rows {
        for b in 0..keep {
            for c in 0..2 {
                assert_eq!(
                    out[2 * (r * keep + b) + c],
                    full[2 * (r * half + b) + c] * w[b],
                    "({r}, {b})"
                );
            }
        }
    }
}

#[test]
fn rows_pad_builds_the_half_spectrum_with_real_zero_and_nyquist_bins() {
    let (k, pad): (_, RowsPad) = kernel("fno_rows_pad_f64");
    let (rows, n, keep) = (3usize, 8usize, 5usize);
    let half = n / 2 + 1;
    let spec = uniform(3, 2 * rows * keep);
    let w = uniform(4, keep);
    let mut full = Guarded::new(2 * rows * half, f64::NAN, SENTINEL);
    let p = [spec.as_ptr() as usize, w.as_ptr() as usize, full.address()];
    k.launch(GRID, BLOCK, || {
        // SAFETY: as above.
        unsafe {
            pad(
                p[0] as *const f64,
                p[1] as *const f64,
                p[2] as *mut f64,
                rows as u64,
                half as u32,
                keep as u32,
                n as u32,
            )
        }
    });
    let full = full.checked();
    for r in 0..rows {
        for b in 0..half {
            let (re, im) = (full[2 * (r * half + b)], full[2 * (r * half + b) + 1]);
            if b < keep {
                assert_eq!(re, spec[2 * (r * keep + b)] * w[b]);
                let want = if b == 0 || 2 * b == n {
                    0.0
                } else {
                    spec[2 * (r * keep + b) + 1] * w[b]
                };
                assert_eq!(im, want, "({r}, {b})");
            } else {
                assert_eq!((re, im), (0.0, 0.0), "({r}, {b}) is padding");
            }
        }
    }
}

#[test]
fn gather_moves_the_axis_last_with_zeros_and_scatter_brings_it_back() {
    let (k, gather): (_, Gather) = kernel("fno_axis_gather_f64");
    let (_, scatter): (_, Scatter) = kernel("fno_axis_scatter_f64");
    // src [outer, n_src, inner] complex; bins: source j at bin 2 j + 1 of n.
    let (outer, n_src, inner, n) = (2usize, 3usize, 5usize, 8usize);
    let src = uniform(5, 2 * outer * n_src * inner);
    let src_of_bin: Vec<i32> = (0..n as i32)
        .map(|b| {
            if b % 2 == 1 && b / 2 < n_src as i32 {
                b / 2
            } else {
                -1
            }
        })
        .collect();
    let mut buf = Guarded::new(2 * outer * inner * n, f64::NAN, SENTINEL);
    let p = [
        src.as_ptr() as usize,
        src_of_bin.as_ptr() as usize,
        buf.address(),
    ];
    k.launch(GRID, BLOCK, || {
        // SAFETY: as above; the bin map holds sources below n_src.
        unsafe {
            gather(
                p[0] as *const f64,
                p[1] as *const i32,
                p[2] as *mut f64,
                outer as u64,
                n_src as u32,
                inner as u64,
                n as u32,
            )
        }
    });
    let buf = buf.checked();
    for o in 0..outer {
        for i in 0..inner {
            for (b, &s) in src_of_bin.iter().enumerate() {
                let at = 2 * ((o * inner + i) * n + b);
                let want = match s {
                    s if s >= 0 => {
                        let from = 2 * ((o * n_src + s as usize) * inner + i);
                        [src[from], src[from + 1]]
                    }
                    _ => [0.0, 0.0],
                };
                assert_eq!([buf[at], buf[at + 1]], want, "({o}, {i}, {b})");
            }
        }
    }
    // Back: destination j reads bin 2 j + 1, scaled; this undoes the gather.
    let bin_of_dst: Vec<i32> = (0..n_src as i32).map(|j| 2 * j + 1).collect();
    let mut dst = Guarded::new(src.len(), f64::NAN, SENTINEL);
    let p = [
        buf.as_ptr() as usize,
        bin_of_dst.as_ptr() as usize,
        dst.address(),
    ];
    k.launch(GRID, BLOCK, || {
        // SAFETY: as above; the bins are below n.
        unsafe {
            scatter(
                p[0] as *const f64,
                p[1] as *const i32,
                2.0,
                p[2] as *mut f64,
                outer as u64,
                n_src as u32,
                inner as u64,
                n as u32,
            )
        }
    });
    let dst = dst.checked();
    let doubled: Vec<f64> = src.iter().map(|v| 2.0 * v).collect();
    assert_eq!(dst, doubled);
}
