//! The CUDA op's forward and backward passes with `--cuda-transforms
//! direct`, launch for launch as `spectral/cuda/fused.rs` makes them
//! (`kernels/dft.cu` for the transforms, the mixing kernels of
//! `kernels/spectral.cu` between them), run on the host
//! ([`crate::kernel_host`]) against the CPU op, in f64 and f32.

use super::*;
use crate::kernel_host::{Guarded, HostKernels};
use crate::spectral::dft_plan::tests::{reals, rel_diff, run_steps, Kernel, BLOCK, GRID};
use crate::spectral::dft_plan::DirectPlan;
use crate::spectral::testutil::uniform;

/// `fno_mix*` in spectral.cu: (in, w_re or x, w_im or index, ...).
type Mix<T> =
    unsafe extern "C" fn(*const T, *const T, *const T, *const i32, *mut T, u32, u32, u32, u32, u64);
type MixW<T> =
    unsafe extern "C" fn(*const T, *const T, *const i32, *mut T, *mut T, u32, u32, u32, u32, u64);

/// The sizes every mixing kernel takes.
struct Sizes {
    batch: u32,
    c_in: u32,
    c_out: u32,
    modes: u32,
    full: u64,
}

impl Sizes {
    fn of(geo: &Geometry) -> Self {
        Self {
            batch: geo.batch as u32,
            c_in: geo.c_in as u32,
            c_out: geo.c_out as u32,
            modes: geo.modes.kept_total() as u32,
            full: geo.modes.weight_shape().iter().product::<usize>() as u64,
        }
    }
}

/// `fno_mix_*` or `fno_mix_adjoint_x_*` on the host.
fn mix<T: Kernel>(
    name: &str,
    input: &[T],
    w_re: &[T],
    w_im: &[T],
    widx: &[i32],
    out_len: usize,
    s: &Sizes,
) -> Vec<T> {
    let k = HostKernels::get("spectral");
    // SAFETY: the signature of both kernels in spectral.cu.
    let kernel: Mix<T> = unsafe { k.function(&format!("fno_{name}_{}", T::SUFFIX)) };
    let mut out = Guarded::new(out_len, T::zero(), T::of(1234.5));
    let p = [
        input.as_ptr() as usize,
        w_re.as_ptr() as usize,
        w_im.as_ptr() as usize,
        widx.as_ptr() as usize,
        out.address(),
    ];
    k.launch(GRID, BLOCK, || {
        // SAFETY: the buffers hold what the geometry says.
        unsafe {
            kernel(
                p[0] as *const T,
                p[1] as *const T,
                p[2] as *const T,
                p[3] as *const i32,
                p[4] as *mut T,
                s.batch,
                s.c_in,
                s.c_out,
                s.modes,
                s.full,
            )
        }
    });
    out.checked()
}

/// `fno_mix_adjoint_w_*` on the host: the full weight gradients.
fn mix_adjoint_w<T: Kernel>(g: &[T], spec: &[T], widx: &[i32], s: &Sizes) -> (Vec<T>, Vec<T>) {
    let k = HostKernels::get("spectral");
    // SAFETY: the kernel's signature in spectral.cu.
    let kernel: MixW<T> = unsafe { k.function(&format!("fno_mix_adjoint_w_{}", T::SUFFIX)) };
    let len = (s.c_in * s.c_out) as usize * s.full as usize;
    let (mut re, mut im) = (
        Guarded::new(len, T::zero(), T::of(1234.5)),
        Guarded::new(len, T::zero(), T::of(1234.5)),
    );
    let p = [
        g.as_ptr() as usize,
        spec.as_ptr() as usize,
        widx.as_ptr() as usize,
        re.address(),
        im.address(),
    ];
    k.launch(GRID, BLOCK, || {
        // SAFETY: as above.
        unsafe {
            kernel(
                p[0] as *const T,
                p[1] as *const T,
                p[2] as *const i32,
                p[3] as *mut T,
                p[4] as *mut T,
                s.batch,
                s.c_in,
                s.c_out,
                s.modes,
                s.full,
            )
        }
    });
    (re.checked(), im.checked())
}

