//! The physics terms of the training loss: `w_pde · mean(R²) + w_ic · IC`,
//! added to `w_data · data` (weights and grid from [`PhysicsConfig`], the
//! `[physics]` section of the run configuration).
//!
//! The residual is taken on the model's prediction decoded to physical
//! units, optionally on a grid finer than the data's (`pde_resolution`):
//! the operator is queried there with [`Fno::forward_to`], so the equation
//! is checked where no data exist. Samples without labels
//! (`unlabelled_samples`) contribute the physics terms only.
use candle_core::{Tensor, D};

use super::config::PhysicsConfig;
use super::TrainError;
use crate::data::{Normalizer, PdebenchFile, Resolution, Task};
use crate::model::resample::fourier_resample;
use crate::model::Fno;
use crate::physics::loss::{ic_loss, pde_loss};
use crate::physics::{Grid, Pde, PdeSpec};

/// Whether the task's output is a trajectory with time last or one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// The space-time task: `[B, C, X.., T]`, the input repeats the
    /// initial condition along T.
    SpaceTime,
    /// A one-shot map from an input field (Darcy's coefficient).
    Stationary,
}

/// The physics part of the loss for one run, resolved against its data.
#[derive(Debug)]
pub struct PhysicsTerm {
    pde: Box<dyn Pde>,
    layout: Layout,
    lengths: Vec<f64>,
    dt: Option<f64>,
    factors: Vec<usize>,
}

/// The two physics losses of a batch, as scalars in the graph.
pub struct PhysicsLosses {
    /// Mean square residual.
    pub pde: Tensor,
    /// Mean square initial-condition misfit (zero for stationary tasks).
    pub ic: Tensor,
}

impl PhysicsTerm {
    /// Resolves the equation and the residual grid for a task on `file` at
    /// strides `res`.
    pub fn new(
        cfg: &PhysicsConfig,
        task: &Task,
        file: &PdebenchFile,
        res: &Resolution,
    ) -> Result<Self, TrainError> {
        let info = file.info();
        let layout = match task {
            Task::SpaceTime => Layout::SpaceTime,
            Task::OneShot { .. } if !info.input_fields.is_empty() => Layout::Stationary,
            _ => {
                return Err(setting(
                    "physics",
                    "physics terms need the space_time task, or a one_shot task on a file with an input field (Darcy)".into(),
                ))
            }
        };
        let spec = match cfg.pde {
            Some(spec) => spec,
            None => PdeSpec::for_file(info)?,
        };
        let pde = spec.build(info, cfg.time_order)?;
        let dt = match layout {
            Layout::SpaceTime => {
                let t = file.coordinates(res)?.time;
                match t.as_slice() {
                    [t0, t1, ..] if t1 > t0 => Some(t1 - t0),
                    _ => {
                        return Err(setting(
                            "physics",
                            format!(
                                "{}: the time coordinates give no time step",
                                info.path.display()
                            ),
                        ))
                    }
                }
            }
            Layout::Stationary => None,
        };
        let dims = task.model_dims(info.spatial_shape.len());
        let factors = if cfg.pde_resolution.is_empty() {
            vec![1; dims]
        } else if cfg.pde_resolution.len() == dims {
            cfg.pde_resolution.clone()
        } else {
            return Err(setting(
                "physics.pde_resolution",
                format!(
                    "{} factors given but the model has {dims} axes (space{})",
                    cfg.pde_resolution.len(),
                    if layout == Layout::SpaceTime {
                        " and time"
                    } else {
                        ""
                    }
                ),
            ));
        };
        Ok(Self {
            pde,
            layout,
            lengths: info.domain.iter().map(|[lo, hi]| hi - lo).collect(),
            dt,
            factors,
        })
    }

    /// The equation.
    pub fn pde(&self) -> &dyn Pde {
        self.pde.as_ref()
    }

    /// Whether the residual grid is the data grid.
    fn on_data_grid(&self) -> bool {
        self.factors.iter().all(|&f| f == 1)
    }

