//! Time stepping of the 1D pseudo-spectral solvers: the evolution of a
//! periodic field under diffusion and a pointwise nonlinearity, and the
//! integrating-factor RK4 step it takes.
use super::{half_dealias_modes, half_squared_wavenumbers, RealFft};
use crate::solvers::SolverError;
use rustfft::num_complex::Complex64;

/// Pseudo-spectral evolution of u_t = d·u_xx + S\[g(u)\] on the periodic unit
/// interval, where S is a Fourier multiplier (−ik·, i.e. −∂x, for Burgers'
/// flux; 1 for a reaction term) and g acts pointwise.
///
/// The state is the half spectrum restricted to the 2/3-rule modes k < n/3
/// (the initial condition is projected onto them), so the quadratic g's
/// aliases fall only on discarded modes; only those modes are stored and
/// stepped. Diffusion is integrated exactly, the rest by [`IfRk4`]; each
/// output interval is split into equal steps chosen from the interval's
/// starting max|u|.
pub(crate) struct Evolution {
    n: usize,
    fft: RealFft,
    integrator: IfRk4,
    v: Vec<Complex64>,
}

impl Evolution {
    /// Starts from the grid values `u0` (even length ≥ 4) with diffusion `d`.
    pub(crate) fn new(u0: &[f64], d: f64) -> Result<Self, SolverError> {
        let n = u0.len();
        crate::solvers::ensure(
            n >= 4 && n.is_multiple_of(2),
            "nx",
            n,
            "must be even and at least 4",
        )?;
        let mut fft = RealFft::new(n);
        let kept = half_dealias_modes(n);
        let mut v = vec![Complex64::default(); kept];
        fft.forward(u0, &mut v);
        let linear = half_squared_wavenumbers(n)
            .iter()
            .take(kept)
            .map(|k2| -d * k2)
            .collect();
        Ok(Self {
            n,
            fft,
            integrator: IfRk4::new(linear),
            v,
        })
    }

    /// Returns the frames at t_j = j·tmax/nt, row-major \[nt + 1, n\];
    /// `steps(max|u|)` gives the number of steps of each output interval.
    /// `symbol` holds S for (at least) the kept modes. Fails with
    /// [`SolverError::Diverged`] (sample 0) on a non-finite frame.
    pub(crate) fn run(
        self,
        tmax: f64,
        nt: usize,
        g: impl Fn(f64) -> f64,
        symbol: &[Complex64],
        steps: impl Fn(f64) -> usize,
    ) -> Result<Vec<f64>, SolverError> {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU supports the features `run_avx2` is compiled for.
            return unsafe { self.run_avx2(tmax, nt, g, symbol, steps) };
        }
        self.run_body(tmax, nt, g, symbol, steps)
    }

    /// [`Self::run`] compiled for AVX2 + FMA: the per-mode complex
    /// arithmetic of the real-FFT split and of the RK4 stages, inlined here,
    /// then takes half the instructions of the baseline build (perf had
    /// those loops at half the Burgers solve).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(
        self,
        tmax: f64,
        nt: usize,
        g: impl Fn(f64) -> f64,
        symbol: &[Complex64],
        steps: impl Fn(f64) -> usize,
    ) -> Result<Vec<f64>, SolverError> {
        self.run_body(tmax, nt, g, symbol, steps)
    }

    #[inline(always)]
    fn run_body(
        mut self,
        tmax: f64,
        nt: usize,
        g: impl Fn(f64) -> f64,
        symbol: &[Complex64],
        steps: impl Fn(f64) -> usize,
    ) -> Result<Vec<f64>, SolverError> {
        let n = self.n;
        let mut nonlinear = PseudoSpectral {
            fft: &mut self.fft,
            g,
            symbol,
        };
        let interval = tmax / nt as f64;
        let mut frames = vec![0.0; (nt + 1) * n];
        let mut frame_fft = RealFft::new(n);
        for j in 0..=nt {
            let frame = &mut frames[j * n..(j + 1) * n];
            frame_fft.inverse(&self.v, frame);
            if !frame.iter().all(|u| u.is_finite()) {
                return Err(SolverError::Diverged {
                    sample: 0,
                    time: j as f64 * interval,
                });
            }
            if j == nt {
                break;
            }
            let count = steps(frame.iter().map(|u| u.abs()).fold(0.0, f64::max)).max(1);
            let dt = interval / count as f64;
            for _ in 0..count {
                self.integrator.step(&mut self.v, dt, &mut nonlinear);
            }
        }
        Ok(frames)
    }
}

