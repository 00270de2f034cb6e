//! Linear advection `u_t + β u_x = 0`, periodic in x.
use candle_core::Tensor;

use super::derivative::derivative;
use super::time::{interior, time_derivative, TimeOrder};
use super::{check_time_dependent, Grid, Pde, PhysicsError};

/// `R = u_t + β u_x` at interior times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Advection {
    /// Advection speed β.
    pub beta: f64,
    /// Order of the time difference.
    pub order: TimeOrder,
}

impl Pde for Advection {
    fn name(&self) -> &'static str {
        "advection"
    }

    fn residual(&self, u: &Tensor, _input: &Tensor, grid: &Grid) -> Result<Tensor, PhysicsError> {
        let dt = check_time_dependent(self.name(), u, grid, 1)?;
        let u_t = time_derivative(u, dt, self.order)?;
        let u_x = derivative(&interior(u, self.order)?, 2, grid.lengths[0], 1)?;
        Ok((u_t + (u_x * self.beta)?)?)
    }

    fn time_order(&self) -> Option<TimeOrder> {
        Some(self.order)
    }
}
