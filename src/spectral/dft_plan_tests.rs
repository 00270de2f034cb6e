//! The direct transforms, planned here and run by `kernels/dft.cu` on the
//! host, against the CPU's FFT-based [`GridTransform`], in f64 and f32, on
//! 1D, 2D and 3D grids, with modes clipped by the grid and with synthesis
//! onto a finer grid than the analysis.

use std::mem::MaybeUninit;

use candle_core::WithDType;
use rustfft::num_complex::Complex;
use rustfft::FftDirection;

use super::*;
use crate::kernel_host::{Guarded, HostKernels};
use crate::spectral::kernels::{GridTransform, Workspace};
use crate::spectral::plan::Real;
use crate::spectral::testutil::uniform;

/// A launch small enough to be cheap and uneven enough that the
/// grid-stride loops wrap: 3 blocks of 5 threads.
pub(crate) const GRID: [u32; 3] = [3, 1, 1];
pub(crate) const BLOCK: [u32; 3] = [5, 1, 1];

type Axis<T> = unsafe extern "C" fn(*const T, *const T, *mut T, u64, u32, u64, u32);

/// The kernels' element types, with their suffix.
pub(crate) trait Kernel: Real {
    const SUFFIX: &'static str;
}

impl Kernel for f32 {
    const SUFFIX: &'static str = "f32";
}

impl Kernel for f64 {
    const SUFFIX: &'static str = "f64";
}

pub(crate) fn reals<T: Real>(values: &[f64]) -> Vec<T> {
    values.iter().map(|&v| T::of(v)).collect()
}

/// cuBLAS's column-major `C = A B` (no transposes), as the CUDA executor
/// asks for it, in plain loops.
fn gemm<T: Real>(d: ColumnMajorGemm, a: &[T], b: &[T], c: &mut [T]) {
    for j in 0..d.n {
        for i in 0..d.m {
            c[i + j * d.ldc] = (0..d.k).fold(T::zero(), |acc, l| {
                acc + a[i + l * d.lda] * b[l + j * d.ldb]
            });
        }
    }
}

/// Runs one step on the host: a rows step as the GEMM the CUDA executor
/// hands cuBLAS, an axis step through `kernels/dft.cu`.
fn run_step<T: Kernel>(input: &[T], step: &DftStep) -> Vec<T> {
    let a = match step {
        DftStep::Rows(r) => {
            let mut out = vec![T::zero(); step.output_len()];
            gemm(r.gemm(), &reals::<T>(&r.matrix), input, &mut out);
            return out;
        }
        DftStep::Axis(a) => a,
    };
    let factors = reals::<T>(&a.factors);
    let mut out = Guarded::new(step.output_len(), T::zero(), T::of(1234.5));
    let k = HostKernels::get("dft");
    let (src, dst, fp) = (
        input.as_ptr() as usize,
        out.address(),
        factors.as_ptr() as usize,
    );
    // SAFETY: the signature of `fno_dft_axis_*` in dft.cu.
    let kernel: Axis<T> = unsafe { k.function(&format!("fno_dft_axis_{}", T::SUFFIX)) };
    k.launch(GRID, BLOCK, || {
        // SAFETY: the buffers hold what the step's shapes say.
        unsafe {
            kernel(
                src as *const T,
                fp as *const T,
                dst as *mut T,
                a.outer as u64,
                a.n_in as u32,
                a.inner as u64,
                a.n_out as u32,
            )
        }
    });
    out.checked()
}

pub(crate) fn run_steps<T: Kernel>(input: &[T], steps: &[DftStep]) -> Vec<T> {
    steps
        .iter()
        .fold(input.to_vec(), |cur, step| run_step(&cur, step))
}

/// Largest difference over the largest reference value.
pub(crate) fn rel_diff<T: Real>(a: &[T], b: &[T]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (WithDType::to_f64(*x) - WithDType::to_f64(*y)).abs())
        .fold(0.0, f64::max);
    diff / b
        .iter()
        .map(|y| WithDType::to_f64(*y).abs())
        .fold(1e-300, f64::max)
}

fn flat<T: Real>(c: &[Complex<T>]) -> Vec<T> {
    c.iter().flat_map(|z| [z.re, z.im]).collect()
}

