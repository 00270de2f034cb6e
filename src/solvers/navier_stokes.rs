//! 2D incompressible Navier–Stokes in vorticity form on a periodic square of
//! side L: ω_t + u·∇ω = ν Δω + f, with the stream function −Δψ = ω and
//! u = (ψ_y, −ψ_x).
//!
//! Two problems ([`Problem`]):
//!
//! - `fno` (FNO paper): L = 1, f = 0.1(sin 2π(x+y) + cos 2π(x+y)), initial
//!   vorticity from N(0, 7^{3/2}(−Δ + 49I)^{−2.5});
//! - `kolmogorov` (PINO): L = 2π, f = −4 cos(4y), same GRF family on the
//!   2π-periodic box; the equation is already non-dimensional with unit
//!   length and velocity scales, so ν = 1/Re (Re = 500 → ν = 0.002).
//!
//! Pseudo-spectral on an n×n cell-centred grid with the 2/3 rule (the state
//! stays on the kept modes; frame 0 is the projected initial vorticity), and
//! the FNO paper's time integrator: Crank–Nicolson for ν Δω and Heun
//! (explicit trapezoid) for the advection, second order in dt. The step
//! follows an advective CFL condition and a bound that keeps viscous damping
//! ahead of Heun's weak instability at the highest kept mode (which is what
//! limits ν = 1e-5), re-chosen for each output interval.
//!
//! ```
//! use fno::solvers::navier_stokes::{self, NavierStokesConfig};
//! let cfg = NavierStokesConfig { nx: 16, nt: 2, tmax: 0.1, ..Default::default() };
//! let (a, u) = navier_stokes::sample(&cfg, 0)?;
//! assert_eq!((a.len(), u.len()), (16 * 16, 16 * 16 * 2));
//! # Ok::<(), fno::solvers::SolverError>(())
//! ```
use super::spectral::{
    cell_centres, derivative_wavenumbers, signed_mode, substeps, DealiasedFft2d,
};
use super::{
    ensure, ensure_positive, grf, name_number, run_samples, sample_rng, SolverError, TimeStep,
};
use crate::data::writer::Attr;
use rustfft::num_complex::Complex64;
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

/// Which forced flow to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// FNO paper: unit square, f = 0.1(sin 2π(x+y) + cos 2π(x+y)).
    #[default]
    Fno,
    /// PINO's Kolmogorov flow: \[0, 2π\]², f = −4 cos(4y), ν = 1/Re.
    Kolmogorov,
}

impl Problem {
    /// Side of the periodic square.
    pub fn length(self) -> f64 {
        match self {
            Self::Fno => 1.0,
            Self::Kolmogorov => TAU,
        }
    }

    /// Vorticity forcing at (x, y).
    pub fn forcing(self, x: f64, y: f64) -> f64 {
        match self {
            Self::Fno => 0.1 * ((TAU * (x + y)).sin() + (TAU * (x + y)).cos()),
            Self::Kolmogorov => -4.0 * (4.0 * y).cos(),
        }
    }
}

/// Settings of the Navier–Stokes generator; defaults match the FNO paper's
/// `ns_V1e-3_N5000_T50` set (64×64, 50 frames over 50 time units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NavierStokesConfig {
    /// Number of samples (default 1024).
    pub samples: usize,
    /// Grid points per side of the square grid (default 64).
    pub nx: usize,
    /// Recorded frames after t = 0, at t_k = k·tmax/nt (default 50).
    pub nt: usize,
    /// Final time (default 50.0).
    pub tmax: f64,
    /// Kinematic viscosity ν > 0 (default 1e-3; Kolmogorov: 1/Re).
    pub nu: f64,
    /// Forcing, domain and initial-condition family (default `fno`).
    pub problem: Problem,
    /// Advective CFL number max|u|·dt/dx of the time step (default 0.25;
    /// Heun is only weakly stable for pure advection, so keep it small).
    pub cfl: f64,
    /// Odd factor r ≥ 1: solve on (r·nx)² points and store every r-th one
    /// along each axis, as the FNO paper solved on a finer grid than it
    /// stored (default 1). The initial field then has r·nx modes per axis.
    pub refine: usize,
    /// File seed; sample i uses `sample_seed(seed, i)` (default 0).
    pub seed: u64,
}

