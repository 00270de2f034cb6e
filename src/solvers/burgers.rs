//! 1D viscous Burgers equation on the periodic \[0, 1):
//! u_t + (u²/2)_x = ε u_xx with ε = ν/π (PDEBench's convention, the default)
//! or ε = ν ([`Convention::Plain`], u_t + u u_x = ν u_xx).
//!
//! Pseudo-spectral in x with the 2/3 rule: the state is kept on the modes
//! |k| < nx/3 (the initial condition is projected onto them, and frame 0 of
//! the output is that projection), so the quadratic term aliases only into
//! discarded modes. The viscous term is integrated exactly by an integrating
//! factor and the rest by RK4 (fourth order in dt); the step follows an
//! advective CFL condition, re-chosen for each output interval so that
//! frames fall exactly on t_j = j·tmax/nt.
//!
//! ```
//! use fno::solvers::burgers::{self, BurgersConfig};
//! let cfg = BurgersConfig { nx: 64, nt: 2, tmax: 0.1, ..Default::default() };
//! assert_eq!(burgers::sample(&cfg, 0)?.len(), 3 * 64);
//! # Ok::<(), fno::solvers::SolverError>(())
//! ```
use super::spectral::{cell_centres, half_derivative_wavenumbers, substeps, Evolution};
use super::{ensure, ensure_positive, grf, name_number, sample_rng, SolverError, TimeStep};
use crate::data::writer::Attr;
use rustfft::num_complex::Complex64;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How the viscosity parameter ν enters the equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    /// PDEBench: u_t + (u²/2)_x = (ν/π) u_xx.
    #[default]
    Pdebench,
    /// Textbook: u_t + u u_x = ν u_xx.
    Plain,
}

/// Settings of the Burgers generator; defaults match PDEBench's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BurgersConfig {
    /// Number of samples (default 1024).
    pub samples: usize,
    /// Grid points on \[0, 1) (default 1024).
    pub nx: usize,
    /// Output intervals; the file holds nt + 1 frames (default 200).
    pub nt: usize,
    /// Final time (default 2.0).
    pub tmax: f64,
    /// Viscosity parameter ν > 0 (default 0.01).
    pub nu: f64,
    /// How ν enters the equation (default `pdebench`: ε = ν/π).
    pub convention: Convention,
    /// Advective CFL number max|u|·dt/dx of the time step (default 0.5;
    /// RK4 on the dealiased spectrum is stable up to about 1.3).
    pub cfl: f64,
    /// Odd factor r ≥ 1: solve on r·nx points and store every r-th one
    /// (the fine cell centre that coincides with each coarse one), for
    /// shocks thinner than the output grid (default 1).
    pub refine: usize,
    /// File seed; sample i uses `sample_seed(seed, i)` (default 0).
    pub seed: u64,
}

impl Default for BurgersConfig {
    fn default() -> Self {
        Self {
            samples: 1024,
            nx: 1024,
            nt: 200,
            tmax: 2.0,
            nu: 0.01,
            convention: Convention::Pdebench,
            cfl: 0.5,
            refine: 1,
            seed: 0,
        }
    }
}

impl BurgersConfig {
    /// Rejects settings the generator cannot use.
    pub fn validate(&self) -> Result<(), SolverError> {
        super::validate_spectral_1d(self.samples, self.nx)?;
        super::validate_time(self.nt, self.tmax)?;
        ensure_positive(self.nu, "nu")?;
        ensure(
            self.cfl.is_finite() && self.cfl > 0.0 && self.cfl <= 1.3,
            "cfl",
            self.cfl,
            "must lie in (0, 1.3], the stability range of RK4",
        )?;
        super::validate_refine(self.refine)
    }

    /// The viscosity ε multiplying u_xx.
    pub fn epsilon(&self) -> f64 {
        match self.convention {
            Convention::Pdebench => self.nu / std::f64::consts::PI,
            Convention::Plain => self.nu,
        }
    }

    /// The PDEBench file name, e.g. `1D_Burgers_Sols_Nu0.01.hdf5`; the plain
    /// convention adds `_plain` so the two never overwrite each other.
    pub fn file_name(&self) -> String {
        let suffix = match self.convention {
            Convention::Pdebench => "",
            Convention::Plain => "_plain",
        };
        format!("1D_Burgers_Sols_Nu{}{suffix}.hdf5", name_number(self.nu))
    }
}

