//! Whether data fit a run, checked before any sample is sliced or any
//! weight allocated: a test file against the training file, any file
//! against a trained run, the strides and the Fourier modes against the
//! grid. Each refusal names the file or setting and both values.
//!
//! Rules:
//! - `data.test` must hold samples like `data.train`'s: the same spatial
//!   grid, fields, input fields and number of frames (after the strides).
//! - A file evaluated or predicted by a run must give the model its number
//!   of grid axes and channels, and the frames its task needs; its grid
//!   may differ (zero-shot super-resolution).
//! - A stride above 1 must leave at least [`MIN_POINTS`] points on every
//!   spatial axis and at least 2 frames of a time series.
//! - `model.modes` may not exceed what the training grid holds: `n/2` on
//!   each axis but the last and `n/2 + 1` on the last (after padding).
//!   Other grids at inference (a coarser zero-shot grid) clip the modes
//!   instead, with a warning ([`super::run::Predictor::with_warnings`]).
use super::config::RunConfig;
use crate::data::{FileInfo, Resolution, Task, TaskError};
use crate::model::padding::padding_amounts;
use crate::model::{ModelConfig, ModelKind};
use std::path::PathBuf;

/// The fewest points a spatial stride above 1 may leave on an axis: fewer
/// hold no Fourier mode beyond the mean and the Nyquist frequency.
pub const MIN_POINTS: usize = 4;

/// Data that do not fit a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// `data.test` differs from `data.train` in layout.
    #[error("data.test {} does not match data.train {}: its {what} is {found}, the training file's is {expected}", test.display(), train.display())]
    TestFile {
        /// The test file.
        test: PathBuf,
        /// The training file.
        train: PathBuf,
        /// What differs.
        what: &'static str,
        /// The training file's value.
        expected: String,
        /// The test file's value.
        found: String,
    },
    /// A file does not give a trained model what it was built for.
    #[error("{} does not fit the run: {what}: the model takes {expected}, the file gives {found}", file.display())]
    Model {
        /// The file.
        file: PathBuf,
        /// What differs.
        what: &'static str,
        /// What the model was built for.
        expected: String,
        /// What the file gives.
        found: String,
    },
    /// A file has too few frames for the run's task.
    #[error("{} does not fit the run: {reason}", file.display())]
    Task {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: TaskError,
    },
    /// A stride leaves too few points on an axis.
    #[error("`{setting}` = {value} leaves too few {unit} of the {size} of {}: {left}, at least {min} needed; use at most {max}", file.display())]
    Stride {
        /// `data.reduced_resolution` or `data.reduced_resolution_t`.
        setting: &'static str,
        /// Its value.
        value: usize,
        /// Points or frames left.
        left: usize,
        /// `points` or `frames`.
        unit: &'static str,
        /// The file's extent, in words.
        size: String,
        /// The file.
        file: PathBuf,
        /// The fewest allowed.
        min: usize,
        /// The largest stride that leaves `min`.
        max: usize,
    },
    /// More Fourier modes than the training grid holds.
    #[error("`model.modes` = {requested:?} is more than the training grid {grid:?} holds: at most {max:?} (n/2 on each axis but the last, n/2 + 1 on the last, after padding); lower model.modes or the stride data.reduced_resolution")]
    Modes {
        /// The configured modes.
        requested: Vec<usize>,
        /// The model's grid at training.
        grid: Vec<usize>,
        /// The most each axis holds.
        max: Vec<usize>,
    },
    /// A U-Net's poolings do not divide the training grid.
    #[error("`model.unet_levels` = {levels} needs every axis of the training grid divisible by 2^{levels} = {multiple}, but the grid is {grid:?}; lower model.unet_levels or choose a stride data.reduced_resolution that leaves such a grid")]
    UNetGrid {
        /// The configured levels.
        levels: usize,
        /// `2^levels`.
        multiple: usize,
        /// The model's grid at training.
        grid: Vec<usize>,
    },
}

