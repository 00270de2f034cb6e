//! The window task's training pieces (The Well's benchmark): its
//! normalisers (stats.yaml, or fitted on the training split, with the
//! `_delta` statistics when the model predicts changes), the one-step
//! target, and the rollout that feeds predictions back.
//!
//! With `task.predict_delta` the model's output is the change of each
//! predicted frame from the frame before it, normalised with the delta
//! statistics, as in The Well's `DeltaWellDataset`; frames are rebuilt by
//! adding the changes to the last known frame. Inputs are always frames
//! normalised with `mean`/`std`.
use super::plan::{merged_over_ranks, shard_of, Plan};
use super::TrainError;
use crate::data::well_normalizers::window_stats;
use crate::data::window::{window_count, WindowIds};
use crate::data::{FileInfo, Normalizer, NormalizerFit, Task};
use crate::dist::Communicator;
use crate::model::Fno;
use crate::rundir::Normalizers;
use candle_core::Tensor;
use ndarray::Axis;

/// The window settings of a task: (`n_steps_input`, `predict_delta`);
/// `None` for the other tasks.
pub fn window_settings(task: &Task) -> Option<(usize, bool)> {
    match *task {
        Task::Window {
            n_steps_input,
            predict_delta,
            ..
        } => Some((n_steps_input, predict_delta)),
        _ => None,
    }
}

/// The numbering of the windows of a file's samples (of `frames` frames
/// after the time stride), for the window task.
pub fn window_ids(task: &Task, frames: usize) -> Option<WindowIds> {
    match *task {
        Task::Window {
            n_steps_input,
            n_steps_output,
            ..
        } => Some(WindowIds {
            per_sample: window_count(n_steps_input, n_steps_output, frames),
            n_in: n_steps_input,
            n_out: n_steps_output,
        }),
        _ => None,
    }
}

/// The window task's normalisers: inputs are `n_in` frames (the frames'
/// statistics repeated) and the constant fields; outputs are frames, or
/// their changes with `predict_delta`. A Well `stats.yaml` gives what it
/// holds; the rest is fitted on the training split.
pub(super) fn window_normalizers(
    (n_in, delta): (usize, bool),
    plan: &Plan,
    res: &crate::data::Resolution,
    comm: &dyn Communicator,
) -> Result<Normalizers, TrainError> {
    let info = plan.train_file.info();
    let from_yaml = window_stats(info)?;
    let complete = from_yaml
        .as_ref()
        .is_some_and(|s| !delta || s.delta.is_some());
    let fitted = if complete {
        None
    } else {
        Some(fit_window_stats(plan, info, res, comm)?)
    };
    let pick = |yaml: Option<Normalizer>, fit: fn(&Fitted) -> &Normalizer| {
        yaml.or_else(|| fitted.as_ref().map(|f| fit(f).clone()))
            .unwrap_or_else(|| Normalizer::identity(0))
    };
    let frames = pick(from_yaml.as_ref().map(|s| s.frames.clone()), |f| &f.frames);
    let constants = pick(from_yaml.as_ref().map(|s| s.constants.clone()), |f| {
        &f.constants
    });
    let output = if delta {
        pick(from_yaml.and_then(|s| s.delta), |f| &f.delta)
    } else {
        frames.clone()
    };
    let input = frames.repeated(n_in);
    Ok(Normalizers {
        input: Normalizer {
            mean: [input.mean, constants.mean].concat(),
            std: [input.std, constants.std].concat(),
        },
        output,
    })
}

/// Statistics fitted on the training split.
struct Fitted {
    frames: Normalizer,
    constants: Normalizer,
    delta: Normalizer,
}

/// Per field over every frame, the constant fields, and the changes
/// between consecutive frames (The Well's `_delta` statistics); each rank
/// reads its part of the training samples and the moments are merged.
fn fit_window_stats(
    plan: &Plan,
    info: &FileInfo,
    res: &crate::data::Resolution,
    comm: &dyn Communicator,
) -> Result<Fitted, TrainError> {
    let (c, k) = (info.fields.len(), info.input_fields.len());
    let mut frames = NormalizerFit::new(c);
    let mut constants = NormalizerFit::new(k);
    let mut delta = NormalizerFit::new(c);
    for chunk in shard_of(comm).part(&plan.train_indices).chunks(16) {
        for sample in plan.train_file.read_samples(chunk, res)? {
            let series: Vec<_> = sample.frames.outer_iter().collect();
            for (t, frame) in series.iter().enumerate() {
                for (ch, values) in frame.outer_iter().enumerate() {
                    frames.push(ch, values.iter().copied());
                    if t > 0 {
                        let before = series[t - 1].index_axis(Axis(0), ch);
                        delta.push(ch, values.iter().zip(before.iter()).map(|(a, b)| a - b));
                    }
                }
            }
            if let Some(input) = &sample.input {
                for (ch, values) in input.outer_iter().enumerate() {
                    constants.push(ch, values.iter().copied());
                }
            }
        }
    }
    if comm.size() > 1 {
        frames = merged_over_ranks(&frames, c, comm);
        constants = merged_over_ranks(&constants, k, comm);
        delta = merged_over_ranks(&delta, c, comm);
    }
    Ok(Fitted {
        frames: frames.finish(),
        constants: constants.finish(),
        delta: delta.finish(),
    })
}