impl Default for NavierStokesConfig {
    fn default() -> Self {
        Self {
            samples: 1024,
            nx: 64,
            nt: 50,
            tmax: 50.0,
            nu: 1e-3,
            problem: Problem::Fno,
            cfl: 0.25,
            refine: 1,
            seed: 0,
        }
    }
}

impl NavierStokesConfig {
    /// Rejects settings the generator cannot use.
    pub fn validate(&self) -> Result<(), SolverError> {
        super::validate_common(self.samples, self.nx)?;
        super::validate_time(self.nt, self.tmax)?;
        ensure_positive(self.nu, "nu")?;
        ensure(
            self.cfl.is_finite() && self.cfl > 0.0 && self.cfl <= 1.0,
            "cfl",
            self.cfl,
            "must lie in (0, 1]",
        )?;
        super::validate_refine(self.refine)
    }

    /// File name: `2D_NS_Nu0.001.hdf5`, or `2D_NS_Kolmogorov_Nu0.002.hdf5`.
    pub fn file_name(&self) -> String {
        let tag = match self.problem {
            Problem::Fno => "",
            Problem::Kolmogorov => "Kolmogorov_",
        };
        format!("2D_NS_{tag}Nu{}.hdf5", name_number(self.nu))
    }

    /// Points per side of the grid that is solved on (nx · refine).
    pub fn solver_grid(&self) -> usize {
        self.nx * self.refine
    }

    /// The flow (solver grid, viscosity, forcing) these settings describe.
    pub fn flow(&self) -> Flow {
        Flow::new(self.solver_grid(), self.problem, self.nu)
    }

    /// Initial vorticity of sample `index` on the solver grid, row-major
    /// \[x, y\].
    pub fn initial_vorticity(&self, index: usize) -> Vec<f64> {
        let mut rng = sample_rng(self.seed, index);
        let cov = grf::Covariance {
            alpha: 2.5,
            tau: 7.0,
            sigma: 7f64.powf(1.5),
        };
        grf::periodic_grf(self.solver_grid(), self.problem.length(), cov, &mut rng)
    }
}

/// A discretised flow problem: grid, viscosity and forcing.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Grid points per side.
    pub n: usize,
    /// Side of the periodic square.
    pub length: f64,
    /// Kinematic viscosity.
    pub nu: f64,
    /// Vorticity forcing at the cell centres, row-major \[x, y\].
    pub forcing: Vec<f64>,
}

impl Flow {
    /// The flow of `problem` on an n×n grid with viscosity `nu`.
    pub fn new(n: usize, problem: Problem, nu: f64) -> Self {
        let length = problem.length();
        let c = cell_centres(n, length);
        let forcing = c
            .iter()
            .flat_map(|&x| c.iter().map(move |&y| problem.forcing(x, y)))
            .collect();
        Self {
            n,
            length,
            nu,
            forcing,
        }
    }
}

/// Spectral workspace of one solve. Spectra hold only the 2/3-rule modes,
/// in the compact layout of [`DealiasedFft2d`].
struct Workspace {
    fft: DealiasedFft2d,
    /// Δ per kept mode: −|k|².
    laplacian: Vec<f64>,
    /// (k_x + i k_y)/|k|² (0 at the mean mode): maps ω̂ to û + i·v̂.
    velocity_symbol: Vec<Complex64>,
    /// i k_x − k_y: maps ω̂ to (ω_x)^ + i·(ω_y)^.
    gradient_symbol: Vec<Complex64>,
    velocity: Vec<Complex64>,
    gradient: Vec<Complex64>,
    /// u·ω_x + v·ω_y on the grid (unnormalised).
    product: Vec<f64>,
}