/// Solves from the grid values `u0` with viscosity `epsilon` and returns the
/// frames at t_j = j·tmax/nt, row-major \[nt + 1, nx\].
///
/// Fails with [`SolverError::Diverged`] (sample 0) if the solution stops
/// being finite.
pub fn solve(
    u0: &[f64],
    epsilon: f64,
    tmax: f64,
    nt: usize,
    step: TimeStep,
) -> Result<Vec<f64>, SolverError> {
    let symbol: Vec<Complex64> = half_derivative_wavenumbers(u0.len())
        .iter()
        .map(|&k| Complex64::new(0.0, -k))
        .collect();
    let (interval, dx) = (tmax / nt as f64, 1.0 / u0.len() as f64);
    let steps = |umax: f64| match step {
        TimeStep::Cfl(cfl) if umax > 0.0 => substeps(interval, cfl * dx / umax),
        TimeStep::Cfl(_) => 1,
        TimeStep::PerInterval(steps) => steps,
    };
    // (u²/2)_x enters as −ik·(u²/2)^.
    Evolution::new(u0, epsilon)?.run(tmax, nt, |u| 0.5 * u * u, &symbol, steps)
}

/// Sample `index` of the file described by `cfg`: \[nt + 1, nx\] in float32.
pub fn sample(cfg: &BurgersConfig, index: usize) -> Result<Vec<f32>, SolverError> {
    cfg.validate()?;
    let mut rng = sample_rng(cfg.seed, index);
    let fine = cfg.nx * cfg.refine;
    let u0 = grf::pdebench_initial_condition(&cell_centres(fine, 1.0), &mut rng, false);
    let frames = solve(&u0, cfg.epsilon(), cfg.tmax, cfg.nt, TimeStep::Cfl(cfg.cfl))
        .map_err(|e| e.for_sample(index))?;
    // Fine point r·i + (r − 1)/2 is the coarse cell centre i.
    let offset = (cfg.refine - 1) / 2;
    Ok(frames
        .chunks_exact(fine)
        .flat_map(|frame| frame.iter().skip(offset).step_by(cfg.refine))
        .map(|&v| v as f32)
        .collect())
}

