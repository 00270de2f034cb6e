//! The inverse loss, a weighted sum of named terms.
//!
//! Each term sees the current iterate (the recovered input and the frozen
//! operator's prediction for it) and returns a scalar, so a new prior or
//! constraint (for instance the PDE residual of the (input, prediction)
//! pair) is one more [`LossTerm`] pushed onto the [`Objective`], and its
//! value is reported under its name.
use crate::physics::{Grid, Pde};
use candle_core::{Result, Tensor};

/// What a term sees at one iterate, all `[1, C, grid..]`.
pub struct Iterate<'a> {
    /// The recovered input in physical units.
    pub input: &'a Tensor,
    /// The input on the regulariser's scale of order one
    /// ([`super::Parametrization::scaled`]).
    pub scaled: &'a Tensor,
    /// The operator's prediction for `input`, in physical units.
    pub output: &'a Tensor,
}

/// One term of the inverse loss.
pub trait LossTerm {
    /// The name it is reported under.
    fn name(&self) -> &str;
    /// Its unweighted value at an iterate (a scalar tensor).
    fn value(&self, iterate: &Iterate<'_>) -> Result<Tensor>;
}

/// Squared relative misfit at the observed points:
/// ‖M(y − y_obs)‖² / ‖M y_obs‖².
pub struct Misfit {
    observed: Tensor,
    mask: Tensor,
    norm: f64,
}

impl Misfit {
    /// From the observations and the 0/1 mask (same shape as the output;
    /// values off the mask are ignored).
    pub fn new(observed: Tensor, mask: Tensor) -> Result<Self> {
        let observed = (observed * &mask)?;
        let norm = observed.sqr()?.sum_all()?.to_scalar::<f32>()?;
        Ok(Self {
            observed,
            mask,
            norm: f64::from(norm).max(f64::MIN_POSITIVE),
        })
    }
}

impl LossTerm for Misfit {
    fn name(&self) -> &str {
        "misfit"
    }

    fn value(&self, iterate: &Iterate<'_>) -> Result<Tensor> {
        let r = ((iterate.output * &self.mask)? - &self.observed)?;
        r.sqr()?.sum_all()? / self.norm
    }
}

/// A regulariser of the scaled input.
pub struct Regularization(pub super::Regularizer);

impl LossTerm for Regularization {
    fn name(&self) -> &str {
        "regularizer"
    }

    fn value(&self, iterate: &Iterate<'_>) -> Result<Tensor> {
        match self.0.penalty(iterate.scaled)? {
            Some(p) => Ok(p),
            None => iterate.scaled.zeros_like()?.sum_all(),
        }
    }
}

/// Which output field the physics residual is evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PdeOutput {
    /// The forward operator's prediction for the recovered input.
    #[default]
    Predicted,
    /// The observations where there are some, the prediction elsewhere.
    /// With a full, noise-free observation this is the equation-error
    /// method: the residual of the true coefficient is zero up to the
    /// data's discretisation, whatever the surrogate's error. Noise is
    /// amplified by the equation's derivatives, so it suits clean data.
    Observed,
}

impl std::fmt::Display for PdeOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Predicted => "predicted",
            Self::Observed => "observed",
        })
    }
}

impl std::str::FromStr for PdeOutput {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "predicted" => Ok(Self::Predicted),
            "observed" => Ok(Self::Observed),
            _ => Err(format!("`{s}`: expected predicted or observed")),
        }
    }
}

/// The physics residual of the (input, output) pair:
/// `mean(R(y, a)²) / mean(R(0, a₀)²)`, with `y` the predicted output or,
/// where observed, the observation ([`PdeOutput`]).
///
/// The denominator is the mean square residual of the zero field at the
/// starting input, i.e. of the forcing (β² for Darcy), so the term is of
/// order one at the start whatever the equation's units, and a weight means
/// the same across files.
pub struct PdeResidual {
    pde: Box<dyn Pde>,
    grid: Grid,
    scale: f64,
    /// `(M·y_obs, 1 − M)` when the residual reads the observations.
    observed: Option<(Tensor, Tensor)>,
}

impl PdeResidual {
    /// The residual of `pde` on `grid`, scaled by the forcing seen at
    /// `start` (the starting input, `[1, C, grid..]`), on the predicted
    /// output.
    pub fn new(
        pde: Box<dyn Pde>,
        grid: Grid,
        start: &Tensor,
    ) -> std::result::Result<Self, crate::physics::PhysicsError> {
        let forcing = pde.residual(&start.zeros_like()?, start, &grid)?;
        let scale = f64::from(forcing.sqr()?.mean_all()?.to_scalar::<f32>()?);
        Ok(Self {
            pde,
            grid,
            scale: if scale > 0.0 { scale } else { 1.0 },
            observed: None,
        })
    }

    /// The same term on the observations where the 0/1 `mask` is set, the
    /// prediction elsewhere.
    pub fn on_observations(mut self, observed: &Tensor, mask: &Tensor) -> Result<Self> {
        self.observed = Some(((observed * mask)?, mask.affine(-1.0, 1.0)?));
        Ok(self)
    }
}

impl LossTerm for PdeResidual {
    fn name(&self) -> &str {
        "pde"
    }

    fn value(&self, iterate: &Iterate<'_>) -> Result<Tensor> {
        let blended;
        let output = match &self.observed {
            Some((known, unobserved)) => {
                blended = ((iterate.output * unobserved)? + known)?;
                &blended
            }
            None => iterate.output,
        };
        let r = self
            .pde
            .residual(output, iterate.input, &self.grid)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        r.sqr()?.mean_all()? / self.scale
    }
}