impl Workspace {
    fn new(n: usize, length: f64) -> Self {
        let fft = DealiasedFft2d::new(n);
        let k = derivative_wavenumbers(n, length);
        let bins = fft.kept_bins();
        let modes = bins.len() * bins.len();
        let (mut laplacian, mut velocity_symbol, mut gradient_symbol) = (
            Vec::with_capacity(modes),
            Vec::with_capacity(modes),
            Vec::with_capacity(modes),
        );
        for &row in bins {
            for &column in bins {
                // Compact spectra are [k_y][k_x].
                let (ky, kx) = (k[row], k[column]);
                let (my, mx) = (signed_mode(row, n) as f64, signed_mode(column, n) as f64);
                let k2 = (TAU / length).powi(2) * (mx * mx + my * my);
                laplacian.push(-k2);
                // ψ̂ = ω̂/|k|², û = i k_y ψ̂, v̂ = −i k_x ψ̂, so
                // û + i·v̂ = (k_x + i k_y) ψ̂; likewise
                // (ω_x)^ + i·(ω_y)^ = i k_x ω̂ − k_y ω̂. The mean mode of ψ̂
                // is zero (periodic flows have no mean vorticity).
                velocity_symbol.push(if k2 > 0.0 {
                    Complex64::new(kx, ky) / k2
                } else {
                    Complex64::default()
                });
                gradient_symbol.push(Complex64::new(-ky, kx));
            }
        }
        let zeros = vec![Complex64::default(); n * n];
        Self {
            fft,
            laplacian,
            velocity_symbol,
            gradient_symbol,
            velocity: zeros.clone(),
            gradient: zeros,
            product: vec![0.0; n * n],
        }
    }

    /// Number of kept modes (the length of every spectrum).
    fn modes(&self) -> usize {
        self.laplacian.len()
    }

    /// Writes the dealiased −(u·∇ω)^ of the vorticity spectrum `w` into
    /// `out`.
    ///
    /// Both velocity components are real, so one inverse FFT of û + i·v̂
    /// yields u in the real and v in the imaginary part; the same packs
    /// ω_x and ω_y.
    #[inline(always)]
    fn advection(&mut self, w: &[Complex64], out: &mut [Complex64]) {
        let Self {
            fft,
            velocity_symbol,
            gradient_symbol,
            velocity,
            gradient,
            product,
            ..
        } = self;
        fft.synthesise(w, Some(velocity_symbol), velocity);
        fft.synthesise(w, Some(gradient_symbol), gradient);
        // Unnormalised inverses: the 1/n² of each factor is applied once, to
        // the product's spectrum.
        let scale = 1.0 / (velocity.len() as f64);
        for (p, (vel, grad)) in product.iter_mut().zip(velocity.iter().zip(gradient.iter())) {
            *p = vel.re * grad.re + vel.im * grad.im;
        }
        fft.analyse(product, -scale * scale, out);
    }

    /// max(|u|, |v|) on the grid of the last [`Self::advection`] call's
    /// input; the step choice needs it once per output interval, so it is
    /// not part of every advection evaluation.
    #[inline(always)]
    fn max_speed(&self) -> f64 {
        let largest = self
            .velocity
            .iter()
            .fold(0.0, |m: f64, z| m.max(z.re.abs()).max(z.im.abs()));
        largest / self.velocity.len() as f64
    }

    /// The vorticity on the grid, row-major \[x, y\], of the spectrum `w`,
    /// appended to `frames`.
    #[inline(always)]
    fn append_grid(&mut self, w: &[Complex64], frames: &mut Vec<f64>) {
        let Self { fft, velocity, .. } = self;
        fft.synthesise(w, None, velocity);
        let scale = 1.0 / velocity.len() as f64;
        frames.extend(velocity.iter().map(|z| scale * z.re));
    }
}

