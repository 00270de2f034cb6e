//! The fused op against finite differences and the dense DFT oracle, and
//! its argument checks.

use super::*;
use crate::spectral::dense::{spectral_conv_dense, DenseCache};
use crate::spectral::modes::weight_spatial_shape;
use crate::spectral::testutil::{grad_check, random, rel_err};

/// (input grid, output grid, modes) cases: odd and even sizes, modes at
/// the limit (2m = N on complex axes, m = N/2 + 1 on the last axis),
/// clipped modes, and output grids larger and smaller than the input.
fn cases() -> Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    vec![
        (vec![15], vec![15], vec![5]),
        (vec![16], vec![33], vec![9]),
        (vec![33], vec![16], vec![17]),
        (vec![16, 15], vec![16, 15], vec![8, 8]),
        (vec![15, 16], vec![20, 33], vec![4, 5]),
        (vec![9, 12], vec![6, 7], vec![5, 7]),
        (vec![6, 5, 7], vec![6, 5, 7], vec![3, 2, 4]),
        (vec![6, 5, 7], vec![8, 4, 9], vec![2, 2, 3]),
    ]
}

fn tensors(seed: u64, grid: &[usize], modes: &[usize], dtype: DType) -> (Tensor, Tensor, Tensor) {
    let (b, ci, co) = (2, 2, 3);
    let mut xs = vec![b, ci];
    xs.extend(grid);
    let mut ws = vec![ci, co];
    ws.extend(weight_spatial_shape(modes));
    (
        random(seed, &xs, dtype),
        random(seed + 1, &ws, dtype),
        random(seed + 2, &ws, dtype),
    )
}

fn check_gradients(dims: usize) {
    for (seed, (grid, out, modes)) in cases()
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.0.len() == dims)
    {
        let (x, wr, wi) = tensors(seed as u64, &grid, &modes, DType::F64);
        let errors = grad_check(&[x, wr, wi], |a| {
            spectral_conv_fft(&a[0], &a[1], &a[2], &modes, &out)
        });
        for (name, e) in ["x", "w_re", "w_im"].iter().zip(&errors) {
            assert!(
                *e < 1e-6,
                "{grid:?} -> {out:?}, modes {modes:?}: d/d{name} error {e}"
            );
        }
    }
}

#[test]
fn gradients_match_finite_differences_1d() {
    check_gradients(1);
}

#[test]
fn gradients_match_finite_differences_2d() {
    check_gradients(2);
}

#[test]
fn gradients_match_finite_differences_3d() {
    check_gradients(3);
}

#[test]
fn matches_dense_dft_in_f32() -> candle_core::Result<()> {
    let cache = DenseCache::default();
    for (seed, (grid, out, modes)) in cases().into_iter().enumerate() {
        let (x, wr, wi) = tensors(seed as u64 + 10, &grid, &modes, DType::F32);
        let fast = spectral_conv_fft(&x, &wr, &wi, &modes, &out)?;
        let geo = Geometry::new(OP, x.dims(), wr.dims(), wi.dims(), &modes, &out)?;
        let slow = spectral_conv_dense(&cache, &geo, &x, &wr, &wi)?;
        let e = rel_err(&fast, &slow);
        assert!(e < 1e-5, "{grid:?} -> {out:?}, modes {modes:?}: error {e}");
    }
    Ok(())
}

#[test]
fn dense_gradients_match_fused_gradients() -> candle_core::Result<()> {
    let cache = DenseCache::default();
    for (seed, (grid, out, modes)) in cases().into_iter().enumerate() {
        let (x, wr, wi) = tensors(seed as u64 + 20, &grid, &modes, DType::F64);
        let vars = [&x, &wr, &wi].map(|t| candle_core::Var::from_tensor(t).expect("var"));
        let [vx, vr, vi] = &vars;
        let r = random(
            99,
            spectral_conv_fft(&x, &wr, &wi, &modes, &out)?.dims(),
            DType::F64,
        );
        let fast = (spectral_conv_fft(vx, vr, vi, &modes, &out)? * &r)?
            .sum_all()?
            .backward()?;
        let geo = Geometry::new(OP, x.dims(), wr.dims(), wi.dims(), &modes, &out)?;
        let slow = (spectral_conv_dense(&cache, &geo, vx, vr, vi)? * &r)?
            .sum_all()?
            .backward()?;
        for v in &vars {
            let (a, b) = (
                fast.get(v).expect("fused grad"),
                slow.get(v).expect("dense grad"),
            );
            assert!(rel_err(a, b) < 1e-10, "{grid:?} -> {out:?}");
        }
    }
    Ok(())
}

