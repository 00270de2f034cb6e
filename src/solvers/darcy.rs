//! 2D Darcy flow −∇·(a∇u) = β on \[0,1\]² with u = 0 on the walls.
//!
//! The discretisation is the one of PDEBench's Darcy files (checked against
//! the shared `2D_DarcyFlow_beta1.0_Train.hdf5`, which it reproduces to
//! round-off): cell-centred finite volumes on an nx×ny grid, 5-point stencil,
//! harmonic means 2a_pa_q/(a_p + a_q) on interior faces, and on a wall face
//! the cell's own a with u = 0 in the ghost cell a full cell width away
//! (flux a_p·u_p/h). The coefficient a is sampled from one of two families
//! ([`Coefficient`]), and the SPD system is solved in f64 by conjugate
//! gradients with a Jacobi preconditioner to a relative residual of 1e-10.
//!
//! ```
//! use fno::solvers::darcy;
//! let (nx, ny) = (8, 8);
//! let a = vec![1.0; nx * ny];
//! let u = darcy::solve(&a, nx, ny, 1.0, 1e-12, 1000)?;
//! assert!(darcy::relative_residual(&a, &u, nx, ny, 1.0) < 1e-12);
//! # Ok::<(), fno::solvers::SolverError>(())
//! ```
use super::spectral::cell_centres;
use super::{ensure, ensure_positive, grf, name_number, run_samples, sample_rng, SolverError};
use crate::data::writer::Attr;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Family of the random coefficient field a(x, y).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Coefficient {
    /// PDEBench-style: a = 1 where a signed sum of 8 Gaussian bumps is
    /// positive, 0.1 elsewhere.
    #[default]
    Pdebench,
    /// FNO paper: a = 12 where a Neumann Gaussian random field
    /// N(0, (−Δ + 9I)^{−2}) is ≥ 0, 3 elsewhere (use with β = 1).
    Fno,
}

/// Settings of the Darcy generator; defaults match PDEBench's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DarcyConfig {
    /// Number of samples (default 1024).
    pub samples: usize,
    /// Cells along x (default 128).
    pub nx: usize,
    /// Cells along y (default 128).
    pub ny: usize,
    /// Constant forcing β > 0 (default 1.0).
    pub beta: f64,
    /// Coefficient family (default `pdebench`).
    pub coefficient: Coefficient,
    /// Relative residual ‖β − Au‖/‖β‖ at which CG stops (default 1e-10).
    pub tolerance: f64,
    /// CG iteration limit per sample (default 20000).
    pub max_iterations: usize,
    /// File seed; sample i uses `sample_seed(seed, i)` (default 0).
    pub seed: u64,
}

impl Default for DarcyConfig {
    fn default() -> Self {
        Self {
            samples: 1024,
            nx: 128,
            ny: 128,
            beta: 1.0,
            coefficient: Coefficient::Pdebench,
            tolerance: 1e-10,
            max_iterations: 20000,
            seed: 0,
        }
    }
}

impl DarcyConfig {
    /// Rejects settings the generator cannot use.
    pub fn validate(&self) -> Result<(), SolverError> {
        super::validate_common(self.samples, self.nx)?;
        ensure(self.ny >= 4, "ny", self.ny, "must be at least 4")?;
        ensure_positive(self.beta, "beta")?;
        ensure(
            self.tolerance.is_finite() && self.tolerance > 0.0 && self.tolerance < 1.0,
            "tolerance",
            self.tolerance,
            "must lie in (0, 1)",
        )?;
        ensure(
            self.max_iterations > 0,
            "max_iterations",
            self.max_iterations,
            "must be at least 1",
        )
    }

    /// The PDEBench file name, e.g. `2D_DarcyFlow_beta1.0_Train.hdf5`; the
    /// FNO coefficient family adds `_fno`.
    pub fn file_name(&self) -> String {
        let suffix = match self.coefficient {
            Coefficient::Pdebench => "",
            Coefficient::Fno => "_fno",
        };
        format!(
            "2D_DarcyFlow_beta{}{suffix}_Train.hdf5",
            name_number(self.beta)
        )
    }

    /// Samples coefficient field `index`, row-major \[nx, ny\].
    pub fn coefficient_field(&self, index: usize) -> Vec<f64> {
        let mut rng = sample_rng(self.seed, index);
        let (field, high, low) = match self.coefficient {
            Coefficient::Pdebench => (grf::gaussian_bumps(self.nx, self.ny, &mut rng), 1.0, 0.1),
            Coefficient::Fno => {
                let cov = grf::Covariance {
                    alpha: 2.0,
                    tau: 3.0,
                    sigma: 3.0,
                };
                (grf::neumann_grf(self.nx, self.ny, cov, &mut rng), 12.0, 3.0)
            }
        };
        field
            .into_iter()
            .map(|g| if g >= 0.0 { high } else { low })
            .collect()
    }
}

/// The finite-volume operator: face transmissibilities (already divided by
/// h²) and the diagonal.
struct Operator {
    nx: usize,
    ny: usize,
    /// Face between (i, j) and (i + 1, j), \[nx − 1, ny\].
    east: Vec<f64>,
    /// Face between (i, j) and (i, j + 1), \[nx, ny − 1\].
    north: Vec<f64>,
    diagonal: Vec<f64>,
}

