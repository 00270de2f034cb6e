//! One inverse problem: a sample of a file, what of its output is observed,
//! and the prior on its input.
use super::observe::{add_noise, mask, Observe};
use super::param::{bounds_from_examples, Parametrization};
use super::InverseError;
use crate::data::{Normalizer, PdebenchFile, Resolution, Task};
use ndarray::ArrayD;

/// Other samples whose input fields fix the bounds of a coefficient.
const PRIOR_SAMPLES: usize = 8;

/// A sample, its observation and the prior on its input.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Index of the sample in the file.
    pub sample: usize,
    /// The true input `[C_in, grid..]` (only for scoring).
    pub truth: ArrayD<f32>,
    /// The noise-free output `[C_out, grid..]`.
    pub clean: ArrayD<f32>,
    /// The observed output, noise added, same shape (values off the mask
    /// are not used).
    pub observed: ArrayD<f32>,
    /// 0/1 per output value, same shape.
    pub mask: ArrayD<f32>,
    /// The spatial grid.
    pub grid: Vec<usize>,
    /// How the input is represented while it is optimised.
    pub param: Parametrization,
    /// Time between input and output frames (time-dependent files).
    pub elapsed: Option<f64>,
}

/// Which frames of a time series hold the input and the output.
fn frames_of(task: &Task, frames: usize) -> Option<(usize, usize)> {
    match *task {
        Task::OneShot {
            input_frame,
            output_frame,
        } => {
            let out = if output_frame < 0 {
                frames as i64 + output_frame
            } else {
                output_frame
            };
            (out >= 0 && (out as usize) < frames).then_some((input_frame, out as usize))
        }
        _ => None,
    }
}

impl Problem {
    /// Reads sample `sample` of `file` the way `task` pairs it (a one-shot
    /// map, or the one-shot map an inverse task reverses), observes its output as `observe` says with noise of `noise` ×
    /// the field's std, and sets the prior: a coefficient (a file with an
    /// input field) is bounded by the range of the same field in other
    /// samples and binarised if they take two values; an initial condition
    /// is unbounded, in the units of `input_normalizer`.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        file: &PdebenchFile,
        task: &Task,
        resolution: &Resolution,
        input_normalizer: &Normalizer,
        sample: usize,
        observe: &Observe,
        noise: f64,
        seed: u64,
    ) -> Result<Self, InverseError> {
        let info = file.info();
        if sample >= info.num_samples {
            return Err(InverseError::SampleOutOfRange {
                path: info.path.clone(),
                sample,
                count: info.num_samples,
            });
        }
        let task = &task.forward_map().ok_or_else(|| InverseError::Task {
            task: format!("{task:?}"),
            wanted: "one_shot",
        })?;
        if !(noise.is_finite() && noise >= 0.0) {
            return Err(InverseError::Setting {
                setting: super::Setting::Noise,
                reason: format!("the noise level {noise} is not a finite number ≥ 0"),
            });
        }
        let frames = info.num_frames.div_ceil(resolution.reduced_resolution_t);
        task.validate(info, frames)?;
        let read = file.read_sample(sample, resolution)?;
        let example = task.example(&read)?;
        let grid = example.target.shape()[1..].to_vec();
        let channels = example.target.shape()[0];
        let mut point_mask = mask(observe, &grid, seed)?;
        let per_channel = point_mask.len();
        point_mask = point_mask
            .iter()
            .copied()
            .cycle()
            .take(per_channel * channels)
            .collect();
        let mut observed = example
            .target
            .as_standard_layout()
            .iter()
            .copied()
            .collect::<Vec<f32>>();
        add_noise(&mut observed, noise, seed ^ 0x6E6F_6973_6521);
        let shape = example.target.shape().to_vec();
        let to_array = |v: Vec<f32>| {
            ArrayD::from_shape_vec(shape.clone(), v).unwrap_or_else(|e| {
                unreachable!("the values come from an array of this shape: {e}")
            })
        };
        let param = if info.input_fields.is_empty() {
            Parametrization::Normalized(input_normalizer.clone())
        } else {
            let others: Vec<usize> = (0..info.num_samples)
                .filter(|&i| i != sample)
                .take(PRIOR_SAMPLES)
                .collect();
            let values = file
                .read_samples(&others, resolution)?
                .into_iter()
                .filter_map(|s| s.input)
                .flat_map(|a| a.into_iter());
            match bounds_from_examples(values) {
                Some(b) => Parametrization::Sigmoid(b),
                None => Parametrization::Normalized(input_normalizer.clone()),
            }
        };
        let elapsed = if info.input_fields.is_empty() {
            let time = file.coordinates(resolution)?.time;
            frames_of(task, time.len()).and_then(|(i, o)| Some(time.get(o)? - time.get(i)?))
        } else {
            None
        };
        Ok(Self {
            sample,
            truth: example.input,
            clean: example.target,
            observed: to_array(observed),
            mask: to_array(point_mask),
            grid,
            param,
            elapsed,
        })
    }

    /// Number of observed values.
    pub fn observed_points(&self) -> usize {
        self.mask.iter().filter(|&&m| m > 0.0).count()
    }

    /// Relative L2 distance of `input` from the true input.
    pub fn input_error(&self, input: &[f32]) -> f64 {
        relative_l2(input, self.truth.iter().copied())
    }

    /// Relative misfit ‖M(y − y_obs)‖ / ‖M y_obs‖ of an output.
    pub fn misfit(&self, output: &[f32]) -> f64 {
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for ((&y, &o), &m) in output.iter().zip(&self.observed).zip(&self.mask) {
            if m > 0.0 {
                num += f64::from(y - o).powi(2);
                den += f64::from(o).powi(2);
            }
        }
        (num / den.max(f64::MIN_POSITIVE)).sqrt()
    }
}

/// ‖a − b‖ / ‖b‖.
pub fn relative_l2(a: &[f32], b: impl Iterator<Item = f32>) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&x, y) in a.iter().zip(b) {
        num += f64::from(x - y).powi(2);
        den += f64::from(y).powi(2);
    }
    (num / den.max(f64::MIN_POSITIVE)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_resolve_negative_indices() {
        let t = Task::default();
        assert_eq!(frames_of(&t, 11), Some((0, 10)));
        let t = Task::OneShot {
            input_frame: 2,
            output_frame: 5,
        };
        assert_eq!(frames_of(&t, 11), Some((2, 5)));
        assert_eq!(frames_of(&t, 4), None);
        assert_eq!(frames_of(&Task::SpaceTime, 4), None);
    }

    #[test]
    fn relative_l2_is_relative() {
        assert!((relative_l2(&[1.1, 0.0], [1.0, 0.0].into_iter()) - 0.1).abs() < 1e-6);
        assert_eq!(relative_l2(&[3.0], [3.0].into_iter()), 0.0);
    }
}
