//! 1D diffusion-reaction u_t = ν u_xx + ρ u(1 − u) on the periodic \[0, 1),
//! as PDEBench's `ReacDiff` set: initial conditions from PDEBench's sampler
//! normalised onto \[0, 1\], diffusion integrated exactly by an integrating
//! factor, the logistic term by RK4 on the 2/3-rule-dealiased spectrum.
//!
//! ```
//! use fno::solvers::diffusion_reaction::{self, DiffusionReactionConfig};
//! let cfg = DiffusionReactionConfig { nx: 64, nt: 2, tmax: 0.1, ..Default::default() };
//! assert_eq!(diffusion_reaction::sample(&cfg, 0)?.len(), 3 * 64);
//! # Ok::<(), fno::solvers::SolverError>(())
//! ```
use super::spectral::{cell_centres, substeps, Evolution};
use super::{ensure, ensure_positive, grf, name_number, sample_rng, SolverError, TimeStep};
use crate::data::writer::Attr;
use rustfft::num_complex::Complex64;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Settings of the diffusion-reaction generator; defaults match PDEBench's
/// `ReacDiff_Nu0.5_Rho1.0.hdf5`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiffusionReactionConfig {
    /// Number of samples (default 1024).
    pub samples: usize,
    /// Grid points on \[0, 1) (default 1024).
    pub nx: usize,
    /// Output intervals; the file holds nt + 1 frames (default 100).
    pub nt: usize,
    /// Final time (default 1.0).
    pub tmax: f64,
    /// Diffusion coefficient ν > 0 (default 0.5).
    pub nu: f64,
    /// Reaction rate ρ ≥ 0 (default 1.0).
    pub rho: f64,
    /// Largest ρ·dt of a step (default 0.05): the reaction is the only
    /// term the step has to resolve.
    pub reaction_step: f64,
    /// File seed; sample i uses `sample_seed(seed, i)` (default 0).
    pub seed: u64,
}

impl Default for DiffusionReactionConfig {
    fn default() -> Self {
        Self {
            samples: 1024,
            nx: 1024,
            nt: 100,
            tmax: 1.0,
            nu: 0.5,
            rho: 1.0,
            reaction_step: 0.05,
            seed: 0,
        }
    }
}

impl DiffusionReactionConfig {
    /// Rejects settings the generator cannot use.
    pub fn validate(&self) -> Result<(), SolverError> {
        super::validate_spectral_1d(self.samples, self.nx)?;
        super::validate_time(self.nt, self.tmax)?;
        ensure_positive(self.nu, "nu")?;
        ensure(
            self.rho.is_finite() && self.rho >= 0.0,
            "rho",
            self.rho,
            "must be a finite number >= 0",
        )?;
        ensure_positive(self.reaction_step, "reaction_step")
    }

    /// The PDEBench file name, e.g. `ReacDiff_Nu0.5_Rho1.0.hdf5`.
    pub fn file_name(&self) -> String {
        format!(
            "ReacDiff_Nu{}_Rho{}.hdf5",
            name_number(self.nu),
            name_number(self.rho)
        )
    }
}

/// Solves from the grid values `u0` and returns the frames at
/// t_j = j·tmax/nt, row-major \[nt + 1, nx\]. [`TimeStep::Cfl`] here bounds
/// ρ·dt.
pub fn solve(
    u0: &[f64],
    nu: f64,
    rho: f64,
    tmax: f64,
    nt: usize,
    step: TimeStep,
) -> Result<Vec<f64>, SolverError> {
    let symbol = vec![Complex64::new(1.0, 0.0); u0.len() / 2 + 1];
    let interval = tmax / nt as f64;
    let steps = |_: f64| match step {
        TimeStep::Cfl(limit) if rho > 0.0 => substeps(interval, limit / rho),
        TimeStep::Cfl(_) => 1,
        TimeStep::PerInterval(steps) => steps,
    };
    Evolution::new(u0, nu)?.run(tmax, nt, |u| rho * u * (1.0 - u), &symbol, steps)
}

/// Sample `index` of the file described by `cfg`: \[nt + 1, nx\] in float32.
pub fn sample(cfg: &DiffusionReactionConfig, index: usize) -> Result<Vec<f32>, SolverError> {
    cfg.validate()?;
    let mut rng = sample_rng(cfg.seed, index);
    let u0 = grf::pdebench_initial_condition(&cell_centres(cfg.nx, 1.0), &mut rng, true);
    let frames = solve(
        &u0,
        cfg.nu,
        cfg.rho,
        cfg.tmax,
        cfg.nt,
        TimeStep::Cfl(cfg.reaction_step),
    )
    .map_err(|e| e.for_sample(index))?;
    Ok(frames.into_iter().map(|v| v as f32).collect())
}

/// Writes `cfg.file_name()` in `dir`; see [`super::generate`].
pub fn generate(
    cfg: &DiffusionReactionConfig,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<PathBuf, SolverError> {
    cfg.validate()?;
    let series = super::Series1d {
        dir,
        name: cfg.file_name(),
        samples: cfg.samples,
        nx: cfg.nx,
        nt: cfg.nt,
        tmax: cfg.tmax,
        attrs: vec![
            ("Nu", Attr::F64(cfg.nu)),
            ("Rho", Attr::F64(cfg.rho)),
            ("seed", Attr::U64(cfg.seed)),
            ("tmax", Attr::F64(cfg.tmax)),
            ("reaction_step", Attr::F64(cfg.reaction_step)),
            (
                "pde",
                Attr::Text("u_t = Nu u_xx + Rho u (1 - u), periodic on [0,1)".into()),
            ),
            (
                "solver",
                Attr::Text("pseudo-spectral, 2/3 rule, integrating-factor RK4".into()),
            ),
        ],
    };
    super::write_series_1d(series, progress, |i| sample(cfg, i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    #[test]
    fn uniform_state_follows_the_logistic_law() {
        // With no spatial variation the PDE is u' = ρu(1−u), solved by
        // u(t) = u0 e^{ρt} / (1 − u0 + u0 e^{ρt}).
        let (u0, rho, tmax) = (0.1, 2.0, 1.0);
        let frames = solve(&[u0; 16], 0.5, rho, tmax, 4, TimeStep::Cfl(0.05)).unwrap();
        for j in 0..=4 {
            let t = tmax * j as f64 / 4.0;
            let e = (rho * t).exp();
            let exact = u0 * e / (1.0 - u0 + u0 * e);
            assert!(
                (frames[j * 16] - exact).abs() < 1e-7,
                "{} vs {exact}",
                frames[j * 16]
            );
        }
    }

    #[test]
    fn pure_diffusion_decays_each_mode_exactly() {
        let n = 32;
        let x = cell_centres(n, 1.0);
        let u0: Vec<f64> = x.iter().map(|&x| (TAU * 2.0 * x).sin()).collect();
        let (nu, tmax) = (0.01, 0.5);
        let frames = solve(&u0, nu, 0.0, tmax, 1, TimeStep::Cfl(0.1)).unwrap();
        let decay = (-nu * (TAU * 2.0).powi(2) * tmax).exp();
        for (i, &x) in x.iter().enumerate() {
            assert!((frames[n + i] - decay * (TAU * 2.0 * x).sin()).abs() < 1e-13);
        }
    }
}
