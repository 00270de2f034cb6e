//! Learning tasks: how a stored sample becomes (input, target) pairs.
//!
//! - **One-shot map**: one field to another (Darcy's `nu` to `tensor`, or
//!   frame t0 to frame t1).
//! - **Autoregressive**: the last `initial_step` frames, stacked as
//!   channels, predict the next frame; training and evaluation roll out
//!   over the whole trajectory, as PDEBench does.
//! - **Space-time** (PINO): the initial condition, repeated along a
//!   trailing time axis, maps to the whole trajectory on the (x, t) grid.
//! - **Inverse**: the one-shot map reversed, output to input (a learned
//!   inverse operator for `fno inverse --method learned`).
//! - **Window** (The Well's benchmark task): `n_steps_input` frames, plus
//!   the fields constant in time, predict the next `n_steps_output`
//!   frames; training takes every window of every trajectory
//!   ([`super::window`]), evaluation also rolls out whole trajectories.
use super::example::stack_time_as_channels;
pub use super::example::{Example, TaskError};
use super::reader::{FileInfo, Sample};
use ndarray::{Axis, Slice};
use serde::{Deserialize, Serialize};

/// The task a model is trained for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Task {
    /// One field to another. Files with an input field (Darcy) map it to
    /// the solution; others map frame `input_frame` to `output_frame`.
    OneShot {
        /// Input frame (ignored when the file has an input field). Default 0.
        #[serde(default)]
        input_frame: usize,
        /// Output frame; negative counts from the end. Default -1 (last).
        #[serde(default = "last_frame")]
        output_frame: i64,
    },
    /// `initial_step` frames predict the next; rolled out to the end.
    Autoregressive {
        /// Frames given as input (PDEBench: 10).
        initial_step: usize,
        /// Back-propagate through only the last k rollout steps (all if absent).
        #[serde(default)]
        backprop_steps: Option<usize>,
    },
    /// Initial condition to the whole trajectory, time as the last grid axis.
    SpaceTime,
    /// The one-shot map reversed: the output field (frame `output_frame`)
    /// to the input (the file's input field, or frame `input_frame`).
    Inverse {
        /// Frame recovered (ignored when the file has an input field). Default 0.
        #[serde(default)]
        input_frame: usize,
        /// Frame observed; negative counts from the end. Default -1 (last).
        #[serde(default = "last_frame")]
        output_frame: i64,
    },
    /// The Well's next-step task: every window of `n_steps_input` frames
    /// of a trajectory predicts the `n_steps_output` frames after it
    /// (stacked time-major as output channels); rollouts feed predictions
    /// back. As an example of a whole sample it is the first window's input
    /// and the rest of the trajectory (the rollout's target).
    Window {
        /// Frames given as input (The Well: `n_steps_input`).
        n_steps_input: usize,
        /// Frames predicted by one model call (The Well: `n_steps_output`,
        /// default 1).
        #[serde(default = "one_step")]
        n_steps_output: usize,
        /// Predict the change from the last known frame, normalised with
        /// the `_delta` statistics (The Well's `DeltaWellDataset`).
        #[serde(default)]
        predict_delta: bool,
        /// Frames a rollout predicts at most (The Well: `max_rollout_steps`);
        /// the whole trajectory when absent.
        #[serde(default)]
        max_rollout_steps: Option<usize>,
    },
}

fn one_step() -> usize {
    1
}

fn last_frame() -> i64 {
    -1
}

impl Default for Task {
    fn default() -> Self {
        Task::OneShot {
            input_frame: 0,
            output_frame: -1,
        }
    }
}

impl Task {
    /// The forward one-shot map of an inverse task (and a one-shot task
    /// itself); `None` for the time-series tasks.
    pub fn forward_map(&self) -> Option<Task> {
        match *self {
            Task::OneShot {
                input_frame,
                output_frame,
            }
            | Task::Inverse {
                input_frame,
                output_frame,
            } => Some(Task::OneShot {
                input_frame,
                output_frame,
            }),
            _ => None,
        }
    }

    /// Checks the task fits a file with `frames` frames (after striding).
    pub fn validate(&self, info: &FileInfo, frames: usize) -> Result<(), TaskError> {
        match *self {
            Task::Inverse {
                input_frame,
                output_frame,
            } => Task::OneShot {
                input_frame,
                output_frame,
            }
            .validate(info, frames),
            Task::OneShot {
                input_frame,
                output_frame,
            } => {
                if info.input_fields.is_empty() {
                    if input_frame >= frames {
                        return Err(TaskError::FrameOutOfRange {
                            setting: "task.input_frame",
                            value: input_frame as i64,
                            frames,
                        });
                    }
                    resolve_frame(output_frame, frames)?;
                }
                Ok(())
            }
            Task::Autoregressive { initial_step, .. } => {
                if frames < 2 {
                    return Err(TaskError::NeedsTime {
                        task: "autoregressive",
                    });
                }
                if initial_step == 0 || initial_step >= frames {
                    return Err(TaskError::FrameOutOfRange {
                        setting: "task.initial_step",
                        value: initial_step as i64,
                        frames,
                    });
                }
                Ok(())
            }
            Task::SpaceTime => {
                if frames < 2 {
                    return Err(TaskError::NeedsTime { task: "space_time" });
                }
                Ok(())
            }
            Task::Window {
                n_steps_input,
                n_steps_output,
                max_rollout_steps,
                ..
            } => super::window::check(n_steps_input, n_steps_output, max_rollout_steps, frames),
        }
    }

