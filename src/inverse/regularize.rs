//! Regularisers of the recovered input, on fields `[B, C, grid..]`.
//!
//! Differences are taken between neighbouring grid points along each
//! spatial axis (per grid step, not per unit length), so a weight means the
//! same thing at every resolution for a piecewise-constant field, and the
//! penalties are averaged over points.
use candle_core::{Result, Tensor};
use serde::Serialize;
use std::str::FromStr;

/// Smoothing of |d| in total variation: √(d² + ε²) keeps the gradient
/// defined where the field is flat, and 0.01 is small against the unit jumps
/// of a bounded field in (0, 1).
const TV_EPSILON: f64 = 1e-2;

/// Which prior the regulariser encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Regularizer {
    /// Total variation: favours piecewise-constant fields (coefficients).
    Tv,
    /// H1 seminorm, mean |∇u|²: favours smooth fields (initial conditions).
    H1,
    /// No regulariser.
    None,
}

impl FromStr for Regularizer {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "tv" => Ok(Self::Tv),
            "h1" => Ok(Self::H1),
            "none" => Ok(Self::None),
            _ => Err(format!("`{s}`: expected tv, h1 or none")),
        }
    }
}

impl std::fmt::Display for Regularizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tv => "tv",
            Self::H1 => "h1",
            Self::None => "none",
        })
    }
}

impl Regularizer {
    /// The weight used when none is given: the best of a sweep on the
    /// cases in docs/history/inverse.md with full observations (Darcy's FNO-paper
    /// coefficient for TV, the advection initial condition for H1).
    /// Sparse or noisy observations want more.
    pub fn default_weight(&self) -> f64 {
        match self {
            Self::Tv => 1e-3,
            Self::H1 => 1e-1,
            Self::None => 0.0,
        }
    }

    /// The penalty of `s` (`[B, C, grid..]`), a scalar tensor; `None` when
    /// there is no regulariser.
    pub fn penalty(&self, s: &Tensor) -> Result<Option<Tensor>> {
        let mut total: Option<Tensor> = None;
        if *self == Self::None {
            return Ok(None);
        }
        for axis in 2..s.rank() {
            let n = s.dim(axis)?;
            if n < 2 {
                continue;
            }
            let d = (s.narrow(axis, 1, n - 1)? - s.narrow(axis, 0, n - 1)?)?;
            let term = match self {
                Self::Tv => (d.sqr()? + TV_EPSILON * TV_EPSILON)?.sqrt()?.mean_all()?,
                _ => d.sqr()?.mean_all()?,
            };
            total = Some(match total {
                Some(t) => (t + term)?,
                None => term,
            });
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn field(values: &[f64], shape: &[usize]) -> Tensor {
        Tensor::new(values, &Device::Cpu)
            .unwrap()
            .reshape(shape)
            .unwrap()
    }

    fn value(r: Regularizer, t: &Tensor) -> f64 {
        r.penalty(t).unwrap().unwrap().to_scalar::<f64>().unwrap()
    }

    #[test]
    fn known_values() {
        // One unit jump in four differences.
        let step = field(&[0.0, 0.0, 1.0, 1.0, 1.0], &[1, 1, 5]);
        let tv = value(Regularizer::Tv, &step);
        let want = (1.0f64 + 1e-4).sqrt() / 4.0 + 3.0 * 1e-2 / 4.0;
        assert!((tv - want).abs() < 1e-12, "{tv}");
        let ramp = field(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[1, 1, 2, 3]);
        // Differences: along axis 2 all 3, along axis 3 all 1.
        assert!((value(Regularizer::H1, &ramp) - 10.0).abs() < 1e-12);
        let flat = field(&[2.0; 6], &[1, 1, 2, 3]);
        assert_eq!(value(Regularizer::H1, &flat), 0.0);
        assert!(Regularizer::None.penalty(&flat).unwrap().is_none());
    }

    #[test]
    fn tv_prefers_a_sharp_jump_h1_a_smooth_ramp() {
        let sharp = field(&[0.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[1, 1, 6]);
        let smooth = field(&[0.0, 0.2, 0.4, 0.6, 0.8, 1.0], &[1, 1, 6]);
        assert!(value(Regularizer::H1, &smooth) < value(Regularizer::H1, &sharp));
        // Both have total variation 1 (mean 0.2 per difference), up to the
        // smoothing ε per flat difference: TV does not penalise the jump
        // for being sharp, as H1 does (by a factor of 5 here).
        let (tv_sharp, tv_smooth) = (
            value(Regularizer::Tv, &sharp),
            value(Regularizer::Tv, &smooth),
        );
        assert!(
            (tv_sharp - tv_smooth).abs() < 0.01,
            "{tv_sharp} {tv_smooth}"
        );
        assert!(value(Regularizer::H1, &sharp) > 4.0 * value(Regularizer::H1, &smooth));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x0: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 * 0.3 - 0.4).collect();
        let shape = [1, 1, 3, 4];
        for r in [Regularizer::Tv, Regularizer::H1] {
            let x = Var::from_tensor(&field(&x0, &shape)).unwrap();
            let loss = r.penalty(x.as_tensor()).unwrap().unwrap();
            let g = loss
                .backward()
                .unwrap()
                .get(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let h = 1e-6;
            for i in 0..x0.len() {
                let (mut up, mut down) = (x0.clone(), x0.clone());
                up[i] += h;
                down[i] -= h;
                let fd =
                    (value(r, &field(&up, &shape)) - value(r, &field(&down, &shape))) / (2.0 * h);
                assert!((fd - g[i]).abs() < 1e-7, "{r}: {fd} vs {}", g[i]);
            }
        }
    }

    #[test]
    fn parses() {
        assert_eq!("tv".parse::<Regularizer>(), Ok(Regularizer::Tv));
        assert_eq!("h1".parse::<Regularizer>(), Ok(Regularizer::H1));
        assert_eq!("none".parse::<Regularizer>(), Ok(Regularizer::None));
        assert!("l2".parse::<Regularizer>().is_err());
    }
}
