//! 1D linear advection u_t + β u_x = 0 on the periodic \[0, 1), solved
//! exactly: the solution is the initial condition shifted by βt, applied to
//! its trigonometric interpolant as the phase factor e^{−ikβt} on each
//! Fourier mode. PDEBench's initial conditions (see
//! `grf::pdebench_initial_condition`) are sampled on the cell centres
//! x_i = (i + ½)/nx.
//!
//! ```
//! use fno::solvers::advection::{self, AdvectionConfig};
//! let cfg = AdvectionConfig { nx: 64, nt: 4, ..Default::default() };
//! let frames = advection::sample(&cfg, 0)?;
//! assert_eq!(frames.len(), 5 * 64);
//! # Ok::<(), fno::solvers::SolverError>(())
//! ```
use super::spectral::{cell_centres, derivative_wavenumbers, Fft1d};
use super::{ensure, grf, name_number, sample_rng, SolverError};
use crate::data::writer::Attr;
use rustfft::num_complex::Complex64;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Settings of the advection generator; defaults match PDEBench's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdvectionConfig {
    /// Number of samples (default 1024).
    pub samples: usize,
    /// Grid points on \[0, 1) (default 1024).
    pub nx: usize,
    /// Output intervals; the file holds nt + 1 frames (default 200).
    pub nt: usize,
    /// Final time (default 2.0).
    pub tmax: f64,
    /// Advection speed β, any finite sign (default 0.4).
    pub beta: f64,
    /// File seed; sample i uses `sample_seed(seed, i)` (default 0).
    pub seed: u64,
}

impl Default for AdvectionConfig {
    fn default() -> Self {
        Self {
            samples: 1024,
            nx: 1024,
            nt: 200,
            tmax: 2.0,
            beta: 0.4,
            seed: 0,
        }
    }
}

impl AdvectionConfig {
    /// Rejects settings the generator cannot use.
    pub fn validate(&self) -> Result<(), SolverError> {
        super::validate_common(self.samples, self.nx)?;
        super::validate_time(self.nt, self.tmax)?;
        ensure(self.beta.is_finite(), "beta", self.beta, "must be finite")
    }

    /// The PDEBench file name, e.g. `1D_Advection_Sols_beta0.4.hdf5`.
    pub fn file_name(&self) -> String {
        format!("1D_Advection_Sols_beta{}.hdf5", name_number(self.beta))
    }
}

/// Shifts the grid function `u0` (period 1) by `shift` exactly for its
/// trigonometric interpolant, writing the result into `out`.
fn shift_exact(
    fft: &mut Fft1d,
    spectrum: &[Complex64],
    k: &[f64],
    shift: f64,
    out: &mut [Complex64],
) {
    let n = spectrum.len();
    for (j, ((o, &s), &k)) in out.iter_mut().zip(spectrum).zip(k).enumerate() {
        *o = if n.is_multiple_of(2) && j == n / 2 {
            // The Nyquist mode of a real field is a cosine on the grid: its
            // shift keeps the real part of the phase factor.
            s * (std::f64::consts::PI * n as f64 * shift).cos()
        } else {
            s * Complex64::from_polar(1.0, -k * shift)
        };
    }
    fft.inverse(out);
}

/// Frames u(x, t_j), t_j = j·tmax/nt, of the exact solution from the grid
/// values `u0`; row-major \[nt + 1, nx\].
pub fn solve(u0: &[f64], beta: f64, tmax: f64, nt: usize) -> Vec<f64> {
    let n = u0.len();
    let mut fft = Fft1d::new(n);
    let k = derivative_wavenumbers(n, 1.0);
    let mut spectrum: Vec<Complex64> = u0.iter().map(|&u| Complex64::new(u, 0.0)).collect();
    fft.forward(&mut spectrum);
    let mut frame = vec![Complex64::default(); n];
    let mut out = Vec::with_capacity((nt + 1) * n);
    for j in 0..=nt {
        let t = tmax * j as f64 / nt as f64;
        shift_exact(&mut fft, &spectrum, &k, beta * t, &mut frame);
        out.extend(frame.iter().map(|z| z.re));
    }
    out
}

/// Sample `index` of the file described by `cfg`: \[nt + 1, nx\] in float32.
pub fn sample(cfg: &AdvectionConfig, index: usize) -> Result<Vec<f32>, SolverError> {
    cfg.validate()?;
    let mut rng = sample_rng(cfg.seed, index);
    let u0 = grf::pdebench_initial_condition(&cell_centres(cfg.nx, 1.0), &mut rng, false);
    Ok(solve(&u0, cfg.beta, cfg.tmax, cfg.nt)
        .into_iter()
        .map(|v| v as f32)
        .collect())
}

/// Writes `cfg.file_name()` in `dir`; see [`super::generate`].
pub fn generate(
    cfg: &AdvectionConfig,
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
            ("beta", Attr::F64(cfg.beta)),
            ("seed", Attr::U64(cfg.seed)),
            ("tmax", Attr::F64(cfg.tmax)),
            (
                "pde",
                Attr::Text("u_t + beta u_x = 0, periodic on [0,1)".into()),
            ),
            ("solver", Attr::Text("exact Fourier shift".into())),
        ],
    };
    super::write_series_1d(series, progress, |i| sample(cfg, i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    #[test]
    fn shift_of_a_sinusoid_is_exact() {
        let n = 64;
        let x = cell_centres(n, 1.0);
        let u0: Vec<f64> = x
            .iter()
            .map(|&x| (TAU * 3.0 * x).sin() + 0.5 * (TAU * 7.0 * x).cos())
            .collect();
        let (beta, tmax, nt) = (0.4, 2.0, 10);
        let frames = solve(&u0, beta, tmax, nt);
        for j in 0..=nt {
            let t = tmax * j as f64 / nt as f64;
            for (i, &x) in x.iter().enumerate() {
                let s = x - beta * t;
                let exact = (TAU * 3.0 * s).sin() + 0.5 * (TAU * 7.0 * s).cos();
                assert!((frames[j * n + i] - exact).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn reproduces_the_shared_file_exactly() {
        // The shared file's truth is u0(x − 0.4t): shifting its t = 0 frame
        // must give every stored frame up to float32 rounding.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/pdebench/1D_Advection_Sols_beta0.4.hdf5"
        );
        let file = hdf5::File::open(path).expect("shared advection file");
        let data = file
            .dataset("tensor")
            .and_then(|d| d.read_raw::<f32>())
            .expect("tensor");
        let (nt, nx) = (201, 256);
        for s in 0..4 {
            let u = &data[s * nt * nx..(s + 1) * nt * nx];
            let u0: Vec<f64> = u[..nx].iter().map(|&v| v as f64).collect();
            let frames = solve(&u0, 0.4, 2.0, nt - 1);
            let err: f64 = frames
                .iter()
                .zip(u)
                .map(|(a, &b)| (a - b as f64).powi(2))
                .sum();
            let norm: f64 = u.iter().map(|&b| (b as f64).powi(2)).sum();
            eprintln!(
                "advection vs shared file, sample {s}: relative L2 {:e}",
                (err / norm).sqrt()
            );
            assert!(
                (err / norm).sqrt() < 1e-6,
                "sample {s}: {}",
                (err / norm).sqrt()
            );
        }
    }
}