    /// Frames a rollout over a whole trajectory of `frames` frames
    /// predicts: all after the input window, or none for a one-call task.
    pub fn rollout_steps(&self, frames: usize) -> usize {
        match *self {
            Task::Autoregressive { initial_step, .. } => frames.saturating_sub(initial_step),
            Task::Window {
                n_steps_input,
                max_rollout_steps,
                ..
            } => {
                let all = frames.saturating_sub(n_steps_input);
                max_rollout_steps.map_or(all, |m| all.min(m))
            }
            _ => 1,
        }
    }

    /// Input and output channel counts of the model for a file.
    pub fn channels(&self, info: &FileInfo) -> (usize, usize) {
        let c = info.fields.len();
        match *self {
            Task::OneShot { .. } if !info.input_fields.is_empty() => (info.input_fields.len(), c),
            Task::OneShot { .. } | Task::SpaceTime => (c, c),
            Task::Autoregressive { initial_step, .. } => (initial_step * c, c),
            Task::Inverse { .. } if !info.input_fields.is_empty() => (c, info.input_fields.len()),
            Task::Inverse { .. } => (c, c),
            Task::Window {
                n_steps_input,
                n_steps_output,
                ..
            } => (
                n_steps_input * c + info.input_fields.len(),
                n_steps_output * c,
            ),
        }
    }

    /// Number of grid axes the model works on.
    pub fn model_dims(&self, spatial_dims: usize) -> usize {
        match self {
            Task::SpaceTime => spatial_dims + 1,
            _ => spatial_dims,
        }
    }

    /// Frames consumed as input before the targets start (PDEBench's
    /// `initial_step`, which its metrics skip).
    pub fn initial_step(&self) -> usize {
        match *self {
            Task::Autoregressive { initial_step, .. } => initial_step,
            Task::Window { n_steps_input, .. } => n_steps_input,
            Task::SpaceTime => 1,
            Task::OneShot { .. } | Task::Inverse { .. } => 0,
        }
    }

    /// The (input, target) pair of a sample. [`Task::validate`] gives the
    /// better message for a whole file; a sample with too few frames for
    /// the task is an error here too, never a panic.
    pub fn example(&self, sample: &Sample) -> Result<Example, TaskError> {
        let frames = &sample.frames;
        let n_frames = frames.shape()[0];
        match *self {
            Task::Inverse {
                input_frame,
                output_frame,
            } => {
                let forward = Task::OneShot {
                    input_frame,
                    output_frame,
                }
                .example(sample)?;
                Ok(Example {
                    input: forward.target,
                    target: forward.input,
                })
            }
            Task::OneShot {
                input_frame,
                output_frame,
            } => {
                let out = resolve_frame(output_frame, n_frames)?;
                let input = match &sample.input {
                    Some(input) => input.clone(),
                    None if input_frame < n_frames => {
                        frames.index_axis(Axis(0), input_frame).to_owned()
                    }
                    None => {
                        return Err(TaskError::FrameOutOfRange {
                            setting: "task.input_frame",
                            value: input_frame as i64,
                            frames: n_frames,
                        })
                    }
                };
                Ok(Example {
                    input,
                    target: frames.index_axis(Axis(0), out).to_owned(),
                })
            }
            Task::Autoregressive { initial_step, .. } if initial_step >= n_frames => {
                Err(TaskError::FrameOutOfRange {
                    setting: "task.initial_step",
                    value: initial_step as i64,
                    frames: n_frames,
                })
            }
            Task::Autoregressive { initial_step, .. } => Ok(Example {
                input: stack_time_as_channels(
                    &frames
                        .slice_axis(Axis(0), Slice::from(..initial_step))
                        .to_owned(),
                ),
                target: stack_time_as_channels(
                    &frames
                        .slice_axis(Axis(0), Slice::from(initial_step..))
                        .to_owned(),
                ),
            }),
            Task::Window { n_steps_input, .. } => {
                let steps = self.rollout_steps(n_frames);
                super::window::rollout_example(sample, n_steps_input, steps)
            }
            Task::SpaceTime => {
                // [T, C, X..] -> [C, X.., T].
                let mut order: Vec<usize> = (1..frames.ndim()).collect();
                order.push(0);
                let target = frames
                    .view()
                    .permuted_axes(order)
                    .as_standard_layout()
                    .into_owned();
                let ic = frames
                    .index_axis(Axis(0), 0)
                    .insert_axis(Axis(frames.ndim() - 1));
                let input = ic
                    .broadcast(target.shape())
                    .ok_or(TaskError::NeedsTime { task: "space_time" })?
                    .as_standard_layout()
                    .into_owned();
                Ok(Example { input, target })
            }
        }
    }
}

