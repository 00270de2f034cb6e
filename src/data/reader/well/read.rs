//! Streaming samples out of Well files: each field is read as one strided
//! hyperslab of the axes it stores, then broadcast in memory along the
//! axes it does not store (trajectories, time, space) into the sample's
//! `[T, C, X, ...]` frames or `[C_in, X, ...]` input, so nothing is ever
//! materialised on disk.
use super::field::WellField;
use crate::data::error::{DataError, Result};
use crate::data::reader::hyperslab::{read_strided, AxisRange};
use crate::data::reader::{Resolution, Sample};
use ndarray::{ArrayD, ArrayViewMutD, Axis, IxDyn, Slice};
use std::ops::Range;
use std::path::PathBuf;

/// One file of a data set and the samples it holds.
pub(crate) struct Part {
    /// The file.
    pub(super) path: PathBuf,
    /// Its open handle.
    pub(super) file: hdf5::File,
    /// Index of its first trajectory among all samples.
    pub(super) first: usize,
    /// Its trajectories.
    pub(super) count: usize,
}

/// What reading needs: the files, the fields and the grid.
pub(crate) struct WellData {
    /// The files, in sample order.
    pub(super) parts: Vec<Part>,
    /// The time-varying fields (the frames' channels), in channel order.
    pub(super) frames: Vec<WellField>,
    /// The constant-in-time fields (the input channels), in channel order.
    pub(super) inputs: Vec<WellField>,
    /// Frames per trajectory.
    pub(super) num_frames: usize,
    /// Extent of each spatial axis.
    pub(super) shape: Vec<usize>,
}

impl WellData {
    /// The first file's handle.
    pub(crate) fn first_file(&self) -> Option<&hdf5::File> {
        self.parts.first().map(|p| &p.file)
    }

    /// Reads samples `start..start + count` (in range: the caller checks).
    pub(crate) fn read_run(
        &self,
        start: usize,
        count: usize,
        res: &Resolution,
        check: bool,
    ) -> Result<Vec<Sample>> {
        let mut out = Vec::with_capacity(count);
        for part in &self.parts {
            let lo = start.max(part.first);
            let hi = (start + count).min(part.first + part.count);
            if lo < hi {
                out.extend(self.read_part(part, lo - part.first, hi - lo, res, check)?);
            }
        }
        Ok(out)
    }

    /// Reads `n` trajectories of one file from its trajectory `local`.
    fn read_part(
        &self,
        part: &Part,
        local: usize,
        n: usize,
        res: &Resolution,
        check: bool,
    ) -> Result<Vec<Sample>> {
        let grid: Vec<usize> = self
            .shape
            .iter()
            .map(|s| s.div_ceil(res.reduced_resolution))
            .collect();
        let frames_t = self.num_frames.div_ceil(res.reduced_resolution_t);
        let channels = |fields: &[WellField]| fields.iter().map(WellField::components).sum();
        let mut frames = ArrayD::<f32>::zeros(dims(&[n, frames_t, channels(&self.frames)], &grid));
        self.fill(
            part,
            &self.frames,
            local..local + n,
            res,
            check,
            frames.view_mut(),
        )?;
        let inputs = if self.inputs.is_empty() {
            None
        } else {
            let mut inputs = ArrayD::<f32>::zeros(dims(&[n, 1, channels(&self.inputs)], &grid));
            self.fill(
                part,
                &self.inputs,
                local..local + n,
                res,
                check,
                inputs.view_mut(),
            )?;
            Some(inputs.remove_axis(Axis(1)))
        };
        let first = part.first + local;
        Ok((0..n)
            .map(|k| Sample {
                index: first + k,
                frames: frames.index_axis(Axis(0), k).to_owned(),
                input: inputs.as_ref().map(|a| a.index_axis(Axis(0), k).to_owned()),
            })
            .collect())
    }