/// Largest step at which Crank–Nicolson's damping of the highest kept mode
/// outweighs Heun's growth on it.
///
/// Heun amplifies a purely advective mode with y = dt·|u|·|k| by
/// √(1 + y⁴/4) ≈ 1 + y⁴/8 per step (it is only weakly stable on the
/// imaginary axis), while the viscous step damps it by about 1 − ν|k|²dt.
/// Requiring y⁴/8 ≤ ν|k|²dt gives dt ≤ (8ν / (|u|⁴|k|²))^{1/3}. At ν = 1e-3
/// on 64² the CFL condition is the tighter one; at ν = 1e-5 this is, and
/// without it the highest modes grow until the vorticity is garbage.
fn heun_limit(umax: f64, kmax: f64, nu: f64) -> f64 {
    (8.0 * nu / (umax.powi(4) * kmax * kmax)).cbrt()
}

/// Solves from the vorticity `w0` (row-major \[x, y\]) and returns the frames
/// at t_j = j·tmax/nt for j = 0..=nt, row-major \[nt + 1, x, y\].
pub fn solve(
    w0: &[f64],
    flow: &Flow,
    tmax: f64,
    nt: usize,
    step: TimeStep,
) -> Result<Vec<f64>, SolverError> {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_avx2_fma() {
        // SAFETY: the CPU supports the features `solve_avx2` is compiled for.
        return unsafe { solve_avx2(w0, flow, tmax, nt, step) };
    }
    solve_body(w0, flow, tmax, nt, step)
}

/// [`solve`] compiled for AVX2 + FMA, with the per-mode complex arithmetic
/// (symbols, Crank–Nicolson, the transforms' gathers and scatters) inlined
/// into it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn solve_avx2(
    w0: &[f64],
    flow: &Flow,
    tmax: f64,
    nt: usize,
    step: TimeStep,
) -> Result<Vec<f64>, SolverError> {
    solve_body(w0, flow, tmax, nt, step)
}

#[inline(always)]
fn solve_body(
    w0: &[f64],
    flow: &Flow,
    tmax: f64,
    nt: usize,
    step: TimeStep,
) -> Result<Vec<f64>, SolverError> {
    let n = flow.n;
    let mut ws = Workspace::new(n, flow.length);
    let modes = ws.modes();
    let mut w = vec![Complex64::default(); modes];
    let mut f = vec![Complex64::default(); modes];
    ws.fft.analyse(w0, 1.0, &mut w);
    ws.fft.analyse(&flow.forcing, 1.0, &mut f);
    // The mean vorticity of a periodic flow is zero; the forcing's mean
    // would otherwise grow it without bound.
    w[0] = Complex64::default();
    let (mut explicit, mut implicit) = (vec![1.0; modes], vec![1.0; modes]);
    let (mut f1, mut f2, mut predictor) = (
        vec![Complex64::default(); modes],
        vec![Complex64::default(); modes],
        vec![Complex64::default(); modes],
    );
    let interval = tmax / nt as f64;
    let dx = flow.length / n as f64;
    // Largest kept |k|: the corner of the 2/3-rule square.
    let kmax = std::f64::consts::SQRT_2 * TAU / flow.length * ((n - 1) / 3) as f64;
    let mut frames = Vec::with_capacity((nt + 1) * n * n);
    ws.advection(&w, &mut f1);
    let mut umax = ws.max_speed();
    for j in 0..=nt {
        let start = frames.len();
        ws.append_grid(&w, &mut frames);
        if !frames[start..].iter().all(|v| v.is_finite()) || !umax.is_finite() {
            return Err(SolverError::Diverged {
                sample: 0,
                time: j as f64 * interval,
            });
        }
        if j == nt {
            break;
        }
        let steps = match step {
            TimeStep::Cfl(cfl) if umax > 0.0 => substeps(
                interval,
                (cfl * dx / umax).min(heun_limit(umax, kmax, flow.nu)),
            ),
            TimeStep::Cfl(_) => 1,
            TimeStep::PerInterval(steps) => steps.max(1),
        };
        let dt = interval / steps as f64;
        // Crank–Nicolson as w ← (a·w + dt·(F + f))·b with
        // a = 1 + ½νdt·Δ and b = 1/(1 − ½νdt·Δ), constant over the interval.
        for ((a, b), &lap) in explicit
            .iter_mut()
            .zip(implicit.iter_mut())
            .zip(&ws.laplacian)
        {
            *a = 1.0 + 0.5 * flow.nu * dt * lap;
            *b = 1.0 / (1.0 - 0.5 * flow.nu * dt * lap);
        }
        for _ in 0..steps {
            // Heun predictor with Crank–Nicolson viscosity, then the
            // corrector with the averaged advection (FNO's ns_2d scheme).
            ws.advection(&w, &mut f1);
            let factors = explicit.iter().zip(&implicit).zip(&f);
            for ((p, (&w, &f1)), ((&a, &b), &f)) in
                predictor.iter_mut().zip(w.iter().zip(&f1)).zip(factors)
            {
                *p = (a * w + dt * (f1 + f)) * b;
            }
            ws.advection(&predictor, &mut f2);
            let factors = explicit.iter().zip(&implicit).zip(&f);
            for ((w, (&f1, &f2)), ((&a, &b), &f)) in
                w.iter_mut().zip(f1.iter().zip(&f2)).zip(factors)
            {
                *w = (a * *w + dt * (0.5 * (f1 + f2) + f)) * b;
            }
        }
        umax = ws.max_speed();
    }
    Ok(frames)
}

