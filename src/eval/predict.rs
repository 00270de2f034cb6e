//! `fno predict`: a trained run's predictions for every sample of a file,
//! written in that file's own PDEBench layout at any resolution.
//!
//! What each task writes, per sample (`T` frames on the requested grid):
//! - one-shot from an input field (Darcy): the input and the predicted
//!   solution;
//! - one-shot from frame `t0` to frame `t1`: two frames, the given `t0`
//!   and the predicted `t1`, with their times;
//! - autoregressive: the `initial_step` given frames, then the rollout to
//!   the end of the trajectory;
//! - space-time: the whole predicted trajectory;
//! - inverse (output to input): the given observation and the recovered
//!   input field or frame.
use super::evaluate::{stride_for, to_btc, EvaluateError};
use crate::data::loader::{for_each_batch, BatchPlan};
use crate::data::mirror::MirrorWriter;
use crate::data::shard::Shard;
use crate::data::task::resolve_frame;
use crate::data::{Coordinates, PdebenchFile, Sample, Task};
use crate::train::run::Predictor;
use ndarray::{concatenate, ArrayD, Axis, Slice};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `fno predict` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PredictReport {
    /// The file the inputs came from.
    pub input: PathBuf,
    /// The file written.
    pub output: PathBuf,
    /// Samples predicted.
    pub samples: usize,
    /// The spatial grid of the predictions.
    pub grid: Vec<usize>,
    /// Frames per sample in the output.
    pub frames: usize,
}

/// Predicts every sample of `input` and writes them to `output` in the
/// layout of `input`. `resolution` is the number of points along x (it
/// must divide the file's); `None` keeps the run's training resolution.
/// `progress` is called with the number of samples written so far.
pub fn predict_file(
    predictor: &Predictor,
    input: &Path,
    output: &Path,
    resolution: Option<usize>,
    progress: &mut dyn FnMut(usize),
) -> Result<PredictReport, EvaluateError> {
    let cfg = &predictor.config;
    let file = PdebenchFile::open(input)?;
    let info = file.info();
    let mut res = cfg.data.resolution();
    if let Some(n) = resolution {
        res.reduced_resolution = stride_for(info.spatial_shape.first().copied().unwrap_or(1), n)?;
    }
    let coords = file.coordinates(&res)?;
    let frames = coords.time.len();
    let task = cfg.task;
    crate::train::fit::check_file_for_run(cfg, info).map_err(crate::train::TrainError::from)?;
    let (times, steps) = output_frames(&task, &coords, !info.input_fields.is_empty())?;
    let out_coords = Coordinates {
        space: coords.space.clone(),
        time: times,
    };
    let samples = info.num_samples;
    let writer = MirrorWriter::create(output, &file, samples, out_coords)?;
    let plan = BatchPlan {
        indices: (0..samples).collect(),
        batch_size: cfg.train.batch_size,
        shuffle_seed: None,
        epoch: 0,
        resolution: res,
        task,
        shard: Shard::WHOLE,
        windows: None,
        augment: None,
    };
    let channels = info.fields.len();
    let mut written = 0;
    for_each_batch(
        &file,
        &plan,
        &predictor.device,
        |batch| -> Result<(), EvaluateError> {
            let pred = to_btc(&predictor.predict(&batch.input, steps)?, &task, channels)?;
            let given = tensor_to_array(&batch.input)?;
            for (b, &index) in batch.indices.iter().enumerate() {
                let predicted = pred.index_axis(Axis(0), b);
                let given = given.index_axis(Axis(0), b);
                let sample = match task {
                    Task::OneShot { .. } if !info.input_fields.is_empty() => Sample {
                        index,
                        frames: predicted.to_owned(),
                        input: Some(given.to_owned()),
                    },
                    Task::OneShot { .. } => Sample {
                        index,
                        frames: concatenate(Axis(0), &[given.insert_axis(Axis(0)), predicted])
                            .map_err(shape_error)?,
                        input: None,
                    },
                    Task::Autoregressive { .. } | Task::Window { .. } => {
                        let initial_step = task.initial_step();
                        let stacked = initial_step * channels;
                        let mut shape = vec![initial_step, channels];
                        shape.extend(&given.shape()[1..]);
                        let start = given
                            .slice_axis(Axis(0), Slice::from(..stacked))
                            .to_owned()
                            .into_shape_with_order(shape)
                            .map_err(shape_error)?;
                        // The window task's input ends with the constant fields.
                        let constants = given.slice_axis(Axis(0), Slice::from(stacked..));
                        Sample {
                            index,
                            frames: concatenate(Axis(0), &[start.view(), predicted])
                                .map_err(shape_error)?,
                            input: (constants.shape()[0] > 0).then(|| constants.to_owned()),
                        }
                    }
                    Task::SpaceTime => Sample {
                        index,
                        frames: predicted.to_owned(),
                        input: None,
                    },
                    // The model recovers the input from the observed output.
                    Task::Inverse { .. } if !info.input_fields.is_empty() => Sample {
                        index,
                        frames: given.insert_axis(Axis(0)).to_owned(),
                        input: Some(predicted.index_axis(Axis(0), 0).to_owned()),
                    },
                    Task::Inverse { .. } => Sample {
                        index,
                        frames: concatenate(Axis(0), &[predicted, given.insert_axis(Axis(0))])
                            .map_err(shape_error)?,
                        input: None,
                    },
                };
                writer.write_sample(index, &sample)?;
                written += 1;
                progress(written);
            }
            Ok(())
        },
    )?;
    let grid: Vec<usize> = coords.space.iter().map(Vec::len).collect();
    let output = writer.finish()?;
    Ok(PredictReport {
        input: input.to_path_buf(),
        output,
        samples,
        grid,
        frames: match task {
            Task::OneShot { .. } | Task::Inverse { .. } if !info.input_fields.is_empty() => 1,
            Task::OneShot { .. } | Task::Inverse { .. } => 2,
            // A capped rollout (`task.max_rollout_steps`) writes fewer frames.
            Task::Window { .. } => (task.initial_step() + steps).min(frames),
            _ => frames,
        },
    })
}

