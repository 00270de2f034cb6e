//! Strided hyperslab reads: one run of samples of one dataset, returned in
//! fno's axis order `[sample, T, C, X, ...]`.
use super::Resolution;
use crate::data::error::{DataError, Result};
use crate::data::layout::Role;
use hdf5::{Dataset, Hyperslab, SliceOrIndex};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use std::path::Path;

/// Largest contiguous block (bytes) read in one call before striding in
/// memory. Reading the bounding block and striding in memory beats HDF5's
/// element-wise strided selection by far; past this size we let HDF5 stride,
/// so memory stays bounded.
const BLOCK_BUDGET_BYTES: usize = 32 << 20;

/// Reads a hyperslab of `ds` and returns it as `[count, T, C, X, ...]`,
/// inserting length-1 axes for roles the dataset lacks.
pub(super) fn read_canonical(
    ds: &Dataset,
    name: &str,
    path: &Path,
    roles: &[Role],
    start: usize,
    count: usize,
    res: &Resolution,
) -> Result<ArrayD<f32>> {
    let shape = ds.shape();
    let ranges: Vec<AxisRange> = roles
        .iter()
        .zip(&shape)
        .map(|(role, &n)| match role {
            Role::Sample => AxisRange::new(start, count, 1),
            Role::Time => AxisRange::new(
                0,
                n.div_ceil(res.reduced_resolution_t),
                res.reduced_resolution_t,
            ),
            Role::Space => AxisRange::new(
                0,
                n.div_ceil(res.reduced_resolution),
                res.reduced_resolution,
            ),
            Role::Channel => AxisRange::new(0, n, 1),
        })
        .collect();
    let raw = read_strided(ds, &ranges).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        dataset: name.to_string(),
        source,
    })?;
    // Permute to sample, time, channel, space... and insert missing axes.
    let position = |r: Role| roles.iter().position(|&x| x == r);
    let spatial: Vec<usize> = (0..roles.len())
        .filter(|&i| roles[i] == Role::Space)
        .collect();
    let mut order = Vec::with_capacity(roles.len());
    let mut missing = Vec::new();
    for (slot, role) in [Role::Sample, Role::Time, Role::Channel]
        .into_iter()
        .enumerate()
    {
        match position(role) {
            Some(p) => order.push(p),
            None => missing.push(slot),
        }
    }
    order.extend(&spatial);
    let mut arr = raw.permuted_axes(IxDyn(&order));
    for slot in missing {
        arr = arr.insert_axis(Axis(slot));
    }
    if arr.is_standard_layout() {
        Ok(arr)
    } else {
        Ok(arr.as_standard_layout().into_owned())
    }
}

/// A strided range along one axis: `count` elements from `start`, `step` apart.
#[derive(Debug, Clone, Copy)]
pub(super) struct AxisRange {
    start: usize,
    count: usize,
    step: usize,
}

impl AxisRange {
    pub(super) fn new(start: usize, count: usize, step: usize) -> Self {
        Self { start, count, step }
    }

    /// One past the last element touched.
    fn end(&self) -> usize {
        self.start + (self.count.max(1) - 1) * self.step + 1
    }
}

/// Reads a strided hyperslab, keeping every axis.
///
/// Small selections are read as their contiguous bounding block and strided
/// in memory (one large `H5Dread` instead of one per element run); large
/// ones let HDF5 stride so memory stays bounded.
pub(super) fn read_strided(ds: &Dataset, ranges: &[AxisRange]) -> hdf5::Result<ArrayD<f32>> {
    let block: usize = ranges.iter().map(|r| r.end() - r.start).product();
    let strided = ranges.iter().any(|r| r.step > 1);
    if strided && block * 4 <= BLOCK_BUDGET_BYTES {
        let slab: Vec<SliceOrIndex> = ranges
            .iter()
            .map(|r| SliceOrIndex::SliceTo {
                start: r.start,
                step: 1,
                end: r.end(),
                block: 1,
            })
            .collect();
        let full: ArrayD<f32> = ds.read_slice(Hyperslab::from(slab))?;
        let strided =
            full.slice_each_axis(|ax| Slice::new(0, None, ranges[ax.axis.index()].step as isize));
        return Ok(strided.to_owned());
    }
    let slab: Vec<SliceOrIndex> = ranges
        .iter()
        .map(|r| SliceOrIndex::SliceCount {
            start: r.start,
            step: r.step,
            count: r.count,
            block: 1,
        })
        .collect();
    ds.read_slice(Hyperslab::from(slab))
}