/// Sample `index`: the initial vorticity \[nx, nx\] and the frames
/// \[nx, nx, nt\] (x, y, t; t_k = k·tmax/nt for k = 1..=nt), in float32.
pub fn sample(cfg: &NavierStokesConfig, index: usize) -> Result<(Vec<f32>, Vec<f32>), SolverError> {
    cfg.validate()?;
    let w0 = cfg.initial_vorticity(index);
    let frames = solve(&w0, &cfg.flow(), cfg.tmax, cfg.nt, TimeStep::Cfl(cfg.cfl))
        .map_err(|e| e.for_sample(index))?;
    let (n, fine, r) = (cfg.nx, cfg.solver_grid(), cfg.refine);
    // Fine point r·i + (r − 1)/2 is the coarse cell centre i, per axis.
    let offset = (r - 1) / 2;
    let coarse = |k: usize, p: usize| -> f32 {
        let (i, j) = (p / n, p % n);
        frames[k * fine * fine + (r * i + offset) * fine + r * j + offset] as f32
    };
    let cells = n * n;
    let a = (0..cells).map(|p| coarse(0, p)).collect();
    // Time becomes the trailing axis, as in the FNO paper's files.
    let u = (0..cells)
        .flat_map(|p| (1..=cfg.nt).map(move |k| (k, p)))
        .map(|(k, p)| coarse(k, p))
        .collect();
    Ok((a, u))
}