/// Weighted terms.
#[derive(Default)]
pub struct Objective {
    terms: Vec<(f64, Box<dyn LossTerm>)>,
}

/// The value of every term at an iterate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TermValues {
    /// The weighted sum.
    pub total: f64,
    /// `(name, weight, unweighted value)` of each term.
    pub terms: Vec<(String, f64, f64)>,
}

impl TermValues {
    /// The unweighted value of the named term.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.terms.iter().find(|t| t.0 == name).map(|t| t.2)
    }
}

impl Objective {
    /// Adds `weight × term`; terms with weight 0 are not evaluated.
    pub fn push(&mut self, weight: f64, term: Box<dyn LossTerm>) {
        if weight != 0.0 {
            self.terms.push((weight, term));
        }
    }

    /// The total loss (for back-propagation) and every term's value.
    pub fn evaluate(&self, iterate: &Iterate<'_>) -> Result<(Tensor, TermValues)> {
        let mut total: Option<Tensor> = None;
        let mut values = Vec::with_capacity(self.terms.len());
        for (weight, term) in &self.terms {
            let v = term.value(iterate)?;
            values.push((
                term.name().to_owned(),
                *weight,
                f64::from(v.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?),
            ));
            let weighted = (v * *weight)?;
            total = Some(match total {
                Some(t) => (t + weighted)?,
                None => weighted,
            });
        }
        let total = match total {
            Some(t) => t,
            None => iterate.output.zeros_like()?.sum_all()?,
        };
        let sum = values.iter().map(|(_, w, v)| w * v).sum();
        Ok((
            total,
            TermValues {
                total: sum,
                terms: values,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn misfit_counts_only_observed_points_and_terms_add_up() {
        let d = Device::Cpu;
        let obs = Tensor::new(&[[[1.0f32, 2.0, 100.0]]], &d).unwrap();
        let mask = Tensor::new(&[[[1.0f32, 1.0, 0.0]]], &d).unwrap();
        let out = Tensor::new(&[[[2.0f32, 2.0, -5.0]]], &d).unwrap();
        let input = Tensor::new(&[[[0.0f32, 1.0, 3.0]]], &d).unwrap();
        let it = Iterate {
            input: &input,
            scaled: &input,
            output: &out,
        };
        let mut obj = Objective::default();
        obj.push(1.0, Box::new(Misfit::new(obs, mask).unwrap()));
        obj.push(0.5, Box::new(Regularization(super::super::Regularizer::H1)));
        obj.push(0.0, Box::new(Regularization(super::super::Regularizer::Tv)));
        let (total, v) = obj.evaluate(&it).unwrap();
        // (2 − 1)² / (1 + 4) = 0.2; H1 = (1 + 4) / 2 = 2.5.
        assert!((v.get("misfit").unwrap() - 0.2).abs() < 1e-6);
        assert!((v.get("regularizer").unwrap() - 2.5).abs() < 1e-6);
        assert_eq!(v.terms.len(), 2);
        assert!((total.to_scalar::<f32>().unwrap() as f64 - 1.45).abs() < 1e-5);
        assert!((v.total - 1.45).abs() < 1e-6);
    }

    #[test]
    fn pde_term_is_zero_for_the_discrete_solution_and_one_for_zero() {
        use crate::physics::Darcy;
        use crate::solvers::darcy::solve;
        let d = Device::Cpu;
        let n = 12;
        let a: Vec<f64> = (0..n * n)
            .map(|i| if (i / n + i % n) % 3 == 0 { 12.0 } else { 3.0 })
            .collect();
        let u = solve(&a, n, n, 1.0, 1e-10, 10_000).unwrap();
        let to_t = |v: &[f64]| {
            Tensor::from_vec(
                v.iter().map(|&x| x as f32).collect::<Vec<_>>(),
                (1, 1, n, n),
                &d,
            )
            .unwrap()
        };
        let (a, u) = (to_t(&a), to_t(&u));
        let grid_of = || Grid {
            lengths: vec![1.0, 1.0],
            dt: None,
        };
        let term = PdeResidual::new(Box::new(Darcy { beta: 1.0 }), grid_of(), &a).unwrap();
        let at = |output: &Tensor| {
            let it = Iterate {
                input: &a,
                scaled: &a,
                output,
            };
            term.value(&it).unwrap().to_scalar::<f32>().unwrap()
        };
        assert!(at(&u) < 1e-6, "exact solution: {}", at(&u));
        assert!((at(&u.zeros_like().unwrap()) - 1.0).abs() < 1e-6);

        // On full observations of the solution, the prediction is ignored;
        // on an empty mask, the observations are.
        let zero = u.zeros_like().unwrap();
        let ones = u.ones_like().unwrap();
        let term = |observed: &Tensor, mask: &Tensor| {
            PdeResidual::new(Box::new(Darcy { beta: 1.0 }), grid_of(), &a)
                .unwrap()
                .on_observations(observed, mask)
                .unwrap()
        };
        let value = |t: &PdeResidual, output: &Tensor| {
            let it = Iterate {
                input: &a,
                scaled: &a,
                output,
            };
            t.value(&it).unwrap().to_scalar::<f32>().unwrap()
        };
        assert!(value(&term(&u, &ones), &zero) < 1e-6);
        assert!((value(&term(&u, &zero), &zero) - 1.0).abs() < 1e-6);
        assert!(value(&term(&zero, &zero), &u) < 1e-6);
    }
}
