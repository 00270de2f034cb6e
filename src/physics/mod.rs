//! Physics residuals: one [`Pde`] per equation, differentiable through
//! candle with respect to the predicted field and to the input.
//!
//! - [`Advection`], [`Burgers`] (PDEBench's ν/π or the plain-ν convention),
//!   [`DiffusionReaction`]: 1D, periodic in x;
//! - [`NavierStokes`]: 2D vorticity form with the generator's forcing, the
//!   velocity from the stream function solved spectrally;
//! - [`Darcy`]: the generator's finite-volume stencil with Dirichlet walls.
//!
//! Periodic spatial derivatives are spectral, `F⁻¹[(ik)^p F u]`
//! ([`derivative`]); time derivatives are central differences of order 2
//! or 4 ([`time`]). [`spec::PdeSpec`] names an equation in a config and
//! fills its parameters from a file's catalogue entry; [`loss`] turns a
//! residual into the scalar losses of training and fine-tuning.
//!
//! # Layouts (physical units, channels first)
//!
//! | equation | `u` | `input` |
//! |---|---|---|
//! | time-dependent 1D | `[B, 1, X, T]` (time last, as the space-time task) | initial condition `[B, 1, X]` (unused by the residual) |
//! | Navier–Stokes | `[B, 1, X, Y, T]` vorticity | unused |
//! | Darcy | `[B, 1, X, Y]` | the coefficient `a`, `[B, 1, X, Y]` |
//!
//! Time-dependent residuals are `[B, 1, X.., T − 2h]`: the interior frames
//! of a central stencil of half-width h ([`TimeOrder::half_width`]).
//!
//! # Which time difference, and why
//!
//! At PDEBench's stored dt the time difference, not the spatial derivative,
//! dominates the residual of an exact solution (the data README's table:
//! 8.2e-2 of ‖u_t‖ for Burgers at second order). fno uses both remedies the
//! space-time model allows: fourth-order differences by default (1.4e-2 on
//! the same data, at the cost of two more shifted slices, nothing else), and
//! `physics.pde_resolution`, which queries the resolution-independent model
//! on a finer t grid where the residual is evaluated; the truncation error
//! then falls by 2⁴ per halving of dt (orders measured in
//! `tests/physics.rs`), where the model's own interpolation error allows.
//! The residual of the data itself is never the target: the loss is the
//! residual of the prediction, so a time-difference floor shows up as a
//! bias that a higher order shrinks.
//!
//! Where that bias sits: on `fno generate burgers` data (ν = 0.01, 64
//! points, dt = 0.02) 95–100% of the truth's mean square residual lies in
//! the first three interior frames, the fast viscous decay of the initial
//! condition's high wavenumbers (rate νk²), which no central difference at
//! the stored dt resolves; a 4× finer t grid lowers it 2- to 140-fold.
//! Test-time fine-tuning therefore refines time by default
//! ([`crate::finetune::DEFAULT_TIME_FACTOR`]).
pub mod advection;
pub mod burgers;
pub mod darcy;
pub mod derivative;
pub mod diffusion_reaction;
#[cfg(test)]
mod gradcheck;
pub mod loss;
pub mod navier_stokes;
pub mod spec;
pub mod time;

pub use advection::Advection;
pub use burgers::Burgers;
pub use darcy::Darcy;
pub use diffusion_reaction::DiffusionReaction;
pub use navier_stokes::NavierStokes;
pub use spec::PdeSpec;
pub use time::TimeOrder;

use candle_core::Tensor;

/// Geometry of the grid a residual is evaluated on.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Length of the domain along each spatial axis (the period, for
    /// periodic axes).
    pub lengths: Vec<f64>,
    /// Time step between frames (time-dependent equations only).
    pub dt: Option<f64>,
}

/// A residual that cannot be evaluated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhysicsError {
    /// The tensors or the grid do not fit the equation.
    #[error("physics residual `{pde}`: expected {expected}, got {got}")]
    Shape {
        /// The equation.
        pde: &'static str,
        /// What it needs.
        expected: String,
        /// What it was given.
        got: String,
    },
    /// The equation or one of its parameters is unknown.
    #[error("setting `{setting}`: {reason}")]
    Setting {
        /// The config key.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A tensor operation failed.
    #[error("physics residual: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// One PDE: the residual of the equation for a predicted field.
pub trait Pde: std::fmt::Debug + Send + Sync {
    /// The equation's name (as `physics.pde.kind` spells it).
    fn name(&self) -> &'static str;

    /// Residual of the equation for the predicted field `u` given the
    /// input (initial condition, coefficient) on `grid`, in physical units;
    /// zero for an exact (discrete) solution. Layouts: see the module docs.
    fn residual(&self, u: &Tensor, input: &Tensor, grid: &Grid) -> Result<Tensor, PhysicsError>;

    /// The time difference used, for time-dependent equations.
    fn time_order(&self) -> Option<TimeOrder> {
        None
    }
}

/// Checks a time-dependent field `[B, C, X.., T]` with `space` spatial
/// axes against `grid`, returning dt.
fn check_time_dependent(
    pde: &'static str,
    u: &Tensor,
    grid: &Grid,
    space: usize,
) -> Result<f64, PhysicsError> {
    let bad = || PhysicsError::Shape {
        pde,
        expected: format!(
            "u as [B, C, {}T] with dt and {space} domain length(s)",
            "X, ".repeat(space)
        ),
        got: format!("u {:?}, grid {grid:?}", u.dims()),
    };
    match grid.dt {
        Some(dt) if u.rank() == space + 3 && grid.lengths.len() == space && dt > 0.0 => Ok(dt),
        _ => Err(bad()),
    }
}
