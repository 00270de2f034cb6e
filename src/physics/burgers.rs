//! Viscous Burgers `u_t + u u_x = ε u_xx`, periodic in x, with ε = ν/π
//! (PDEBench) or ε = ν (plain), as the generator's
//! [`crate::solvers::burgers::Convention`] says.
use candle_core::Tensor;

use super::derivative::derivative;
use super::time::{interior, time_derivative, TimeOrder};
use super::{check_time_dependent, Grid, Pde, PhysicsError};
use crate::solvers::burgers::Convention;

/// `R = u_t + u u_x − ε u_xx` at interior times. The advection term is in
/// the non-conservative form `u u_x`, which equals `(u²/2)_x` for smooth
/// fields and needs one spectral derivative instead of a dealiased product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burgers {
    /// The viscosity parameter ν as the file names it.
    pub nu: f64,
    /// How ν enters the equation.
    pub convention: Convention,
    /// Order of the time difference.
    pub order: TimeOrder,
}

impl Burgers {
    /// The viscosity ε multiplying u_xx.
    pub fn epsilon(&self) -> f64 {
        match self.convention {
            Convention::Pdebench => self.nu / std::f64::consts::PI,
            Convention::Plain => self.nu,
        }
    }
}

impl Pde for Burgers {
    fn name(&self) -> &'static str {
        "burgers"
    }

    fn residual(&self, u: &Tensor, _input: &Tensor, grid: &Grid) -> Result<Tensor, PhysicsError> {
        let dt = check_time_dependent(self.name(), u, grid, 1)?;
        let u_t = time_derivative(u, dt, self.order)?;
        let ui = interior(u, self.order)?;
        let l = grid.lengths[0];
        let u_x = derivative(&ui, 2, l, 1)?;
        let u_xx = derivative(&ui, 2, l, 2)?;
        Ok(((u_t + (ui * u_x)?)? - (u_xx * self.epsilon())?)?)
    }

    fn time_order(&self) -> Option<TimeOrder> {
        Some(self.order)
    }
}