impl Operator {
    fn new(a: &[f64], nx: usize, ny: usize) -> Self {
        let (ix2, iy2) = ((nx * nx) as f64, (ny * ny) as f64);
        let harmonic = |p: f64, q: f64| 2.0 * p * q / (p + q);
        let mut east = vec![0.0; (nx - 1) * ny];
        let mut north = vec![0.0; nx * (ny - 1)];
        let mut diagonal = vec![0.0; nx * ny];
        for i in 0..nx {
            for j in 0..ny {
                let p = i * ny + j;
                if i + 1 < nx {
                    let c = harmonic(a[p], a[p + ny]) * ix2;
                    east[p] = c;
                    diagonal[p] += c;
                    diagonal[p + ny] += c;
                }
                if j + 1 < ny {
                    let c = harmonic(a[p], a[p + 1]) * iy2;
                    north[i * (ny - 1) + j] = c;
                    diagonal[p] += c;
                    diagonal[p + 1] += c;
                }
                // Wall faces: the ghost cell holds u = 0 one cell width away.
                let walls = usize::from(i == 0) + usize::from(i + 1 == nx);
                let floors = usize::from(j == 0) + usize::from(j + 1 == ny);
                diagonal[p] += a[p] * (walls as f64 * ix2 + floors as f64 * iy2);
            }
        }
        Self {
            nx,
            ny,
            east,
            north,
            diagonal,
        }
    }