/// Writes `cfg.file_name()` in `dir`: `a` \[N, nx, nx\] (initial vorticity,
/// projected on the resolved modes), `u` \[N, nx, nx, nt\] (vorticity at
/// t_k = k·tmax/nt, k = 1..=nt, time last as in the FNO paper's files),
/// `x-coordinate`, `y-coordinate` \[nx\] (cell centres), `t-coordinate` \[nt\]
/// (the times of `u`) and the settings as attributes.
pub fn generate(
    cfg: &NavierStokesConfig,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<PathBuf, SolverError> {
    cfg.validate()?;
    let out = crate::data::writer::OutputFile::create(dir, &cfg.file_name())?;
    out.dataset("a", &[cfg.samples, cfg.nx, cfg.nx])?;
    out.dataset("u", &[cfg.samples, cfg.nx, cfg.nx, cfg.nt])?;
    let x = cell_centres(cfg.nx, cfg.problem.length());
    out.vector("x-coordinate", &x)?;
    out.vector("y-coordinate", &x)?;
    let t: Vec<f64> = (1..=cfg.nt)
        .map(|k| k as f64 * cfg.tmax / cfg.nt as f64)
        .collect();
    out.vector("t-coordinate", &t)?;
    let forcing = match cfg.problem {
        Problem::Fno => "0.1(sin 2pi(x+y) + cos 2pi(x+y)) on [0,1)^2",
        Problem::Kolmogorov => "-4 cos(4y) on [0,2pi)^2, nu = 1/Re",
    };
    out.attrs(&[
        ("nu", Attr::F64(cfg.nu)),
        ("forcing", Attr::Text(forcing.into())),
        ("length", Attr::F64(cfg.problem.length())),
        ("tmax", Attr::F64(cfg.tmax)),
        ("cfl", Attr::F64(cfg.cfl)),
        ("refine", Attr::U64(cfg.refine as u64)),
        ("seed", Attr::U64(cfg.seed)),
        (
            "initial_condition",
            Attr::Text("GRF N(0, 7^1.5 (-Lap + 49 I)^-2.5)".into()),
        ),
        (
            "layout",
            Attr::Text(
                "a [N, x, y] = w(t=0); u [N, x, y, t] = w(t_k), t_k = k tmax/nt, k = 1..nt".into(),
            ),
        ),
        (
            "solver",
            Attr::Text("pseudo-spectral, 2/3 rule, Crank-Nicolson + Heun".into()),
        ),
    ])?;
    run_samples(
        cfg.samples,
        progress,
        |i| sample(cfg, i),
        |first, batch| {
            out.write_samples("a", first, batch.iter().map(|(a, _)| a.as_slice()))?;
            out.write_samples("u", first, batch.iter().map(|(_, u)| u.as_slice()))?;
            Ok(())
        },
    )?;
    Ok(out.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solvers::spectral::Fft2d;
    use std::f64::consts::PI;

    fn smooth_ic(n: usize) -> Vec<f64> {
        let c = cell_centres(n, 1.0);
        c.iter()
            .flat_map(|&x| {
                c.iter().map(move |&y| {
                    (TAU * x).sin() * (2.0 * TAU * y).cos() + 0.5 * (TAU * (x + y) + 0.4).cos()
                })
            })
            .collect()
    }

    fn unforced(n: usize, nu: f64) -> Flow {
        Flow {
            n,
            length: 1.0,
            nu,
            forcing: vec![0.0; n * n],
        }
    }

    fn last(frames: &[f64], cells: usize) -> &[f64] {
        &frames[frames.len() - cells..]
    }

    #[test]
    fn taylor_green_decays_exactly() {
        let (n, nu, tmax) = (32, 0.01, 1.0);
        let c = cell_centres(n, 1.0);
        let w0: Vec<f64> = c
            .iter()
            .flat_map(|&x| c.iter().map(move |&y| (TAU * x).sin() * (TAU * y).sin()))
            .collect();
        // dt = 1e-3 keeps Crank–Nicolson's O((λdt)²) decay error below 1e-7.
        let frames = solve(&w0, &unforced(n, nu), tmax, 4, TimeStep::PerInterval(250)).unwrap();
        for k in 0..=4 {
            let decay = (-8.0 * PI * PI * nu * tmax * k as f64 / 4.0).exp();
            let frame = &frames[k * n * n..(k + 1) * n * n];
            let err = frame
                .iter()
                .zip(&w0)
                .map(|(w, w0)| (w - decay * w0).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-6, "frame {k}: {err}");
        }
    }

    #[test]
    fn second_order_in_time() {
        let (n, nu, tmax) = (32, 0.01, 0.5);
        let w0 = smooth_ic(n);
        let flow = Flow::new(n, Problem::Fno, nu);
        let run = |steps| solve(&w0, &flow, tmax, 1, TimeStep::PerInterval(steps)).unwrap();
        let reference = run(1280);
        let errors: Vec<f64> = [20, 40, 80]
            .iter()
            .map(|&s| {
                last(&run(s), n * n)
                    .iter()
                    .zip(last(&reference, n * n))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .collect();
        let orders: Vec<f64> = errors.windows(2).map(|e| (e[0] / e[1]).log2()).collect();
        eprintln!("NS dt errors {errors:?}, orders {orders:?}");
        assert!(
            orders.iter().all(|&p| p >= 1.8),
            "errors {errors:?}, orders {orders:?}"
        );
    }

    #[test]
    fn spectral_in_space() {
        let (nu, tmax, steps) = (0.02, 0.2, 200);
        // Low-mode coefficients (continuous normalisation, half-cell phase
        // undone) of the final vorticity at resolution n.
        let coefficients = |n: usize| -> Vec<Complex64> {
            let frames = solve(
                &smooth_ic(n),
                &unforced(n, nu),
                tmax,
                1,
                TimeStep::PerInterval(steps),
            )
            .unwrap();
            let mut z: Vec<Complex64> = last(&frames, n * n)
                .iter()
                .map(|&v| Complex64::new(v, 0.0))
                .collect();
            Fft2d::new(n).forward(&mut z);
            let mut out = Vec::new();
            for kx in -4i64..=4 {
                for ky in -4i64..=4 {
                    let p = kx.rem_euclid(n as i64) as usize * n + ky.rem_euclid(n as i64) as usize;
                    let phase = Complex64::from_polar(
                        1.0 / (n * n) as f64,
                        -PI * (kx + ky) as f64 / n as f64,
                    );
                    out.push(z[p] * phase);
                }
            }
            out
        };
        let reference = coefficients(96);
        let errors: Vec<f64> = [12, 24, 48]
            .iter()
            .map(|&n| {
                coefficients(n)
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b).norm())
                    .fold(0.0, f64::max)
            })
            .collect();
        eprintln!("NS dx errors at n = 12, 24, 48: {errors:?}");
        assert!(errors[0] / errors[1] > 1e2, "{errors:?}");
        assert!(errors[2] < 1e-10, "{errors:?}");
    }

    #[test]
    fn nearly_inviscid_flow_stays_bounded() {
        // ν = 1e-5 on a coarse grid: without the Heun limit on dt the
        // highest kept modes grow without bound.
        let cfg = NavierStokesConfig {
            nx: 32,
            nt: 5,
            tmax: 20.0,
            nu: 1e-5,
            ..Default::default()
        };
        let (a, u) = sample(&cfg, 1).unwrap();
        let peak = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        eprintln!(
            "NS nu = 1e-5: max |w| {} at t = 0, {} up to t = 20",
            peak(&a),
            peak(&u)
        );
        assert!(peak(&u) < 10.0 * peak(&a));
    }

    #[test]
    fn refined_samples_are_subsampled_solutions() {
        let cfg = NavierStokesConfig {
            nx: 8,
            nt: 2,
            tmax: 0.2,
            refine: 3,
            ..Default::default()
        };
        let (a, u) = sample(&cfg, 0).unwrap();
        assert_eq!((a.len(), u.len()), (64, 128));
        // The stored t = 0 field is the fine initial vorticity at the
        // coinciding points, up to the 2/3-rule projection (which removes
        // only modes the GRF makes small).
        let fine = cfg.initial_vorticity(0);
        let scale = fine.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, j) in [(5, 2), (0, 7), (3, 3)] {
            let expected = fine[(3 * i + 1) * 24 + 3 * j + 1];
            assert!((a[i * 8 + j] as f64 - expected).abs() < 0.05 * scale);
        }
    }

    #[test]
    fn kolmogorov_uses_the_2pi_box() {
        let cfg = NavierStokesConfig {
            nx: 16,
            nt: 1,
            tmax: 0.05,
            nu: 1.0 / 500.0,
            problem: Problem::Kolmogorov,
            ..Default::default()
        };
        let flow = cfg.flow();
        assert!((flow.length - TAU).abs() < 1e-15);
        // −4cos(4y) at the first cell centre y = π/16.
        assert!((flow.forcing[0] + 4.0 * (4.0 * PI / 16.0).cos()).abs() < 1e-12);
        let (a, u) = sample(&cfg, 0).unwrap();
        assert!(a.iter().chain(&u).all(|v| v.is_finite()));
    }
}