    /// Writes `fields` side by side into `out` (`[n, T, C, X, ...]`).
    fn fill(
        &self,
        part: &Part,
        fields: &[WellField],
        rows: Range<usize>,
        res: &Resolution,
        check: bool,
        mut out: ArrayViewMutD<'_, f32>,
    ) -> Result<()> {
        let mut channel = 0;
        for field in fields {
            let c = field.components();
            let block = self.read_field(part, field, rows.clone(), res)?;
            if check {
                self.check_finite(part, field, &block, rows.start)?;
            }
            let mut target = out.slice_axis_mut(Axis(2), Slice::from(channel..channel + c));
            let shape = target.shape().to_vec();
            let view = block
                .broadcast(IxDyn(&shape))
                .ok_or_else(|| DataError::ShapeMismatch {
                    path: part.path.clone(),
                    dataset: field.dataset(),
                    expected: format!("to broadcast to {shape:?}"),
                    got: block.shape().to_vec(),
                })?;
            target.assign(&view);
            channel += c;
        }
        Ok(())
    }

    /// Reads the stored axes of one field for `n` trajectories and returns
    /// it as `[n or 1, T or 1, components, X or 1, ...]`.
    fn read_field(
        &self,
        part: &Part,
        field: &WellField,
        rows: Range<usize>,
        res: &Resolution,
    ) -> Result<ArrayD<f32>> {
        let (local, n) = (rows.start, rows.len());
        let name = field.dataset();
        let ds = part
            .file
            .dataset(&name)
            .map_err(|_| DataError::MissingDataset {
                path: part.path.clone(),
                dataset: name.clone(),
            })?;
        let (rs, rt) = (res.reduced_resolution, res.reduced_resolution_t);
        let mut ranges = Vec::new();
        let mut shape = Vec::new();
        if field.sample_varying {
            ranges.push(AxisRange::new(local, n, 1));
        }
        shape.push(if field.sample_varying { n } else { 1 });
        let frames = if field.time_varying {
            self.num_frames.div_ceil(rt)
        } else {
            1
        };
        if field.time_varying {
            ranges.push(AxisRange::new(0, frames, rt));
        }
        shape.push(frames);
        for (&extent, &stored) in self.shape.iter().zip(&field.dim_varying) {
            let points = if stored { extent.div_ceil(rs) } else { 1 };
            if stored {
                ranges.push(AxisRange::new(0, points, rs));
            }
            shape.push(points);
        }
        let d = self.shape.len();
        for _ in 0..field.order {
            ranges.push(AxisRange::new(0, d, 1));
        }
        shape.push(field.components());
        let raw = read_strided(&ds, &ranges).map_err(|source| DataError::Read {
            path: part.path.clone(),
            dataset: name.clone(),
            source,
        })?;
        let got = raw.shape().to_vec();
        let standard = raw.as_standard_layout().into_owned();
        let block = standard.into_shape_with_order(IxDyn(&shape)).map_err(|_| {
            DataError::ShapeMismatch {
                path: part.path.clone(),
                dataset: name,
                expected: format!("{shape:?} after dropping unstored axes"),
                got,
            }
        })?;
        // [n, T, X.., C] -> [n, T, C, X..]
        let mut order = vec![0, 1, d + 2];
        order.extend(2..d + 2);
        Ok(block.permuted_axes(IxDyn(&order)))
    }

    /// Fails on NaN or Inf in a field's block, naming its first sample.
    fn check_finite(
        &self,
        part: &Part,
        field: &WellField,
        block: &ArrayD<f32>,
        local: usize,
    ) -> Result<()> {
        for (k, sample) in block.outer_iter().enumerate() {
            let count = sample.iter().filter(|v| !v.is_finite()).count();
            if count > 0 {
                return Err(DataError::NonFinite {
                    path: part.path.clone(),
                    dataset: field.dataset(),
                    sample: part.first + local + k,
                    count,
                });
            }
        }
        Ok(())
    }
}

/// `lead` followed by `grid`.
fn dims(lead: &[usize], grid: &[usize]) -> IxDyn {
    let mut all = lead.to_vec();
    all.extend(grid);
    IxDyn(&all)
}