/// Frames per sample after the time stride.
pub fn frames(info: &FileInfo, res: &Resolution) -> usize {
    info.num_frames.div_ceil(res.reduced_resolution_t.max(1))
}

/// The grid the model sees: the spatial grid at the stride, with time
/// last for the space-time task.
pub fn model_grid(task: &Task, res: &Resolution, info: &FileInfo) -> Vec<usize> {
    let stride = res.reduced_resolution.max(1);
    let mut grid: Vec<usize> = info
        .spatial_shape
        .iter()
        .map(|n| n.div_ceil(stride))
        .collect();
    if *task == Task::SpaceTime {
        grid.push(frames(info, res));
    }
    grid
}

/// Checks that a test file holds samples like the training file's.
pub fn check_test_file(
    res: &Resolution,
    train: &FileInfo,
    test: &FileInfo,
) -> Result<(), FitError> {
    let differ = |what, expected: String, found: String| FitError::TestFile {
        test: test.path.clone(),
        train: train.path.clone(),
        what,
        expected,
        found,
    };
    let axes = |i: &FileInfo| format!("{} ({:?})", i.spatial_shape.len(), i.spatial_shape);
    if train.spatial_shape.len() != test.spatial_shape.len() {
        return Err(differ("number of spatial axes", axes(train), axes(test)));
    }
    if train.spatial_shape != test.spatial_shape {
        let grid = |i: &FileInfo| format!("{:?}", i.spatial_shape);
        return Err(differ("grid", grid(train), grid(test)));
    }
    let names = |n: &[String]| format!("{} {n:?}", n.len());
    if train.fields.len() != test.fields.len() {
        return Err(differ("fields", names(&train.fields), names(&test.fields)));
    }
    if train.input_fields.len() != test.input_fields.len() {
        return Err(differ(
            "input fields",
            names(&train.input_fields),
            names(&test.input_fields),
        ));
    }
    let (a, b) = (frames(train, res), frames(test, res));
    if a != b {
        let f = |n: usize, i: &FileInfo| format!("{n} frames ({} stored)", i.num_frames);
        return Err(differ(
            "trajectory after data.reduced_resolution_t",
            f(a, train),
            f(b, test),
        ));
    }
    Ok(())
}

/// Checks that a file gives a run's model its grid axes, channels and the
/// frames its task needs (at the run's time stride).
pub fn check_file_for_run(cfg: &RunConfig, info: &FileInfo) -> Result<(), FitError> {
    let task = &cfg.task;
    let model = &cfg.model;
    let differ = |what, expected: String, found: String| FitError::Model {
        file: info.path.clone(),
        what,
        expected,
        found,
    };
    let dims = task.model_dims(info.spatial_shape.len());
    if dims != model.dims {
        return Err(differ(
            "grid axes",
            format!("{} axes", model.dims),
            format!(
                "{dims} (spatial grid {:?}{})",
                info.spatial_shape,
                if *task == Task::SpaceTime {
                    " and time"
                } else {
                    ""
                }
            ),
        ));
    }
    let (cin, cout) = task.channels(info);
    if (cin, cout) != (model.in_channels, model.out_channels) {
        return Err(differ(
            "channels",
            format!("{} in and {} out", model.in_channels, model.out_channels),
            format!(
                "{cin} in and {cout} out (fields {:?}, input fields {:?})",
                info.fields, info.input_fields
            ),
        ));
    }
    let n = frames(info, &cfg.data.resolution());
    task.validate(info, n).map_err(|reason| FitError::Task {
        file: info.path.clone(),
        reason,
    })
}

