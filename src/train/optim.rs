//! AdamW with state that can be saved and restored, and gradient clipping.
//!
//! candle-nn's `AdamW` keeps its moment estimates private, so a resumed run
//! could not continue exactly where it stopped. This one names its state
//! after the model's variables and saves it as safetensors.
use super::adamw_inplace;
use super::adamw_params::StepParams;
use super::config_error::{invalid, non_negative, positive, ConfigError};
use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// AdamW hyper-parameters; defaults are PyTorch's except `weight_decay`
/// (1e-4, as neuraloperator's examples use).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWConfig {
    /// First-moment decay. Default: 0.9.
    pub beta1: f64,
    /// Second-moment decay. Default: 0.999.
    pub beta2: f64,
    /// Added to the denominator for stability. Default: 1e-8.
    pub eps: f64,
    /// Decoupled weight decay. Default: 1e-4.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        }
    }
}

impl AdamWConfig {
    /// Refuses settings that make the update meaningless or non-finite,
    /// naming the setting: a decay outside `[0, 1)` never forgets (1) or
    /// oscillates (> 1, < 0), `eps = 0` divides by zero on a zero
    /// gradient, and a negative decay pushes weights away from zero.
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        for (field, beta) in [
            ("train.optimizer.beta1", self.beta1),
            ("train.optimizer.beta2", self.beta2),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return Err(invalid(field, format!("{beta}: must lie in [0, 1)")));
            }
        }
        positive("train.optimizer.eps", self.eps)?;
        non_negative("train.optimizer.weight_decay", self.weight_decay)
    }
}

struct Slot {
    name: String,
    var: Var,
    m: Var,
    v: Var,
}

/// The variables of `varmap` with their names, in name order (a
/// `VarMap` is a hash map, so its own order varies from run to run).
pub fn named_vars(
    varmap: &candle_nn::VarMap,
) -> std::result::Result<Vec<(String, Var)>, super::TrainError> {
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .map_err(|_| super::TrainError::Poisoned)?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(vars)
}

/// AdamW over a set of named variables.
pub struct AdamW {
    slots: Vec<Slot>,
    config: AdamWConfig,
    step: u64,
}

impl AdamW {
    /// Creates the optimizer with zero moments. Variables are kept in name
    /// order so the saved state does not depend on hash-map order.
    pub fn new(mut vars: Vec<(String, Var)>, config: AdamWConfig) -> Result<Self> {
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                let m = Var::zeros(var.shape(), var.dtype(), var.device())?;
                let v = Var::zeros(var.shape(), var.dtype(), var.device())?;
                Ok(Slot { name, var, m, v })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            slots,
            config,
            step: 0,
        })
    }

    /// Number of updates taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One update at learning rate `lr`. Variables without a gradient are
    /// left alone (their moments do not decay), as in PyTorch.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let params = StepParams {
            lr,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
            bias1: 1.0 - c.beta1.powi(t),
            bias2: 1.0 - c.beta2.powi(t),
        };
        for slot in &self.slots {
            let Some(g) = grads.get(&slot.var) else {
                continue;
            };
            if slot.var.device().is_cpu() || slot.var.device().is_cuda() {
                adamw_inplace::step(slot.var.as_tensor(), &slot.m, &slot.v, g, params)?;
            } else {
                step_with_ops(slot, g, params)?;
            }
        }
        Ok(())
    }

    /// The first variable or moment holding a NaN or an infinity, named
    /// (`x`, `x` first moment, `x` second moment), with that value; none
    /// when every element is finite. Checked before a checkpoint is saved,
    /// since a diverged step can leave a finite loss but broken state.
    pub fn first_non_finite(&self) -> Result<Option<(String, f64)>> {
        for slot in &self.slots {
            for (tensor, what) in [
                (&slot.var, "weight"),
                (&slot.m, "first moment"),
                (&slot.v, "second moment"),
            ] {
                if let Some(value) = first_non_finite(tensor.as_tensor())? {
                    let name = match what {
                        "weight" => format!("weight `{}`", slot.name),
                        moment => format!("the optimiser's {moment} of `{}`", slot.name),
                    };
                    return Ok(Some((name, value)));
                }
            }
        }
        Ok(None)
    }

    /// Saves the moments and the step count as safetensors.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for slot in &self.slots {
            tensors.insert(format!("{}.m", slot.name), slot.m.as_tensor().clone());
            tensors.insert(format!("{}.v", slot.name), slot.v.as_tensor().clone());
        }
        let step = Tensor::new(&[self.step as f64], &candle_core::Device::Cpu)?;
        tensors.insert("__step".into(), step);
        candle_core::safetensors::save(&tensors, path)
    }

    /// Restores the moments and step count saved by [`AdamW::save`]; every
    /// variable must be present with its shape.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let device = self
            .slots
            .first()
            .map_or(candle_core::Device::Cpu, |s| s.var.device().clone());
        let tensors = candle_core::safetensors::load(path, &device)?;
        let fetch = |key: &str, like: &Var| -> Result<Tensor> {
            let t = tensors.get(key).ok_or_else(|| {
                candle_core::Error::Msg(format!("{}: no optimizer state `{key}`", path.display()))
            })?;
            if t.shape() != like.shape() {
                candle_core::bail!(
                    "{}: optimizer state `{key}` has shape {:?}, the model has {:?}",
                    path.display(),
                    t.shape(),
                    like.shape()
                );
            }
            t.to_dtype(like.dtype())
        };
        for slot in &self.slots {
            slot.m.set(&fetch(&format!("{}.m", slot.name), &slot.m)?)?;
            slot.v.set(&fetch(&format!("{}.v", slot.name), &slot.v)?)?;
        }
        let step = tensors.get("__step").ok_or_else(|| {
            candle_core::Error::Msg(format!("{}: no optimizer step count", path.display()))
        })?;
        self.step = step
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?
            .first()
            .copied()
            .unwrap_or(0.0) as u64;
        Ok(())
    }
}

