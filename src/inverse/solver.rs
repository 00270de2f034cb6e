//! The numerical solver of a file's PDE, to check a recovered input without
//! the surrogate and to compare the cost of one forward evaluation.
use crate::data::FileInfo;
use crate::solvers::{advection, burgers, darcy, SolverError, TimeStep};
use serde::Serialize;
use std::time::Instant;

/// Darcy's CG tolerance: far below any misfit worth reporting.
const DARCY_TOLERANCE: f64 = 1e-8;
/// Darcy's CG iteration limit.
const DARCY_ITERATIONS: usize = 50_000;
/// Burgers' advective CFL number (the generator's default).
const BURGERS_CFL: f64 = 0.5;

/// A forward solver for one file's PDE on the model's grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "pde", rename_all = "snake_case")]
pub enum ForwardSolver {
    /// −∇·(a∇u) = β, coefficient to solution.
    Darcy {
        /// Cells along x.
        nx: usize,
        /// Cells along y.
        ny: usize,
        /// Forcing.
        beta: f64,
    },
    /// u_t + β u_x = 0 over `elapsed`.
    Advection {
        /// Speed.
        beta: f64,
        /// Time from the input frame to the output frame.
        elapsed: f64,
    },
    /// u_t + (u²/2)_x = ε u_xx over `elapsed`.
    Burgers {
        /// Viscosity multiplying u_xx.
        epsilon: f64,
        /// Time from the input frame to the output frame.
        elapsed: f64,
    },
}

impl ForwardSolver {
    /// The solver of a file's PDE family, or `None` if fno has no solver
    /// for it (or the file lacks a parameter it needs).
    pub fn for_file(info: &FileInfo, grid: &[usize], elapsed: Option<f64>) -> Option<Self> {
        let param = |name: &str| info.params.get(name).copied();
        match (info.family.as_deref()?, grid) {
            ("darcy", &[nx, ny]) => Some(Self::Darcy {
                nx,
                ny,
                beta: param("beta").unwrap_or(1.0),
            }),
            ("advection", &[_]) => Some(Self::Advection {
                beta: param("beta")?,
                elapsed: elapsed?,
            }),
            ("burgers", &[nx]) if nx % 2 == 0 => {
                let nu = param("nu")?;
                let plain = info
                    .text_attributes
                    .get("convention")
                    .is_some_and(|c| c == "plain");
                Some(Self::Burgers {
                    epsilon: if plain { nu } else { nu / std::f64::consts::PI },
                    elapsed: elapsed?,
                })
            }
            _ => None,
        }
    }

    /// The output field for an input field (row-major on the grid).
    pub fn solve(&self, input: &[f32]) -> Result<Vec<f32>, SolverError> {
        let a: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
        let out = match *self {
            Self::Darcy { nx, ny, beta } => {
                darcy::solve(&a, nx, ny, beta, DARCY_TOLERANCE, DARCY_ITERATIONS)?
            }
            Self::Advection { beta, elapsed } => {
                let mut frames = advection::solve(&a, beta, elapsed, 1);
                frames.split_off(a.len())
            }
            Self::Burgers { epsilon, elapsed } => {
                let mut frames =
                    burgers::solve(&a, epsilon, elapsed, 1, TimeStep::Cfl(BURGERS_CFL))?;
                frames.split_off(a.len())
            }
        };
        Ok(out.into_iter().map(|v| v as f32).collect())
    }
}

/// Mean seconds per call of `f`, over at least three calls and 0.2 s.
pub fn seconds_per_call<E>(mut f: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    let start = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || start.elapsed().as_secs_f64() < 0.2 {
        f()?;
        calls += 1;
    }
    Ok(start.elapsed().as_secs_f64() / f64::from(calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advection_shifts_and_darcy_solves() {
        let n = 16;
        let u0: Vec<f32> = (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * i as f32 / n as f32).sin())
            .collect();
        // A shift by exactly one cell.
        let s = ForwardSolver::Advection {
            beta: 1.0,
            elapsed: 1.0 / n as f64,
        };
        let u = s.solve(&u0).unwrap();
        for i in 0..n {
            assert!((u[(i + 1) % n] - u0[i]).abs() < 1e-5);
        }
        let d = ForwardSolver::Darcy {
            nx: 8,
            ny: 8,
            beta: 1.0,
        };
        let a = vec![1.0f32; 64];
        let u = d.solve(&a).unwrap();
        let u64: Vec<f64> = u.iter().map(|&v| f64::from(v)).collect();
        let a64 = vec![1.0; 64];
        assert!(darcy::relative_residual(&a64, &u64, 8, 8, 1.0) < 1e-5);
    }
}
