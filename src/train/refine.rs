//! The resolution-consistency term of the loss (`train.resolution_consistency`).
//!
//! A model trained on one grid and queried on a finer one (zero-shot
//! super-resolution) sees a finer sampling of the same input; with a
//! discontinuous input (Darcy's coefficient) its answer at the coarse
//! points then drifts, because the finer sampling changes the lifted
//! field's spectrum. This term shows it the finer sampling during
//! training: the input refined 2× along every spatial axis by repeating
//! each point (how a piecewise-constant field refines), whose prediction,
//! read back at the original points, must match the same target. It uses
//! only the training samples, at about three times the step's cost.
use candle_core::{Result, Tensor};

/// `x` `[B, C, X...]` refined 2× along every axis after the first two by
/// repeating each point: `out[.., 2i + a, 2j + b] = x[.., i, j]`.
pub(super) fn refine(x: &Tensor) -> Result<Tensor> {
    let mut out = x.clone();
    for axis in 2..x.rank() {
        let mut dims = out.dims().to_vec();
        let n = dims[axis];
        // [.., n, ..] -> [.., n, 2, ..] (broadcast) -> [.., 2n, ..].
        let repeated = out.unsqueeze(axis + 1)?;
        let mut wide = repeated.dims().to_vec();
        wide[axis + 1] = 2;
        dims[axis] = 2 * n;
        out = repeated.broadcast_as(wide)?.contiguous()?.reshape(dims)?;
    }
    Ok(out)
}

/// The points of `x` `[B, C, X...]` with even indices along every axis
/// after the first two: the original grid's points in a refined one.
pub(super) fn even_points(x: &Tensor) -> Result<Tensor> {
    let mut out = x.clone();
    for axis in 2..x.rank() {
        let mut dims = out.dims().to_vec();
        let n = dims[axis] / 2;
        // [.., 2n, ..] -> [.., n, 2, ..] -> index 0 of the pair.
        dims[axis] = n;
        dims.insert(axis + 1, 2);
        out = out
            .narrow(axis, 0, 2 * n)?
            .reshape(dims)?
            .narrow(axis + 1, 0, 1)?
            .squeeze(axis + 1)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    #[test]
    fn refining_repeats_each_point_and_even_points_undo_it() {
        let x = Tensor::arange(0f32, 12., &Device::Cpu)
            .and_then(|t| t.reshape((1, 2, 2, 3)))
            .expect("a small tensor");
        let fine = refine(&x).expect("refine");
        assert_eq!(fine.dims(), &[1, 2, 4, 6]);
        let row: Vec<f32> = fine
            .get(0)
            .and_then(|t| t.get(0))
            .and_then(|t| t.get(1))
            .and_then(|t| t.to_vec1())
            .expect("a row");
        assert_eq!(row, vec![0., 0., 1., 1., 2., 2.]);
        let back = even_points(&fine).expect("even points");
        let diff: f32 = (back - &x)
            .and_then(|d| d.abs())
            .and_then(|d| d.sum_all())
            .and_then(|d| d.to_scalar())
            .expect("a difference");
        assert_eq!(diff, 0.0);
    }

    #[test]
    fn even_points_of_a_line_are_its_even_entries() {
        let x = Tensor::new(&[[[1f32, 2., 3., 4., 5., 6.]]], &Device::Cpu).expect("a line");
        let even: Vec<f32> = even_points(&x)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("entries");
        assert_eq!(even, vec![1., 3., 5.]);
    }

    /// The gradient through refine then even points, against central
    /// differences in f64: d/dx sum((w ⊙ even(refine(x)²))) is 2 w x
    /// only if each coarse point reaches the loss exactly once.
    #[test]
    fn gradients_match_finite_differences() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::new(&[[[[0.3f64, -1.2], [0.7, 2.0]]]], &dev).expect("x"))
            .expect("var");
        let w = Tensor::new(&[[[[1.0f64, 2.0], [-0.5, 3.0]]]], &dev).expect("w");
        let f = |t: &Tensor| -> Tensor {
            refine(&t.sqr().expect("sqr"))
                .and_then(|r| even_points(&r))
                .and_then(|e| e.mul(&w))
                .and_then(|e| e.sum_all())
                .expect("loss")
        };
        let grads = f(x.as_tensor()).backward().expect("backward");
        let g: Vec<f64> = grads
            .get(x.as_tensor())
            .expect("a gradient")
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .expect("values");
        let base: Vec<f64> = x
            .as_tensor()
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .expect("values");
        let h = 1e-6;
        for i in 0..base.len() {
            let at = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                let t = Tensor::from_vec(v, (1, 1, 2, 2), &dev).expect("t");
                f(&t).to_scalar::<f64>().expect("scalar")
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!((numeric - g[i]).abs() < 1e-6, "{i}: {numeric} vs {}", g[i]);
        }
        assert_eq!(x.dtype(), DType::F64);
    }
}
