//! 1D diffusion-reaction `u_t = ν u_xx + ρ u(1 − u)`, periodic in x
//! (PDEBench's `ReacDiff` family and `fno generate diffusion-reaction`).
use candle_core::Tensor;

use super::derivative::derivative;
use super::time::{interior, time_derivative, TimeOrder};
use super::{check_time_dependent, Grid, Pde, PhysicsError};

/// `R = u_t − ν u_xx − ρ u(1 − u)` at interior times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiffusionReaction {
    /// Diffusion coefficient ν.
    pub nu: f64,
    /// Reaction rate ρ.
    pub rho: f64,
    /// Order of the time difference.
    pub order: TimeOrder,
}

impl Pde for DiffusionReaction {
    fn name(&self) -> &'static str {
        "diffusion_reaction"
    }

    fn residual(&self, u: &Tensor, _input: &Tensor, grid: &Grid) -> Result<Tensor, PhysicsError> {
        let dt = check_time_dependent(self.name(), u, grid, 1)?;
        let u_t = time_derivative(u, dt, self.order)?;
        let ui = interior(u, self.order)?;
        let u_xx = derivative(&ui, 2, grid.lengths[0], 2)?;
        let reaction = (&ui * (ui.affine(-1.0, 1.0)?))?;
        Ok(((u_t - (u_xx * self.nu)?)? - (reaction * self.rho)?)?)
    }

    fn time_order(&self) -> Option<TimeOrder> {
        Some(self.order)
    }
}