    /// The residual grid for a data grid.
    pub fn fine_grid(&self, data_grid: &[usize]) -> Vec<usize> {
        data_grid
            .iter()
            .zip(&self.factors)
            .map(|(n, f)| n * f)
            .collect()
    }

    /// The residual's grid geometry for a data grid.
    fn grid(&self) -> Grid {
        let time_factor = match self.layout {
            Layout::SpaceTime => self.factors.last().copied().unwrap_or(1),
            Layout::Stationary => 1,
        };
        Grid {
            lengths: self.lengths.clone(),
            dt: self.dt.map(|dt| dt / time_factor as f64),
        }
    }

    /// PDE and initial-condition losses of a batch.
    ///
    /// - `x`: the normalised model input; `input`: the same in physical
    ///   units (the initial condition repeated along T, or the coefficient);
    /// - `pred`: the normalised prediction on the data grid when the caller
    ///   already has it (reused when the residual lives on the data grid).
    pub fn losses(
        &self,
        model: &Fno,
        x: &Tensor,
        input: &Tensor,
        pred: Option<&Tensor>,
        output: &Normalizer,
    ) -> Result<PhysicsLosses, TrainError> {
        let data_grid = x.dims()[2..].to_vec();
        let fine = self.fine_grid(&data_grid);
        let normalised = match pred {
            Some(p) if self.on_data_grid() => p.clone(),
            _ => model.forward_to(x, &fine)?,
        };
        let u = output.decode(&normalised)?;
        let grid = self.grid();
        match self.layout {
            Layout::SpaceTime => {
                let ic = input.narrow(D::Minus1, 0, 1)?;
                let space = &fine[..fine.len() - 1];
                let ic = fourier_resample(&ic.squeeze(D::Minus1)?, space)?;
                Ok(PhysicsLosses {
                    pde: pde_loss(self.pde(), &u, &ic, &grid)?,
                    ic: ic_loss(&u, &ic)?,
                })
            }
            Layout::Stationary => {
                let a = upsample_nearest(input, &self.factors)?;
                Ok(PhysicsLosses {
                    pde: pde_loss(self.pde(), &u, &a, &grid)?,
                    ic: Tensor::zeros((), u.dtype(), u.device())?,
                })
            }
        }
    }
}

/// Repeats every cell `factors[i]` times along grid axis `i` (a
/// piecewise-constant coefficient refined without inventing new values).
fn upsample_nearest(a: &Tensor, factors: &[usize]) -> candle_core::Result<Tensor> {
    let mut y = a.clone();
    for (axis, &f) in factors.iter().enumerate() {
        if f == 1 {
            continue;
        }
        let dim = 2 + axis;
        let mut dims = y.dims().to_vec();
        let expanded = y.unsqueeze(dim + 1)?;
        let mut target = expanded.dims().to_vec();
        target[dim + 1] = f;
        dims[dim] *= f;
        y = expanded.broadcast_as(target)?.contiguous()?.reshape(dims)?;
    }
    Ok(y)
}

fn setting(setting: &'static str, reason: String) -> TrainError {
    TrainError::Physics(crate::physics::PhysicsError::Setting { setting, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn nearest_upsampling_repeats_cells() {
        let a = Tensor::new(&[[[[1f32, 2.], [3., 4.]]]], &Device::Cpu).unwrap();
        let up = upsample_nearest(&a, &[2, 1]).unwrap();
        assert_eq!(
            up.squeeze(0)
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap(),
            vec![vec![1., 2.], vec![1., 2.], vec![3., 4.], vec![3., 4.]]
        );
    }

    #[test]
    fn defaults_are_supervised_and_bad_values_name_the_setting() {
        let cfg = PhysicsConfig::default();
        assert!(!cfg.active());
        assert!(cfg.validate().is_ok());
        let bad = PhysicsConfig {
            w_pde: -1.0,
            ..PhysicsConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("physics.w_pde"));
        let bad = PhysicsConfig {
            unlabelled_samples: 5,
            ..PhysicsConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("physics.unlabelled_samples"));
    }
}
