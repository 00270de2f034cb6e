//! What The Well's metadata says about a data set, as `fno inspect` shows
//! it and as training reads it ([`WellInfo`] in [`crate::data::FileInfo`]).
use super::boundary::{padding_for, AxisBoundary};
use super::field::WellField;
use super::stats::WellStats;
use serde::Serialize;
use std::ops::Range;
use std::path::PathBuf;

/// The Well's description of a data set: its files, fields, boundaries,
/// scalars and, when a `stats.yaml` sits beside it, its statistics.
#[derive(Debug, Clone, Serialize)]
pub struct WellInfo {
    /// The root attribute `dataset_name`.
    pub dataset_name: String,
    /// The root attribute `grid_type` (`cartesian`, `spherical`).
    pub grid_type: String,
    /// The axes' names (`/dimensions@spatial_dims`), in storage order.
    pub spatial_dims: Vec<String>,
    /// The HDF5 files, in sample order.
    pub files: Vec<WellFile>,
    /// The samples of each split folder, for a data set opened at its
    /// root (`<dataset>/data/{train,valid,test}`).
    pub splits: Option<WellSplits>,
    /// The boundary conditions of each spatial axis.
    pub boundaries: Vec<AxisBoundary>,
    /// Every field of `t0_fields`, `t1_fields` and `t2_fields`, in channel
    /// order (time-varying ones are the frames' channels, the others the
    /// input channels).
    pub fields: Vec<WellField>,
    /// `/scalars`.
    pub scalars: Vec<WellScalar>,
    /// The data set's `stats.yaml`, if one was found.
    pub stats: Option<WellStats>,
}

impl WellInfo {
    /// The model's domain padding per spatial axis: none along periodic
    /// axes, `fraction` along the others.
    pub fn padding(&self, fraction: f64) -> Vec<f64> {
        padding_for(&self.boundaries, fraction)
    }
}

/// One HDF5 file of a data set.
#[derive(Debug, Clone, Serialize)]
pub struct WellFile {
    /// The file.
    pub path: PathBuf,
    /// The split folder it sits in (`train`, `valid`, `test`), when the
    /// data set was opened at its root.
    pub split: Option<String>,
    /// Index of its first trajectory among the data set's samples.
    pub first_sample: usize,
    /// Its `n_trajectories`.
    pub trajectories: usize,
}

/// The sample indices of each split folder of a data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WellSplits {
    /// `data/train`.
    pub train: Range<usize>,
    /// `data/valid`.
    pub valid: Range<usize>,
    /// `data/test`.
    pub test: Range<usize>,
}

/// One dataset of `/scalars`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WellScalar {
    /// Its name in `field_names`.
    pub name: String,
    /// Stored per trajectory.
    pub sample_varying: bool,
    /// Stored per frame.
    pub time_varying: bool,
    /// Its value, when it is one number for the whole data set.
    pub value: Option<f64>,
}

/// The channel names of a field of tensor order `order` over `dims`: the
/// name itself, or the name followed by `_` and one axis name per index,
/// row-major (`velocity_x`, `velocity_y`; `stress_xx`, `stress_xy`, ...),
/// as The Well's loader flattens them.
pub(super) fn channel_names(name: &str, order: usize, dims: &[String]) -> Vec<String> {
    let mut suffixes = vec![String::new()];
    for _ in 0..order {
        suffixes = suffixes
            .iter()
            .flat_map(|s| dims.iter().map(move |d| format!("{s}{d}")))
            .collect();
    }
    suffixes
        .into_iter()
        .map(|s| {
            if s.is_empty() {
                name.to_string()
            } else {
                format!("{name}_{s}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_fields_flatten_row_major() {
        let dims: Vec<String> = ["x", "y"].iter().map(|s| s.to_string()).collect();
        assert_eq!(channel_names("p", 0, &dims), vec!["p"]);
        assert_eq!(channel_names("v", 1, &dims), vec!["v_x", "v_y"]);
        assert_eq!(
            channel_names("s", 2, &dims),
            vec!["s_xx", "s_xy", "s_yx", "s_yy"]
        );
    }
}
