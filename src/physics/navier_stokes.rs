//! 2D incompressible Navier–Stokes in vorticity form on a periodic box,
//! `ω_t + v·∇ω = νΔω + f`, with the velocity from the stream function:
//! `−Δψ = ω` solved spectrally (`ψ̂ = ω̂/|k|²`), `v = (∂ψ/∂y, −∂ψ/∂x)`.
use candle_core::Tensor;

use super::derivative::{derivative, inverse_laplacian_2d};
use super::time::{interior, time_derivative, TimeOrder};
use super::{check_time_dependent, Grid, Pde, PhysicsError};
use crate::solvers::navier_stokes::Problem;

/// `R = ω_t + v·∇ω − νΔω − f` at interior times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NavierStokes {
    /// Kinematic viscosity ν.
    pub nu: f64,
    /// The generator's forcing (`None`: unforced, e.g. Taylor–Green).
    pub forcing: Option<Problem>,
    /// Order of the time difference.
    pub order: TimeOrder,
}

impl NavierStokes {
    /// The forcing on the cell-centred `nx × ny` grid of the box, `[nx, ny, 1]`
    /// to broadcast against `[B, 1, X, Y, T]`.
    fn forcing_field(
        &self,
        nx: usize,
        ny: usize,
        lengths: [f64; 2],
        like: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let Some(problem) = self.forcing else {
            return Ok(None);
        };
        let mut f = Vec::with_capacity(nx * ny);
        for i in 0..nx {
            for j in 0..ny {
                let x = (i as f64 + 0.5) * lengths[0] / nx as f64;
                let y = (j as f64 + 0.5) * lengths[1] / ny as f64;
                f.push(problem.forcing(x, y));
            }
        }
        Tensor::from_vec(f, (nx, ny, 1), like.device())?
            .to_dtype(like.dtype())
            .map(Some)
    }
}

impl Pde for NavierStokes {
    fn name(&self) -> &'static str {
        "navier_stokes_vorticity"
    }

    /// `u` is the vorticity `[B, 1, X, Y, T]`.
    fn residual(&self, u: &Tensor, _input: &Tensor, grid: &Grid) -> Result<Tensor, PhysicsError> {
        let dt = check_time_dependent(self.name(), u, grid, 2)?;
        let lengths = [grid.lengths[0], grid.lengths[1]];
        let w_t = time_derivative(u, dt, self.order)?;
        let w = interior(u, self.order)?;
        let psi = inverse_laplacian_2d(&w, (2, 3), lengths)?;
        let vx = derivative(&psi, 3, lengths[1], 1)?;
        let vy = derivative(&psi, 2, lengths[0], 1)?.neg()?;
        let w_x = derivative(&w, 2, lengths[0], 1)?;
        let w_y = derivative(&w, 3, lengths[1], 1)?;
        let lap = (derivative(&w, 2, lengths[0], 2)? + derivative(&w, 3, lengths[1], 2)?)?;
        let advection = ((vx * w_x)? + (vy * w_y)?)?;
        let r = ((w_t + advection)? - (lap * self.nu)?)?;
        Ok(
            match self.forcing_field(u.dim(2)?, u.dim(3)?, lengths, u)? {
                Some(f) => r.broadcast_sub(&f)?,
                None => r,
            },
        )
    }

    fn time_order(&self) -> Option<TimeOrder> {
        Some(self.order)
    }
}