/// The normalised one-step target: the frames after the window, or with
/// `delta` each one's change from the frame before it.
pub fn one_step_target(
    delta: bool,
    normalizers: &Normalizers,
    input: &Tensor,
    target: &Tensor,
    n_in: usize,
) -> candle_core::Result<Tensor> {
    let y = if delta {
        let c = normalizers.output.channels().max(1);
        let before = Tensor::cat(
            &[
                input.narrow(1, (n_in - 1) * c, c)?,
                target.narrow(1, 0, target.dim(1)? - c)?,
            ],
            1,
        )?;
        (target - before)?
    } else {
        target.clone()
    };
    normalizers.output.encode_stacked(&y)
}

/// The physical frames a normalised model output stands for, given the
/// physical `input` window it was computed from.
pub fn frames_from_output(
    delta: bool,
    normalizers: &Normalizers,
    input: &Tensor,
    output: &Tensor,
    n_in: usize,
) -> candle_core::Result<Tensor> {
    let y = normalizers.output.decode_stacked(output)?;
    if !delta {
        return Ok(y);
    }
    let c = normalizers.output.channels().max(1);
    let mut last = input.narrow(1, (n_in - 1) * c, c)?;
    let mut frames = Vec::with_capacity(y.dim(1)? / c);
    for j in 0..y.dim(1)? / c {
        last = (last + y.narrow(1, j * c, c)?)?;
        frames.push(last.clone());
    }
    Tensor::cat(&frames, 1)
}

/// Rolls the model out from the physical window `x` (`n_in` frames, then
/// the constant fields) for `steps` frames, feeding each prediction back
/// as The Well's `rollout_model` does; physical frames stacked time-major,
/// `[B, steps * C, grid..]`.
pub fn window_rollout(
    model: &Fno,
    normalizers: &Normalizers,
    n_in: usize,
    delta: bool,
    x: &Tensor,
    steps: usize,
) -> Result<Tensor, TrainError> {
    let c = normalizers.output.channels().max(1);
    let frame_channels = n_in * c;
    let extra = x.dim(1)?.saturating_sub(frame_channels);
    let constants = (extra > 0)
        .then(|| x.narrow(1, frame_channels, extra))
        .transpose()?;
    let mut window = x.narrow(1, 0, frame_channels)?;
    let mut predicted = Vec::new();
    let mut produced = 0;
    while produced < steps {
        let input = match &constants {
            Some(k) => Tensor::cat(&[&window, k], 1)?,
            None => window.clone(),
        };
        let output = model.forward(&normalizers.input.encode(&input)?)?;
        let next = frames_from_output(delta, normalizers, &input, &output, n_in)?;
        produced += next.dim(1)? / c;
        let joined = Tensor::cat(&[&window, &next], 1)?;
        window = joined.narrow(1, joined.dim(1)? - frame_channels, frame_channels)?;
        predicted.push(next);
    }
    Ok(Tensor::cat(&predicted, 1)?.narrow(1, 0, steps * c)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn normalizers(output: Normalizer) -> Normalizers {
        Normalizers {
            input: Normalizer::identity(2),
            output,
        }
    }

    /// The one-step target of a change and the frames rebuilt from it are
    /// each other's inverse: two frames of one channel after a window of
    /// one frame.
    #[test]
    fn delta_targets_round_trip_to_frames() {
        let dev = Device::Cpu;
        let input = Tensor::new(&[[[1.0f32, 2.0]]], &dev).unwrap();
        let target = Tensor::new(&[[[4.0f32, 2.0], [9.0, 0.0]]], &dev).unwrap();
        let delta = Normalizer {
            mean: vec![1.0],
            std: vec![2.0],
        };
        let norms = normalizers(delta);
        let y = one_step_target(true, &norms, &input, &target, 1).unwrap();
        // Changes 3, 0 then 5, -2, normalised: (d - 1) / 2.
        let got: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(got, vec![1.0, -0.5, 2.0, -1.5]);
        let back = frames_from_output(true, &norms, &input, &y, 1).unwrap();
        let back: Vec<f32> = back.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(back, vec![4.0, 2.0, 9.0, 0.0]);
        // Without deltas the target is the frames, normalised.
        let plain = one_step_target(false, &norms, &input, &target, 1).unwrap();
        let plain: Vec<f32> = plain.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(plain, vec![1.5, 0.5, 4.0, -0.5]);
    }
}