/// Resolves `task.output_frame` (negative counts from the end) against a
/// trajectory of `frames` frames.
pub(crate) fn resolve_frame(frame: i64, frames: usize) -> Result<usize, TaskError> {
    let resolved = if frame < 0 {
        frames as i64 + frame
    } else {
        frame
    };
    if resolved < 0 || resolved >= frames as i64 {
        return Err(TaskError::FrameOutOfRange {
            setting: "task.output_frame",
            value: frame,
            frames,
        });
    }
    Ok(resolved as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    fn sample(t: usize, c: usize, x: usize) -> Sample {
        let frames = ArrayD::from_shape_fn(IxDyn(&[t, c, x]), |i| {
            (i[0] * 100 + i[1] * 10 + i[2]) as f32
        });
        Sample {
            index: 0,
            frames,
            input: None,
        }
    }

    #[test]
    fn one_shot_picks_frames() {
        let s = sample(5, 1, 3);
        let ex = Task::default().example(&s).unwrap();
        assert_eq!(ex.input.as_slice().unwrap(), &[0.0, 1.0, 2.0]);
        assert_eq!(ex.target.as_slice().unwrap(), &[400.0, 401.0, 402.0]);
    }

    #[test]
    fn autoregressive_stacks_time_major() {
        let s = sample(4, 2, 2);
        let task = Task::Autoregressive {
            initial_step: 2,
            backprop_steps: None,
        };
        let ex = task.example(&s).unwrap();
        assert_eq!(ex.input.shape(), &[4, 2]);
        // channel 1 of the input is (t=0, c=1), channel 2 is (t=1, c=0).
        assert_eq!(
            ex.input.index_axis(Axis(0), 1).as_slice().unwrap(),
            &[10.0, 11.0]
        );
        assert_eq!(
            ex.input.index_axis(Axis(0), 2).as_slice().unwrap(),
            &[100.0, 101.0]
        );
        assert_eq!(ex.target.shape(), &[4, 2]);
        assert_eq!(
            ex.target.index_axis(Axis(0), 0).as_slice().unwrap(),
            &[200.0, 201.0]
        );
    }

    #[test]
    fn space_time_puts_time_last_and_repeats_the_initial_condition() {
        let s = sample(3, 1, 2);
        let ex = Task::SpaceTime.example(&s).unwrap();
        assert_eq!(ex.target.shape(), &[1, 2, 3]);
        assert_eq!(
            ex.target.as_slice().unwrap(),
            &[0.0, 100.0, 200.0, 1.0, 101.0, 201.0]
        );
        assert_eq!(
            ex.input.as_slice().unwrap(),
            &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
        );
    }

    #[test]
    fn inverse_swaps_the_one_shot_pair() {
        let s = sample(5, 1, 3);
        let task = Task::Inverse {
            input_frame: 1,
            output_frame: -1,
        };
        let ex = task.example(&s).unwrap();
        assert_eq!(ex.input.as_slice().unwrap(), &[400.0, 401.0, 402.0]);
        assert_eq!(ex.target.as_slice().unwrap(), &[100.0, 101.0, 102.0]);
        let parsed: Task = toml::from_str("kind = \"inverse\"").unwrap();
        assert_eq!(parsed.forward_map(), Some(Task::default()));
        assert_eq!(Task::SpaceTime.forward_map(), None);
    }

    #[test]
    fn samples_with_too_few_frames_are_errors() {
        let s = sample(1, 1, 3);
        let task = Task::Autoregressive {
            initial_step: 10,
            backprop_steps: None,
        };
        assert!(matches!(
            task.example(&s),
            Err(TaskError::FrameOutOfRange {
                setting: "task.initial_step",
                ..
            })
        ));
        let task = Task::OneShot {
            input_frame: 3,
            output_frame: -1,
        };
        assert!(matches!(
            task.example(&s),
            Err(TaskError::FrameOutOfRange {
                setting: "task.input_frame",
                ..
            })
        ));
    }

    #[test]
    fn bad_frames_are_rejected() {
        assert!(resolve_frame(-6, 5).is_err());
        assert!(resolve_frame(5, 5).is_err());
        assert_eq!(resolve_frame(-1, 5), Ok(4));
    }
}
