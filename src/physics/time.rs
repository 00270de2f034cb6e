//! Central finite differences in time, along the trailing (time) axis.
//!
//! The residual is evaluated at interior times only: a central stencil of
//! half-width h drops h frames at each end. The first frames are covered by
//! the initial-condition loss instead, and the last ones still enter the
//! stencils of their neighbours.
use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

/// Order of accuracy of the central time difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "u8", into = "u8")]
pub enum TimeOrder {
    /// `(u₊₁ − u₋₁) / 2dt`: error `dt²/6 · u_ttt`.
    Second,
    /// `(−u₊₂ + 8u₊₁ − 8u₋₁ + u₋₂) / 12dt`: error `dt⁴/30 · u⁽⁵⁾`.
    #[default]
    Fourth,
}

impl TryFrom<u8> for TimeOrder {
    type Error = String;
    fn try_from(v: u8) -> std::result::Result<Self, String> {
        match v {
            2 => Ok(Self::Second),
            4 => Ok(Self::Fourth),
            other => Err(format!(
                "time_order = {other}: the central differences available are of order 2 and 4"
            )),
        }
    }
}

impl From<TimeOrder> for u8 {
    fn from(o: TimeOrder) -> u8 {
        match o {
            TimeOrder::Second => 2,
            TimeOrder::Fourth => 4,
        }
    }
}

impl TimeOrder {
    /// Frames dropped at each end of the time axis.
    pub fn half_width(self) -> usize {
        match self {
            Self::Second => 1,
            Self::Fourth => 2,
        }
    }
}

/// `∂u/∂t` at the interior frames of the trailing axis, step `dt`.
///
/// # Shapes
/// - `u`: `[.., T]` with `T > 2 · half_width`; returns `[.., T − 2 · half_width]`.
pub fn time_derivative(u: &Tensor, dt: f64, order: TimeOrder) -> Result<Tensor> {
    let axis = u.rank() - 1;
    let t = u.dim(axis)?;
    let h = order.half_width();
    if t <= 2 * h {
        candle_core::bail!(
            "a time derivative of order {} needs more than {} frames, got {t}",
            u8::from(order),
            2 * h
        );
    }
    let m = t - 2 * h;
    let shift = |s: usize| u.narrow(axis, s, m);
    match order {
        TimeOrder::Second => (shift(2)? - shift(0)?)? / (2.0 * dt),
        TimeOrder::Fourth => {
            let num = ((shift(3)? - shift(1)?)? * 8.0)? - (shift(4)? - shift(0)?)?;
            num? / (12.0 * dt)
        }
    }
}

/// The frames of the trailing axis at which [`time_derivative`] is given.
pub fn interior(u: &Tensor, order: TimeOrder) -> Result<Tensor> {
    let axis = u.rank() - 1;
    let h = order.half_width();
    let t = u.dim(axis)?;
    u.narrow(axis, h, t.saturating_sub(2 * h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn polynomials_of_the_stencil_degree_are_differentiated_exactly() {
        let dt = 0.1;
        for (order, degree) in [(TimeOrder::Second, 2), (TimeOrder::Fourth, 4)] {
            let u: Vec<f64> = (0..9).map(|j| (j as f64 * dt).powi(degree)).collect();
            let t = Tensor::from_vec(u, (1, 9), &Device::Cpu).unwrap();
            let d: Vec<f64> = time_derivative(&t, dt, order)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let h = order.half_width();
            assert_eq!(d.len(), 9 - 2 * h);
            for (i, v) in d.iter().enumerate() {
                let t = (i + h) as f64 * dt;
                let exact = degree as f64 * t.powi(degree - 1);
                assert!(
                    (v - exact).abs() < 1e-10,
                    "{order:?} at {t}: {v} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn order_parses_from_2_and_4_only() {
        #[derive(Deserialize)]
        struct W {
            o: TimeOrder,
        }
        assert_eq!(toml::from_str::<W>("o = 2").unwrap().o, TimeOrder::Second);
        assert_eq!(toml::from_str::<W>("o = 4").unwrap().o, TimeOrder::Fourth);
        assert!(toml::from_str::<W>("o = 3").is_err());
    }
}