    fn apply(&self, u: &[f64], out: &mut [f64]) {
        let (nx, ny) = (self.nx, self.ny);
        for (o, (&d, &u)) in out.iter_mut().zip(self.diagonal.iter().zip(u)) {
            *o = d * u;
        }
        for i in 0..nx - 1 {
            for j in 0..ny {
                let p = i * ny + j;
                let c = self.east[p];
                out[p] -= c * u[p + ny];
                out[p + ny] -= c * u[p];
            }
        }
        for i in 0..nx {
            for j in 0..ny - 1 {
                let p = i * ny + j;
                let c = self.north[i * (ny - 1) + j];
                out[p] -= c * u[p + 1];
                out[p + 1] -= c * u[p];
            }
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// ‖β − Au‖₂ / ‖β‖₂ for the discrete operator of coefficient `a`.
pub fn relative_residual(a: &[f64], u: &[f64], nx: usize, ny: usize, beta: f64) -> f64 {
    let op = Operator::new(a, nx, ny);
    let mut au = vec![0.0; nx * ny];
    op.apply(u, &mut au);
    let r: f64 = au.iter().map(|v| (beta - v).powi(2)).sum();
    (r / ((nx * ny) as f64 * beta * beta)).sqrt()
}

/// Solves −∇·(a∇u) = β for the row-major \[nx, ny\] coefficient `a` (all
/// entries > 0) by Jacobi-preconditioned CG to relative residual
/// `tolerance`, returning u row-major \[nx, ny\].
///
/// The recursively updated residual drifts from the true one near
/// round-off, so convergence is confirmed on the true residual and CG is
/// restarted from the current iterate if they disagree.
pub fn solve(
    a: &[f64],
    nx: usize,
    ny: usize,
    beta: f64,
    tolerance: f64,
    max_iterations: usize,
) -> Result<Vec<f64>, SolverError> {
    let op = Operator::new(a, nx, ny);
    let n = nx * ny;
    let b_norm = beta.abs() * (n as f64).sqrt();
    let mut u = vec![0.0; n];
    let mut r = vec![beta; n];
    let (mut z, mut p, mut ap) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut iterations = 0;
    loop {
        for k in 0..n {
            z[k] = r[k] / op.diagonal[k];
        }
        p.copy_from_slice(&z);
        let mut rz = dot(&r, &z);
        while dot(&r, &r).sqrt() > tolerance * b_norm && iterations < max_iterations {
            op.apply(&p, &mut ap);
            let alpha = rz / dot(&p, &ap);
            for k in 0..n {
                u[k] += alpha * p[k];
                r[k] -= alpha * ap[k];
                z[k] = r[k] / op.diagonal[k];
            }
            let rz_next = dot(&r, &z);
            let ratio = rz_next / rz;
            rz = rz_next;
            for k in 0..n {
                p[k] = z[k] + ratio * p[k];
            }
            iterations += 1;
        }
        op.apply(&u, &mut ap);
        for k in 0..n {
            r[k] = beta - ap[k];
        }
        let residual = dot(&r, &r).sqrt() / b_norm;
        if residual <= tolerance {
            return Ok(u);
        }
        if iterations >= max_iterations || !residual.is_finite() {
            return Err(SolverError::NotConverged {
                sample: 0,
                iterations,
                residual,
            });
        }
    }
}

/// Sample `index`: the coefficient and the solution, each row-major
/// \[nx, ny\] in float32.
pub fn sample(cfg: &DarcyConfig, index: usize) -> Result<(Vec<f32>, Vec<f32>), SolverError> {
    cfg.validate()?;
    let a = cfg.coefficient_field(index);
    let u = solve(
        &a,
        cfg.nx,
        cfg.ny,
        cfg.beta,
        cfg.tolerance,
        cfg.max_iterations,
    )
    .map_err(|e| e.for_sample(index))?;
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    Ok((to_f32(a), to_f32(u)))
}

/// Writes `cfg.file_name()` in `dir`: `nu` \[N, nx, ny\] (the coefficient),
/// `tensor` \[N, 1, nx, ny\] (the solution), `x-coordinate` \[nx\] and
/// `y-coordinate` \[ny\] (cell centres) and the settings as attributes.
/// PDEBench's leftover `t-coordinate` is not written.
pub fn generate(
    cfg: &DarcyConfig,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<PathBuf, SolverError> {
    cfg.validate()?;
    let out = crate::data::writer::OutputFile::create(dir, &cfg.file_name())?;
    out.dataset("nu", &[cfg.samples, cfg.nx, cfg.ny])?;
    out.dataset("tensor", &[cfg.samples, 1, cfg.nx, cfg.ny])?;
    out.vector("x-coordinate", &cell_centres(cfg.nx, 1.0))?;
    out.vector("y-coordinate", &cell_centres(cfg.ny, 1.0))?;
    let (family, values) = match cfg.coefficient {
        Coefficient::Pdebench => ("pdebench: thresholded sum of 8 Gaussian bumps", "1, 0.1"),
        Coefficient::Fno => ("fno: thresholded Neumann GRF N(0, (-Lap + 9)^-2)", "12, 3"),
    };
    out.attrs(&[
        ("beta", Attr::F64(cfg.beta)),
        ("coefficient", Attr::Text(family.into())),
        ("coefficient_values", Attr::Text(values.into())),
        ("seed", Attr::U64(cfg.seed)),
        ("tolerance", Attr::F64(cfg.tolerance)),
        ("max_iterations", Attr::U64(cfg.max_iterations as u64)),
        (
            "solver",
            Attr::Text("cell-centred FV, harmonic faces, u = 0 in ghost cells, Jacobi-PCG".into()),
        ),
    ])?;
    run_samples(
        cfg.samples,
        progress,
        |i| sample(cfg, i),
        |first, batch| {
            out.write_samples("nu", first, batch.iter().map(|(a, _)| a.as_slice()))?;
            out.write_samples("tensor", first, batch.iter().map(|(_, u)| u.as_slice()))?;
            Ok(())
        },
    )?;
    Ok(out.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_reaches_round_off() {
        for coefficient in [Coefficient::Pdebench, Coefficient::Fno] {
            let cfg = DarcyConfig {
                nx: 48,
                ny: 40,
                coefficient,
                ..Default::default()
            };
            let a = cfg.coefficient_field(3);
            let u = solve(&a, cfg.nx, cfg.ny, 1.0, 1e-10, 20000).unwrap();
            let r = relative_residual(&a, &u, cfg.nx, cfg.ny, 1.0);
            assert!(r <= 1e-10, "{coefficient:?}: {r}");
            assert!(u.iter().all(|&u| u > 0.0), "maximum principle");
        }
    }

    #[test]
    fn reproduces_shared_pdebench_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/pdebench/2D_DarcyFlow_beta1.0_Train.hdf5"
        );
        let file = hdf5::File::open(path).expect("shared Darcy file");
        let beta: f64 = file
            .attr("beta")
            .and_then(|a| a.read_scalar())
            .expect("beta");
        let nu = file
            .dataset("nu")
            .and_then(|d| d.read_raw::<f32>())
            .expect("nu");
        let truth = file
            .dataset("tensor")
            .and_then(|d| d.read_raw::<f32>())
            .expect("tensor");
        let n = 64 * 64;
        let mut worst: f64 = 0.0;
        for s in 0..16 {
            let a: Vec<f64> = nu[s * n..(s + 1) * n].iter().map(|&v| v as f64).collect();
            let u = solve(&a, 64, 64, beta, 1e-10, 20000).unwrap();
            let t = &truth[s * n..(s + 1) * n];
            let err: f64 = u.iter().zip(t).map(|(a, &b)| (a - b as f64).powi(2)).sum();
            let norm: f64 = t.iter().map(|&b| (b as f64).powi(2)).sum();
            worst = worst.max((err / norm).sqrt());
        }
        eprintln!("Darcy vs shared file: worst relative L2 {worst:e}");
        assert!(worst <= 1e-6, "worst relative L2 {worst}");
    }

    #[test]
    fn coefficient_families_take_their_two_values() {
        let cfg = DarcyConfig {
            nx: 32,
            ny: 32,
            ..Default::default()
        };
        let a = cfg.coefficient_field(0);
        assert!(a.iter().all(|&v| v == 1.0 || v == 0.1));
        let cfg = DarcyConfig {
            coefficient: Coefficient::Fno,
            ..cfg
        };
        let a = cfg.coefficient_field(0);
        assert!(a.iter().all(|&v| v == 12.0 || v == 3.0));
        assert!(a.contains(&12.0) && a.contains(&3.0));
    }
}
