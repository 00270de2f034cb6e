//! Darcy flow `−∇·(a∇u) = β` on a rectangle with `u = 0` on the walls.
//!
//! The walls are not periodic, so the residual uses the generator's own
//! discretisation ([`crate::solvers::darcy`], which reproduces PDEBench's
//! files): cell-centred finite volumes, 5-point stencil, harmonic means
//! `2a_p a_q/(a_p + a_q)` on interior faces, and on a wall face the cell's
//! own `a` with `u = 0` in a ghost cell one cell width away. An exact
//! discrete solution therefore has zero residual, and the residual is
//! differentiable in both `u` and the coefficient `a` (for inverse
//! problems). Finite differences rather than Fourier continuation: the
//! coefficient jumps between two values, which no smooth extension
//! represents, and matching the data's stencil is what makes the physics
//! loss consistent with the labels.
use candle_core::{Tensor, D};

use super::{Grid, Pde, PhysicsError};

/// `R = A(a) u − β` with the finite-volume operator `A(a)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Darcy {
    /// The constant forcing β.
    pub beta: f64,
}

/// `2pq / (p + q)`.
fn harmonic(p: &Tensor, q: &Tensor) -> candle_core::Result<Tensor> {
    ((p * q)? * 2.0)? / (p + q)?
}

/// `−∂/∂s (a ∂u/∂s)` along `axis` with cell width `h`.
fn flux_divergence(a: &Tensor, u: &Tensor, axis: usize, h: f64) -> candle_core::Result<Tensor> {
    let n = u.dim(axis)?;
    let inv_h2 = 1.0 / (h * h);
    // G at each face: conductance times the jump of u across it, in the
    // direction of increasing index; the wall faces see u = 0 outside.
    let first = (a.narrow(axis, 0, 1)? * u.narrow(axis, 0, 1)?)?;
    let last = (a.narrow(axis, n - 1, 1)? * u.narrow(axis, n - 1, 1)?)?.neg()?;
    let mut faces = vec![first];
    if n > 1 {
        let c = harmonic(&a.narrow(axis, 0, n - 1)?, &a.narrow(axis, 1, n - 1)?)?;
        let jump = (u.narrow(axis, 1, n - 1)? - u.narrow(axis, 0, n - 1)?)?;
        faces.push((c * jump)?);
    }
    faces.push(last);
    let g = Tensor::cat(&faces, axis)?;
    (g.narrow(axis, 0, n)? - g.narrow(axis, 1, n)?)? * inv_h2
}

impl Pde for Darcy {
    fn name(&self) -> &'static str {
        "darcy"
    }

    /// `u` and `input` (the coefficient a) are `[B, 1, X, Y]`.
    fn residual(&self, u: &Tensor, input: &Tensor, grid: &Grid) -> Result<Tensor, PhysicsError> {
        if u.rank() != 4 || input.dims() != u.dims() || grid.lengths.len() != 2 {
            return Err(PhysicsError::Shape {
                pde: self.name(),
                expected: "u and the coefficient a both [B, 1, X, Y] on a 2D grid".into(),
                got: format!(
                    "u {:?}, a {:?}, grid {:?}",
                    u.dims(),
                    input.dims(),
                    grid.lengths
                ),
            });
        }
        let hx = grid.lengths[0] / u.dim(2)? as f64;
        let hy = grid.lengths[1] / u.dim(D::Minus1)? as f64;
        let r = (flux_divergence(input, u, 2, hx)? + flux_divergence(input, u, 3, hy)?)?;
        Ok((r - self.beta)?)
    }
}