/// Checks that the strides leave at least [`MIN_POINTS`] points on every
/// spatial axis and 2 frames of a time series.
pub fn check_strides(res: &Resolution, info: &FileInfo) -> Result<(), FitError> {
    let refuse = |setting, value: usize, left, unit, size: String, min: usize, extent: usize| {
        FitError::Stride {
            setting,
            value,
            left,
            unit,
            size,
            file: info.path.clone(),
            min,
            // ceil(n / s) >= min exactly when s <= (n - 1) / (min - 1).
            max: (extent.saturating_sub(1) / (min - 1)).max(1),
        }
    };
    let stride = res.reduced_resolution;
    if stride > 1 {
        for &n in &info.spatial_shape {
            let left = n.div_ceil(stride);
            if left < MIN_POINTS {
                return Err(refuse(
                    "data.reduced_resolution",
                    stride,
                    left,
                    "points",
                    format!("grid {:?}", info.spatial_shape),
                    MIN_POINTS,
                    n,
                ));
            }
        }
    }
    let stride_t = res.reduced_resolution_t;
    let left = frames(info, res);
    if stride_t > 1 && info.num_frames >= 2 && left < 2 {
        return Err(refuse(
            "data.reduced_resolution_t",
            stride_t,
            left,
            "frames",
            format!("{} frames", info.num_frames),
            2,
            info.num_frames,
        ));
    }
    Ok(())
}

/// The most Fourier modes each axis of `grid` holds for a model with this
/// configuration (its domain padding included).
pub fn max_modes(model: &ModelConfig, grid: &[usize]) -> Vec<usize> {
    let last = grid.len().saturating_sub(1);
    grid.iter()
        .zip(padding_amounts(grid, &model.padding))
        .enumerate()
        .map(|(axis, (&n, pad))| {
            let n = n + pad;
            if axis == last {
                n / 2 + 1
            } else {
                n / 2
            }
        })
        .collect()
}

/// Refuses a training grid the model cannot use: more Fourier modes than
/// it holds, or for a U-Net an axis its poolings do not divide.
pub fn check_model_grid(model: &ModelConfig, grid: &[usize]) -> Result<(), FitError> {
    match model.kind {
        ModelKind::Fno => check_modes(model, grid),
        ModelKind::Unet => {
            let multiple = model.grid_multiple();
            match grid.iter().any(|n| n % multiple != 0) {
                true => Err(FitError::UNetGrid {
                    levels: model.unet_levels,
                    multiple,
                    grid: grid.to_vec(),
                }),
                false => Ok(()),
            }
        }
    }
}

/// Refuses more Fourier modes than the training grid holds.
pub fn check_modes(model: &ModelConfig, grid: &[usize]) -> Result<(), FitError> {
    let max = max_modes(model, grid);
    if model.modes.len() == max.len() && model.modes.iter().zip(&max).any(|(m, x)| m > x) {
        return Err(FitError::Modes {
            requested: model.modes.clone(),
            grid: grid.to_vec(),
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unet_needs_a_grid_its_poolings_divide_and_no_mode_check() {
        let unet = ModelConfig {
            kind: ModelKind::Unet,
            dims: 2,
            modes: vec![40, 40],
            unet_levels: 3,
            ..ModelConfig::default()
        };
        assert!(check_model_grid(&unet, &[16, 24]).is_ok());
        let err = check_model_grid(&unet, &[16, 20]).unwrap_err().to_string();
        assert!(
            err.contains("model.unet_levels") && err.contains("[16, 20]") && err.contains("8"),
            "{err}"
        );
        let fno = ModelConfig {
            kind: ModelKind::Fno,
            ..unet
        };
        assert!(matches!(
            check_model_grid(&fno, &[16, 24]),
            Err(FitError::Modes { .. })
        ));
    }

    #[test]
    fn most_modes_per_axis_follow_the_real_fft() {
        let model = ModelConfig {
            dims: 2,
            modes: vec![12, 12],
            ..ModelConfig::default()
        };
        assert_eq!(max_modes(&model, &[64, 64]), vec![32, 33]);
        assert!(check_modes(&model, &[24, 22]).is_ok());
        let err = check_modes(&model, &[22, 22]).unwrap_err().to_string();
        assert!(
            err.contains("[12, 12]") && err.contains("[11, 12]"),
            "{err}"
        );
        let padded = ModelConfig {
            padding: vec![0.5, 0.0],
            ..model
        };
        assert_eq!(max_modes(&padded, &[22, 22]), vec![16, 12]);
        assert!(check_modes(&padded, &[22, 22]).is_ok());
    }
}