/// The times of the frames written for `task`, and the rollout steps.
fn output_frames(
    task: &Task,
    coords: &Coordinates,
    has_input_field: bool,
) -> Result<(Vec<f64>, usize), EvaluateError> {
    let time = &coords.time;
    let frames = time.len();
    Ok(match *task {
        Task::OneShot { .. } | Task::Inverse { .. } if has_input_field => {
            (time.iter().take(1).copied().collect(), 1)
        }
        Task::OneShot {
            input_frame,
            output_frame,
        }
        | Task::Inverse {
            input_frame,
            output_frame,
        } => {
            // `Task::validate` has checked both frames against `frames`.
            let out =
                resolve_frame(output_frame, frames).map_err(crate::train::TrainError::from)?;
            let at = |i: usize| time.get(i).copied().unwrap_or_default();
            (vec![at(input_frame), at(out)], 1)
        }
        Task::Autoregressive { initial_step, .. } => {
            (time.clone(), frames.saturating_sub(initial_step))
        }
        Task::Window { n_steps_input, .. } => {
            let steps = task.rollout_steps(frames);
            (time[..(n_steps_input + steps).min(frames)].to_vec(), steps)
        }
        Task::SpaceTime => (time.clone(), 1),
    })
}

fn tensor_to_array(t: &candle_core::Tensor) -> Result<ArrayD<f32>, EvaluateError> {
    let shape = t.dims().to_vec();
    let data = t.flatten_all()?.to_vec1::<f32>()?;
    ArrayD::from_shape_vec(shape, data).map_err(shape_error)
}

fn shape_error(e: ndarray::ShapeError) -> EvaluateError {
    EvaluateError::Tensor(candle_core::Error::Msg(format!(
        "assembling predicted frames: {e}"
    )))
}