/// The N(v) of [`IfRk4`]: writes the nonlinear term of the spectrum `v`
/// into `out`.
///
/// A trait with an always-inlined method rather than a closure, so that the
/// term compiles into its caller ([`Evolution::run`]'s AVX2 build), which a
/// closure, compiled on its own for the baseline target, would not.
trait NonlinearTerm {
    fn evaluate(&mut self, v: &[Complex64], out: &mut [Complex64]);
}

/// S\[g(u)\] pseudo-spectrally: u on the grid by the inverse FFT, g pointwise,
/// back by the forward FFT times the symbol S.
struct PseudoSpectral<'a, G> {
    fft: &'a mut RealFft,
    g: G,
    symbol: &'a [Complex64],
}

impl<G: Fn(f64) -> f64> NonlinearTerm for PseudoSpectral<'_, G> {
    #[inline(always)]
    fn evaluate(&mut self, v: &[Complex64], out: &mut [Complex64]) {
        let g = &self.g;
        // g acts on the packed samples in place: no unpacking to a grid.
        for z in self.fft.inverse_packed(v) {
            *z = Complex64::new(g(z.re), g(z.im));
        }
        self.fft.forward_packed(out, Some(self.symbol));
    }
}

/// Integrating-factor RK4 for v' = L v + N(v) with diagonal real L.
///
/// The linear (stiff, viscous) part is integrated exactly through e^{L dt},
/// so the step is limited only by the nonlinear term; the scheme is
/// fourth-order in dt (Trefethen, *Spectral Methods in MATLAB*, p27).
struct IfRk4 {
    linear: Vec<f64>,
    half: Vec<f64>,
    full: Vec<f64>,
    dt: f64,
    k1: Vec<Complex64>,
    k2: Vec<Complex64>,
    k3: Vec<Complex64>,
    k4: Vec<Complex64>,
    stage: Vec<Complex64>,
}

impl IfRk4 {
    /// An integrator for the linear symbol `linear` (one entry per mode).
    fn new(linear: Vec<f64>) -> Self {
        let n = linear.len();
        let zeros = vec![Complex64::default(); n];
        Self {
            half: vec![1.0; n],
            full: vec![1.0; n],
            dt: 0.0,
            linear,
            k1: zeros.clone(),
            k2: zeros.clone(),
            k3: zeros.clone(),
            k4: zeros.clone(),
            stage: zeros,
        }
    }

    /// Advances `v` by `dt`; `nonlinear.evaluate(v, out)` writes N(v) into
    /// `out`.
    #[inline(always)]
    fn step(&mut self, v: &mut [Complex64], dt: f64, nonlinear: &mut impl NonlinearTerm) {
        if dt != self.dt {
            // The exponentials change only with dt, which is constant within
            // an output interval, so they are cached across steps.
            for ((h, f), l) in self.half.iter_mut().zip(&mut self.full).zip(&self.linear) {
                *h = (0.5 * dt * l).exp();
                *f = (dt * l).exp();
            }
            self.dt = dt;
        }
        // Zipped iterators rather than indexing: no bounds checks, so the
        // pointwise stages vectorise.
        let (e, e2) = (&self.half, &self.full);
        let (half_dt, sixth_dt) = (0.5 * dt, dt / 6.0);
        nonlinear.evaluate(v, &mut self.k1);
        for ((s, &v), (&e, &k1)) in self.stage.iter_mut().zip(&*v).zip(e.iter().zip(&self.k1)) {
            *s = e * (v + half_dt * k1);
        }
        nonlinear.evaluate(&self.stage, &mut self.k2);
        for ((s, &v), (&e, &k2)) in self.stage.iter_mut().zip(&*v).zip(e.iter().zip(&self.k2)) {
            *s = e * v + half_dt * k2;
        }
        nonlinear.evaluate(&self.stage, &mut self.k3);
        let factors = e.iter().zip(e2);
        for ((s, &v), ((&e, &e2), &k3)) in self.stage.iter_mut().zip(&*v).zip(factors.zip(&self.k3))
        {
            *s = e2 * v + dt * e * k3;
        }
        nonlinear.evaluate(&self.stage, &mut self.k4);
        let stages = self
            .k1
            .iter()
            .zip(&self.k2)
            .zip(self.k3.iter().zip(&self.k4));
        for ((v, (&e, &e2)), ((&k1, &k2), (&k3, &k4))) in
            v.iter_mut().zip(e.iter().zip(e2)).zip(stages)
        {
            *v = e2 * *v + sixth_dt * (e2 * k1 + 2.0 * e * (k2 + k3) + k4);
        }
    }
}