/// Relative differences of the output, the input gradient and the two
/// weight gradients between the host-run CUDA path and the CPU op.
fn compare<T: Kernel>(requested: &[usize], in_grid: &[usize], out_grid: &[usize]) -> [f64; 4] {
    let (batch, c_in, c_out) = (2, 3, 2);
    let mut x_shape = vec![batch, c_in];
    x_shape.extend(in_grid);
    let mut w_shape = vec![c_in, c_out];
    w_shape.extend(crate::spectral::modes::weight_spatial_shape(requested));
    let geo =
        Geometry::new("test", &x_shape, &w_shape, &w_shape, requested, out_grid).expect("geometry");
    let len = |shape: &[usize]| shape.iter().product::<usize>();
    let x = reals::<T>(&uniform(1, len(&x_shape)));
    let w_re = reals::<T>(&uniform(2, len(&w_shape)));
    let w_im = reals::<T>(&uniform(3, len(&w_shape)));
    let grad = reals::<T>(&uniform(4, batch * c_out * len(out_grid)));
    let widx: Vec<i32> = geo.modes.weight_index().iter().map(|&i| i as i32).collect();
    let s = Sizes::of(&geo);
    let kept = geo.modes.kept_total();
    let f64s = |v: Vec<T>| -> Vec<f64> {
        v.iter()
            .map(|&x| candle_core::WithDType::to_f64(x))
            .collect()
    };
    let analysis_in = DirectPlan::new(in_grid, &geo.modes, f64s(geo.inv_points::<T>()));
    let on_out = DirectPlan::new(out_grid, &geo.modes, f64s(geo.hermitian::<T>()));

    // Forward, as `forward_keeping_spectrum`.
    let spec = run_steps(&x, &analysis_in.analysis(batch * c_in));
    let y = mix(
        "mix",
        &spec,
        &w_re,
        &w_im,
        &widx,
        2 * batch * c_out * kept,
        &s,
    );
    let out = run_steps(&y, &on_out.synthesis(batch * c_out));
    // Backward, as `backward_t`.
    let g = run_steps(&grad, &on_out.analysis(batch * c_out));
    let gx_modes = mix(
        "mix_adjoint_x",
        &g,
        &w_re,
        &w_im,
        &widx,
        2 * batch * c_in * kept,
        &s,
    );
    let gx = run_steps(&gx_modes, &analysis_in.synthesis(batch * c_in));
    let (gw_re, gw_im) = mix_adjoint_w(&g, &spec, &widx, &s);

    let (cpu_out, _) = forward(&geo, &x, &w_re, &w_im);
    let wanted = Wanted {
        x: true,
        weights: true,
        spectrum: None,
    };
    let (cpu_gx, cpu_gw) = backward(&geo, &x, &w_re, &w_im, &grad, wanted);
    let cpu_gx = cpu_gx.expect("input gradient");
    let (cpu_re, cpu_im) = cpu_gw.expect("weight gradients");
    [
        rel_diff(&out, &cpu_out),
        rel_diff(&gx, &cpu_gx),
        rel_diff(&gw_re, &cpu_re),
        rel_diff(&gw_im, &cpu_im),
    ]
}

/// (modes, input grid, output grid): 1D, 2D, 3D, clipped modes, finer
/// and coarser output grids.
const CASES: &[(&[usize], &[usize], &[usize])] = &[
    (&[5], &[16], &[24]),
    (&[3, 4], &[8, 12], &[8, 12]),
    (&[4, 4], &[7, 9], &[12, 6]),
    (&[2, 3, 2], &[6, 8, 5], &[6, 8, 5]),
];

#[test]
fn cuda_op_with_direct_transforms_matches_the_cpu_op() {
    for &(m, a, b) in CASES {
        let e = compare::<f64>(m, a, b);
        assert!(
            e.iter().all(|&e| e < 1e-12),
            "f64 {m:?} {a:?} -> {b:?}: {e:?}"
        );
        let e = compare::<f32>(m, a, b);
        assert!(
            e.iter().all(|&e| e < 1e-5),
            "f32 {m:?} {a:?} -> {b:?}: {e:?}"
        );
    }
}