/// Writes `cfg.file_name()` in `dir`; see [`super::generate`].
pub fn generate(
    cfg: &BurgersConfig,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<PathBuf, SolverError> {
    cfg.validate()?;
    let convention = match cfg.convention {
        Convention::Pdebench => "pdebench: u_t + (u^2/2)_x = (Nu/pi) u_xx",
        Convention::Plain => "plain: u_t + u u_x = Nu u_xx",
    };
    let series = super::Series1d {
        dir,
        name: cfg.file_name(),
        samples: cfg.samples,
        nx: cfg.nx,
        nt: cfg.nt,
        tmax: cfg.tmax,
        attrs: vec![
            ("Nu", Attr::F64(cfg.nu)),
            ("convention", Attr::Text(convention.into())),
            ("seed", Attr::U64(cfg.seed)),
            ("tmax", Attr::F64(cfg.tmax)),
            ("cfl", Attr::F64(cfg.cfl)),
            ("refine", Attr::U64(cfg.refine as u64)),
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
    use crate::solvers::spectral::Fft1d;
    use std::f64::consts::{PI, TAU};

    fn smooth_ic(n: usize) -> Vec<f64> {
        cell_centres(n, 1.0)
            .iter()
            .map(|&x| (TAU * x).sin() + 0.5 * (2.0 * TAU * x + 0.3).cos())
            .collect()
    }

    /// Fourier coefficients c_k (continuous normalisation) of a cell-centred
    /// grid function for |k| < kmax, undoing the half-cell phase.
    fn coefficients(u: &[f64], kmax: usize) -> Vec<Complex64> {
        let n = u.len();
        let mut z: Vec<Complex64> = u.iter().map(|&u| Complex64::new(u, 0.0)).collect();
        Fft1d::new(n).forward(&mut z);
        (0..kmax)
            .flat_map(|k| [k as i64, -(k as i64)])
            .map(|k| {
                let j = k.rem_euclid(n as i64) as usize;
                z[j] * Complex64::from_polar(1.0 / n as f64, -PI * k as f64 / n as f64)
            })
            .collect()
    }

    fn max_diff(a: &[Complex64], b: &[Complex64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(a, b)| (a - b).norm())
            .fold(0.0, f64::max)
    }

    fn last(frames: &[f64], n: usize) -> &[f64] {
        &frames[frames.len() - n..]
    }

    #[test]
    fn fourth_order_in_time() {
        let (n, eps, tmax) = (64, 0.02, 0.3);
        let u0 = smooth_ic(n);
        let run = |steps| solve(&u0, eps, tmax, 1, TimeStep::PerInterval(steps)).unwrap();
        let reference = run(1280);
        let errors: Vec<f64> = [20, 40, 80]
            .iter()
            .map(|&s| {
                let u = run(s);
                last(&u, n)
                    .iter()
                    .zip(last(&reference, n))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .collect();
        let orders: Vec<f64> = errors.windows(2).map(|e| (e[0] / e[1]).log2()).collect();
        eprintln!("Burgers dt errors {errors:?}, orders {orders:?}");
        assert!(
            orders.iter().all(|&p| p >= 3.5),
            "errors {errors:?}, orders {orders:?}"
        );
    }

    #[test]
    fn spectral_in_space() {
        let (eps, tmax, steps) = (0.05, 0.3, 400);
        let solve_at = |n| {
            let frames = solve(&smooth_ic(n), eps, tmax, 1, TimeStep::PerInterval(steps)).unwrap();
            coefficients(last(&frames, n), 8)
        };
        let reference = solve_at(192);
        let errors: Vec<f64> = [24, 48, 96]
            .iter()
            .map(|&n| max_diff(&solve_at(n), &reference))
            .collect();
        // Exponential convergence: each doubling gains far more than any
        // fixed algebraic order would, down to round-off.
        eprintln!("Burgers dx errors at n = 24, 48, 96: {errors:?}");
        assert!(errors[0] / errors[1] > 1e3, "{errors:?}");
        assert!(errors[2] < 1e-11, "{errors:?}");
    }

    #[test]
    fn reproduces_shared_pdebench_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/pdebench/1D_Burgers_Sols_Nu0.1.hdf5"
        );
        let file = hdf5::File::open(path).expect("shared Burgers file");
        let nu: f64 = file.attr("Nu").and_then(|a| a.read_scalar()).expect("Nu");
        let data = file
            .dataset("tensor")
            .and_then(|d| d.read_raw::<f32>())
            .expect("tensor");
        let (samples, nt, nx) = (16, 201, 256);
        let mut worst: f64 = 0.0;
        for s in 0..samples {
            let u = &data[s * nt * nx..(s + 1) * nt * nx];
            let u0: Vec<f64> = u[..nx].iter().map(|&v| v as f64).collect();
            // Same frames as the file: the step never exceeds the frame
            // interval, which small-amplitude samples (huge CFL steps) need.
            let frames = solve(&u0, nu / PI, 2.0, nt - 1, TimeStep::Cfl(0.5)).unwrap();
            let truth = &u[(nt - 1) * nx..];
            let err: f64 = last(&frames, nx)
                .iter()
                .zip(truth)
                .map(|(a, &b)| (a - b as f64).powi(2))
                .sum();
            let norm: f64 = truth.iter().map(|&b| (b as f64).powi(2)).sum();
            worst = worst.max((err / norm).sqrt());
        }
        eprintln!("Burgers vs shared file: worst relative L2 {worst:e}");
        assert!(worst <= 1e-3, "worst relative L2 {worst}");
    }

    #[test]
    fn refined_solve_matches_on_a_resolved_sample() {
        let cfg = BurgersConfig {
            nx: 128,
            nt: 4,
            tmax: 0.2,
            nu: 0.1,
            ..Default::default()
        };
        let coarse = sample(&cfg, 2).unwrap();
        let fine = sample(&BurgersConfig { refine: 3, ..cfg }, 2).unwrap();
        assert_eq!(coarse.len(), fine.len());
        // Frame 0 differs where the coarse grid cannot hold PDEBench's tanh
        // window; viscosity erases that by the last frame.
        let last = 4 * 128;
        let err = coarse[last..]
            .iter()
            .zip(&fine[last..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!("Burgers refine 3 vs 1, last frame: max difference {err:e}");
        assert!(err < 1e-4, "{err}");
    }

    #[test]
    fn rejects_bad_settings() {
        let cfg = BurgersConfig {
            nu: -1.0,
            ..Default::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(SolverError::Invalid { field: "nu", .. })
        ));
        let cfg = BurgersConfig {
            nx: 0,
            ..Default::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(SolverError::Invalid { field: "nx", .. })
        ));
        let cfg = BurgersConfig {
            refine: 2,
            ..Default::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(SolverError::Invalid {
                field: "refine",
                ..
            })
        ));
    }
}
