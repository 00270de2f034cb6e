//! Learning-rate schedules with linear warm-up.
use serde::{Deserialize, Serialize};

use super::config_error::{at_least_one, invalid, ConfigError};

/// How the learning rate changes over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `step_size` epochs (PyTorch's StepLR;
    /// PDEBench's FNO uses step_size 100, gamma 0.5).
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Cosine decay from the base rate to `min_lr` over the run.
    Cosine {
        /// Final learning rate.
        min_lr: f64,
    },
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Step {
            step_size: 100,
            gamma: 0.5,
        }
    }
}

impl Schedule {
    /// Refuses parameters that make no sense, naming the setting: a step
    /// of 0 epochs, a decay factor outside `(0, 1]` (a growing, negative or
    /// NaN rate), a final rate that is negative, NaN or above the base
    /// rate `lr`.
    pub fn validate(&self, lr: f64) -> Result<(), ConfigError> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { step_size, gamma } => {
                at_least_one("train.schedule.step_size", step_size)?;
                if !(gamma > 0.0 && gamma <= 1.0) {
                    return Err(invalid(
                        "train.schedule.gamma",
                        format!("{gamma}: must lie in (0, 1], the factor applied every step_size epochs"),
                    ));
                }
                Ok(())
            }
            Schedule::Cosine { min_lr } => {
                if !(min_lr >= 0.0 && min_lr <= lr) {
                    return Err(invalid(
                        "train.schedule.min_lr",
                        format!("{min_lr}: must lie in [0, train.lr = {lr}]"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Learning rate for `epoch` (0-based) of `epochs`, after `warmup`
    /// epochs of linear warm-up from base/warmup to base.
    pub fn lr(&self, base: f64, epoch: usize, epochs: usize, warmup: usize) -> f64 {
        if epoch < warmup {
            return base * (epoch + 1) as f64 / warmup as f64;
        }
        let e = epoch - warmup;
        match *self {
            Schedule::Constant => base,
            Schedule::Step { step_size, gamma } => base * gamma.powi((e / step_size.max(1)) as i32),
            Schedule::Cosine { min_lr } => {
                let span = epochs.saturating_sub(warmup).max(1) as f64;
                let progress = (e as f64 / span).min(1.0);
                min_lr + 0.5 * (base - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_halves_every_step_size_epochs() {
        let s = Schedule::default();
        assert_eq!(s.lr(1e-3, 0, 500, 0), 1e-3);
        assert_eq!(s.lr(1e-3, 99, 500, 0), 1e-3);
        assert_eq!(s.lr(1e-3, 100, 500, 0), 5e-4);
        assert_eq!(s.lr(1e-3, 250, 500, 0), 2.5e-4);
    }

    #[test]
    fn warmup_then_cosine_to_min() {
        let s = Schedule::Cosine { min_lr: 0.0 };
        assert_eq!(s.lr(1.0, 0, 12, 2), 0.5);
        assert_eq!(s.lr(1.0, 1, 12, 2), 1.0);
        assert_eq!(s.lr(1.0, 2, 12, 2), 1.0);
        assert!((s.lr(1.0, 7, 12, 2) - 0.5).abs() < 1e-12);
        assert!(s.lr(1.0, 11, 12, 2) < 0.03);
    }

    fn refused(s: Schedule, lr: f64, field: &str) {
        match s.validate(lr) {
            Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{s:?}"),
            other => panic!("{s:?} with lr {lr}: expected {field} refused, got {other:?}"),
        }
    }

    #[test]
    fn validate_refuses_nonsense_parameters() {
        for gamma in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            refused(
                Schedule::Step {
                    step_size: 10,
                    gamma,
                },
                1e-3,
                "train.schedule.gamma",
            );
        }
        refused(
            Schedule::Step {
                step_size: 0,
                gamma: 0.5,
            },
            1e-3,
            "train.schedule.step_size",
        );
        for min_lr in [-1e-6, f64::NAN, f64::INFINITY, 2e-3] {
            refused(Schedule::Cosine { min_lr }, 1e-3, "train.schedule.min_lr");
        }
        for ok in [
            Schedule::Constant,
            Schedule::default(),
            Schedule::Step {
                step_size: 1,
                gamma: 1.0,
            },
            Schedule::Cosine { min_lr: 0.0 },
            Schedule::Cosine { min_lr: 1e-3 },
        ] {
            ok.validate(1e-3).unwrap();
        }
    }
}
