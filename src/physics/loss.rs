//! Scalar losses built on the residuals: the PDE loss and the
//! initial-condition loss used by training and test-time fine-tuning.
use candle_core::{Tensor, D};

use super::{Grid, Pde, PhysicsError};

/// Mean square residual `mean(R²)` in physical units.
pub fn pde_loss(
    pde: &dyn Pde,
    u: &Tensor,
    input: &Tensor,
    grid: &Grid,
) -> Result<Tensor, PhysicsError> {
    Ok(pde.residual(u, input, grid)?.sqr()?.mean_all()?)
}

/// Mean square misfit of the first frame of a space-time field
/// `[B, C, X.., T]` to the initial condition `[B, C, X..]`.
pub fn ic_loss(u: &Tensor, initial: &Tensor) -> Result<Tensor, PhysicsError> {
    let first = u.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?;
    if first.dims() != initial.dims() {
        return Err(PhysicsError::Shape {
            pde: "initial condition",
            expected: format!("an initial condition shaped {:?}", first.dims()),
            got: format!("{:?}", initial.dims()),
        });
    }
    Ok((first - initial)?.sqr()?.mean_all()?)
}
