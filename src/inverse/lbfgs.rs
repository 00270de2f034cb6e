//! Limited-memory BFGS on a flat parameter vector.
//!
//! The inverse problems here have one unknown field of up to some 10⁴
//! values, so the parameters live on the host as `f64` and the objective is
//! a closure returning the value and the gradient. Steps follow the
//! two-loop recursion with a backtracking (Armijo) line search; a pair whose
//! curvature sᵀy is not positive is skipped, which keeps the implied Hessian
//! positive definite without a Wolfe search.
use std::collections::VecDeque;

/// L-BFGS settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// Iterations (each one line search).
    pub iterations: usize,
    /// Correction pairs kept.
    pub memory: usize,
    /// Stop when the gradient's max-norm falls below this.
    pub gradient_tolerance: f64,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            iterations: 100,
            memory: 10,
            gradient_tolerance: 1e-10,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// Minimises `f` from `x` in place and returns the objective after every
/// iteration. `f` returns the value and the gradient at a point; the point
/// of an accepted step is always the one `f` evaluated last, when
/// `after_step` is called with its value.
pub fn minimize<E>(
    x: &mut [f64],
    config: &LbfgsConfig,
    mut f: impl FnMut(&[f64]) -> Result<(f64, Vec<f64>), E>,
    mut after_step: impl FnMut(f64),
) -> Result<Vec<f64>, E> {
    let (mut fx, mut g) = f(x)?;
    let mut pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::new();
    let mut history = Vec::with_capacity(config.iterations);
    for _ in 0..config.iterations {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < config.gradient_tolerance {
            break;
        }
        let direction = two_loop(&g, &pairs);
        let mut slope = dot(&g, &direction);
        let direction = if slope < 0.0 {
            direction
        } else {
            // Not a descent direction (round-off): restart from steepest descent.
            pairs.clear();
            slope = -dot(&g, &g);
            g.iter().map(|v| -v).collect()
        };
        // Without curvature information a unit step in -g has no scale.
        let mut step = if pairs.is_empty() {
            1.0 / dot(&g, &g).sqrt().max(1e-12)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..30 {
            let trial: Vec<f64> = x
                .iter()
                .zip(&direction)
                .map(|(a, d)| a + step * d)
                .collect();
            let (ft, gt) = f(&trial)?;
            if ft.is_finite() && ft <= fx + 1e-4 * step * slope {
                accepted = Some((trial, ft, gt));
                break;
            }
            step *= 0.5;
        }
        let Some((trial, ft, gt)) = accepted else {
            break;
        };
        let s: Vec<f64> = trial.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gt.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            if pairs.len() == config.memory {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        x.copy_from_slice(&trial);
        fx = ft;
        g = gt;
        history.push(fx);
        after_step(fx);
    }
    Ok(history)
}

/// −H·g by the two-loop recursion, H the L-BFGS inverse-Hessian estimate
/// scaled by sᵀy/yᵀy of the newest pair.
fn two_loop(g: &[f64], pairs: &VecDeque<(Vec<f64>, Vec<f64>, f64)>) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let alpha = rho * dot(s, &q);
        q.iter_mut().zip(y).for_each(|(q, y)| *q -= alpha * y);
        alphas.push(alpha);
    }
    if let Some((s, y, _)) = pairs.back() {
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for ((s, y, rho), alpha) in pairs.iter().zip(alphas.iter().rev()) {
        let beta = rho * dot(y, &q);
        q.iter_mut()
            .zip(s)
            .for_each(|(q, s)| *q += (alpha - beta) * s);
    }
    q.iter().map(|v| -v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(x) = ½ Σ dᵢ (xᵢ − cᵢ)² + ½ (x₀ − x₁)², condition number ~ 1000.
    fn quadratic(x: &[f64]) -> Result<(f64, Vec<f64>), ()> {
        let n = x.len();
        let d: Vec<f64> = (0..n)
            .map(|i| 1.0 + 999.0 * i as f64 / (n - 1) as f64)
            .collect();
        let c: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        let mut g: Vec<f64> = (0..n).map(|i| d[i] * (x[i] - c[i])).collect();
        let mut f: f64 = (0..n).map(|i| 0.5 * d[i] * (x[i] - c[i]).powi(2)).sum();
        let coupling = x[0] - x[1];
        f += 0.5 * coupling * coupling;
        g[0] += coupling;
        g[1] -= coupling;
        Ok((f, g))
    }

    #[test]
    fn minimizes_an_ill_conditioned_quadratic() {
        let mut x = vec![0.0; 20];
        let mut steps = 0;
        let history = minimize(
            &mut x,
            &LbfgsConfig {
                iterations: 200,
                ..Default::default()
            },
            quadratic,
            |_| steps += 1,
        )
        .unwrap();
        assert_eq!(steps, history.len());
        let (_, g) = quadratic(&x).unwrap();
        let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            gmax < 1e-6,
            "gradient {gmax} after {} iterations",
            history.len()
        );
        // Far fewer iterations than gradient descent would need (≈ condition number).
        assert!(history.len() < 100, "{}", history.len());
        assert!(history.windows(2).all(|w| w[1] <= w[0]), "{history:?}");
    }

    #[test]
    fn errors_of_the_objective_pass_through() {
        let mut x = vec![1.0];
        let r = minimize(
            &mut x,
            &LbfgsConfig::default(),
            |_| Err::<(f64, Vec<f64>), _>("boom"),
            |_| (),
        );
        assert_eq!(r, Err("boom"));
    }
}