/// The first NaN or infinite element of `t`, read on the host in its own
/// precision (f32 as is, anything else as f64, so that no finite value
/// overflows on the way).
fn first_non_finite(t: &Tensor) -> Result<Option<f64>> {
    let flat = t.flatten_all()?;
    if flat.dtype() == DType::F32 {
        let values = flat.to_vec1::<f32>()?;
        return Ok(values.into_iter().find(|v| !v.is_finite()).map(f64::from));
    }
    let values = flat.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    Ok(values.into_iter().find(|v| !v.is_finite()))
}

/// The AdamW update of one variable with candle's ops, for devices that
/// have no fused kernel (see [`adamw_inplace`] for the arithmetic).
fn step_with_ops(slot: &Slot, g: &Tensor, p: StepParams) -> Result<()> {
    let m = ((slot.m.as_tensor() * p.beta1)? + (g * (1.0 - p.beta1))?)?;
    let v = ((slot.v.as_tensor() * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
    let denom = ((v.clone() / p.bias2)?.sqrt()? + p.eps)?;
    let update = ((m.clone() / p.bias1)? / denom)?;
    let decayed = (slot.var.as_tensor() * (1.0 - p.lr * p.weight_decay))?;
    slot.var.set(&(decayed - (update * p.lr)?)?)?;
    slot.m.set(&m)?;
    slot.v.set(&v)
}

/// Scales gradients so their global L2 norm is at most `max_norm`; returns
/// the norm before clipping. candle has no gradient clipping, and a global
/// norm (over all variables together) is what PyTorch's
/// `clip_grad_norm_` computes.
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut total = 0.0f64;
    for var in vars {
        if let Some(g) = grads.get(var) {
            total += g
                .sqr()?
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
        }
    }
    let norm = total.sqrt();
    if norm.is_finite() && norm > max_norm && max_norm > 0.0 {
        let scale = max_norm / (norm + 1e-6);
        for var in vars {
            if let Some(g) = grads.remove(var) {
                grads.insert(var, (g * scale)?);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn config_validate_refuses_each_bad_setting() {
        AdamWConfig::default().validate().unwrap();
        let base = AdamWConfig::default();
        let cases = [
            (AdamWConfig { beta1: 1.0, ..base }, "train.optimizer.beta1"),
            (
                AdamWConfig {
                    beta1: -0.1,
                    ..base
                },
                "train.optimizer.beta1",
            ),
            (
                AdamWConfig {
                    beta1: f64::NAN,
                    ..base
                },
                "train.optimizer.beta1",
            ),
            (AdamWConfig { beta2: 1.0, ..base }, "train.optimizer.beta2"),
            (AdamWConfig { beta2: 2.0, ..base }, "train.optimizer.beta2"),
            (AdamWConfig { eps: 0.0, ..base }, "train.optimizer.eps"),
            (AdamWConfig { eps: -1e-8, ..base }, "train.optimizer.eps"),
            (
                AdamWConfig {
                    eps: f64::NAN,
                    ..base
                },
                "train.optimizer.eps",
            ),
            (
                AdamWConfig {
                    weight_decay: -1e-4,
                    ..base
                },
                "train.optimizer.weight_decay",
            ),
            (
                AdamWConfig {
                    weight_decay: f64::INFINITY,
                    ..base
                },
                "train.optimizer.weight_decay",
            ),
        ];
        for (cfg, field) in cases {
            match cfg.validate() {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{cfg:?}: expected {field} refused, got {other:?}"),
            }
        }
        AdamWConfig {
            beta1: 0.0,
            beta2: 0.0,
            ..base
        }
        .validate()
        .unwrap();
    }

    /// The fused in-place CPU update equals the candle-ops update over
    /// several steps (f32, a large variable split into parallel chunks and
    /// a non-contiguous gradient).
    #[test]
    fn fused_cpu_update_matches_the_ops_update() {
        let dev = Device::Cpu;
        let n = 40_000;
        let init: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let fused = Var::new(init.as_slice(), &dev).unwrap();
        let plain = Slot {
            name: "w".into(),
            var: Var::new(init.as_slice(), &dev).unwrap(),
            m: Var::zeros(n, DType::F32, &dev).unwrap(),
            v: Var::zeros(n, DType::F32, &dev).unwrap(),
        };
        let cfg = AdamWConfig::default();
        let mut opt = AdamW::new(vec![("w".into(), fused.clone())], cfg).unwrap();
        for t in 1..=5 {
            // A gradient that is a strided view: column 0 of a [n, 2] tensor.
            let g: Vec<f32> = (0..2 * n)
                .map(|i| ((i * 7 + t * 13) % 29) as f32 / 7.0 - 2.0)
                .collect();
            let g = Tensor::from_vec(g, (n, 2), &dev)
                .unwrap()
                .narrow(1, 0, 1)
                .unwrap()
                .squeeze(1)
                .unwrap();
            assert!(!g.is_contiguous());
            let mut grads = fused
                .as_tensor()
                .zeros_like()
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            grads.insert(fused.as_tensor(), g.clone());
            opt.step(&grads, 1e-2).unwrap();
            let params = StepParams {
                lr: 1e-2,
                beta1: cfg.beta1,
                beta2: cfg.beta2,
                eps: cfg.eps,
                weight_decay: cfg.weight_decay,
                bias1: 1.0 - cfg.beta1.powi(t as i32),
                bias2: 1.0 - cfg.beta2.powi(t as i32),
            };
            step_with_ops(&plain, &g, params).unwrap();
        }
        let a = fused.as_tensor().to_vec1::<f32>().unwrap();
        let b = plain.var.as_tensor().to_vec1::<f32>().unwrap();
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "largest difference {worst}");
        assert!(
            a.iter().zip(&init).any(|(x, y)| x != y),
            "the update moved nothing"
        );
    }

    /// Hand-computed first step: with zero moments, AdamW moves each
    /// parameter by lr * sign(g) (up to eps) plus the decay.
    #[test]
    fn first_step_matches_hand_computation() {
        let dev = Device::Cpu;
        let w = Var::new(&[1.0f64, -2.0], &dev).unwrap();
        let mut opt = AdamW::new(vec![("w".into(), w.clone())], AdamWConfig::default()).unwrap();
        let loss = (w.as_tensor() * &Tensor::new(&[3.0f64, -0.5], &dev).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        opt.step(&grads, 0.1).unwrap();
        let got = w.as_tensor().to_vec1::<f64>().unwrap();
        let want = [
            1.0 * (1.0 - 0.1 * 1e-4) - 0.1,
            -2.0 * (1.0 - 0.1 * 1e-4) + 0.1,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn minimises_a_quadratic() {
        let dev = Device::Cpu;
        let w = Var::new(&[3.0f32, -4.0], &dev).unwrap();
        let cfg = AdamWConfig {
            weight_decay: 0.0,
            ..AdamWConfig::default()
        };
        let mut opt = AdamW::new(vec![("w".into(), w.clone())], cfg).unwrap();
        for _ in 0..500 {
            let grads = w
                .as_tensor()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            opt.step(&grads, 0.05).unwrap();
        }
        let got = w.as_tensor().to_vec1::<f32>().unwrap();
        assert!(got.iter().all(|v| v.abs() < 1e-2), "{got:?}");
    }

    #[test]
    fn non_finite_weights_and_moments_are_found_and_named() {
        let dev = Device::Cpu;
        let a = Var::new(&[1.0f32, 2.0], &dev).unwrap();
        let b = Var::new(&[3.0f32, 4.0], &dev).unwrap();
        let opt = AdamW::new(
            vec![("a".into(), a.clone()), ("b".into(), b.clone())],
            AdamWConfig::default(),
        )
        .unwrap();
        assert_eq!(opt.first_non_finite().unwrap(), None);
        b.set(&Tensor::new(&[3.0f32, f32::INFINITY], &dev).unwrap())
            .unwrap();
        assert_eq!(
            opt.first_non_finite().unwrap(),
            Some(("weight `b`".to_string(), f64::INFINITY))
        );
        b.set(&Tensor::new(&[3.0f32, 4.0], &dev).unwrap()).unwrap();
        opt.slots[0]
            .v
            .set(&Tensor::new(&[0.0f32, f32::NAN], &dev).unwrap())
            .unwrap();
        let (what, value) = opt.first_non_finite().unwrap().unwrap();
        assert_eq!(what, "the optimiser's second moment of `a`");
        assert!(value.is_nan());
    }

    #[test]
    fn save_and_load_continue_identically() {
        let dev = Device::Cpu;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opt.safetensors");
        let run = |w: &Var, opt: &mut AdamW, steps: usize| {
            for _ in 0..steps {
                let grads = (w.as_tensor().sqr().unwrap() * 1.5)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                opt.step(&grads, 0.01).unwrap();
            }
        };
        let w1 = Var::new(&[1.0f32, 2.0, 3.0], &dev).unwrap();
        let mut o1 = AdamW::new(vec![("w".into(), w1.clone())], AdamWConfig::default()).unwrap();
        run(&w1, &mut o1, 3);
        o1.save(&path).unwrap();
        let w2 = Var::new(&w1.as_tensor().to_vec1::<f32>().unwrap()[..], &dev).unwrap();
        let mut o2 = AdamW::new(vec![("w".into(), w2.clone())], AdamWConfig::default()).unwrap();
        o2.load(&path).unwrap();
        assert_eq!(o2.steps(), 3);
        run(&w1, &mut o1, 4);
        run(&w2, &mut o2, 4);
        assert_eq!(
            w1.as_tensor().to_vec1::<f32>().unwrap(),
            w2.as_tensor().to_vec1::<f32>().unwrap()
        );
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let dev = Device::Cpu;
        let a = Var::new(&[3.0f64], &dev).unwrap();
        let b = Var::new(&[4.0f64], &dev).unwrap();
        // loss = a^2/2 + b^2/2 -> grads (3, 4), global norm 5.
        let loss = ((a.as_tensor().sqr().unwrap() + b.as_tensor().sqr().unwrap()).unwrap() * 0.5)
            .unwrap()
            .sum_all()
            .unwrap();
        let mut grads = loss.backward().unwrap();
        let vars = [a.clone(), b.clone()];
        let norm = clip_grad_norm(&mut grads, &vars, 1.0).unwrap();
        assert!((norm - 5.0).abs() < 1e-12);
        let ga = grads.get(&a).unwrap().to_vec1::<f64>().unwrap()[0];
        let gb = grads.get(&b).unwrap().to_vec1::<f64>().unwrap()[0];
        assert!(((ga * ga + gb * gb).sqrt() - 1.0).abs() < 1e-5);
        assert!((ga / gb - 0.75).abs() < 1e-12, "direction kept");
    }
}