/// `fields` random fields analysed, and random modes synthesised onto
/// `out_grid`, by both paths; returns the two relative differences.
fn compare<T: Kernel>(
    requested: &[usize],
    in_grid: &[usize],
    out_grid: &[usize],
    fields: usize,
) -> (f64, f64) {
    let modes = ModeSet::new(requested, in_grid, out_grid);
    let points: usize = in_grid.iter().product();
    let kept = modes.kept_total();
    let keep_last = modes.kept().last().copied().unwrap_or(0);
    let inv = vec![1.0 / points as f64; keep_last];
    let hermitian: Vec<f64> = {
        let n = out_grid.last().copied().unwrap_or(0);
        (0..keep_last)
            .map(|k| crate::spectral::modes::hermitian_coefficient(k, n))
            .collect()
    };

    let x = reals::<T>(&uniform(11, fields * points));
    let cpu = GridTransform::new(in_grid, &modes, reals(&inv), FftDirection::Forward);
    let mut spec = vec![Complex::<T>::default(); fields * kept];
    cpu.analysis(&x, &mut spec, &mut Workspace::default());
    let direct = run_steps(&x, &DirectPlan::new(in_grid, &modes, inv).analysis(fields));
    let analysis = rel_diff(&direct, &flat(&spec));

    let y = reals::<T>(&uniform(12, 2 * fields * kept));
    let y_c: Vec<Complex<T>> = y
        .chunks_exact(2)
        .map(|p| Complex::new(p[0], p[1]))
        .collect();
    let out_points: usize = out_grid.iter().product();
    let cpu = GridTransform::new(out_grid, &modes, reals(&hermitian), FftDirection::Inverse);
    let mut grid = vec![MaybeUninit::<T>::uninit(); fields * out_points];
    cpu.synthesis(&y_c, &mut grid, &mut Workspace::default());
    // SAFETY: `synthesis` writes every value.
    let grid: Vec<T> = grid.iter().map(|v| unsafe { v.assume_init() }).collect();
    let direct = run_steps(
        &y,
        &DirectPlan::new(out_grid, &modes, hermitian).synthesis(fields),
    );
    (analysis, rel_diff(&direct, &grid))
}

/// (requested modes, analysis grid, synthesis grid): even and odd
/// lengths, Nyquist bins kept, modes clipped by a small grid, and a
/// synthesis onto a finer grid (super-resolution).
const CASES: &[(&[usize], &[usize], &[usize])] = &[
    (&[5], &[16], &[16]),
    (&[9], &[16], &[16]),
    (&[4], &[7], &[12]),
    (&[3, 4], &[8, 12], &[8, 12]),
    (&[4, 5], &[8, 8], &[8, 8]),
    (&[3, 3], &[9, 7], &[16, 14]),
    (&[2, 3, 4], &[6, 8, 10], &[6, 8, 10]),
    (&[2, 2, 3], &[5, 4, 6], &[10, 8, 12]),
];

#[test]
fn direct_transforms_match_the_cpu_ffts_in_f64() {
    for &(m, a, s) in CASES {
        let (analysis, synthesis) = compare::<f64>(m, a, s, 3);
        assert!(analysis < 1e-12, "{m:?} {a:?}: analysis {analysis:e}");
        assert!(synthesis < 1e-12, "{m:?} {s:?}: synthesis {synthesis:e}");
    }
}

#[test]
fn direct_transforms_match_the_cpu_ffts_in_f32() {
    for &(m, a, s) in CASES {
        let (analysis, synthesis) = compare::<f32>(m, a, s, 2);
        assert!(analysis < 1e-5, "{m:?} {a:?}: analysis {analysis:e}");
        assert!(synthesis < 1e-5, "{m:?} {s:?}: synthesis {synthesis:e}");
    }
}

#[test]
fn steps_shrink_in_analysis_and_grow_in_synthesis() {
    let modes = ModeSet::new(&[3, 4], &[8, 12], &[8, 12]);
    let plan = DirectPlan::new(&[8, 12], &modes, vec![1.0; 4]);
    let lens: Vec<usize> = plan.analysis(2).iter().map(DftStep::output_len).collect();
    // [2, 8, 12] real -> [2, 8, 4] complex -> [2, 6, 4] complex.
    assert_eq!(lens, vec![2 * 2 * 8 * 4, 2 * 2 * 6 * 4]);
    let lens: Vec<usize> = plan.synthesis(2).iter().map(DftStep::output_len).collect();
    assert_eq!(lens, vec![2 * 2 * 8 * 4, 2 * 8 * 12]);
    assert!(
        DirectPlan::new(&[], &ModeSet::new(&[], &[], &[]), Vec::new())
            .analysis(1)
            .is_empty()
    );
}

#[test]
fn factors_are_exact_roots_of_unity() {
    // e^{-2πi 3·5/8} = e^{-2πi 7/8}: the product is reduced before the angle.
    let [re, im] = twiddle(3, 5, 8, -1.0, 2.0);
    let angle = -std::f64::consts::TAU * 7.0 / 8.0;
    assert!((re - 2.0 * angle.cos()).abs() < 1e-15 && (im - 2.0 * angle.sin()).abs() < 1e-15);
    let f = factor_matrix(&[0, 1], &[0, 1, 2, 3], 4, 1.0);
    let expected = [
        1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0,
    ];
    let worst = f
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-15, "{f:?}");
}