/// Last axes long enough for the pruned row transforms (multiples of
/// 256, at most 16 kept bins), in both directions, in 1D and on the
/// last axis of a 2D grid: forward values and all three gradients in
/// f32 against the dense DFT.
#[test]
fn pruned_last_axis_matches_dense_dft_in_f32() -> candle_core::Result<()> {
    let cache = DenseCache::default();
    let shapes = [
        (vec![256], vec![512], vec![8]),
        (vec![512], vec![256], vec![16]),
        (vec![3, 256], vec![3, 256], vec![2, 11]),
    ];
    for (seed, (grid, out, modes)) in shapes.into_iter().enumerate() {
        let (x, wr, wi) = tensors(seed as u64 + 30, &grid, &modes, DType::F32);
        let vars = [&x, &wr, &wi].map(|t| candle_core::Var::from_tensor(t).expect("var"));
        let [vx, vr, vi] = &vars;
        let geo = Geometry::new(OP, x.dims(), wr.dims(), wi.dims(), &modes, &out)?;
        let fast_y = spectral_conv_fft(vx, vr, vi, &modes, &out)?;
        let slow_y = spectral_conv_dense(&cache, &geo, vx, vr, vi)?;
        let e = rel_err(&fast_y, &slow_y);
        assert!(e < 1e-5, "{grid:?} -> {out:?}, modes {modes:?}: error {e}");
        let r = random(98, fast_y.dims(), DType::F32);
        let fast = (fast_y * &r)?.sum_all()?.backward()?;
        let slow = (slow_y * &r)?.sum_all()?.backward()?;
        for v in &vars {
            let (a, b) = (
                fast.get(v).expect("fused grad"),
                slow.get(v).expect("dense grad"),
            );
            let e = rel_err(a, b);
            assert!(e < 1e-5, "{grid:?} -> {out:?}: gradient error {e}");
        }
    }
    Ok(())
}

#[test]
fn backward_recomputes_a_missing_spectrum_and_skips_untracked_inputs() -> candle_core::Result<()> {
    let (modes, out) = (vec![3, 4], vec![10, 9]);
    let (x, wr, wi) = tensors(5, &[8, 7], &modes, DType::F64);
    let vars = [&x, &wr, &wi].map(|t| candle_core::Var::from_tensor(t).expect("var"));
    let [vx, vr, vi] = &vars;
    let y = spectral_conv_fft(vx, vr, vi, &modes, &out)?;
    let g = random(3, y.dims(), DType::F64);
    let fresh = || SpectralConvOp {
        modes: modes.clone(),
        out_grid: out.clone(),
        spectrum: Mutex::new(None),
    };
    // An op whose forward never ran has no spectrum: same gradients.
    let (a, b, c) = fresh().bwd(vx, vr, vi, &y, &g)?;
    let grads = (&y * &g)?.sum_all()?.backward()?;
    for (got, var) in [a, b, c].iter().zip(&vars) {
        let got = got.as_ref().expect("all three are tracked");
        assert!(rel_err(got, grads.get(var).expect("grad")) < 1e-12);
    }
    // Plain tensors get no gradient.
    let (a, b, c) = fresh().bwd(&x, vr, vi, &y, &g)?;
    assert!(a.is_none() && b.is_some() && c.is_some());
    let (a, b, c) = fresh().bwd(vx, &wr, &wi, &y, &g)?;
    assert!(a.is_some() && b.is_none() && c.is_none());
    Ok(())
}

#[test]
fn bad_shapes_and_dtypes_are_typed_errors() {
    let (x, wr, wi) = tensors(1, &[8, 8], &[2, 2], DType::F32);
    let err =
        spectral_conv_fft(&x, &wr, &wi, &[2, 2], &[8]).expect_err("1 output axis for 2 modes");
    assert!(err.to_string().contains(OP), "{err}");
    assert!(
        spectral_conv_fft(&x, &wr, &wi, &[3, 2], &[8, 8]).is_err(),
        "weights do not fit modes"
    );
    let wi64 = wi.to_dtype(DType::F64).expect("f64");
    assert!(
        spectral_conv_fft(&x, &wr, &wi64, &[2, 2], &[8, 8]).is_err(),
        "dtype mismatch"
    );
    assert!(
        spectral_conv_fft(&x, &wr, &wi, &[2, 2], &[8, 0]).is_err(),
        "empty grid"
    );
    let empty = random(1, &[0, 2, 8, 8], DType::F32);
    let y = spectral_conv_fft(&empty, &wr, &wi, &[2, 2], &[8, 8]).expect("empty batch");
    assert_eq!(y.dims(), &[0, 3, 8, 8]);
    let (x4, w4, _) = tensors(1, &[4, 4, 4, 4], &[1, 1, 1, 1], DType::F32);
    assert!(
        spectral_conv_fft(&x4, &w4, &w4, &[1, 1, 1, 1], &[4, 4, 4, 4]).is_err(),
        "4D"
    );
}
