//! The Well's windows: how its loader (`WellDataset` in
//! `the_well/data/datasets.py`) cuts trajectories into training pairs.
//!
//! A trajectory of `T` frames (after the time stride) holds
//! `T − n_in − n_out + 1` windows; window `w` gives frames `w .. w + n_in`,
//! stacked time-major as channels and followed by the fields constant in
//! time, as input, and frames `w + n_in .. w + n_in + n_out` as target.
//! Training visits every window of every trajectory, each identified by
//! one number ([`WindowIds`]) so that shuffling, batching and sharding
//! treat windows as they treat samples.
use super::example::{stack_time_as_channels, Example, TaskError};
use super::reader::Sample;
use ndarray::{concatenate, ArrayD, Axis, Slice};

/// Windows of `n_in` + `n_out` frames in a trajectory of `frames` frames.
pub fn window_count(n_in: usize, n_out: usize, frames: usize) -> usize {
    (frames + 1).saturating_sub(n_in + n_out)
}

/// Checks the window task's settings against trajectories of `frames`
/// frames: both at least 1 and one window must fit.
pub(crate) fn check(
    n_in: usize,
    n_out: usize,
    max_rollout_steps: Option<usize>,
    frames: usize,
) -> Result<(), TaskError> {
    if n_in == 0 {
        return Err(TaskError::Zero {
            setting: "task.n_steps_input",
        });
    }
    if n_out == 0 {
        return Err(TaskError::Zero {
            setting: "task.n_steps_output",
        });
    }
    if max_rollout_steps == Some(0) {
        return Err(TaskError::Zero {
            setting: "task.max_rollout_steps",
        });
    }
    if window_count(n_in, n_out, frames) == 0 {
        return Err(TaskError::TooShortForWindow {
            input: n_in,
            output: n_out,
            needed: n_in + n_out,
            frames,
        });
    }
    Ok(())
}

/// Window `start` of `sample`: its `n_in` frames and the sample's constant
/// fields as input, the `n_out` frames after them as target.
pub fn window_example(
    sample: &Sample,
    n_in: usize,
    n_out: usize,
    start: usize,
) -> Result<Example, TaskError> {
    let frames = sample.frames.shape()[0];
    if start + n_in + n_out > frames {
        return Err(TaskError::TooShortForWindow {
            input: n_in,
            output: n_out,
            needed: start + n_in + n_out,
            frames,
        });
    }
    let target = frames_as_channels(sample, start + n_in, n_out);
    Ok(Example {
        input: with_constants(frames_as_channels(sample, start, n_in), sample)?,
        target,
    })
}

/// The rollout pair of a whole sample: the first window's input and the
/// `steps` frames after it as target.
pub(crate) fn rollout_example(
    sample: &Sample,
    n_in: usize,
    steps: usize,
) -> Result<Example, TaskError> {
    let frames = sample.frames.shape()[0];
    if n_in + steps > frames || steps == 0 {
        return Err(TaskError::TooShortForWindow {
            input: n_in,
            output: 1,
            needed: n_in + steps.max(1),
            frames,
        });
    }
    Ok(Example {
        input: with_constants(frames_as_channels(sample, 0, n_in), sample)?,
        target: frames_as_channels(sample, n_in, steps),
    })
}

/// Frames `start .. start + n` stacked time-major as channels.
fn frames_as_channels(sample: &Sample, start: usize, n: usize) -> ArrayD<f32> {
    stack_time_as_channels(
        &sample
            .frames
            .slice_axis(Axis(0), Slice::from(start..start + n))
            .to_owned(),
    )
}

/// `frames` followed by the sample's fields constant in time, as The
/// Well's models take them (its `constant_fields` beside `input_fields`).
fn with_constants(frames: ArrayD<f32>, sample: &Sample) -> Result<ArrayD<f32>, TaskError> {
    match &sample.input {
        None => Ok(frames),
        Some(constant) => concatenate(Axis(0), &[frames.view(), constant.view()]).map_err(|_| {
            TaskError::ConstantGrid {
                constant: constant.shape().to_vec(),
                frames: frames.shape().to_vec(),
            }
        }),
    }
}

/// Numbers every window of a set of samples that all have the same number
/// of windows: window `w` of sample `s` is `s · per_sample + w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowIds {
    /// Windows in each sample.
    pub per_sample: usize,
    /// `task.n_steps_input`.
    pub n_in: usize,
    /// `task.n_steps_output`.
    pub n_out: usize,
}

impl WindowIds {
    /// Every window of each of `samples`, sample by sample.
    pub fn of(&self, samples: &[usize]) -> Vec<usize> {
        samples
            .iter()
            .flat_map(|&s| (0..self.per_sample).map(move |w| s * self.per_sample + w))
            .collect()
    }

    /// The (sample, window start) of window `id`.
    pub fn locate(&self, id: usize) -> (usize, usize) {
        let per = self.per_sample.max(1);
        (id / per, id % per)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    fn sample(t: usize, c: usize, x: usize, constant: bool) -> Sample {
        Sample {
            index: 0,
            frames: ArrayD::from_shape_fn(IxDyn(&[t, c, x]), |i| {
                (i[0] * 100 + i[1] * 10 + i[2]) as f32
            }),
            input: constant.then(|| ArrayD::from_elem(IxDyn(&[1, x]), -1.0)),
        }
    }

    #[test]
    fn windows_are_counted_and_cut_as_the_well_does() {
        assert_eq!(window_count(2, 1, 6), 4);
        assert_eq!(window_count(4, 2, 5), 0);
        let s = sample(6, 2, 3, true);
        let ex = window_example(&s, 2, 1, 3).unwrap();
        // Frames 3 and 4 (2 channels each), then the constant field.
        assert_eq!(ex.input.shape(), &[5, 3]);
        assert_eq!(ex.input[[0, 1]], 301.0);
        assert_eq!(ex.input[[3, 2]], 412.0);
        assert_eq!(ex.input[[4, 0]], -1.0);
        assert_eq!(ex.target.shape(), &[2, 3]);
        assert_eq!(ex.target[[1, 0]], 510.0);
        assert!(window_example(&s, 2, 1, 4).is_err());
    }

    #[test]
    fn window_ids_round_trip() {
        let ids = WindowIds {
            per_sample: 3,
            n_in: 2,
            n_out: 1,
        };
        let all = ids.of(&[4, 1]);
        assert_eq!(all, vec![12, 13, 14, 3, 4, 5]);
        assert_eq!(ids.locate(13), (4, 1));
        assert_eq!(ids.locate(5), (1, 2));
    }

    #[test]
    fn short_trajectories_and_zero_settings_are_refused() {
        assert!(matches!(
            check(4, 2, None, 5),
            Err(TaskError::TooShortForWindow { needed: 6, .. })
        ));
        assert!(check(0, 1, None, 5).is_err());
        assert!(check(1, 0, None, 5).is_err());
        assert!(check(1, 1, Some(0), 5).is_err());
        assert!(check(4, 1, None, 5).is_ok());
    }
}
