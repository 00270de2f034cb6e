//! Writing samples in the layout of an existing PDEBench file, so that a
//! model's predictions open in h5py (and in fno) exactly like the file they
//! were made from.
//!
//! The template file's datasets, with the role of each axis (see
//! [`super::layout::Source`]), say where every frame, channel and grid point
//! goes; only the sizes change: the number of samples, of frames and the
//! grid, which may be finer or coarser than the template's. Coordinates are
//! written for the new grid; the template's attributes are copied.
use super::layout::{Layout, Role, Source};
use super::reader::{Coordinates, PdebenchFile, Sample};
use super::writer::{Attr, OutputFile, WriteError};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};
use std::path::{Path, PathBuf};

/// Errors of [`MirrorWriter`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// Writing the output failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Reading the template's storage failed.
    #[error(transparent)]
    Data(#[from] super::DataError),
    /// A sample does not have the shape the file was created for.
    #[error("{}: sample {index}'s {what} has shape {got:?}, but the file was created for {expected:?}", path.display())]
    Shape {
        /// The output file.
        path: PathBuf,
        /// Index of the sample in the output file.
        index: usize,
        /// Which array (`frames` or `input`).
        what: &'static str,
        /// The shape the file was created for.
        expected: Vec<usize>,
        /// The sample's shape.
        got: Vec<usize>,
    },
    /// A sample lacks the input field the layout stores.
    #[error("{}: sample {index} has no input field, but the layout stores one", path.display())]
    MissingInput {
        /// The output file.
        path: PathBuf,
        /// Index of the sample in the output file.
        index: usize,
    },
    /// The output path has no file name.
    #[error("{} is not a file path", path.display())]
    NotAFile {
        /// The rejected path.
        path: PathBuf,
    },
}

/// An output file with the template's layout, filled sample by sample and
/// renamed into place by [`MirrorWriter::finish`] (an unfinished file is
/// deleted).
pub struct MirrorWriter {
    out: OutputFile,
    layout: Layout,
    frames: Vec<(Source, usize)>,
    inputs: Vec<(Source, usize)>,
    group_attrs: Vec<(String, Attr)>,
    /// `[T, C, X..]` of every sample.
    frame_shape: Vec<usize>,
    /// `[C_in, X..]` of every sample's input, if the layout has one.
    input_shape: Option<Vec<usize>>,
    coordinates: Coordinates,
}

/// Names of the coordinate datasets of the single-file layouts.
const AXIS_NAMES: [&str; 3] = ["x-coordinate", "y-coordinate", "z-coordinate"];

impl MirrorWriter {
    /// Creates `path` (through a temporary file) for `samples` samples of
    /// `coordinates.time.len()` frames on the grid of `coordinates.space`,
    /// in the layout of `template`.
    pub fn create(
        path: &Path,
        template: &PdebenchFile,
        samples: usize,
        coordinates: Coordinates,
    ) -> Result<Self, MirrorError> {
        let info = template.info();
        let (frames, inputs) = template.storage()?;
        let (root_attrs, group_attrs) = template.raw_attributes();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| MirrorError::NotAFile {
                path: path.to_path_buf(),
            })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let out = OutputFile::create(dir, &name)?;
        let grid: Vec<usize> = coordinates.space.iter().map(Vec::len).collect();
        let mut frame_shape = vec![coordinates.time.len(), info.fields.len()];
        frame_shape.extend(&grid);
        let input_shape = (!inputs.is_empty()).then(|| {
            let mut shape = vec![info.input_fields.len()];
            shape.extend(&grid);
            shape
        });
        let writer = Self {
            out,
            layout: info.layout,
            frames,
            inputs,
            group_attrs,
            frame_shape,
            input_shape,
            coordinates,
        };
        let refs: Vec<(&str, Attr)> = root_attrs
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        writer.out.attrs(&refs)?;
        if writer.layout != Layout::Grouped {
            writer.create_datasets(samples)?;
        }
        Ok(writer)
    }

    /// The storage shape of `source` for one sample (no sample axis).
    fn stored_shape(&self, source: &Source, channels: usize, input: bool) -> Vec<usize> {
        let grid = &self.frame_shape[2..];
        let mut space = grid.iter();
        source
            .roles
            .iter()
            .filter(|&&r| r != Role::Sample)
            .map(|role| match role {
                Role::Time if !input => self.frame_shape[0],
                Role::Channel => channels,
                Role::Space => space.next().copied().unwrap_or(1),
                _ => 1,
            })
            .collect()
    }

    fn create_datasets(&self, samples: usize) -> Result<(), MirrorError> {
        let all = self
            .frames
            .iter()
            .map(|s| (s, false))
            .chain(self.inputs.iter().map(|s| (s, true)));
        for ((source, channels), input) in all {
            let mut shape = vec![samples];
            shape.extend(self.stored_shape(source, *channels, input));
            self.out.dataset(&source.dataset, &shape)?;
        }
        let time = &self.coordinates.time;
        if self.layout == Layout::IncompressibleNs {
            // PDEBench stores the frame times once per sample, `t` [B, T].
            self.out.dataset("t", &[samples, time.len()])?;
        } else {
            for (name, axis) in AXIS_NAMES.iter().zip(&self.coordinates.space) {
                self.out.vector(name, axis)?;
            }
            if self.layout != Layout::Darcy {
                self.out.vector("t-coordinate", time)?;
            }
        }
        Ok(())
    }

    /// Writes `sample` (frames `[T, C, X..]`, input `[C_in, X..]` where the
    /// layout has one) as sample `index` of the output.
    pub fn write_sample(&self, index: usize, sample: &Sample) -> Result<(), MirrorError> {
        let check = |what: &'static str, got: &[usize], expected: &[usize]| {
            if got == expected {
                Ok(())
            } else {
                Err(MirrorError::Shape {
                    path: self.out.path().to_path_buf(),
                    index,
                    what,
                    expected: expected.to_vec(),
                    got: got.to_vec(),
                })
            }
        };
        check("frames", sample.frames.shape(), &self.frame_shape)?;
        let input = match (&self.input_shape, &sample.input) {
            (Some(expected), Some(input)) => {
                check("input", input.shape(), expected)?;
                Some(input.view().insert_axis(Axis(0)))
            }
            (Some(_), None) => {
                return Err(MirrorError::MissingInput {
                    path: self.out.path().to_path_buf(),
                    index,
                })
            }
            (None, _) => None,
        };
        let prefix = if self.layout == Layout::Grouped {
            let group = format!("{index:04}");
            self.out.group(&group, &self.group_attrs)?;
            self.out.group(&format!("{group}/grid"), &[])?;
            for (axis, values) in ["x", "y", "z"].iter().zip(&self.coordinates.space) {
                self.out.vector(&format!("{group}/grid/{axis}"), values)?;
            }
            self.out
                .vector(&format!("{group}/grid/t"), &self.coordinates.time)?;
            Some(group)
        } else {
            None
        };
        let mut channel = 0;
        for (source, channels) in &self.frames {
            let part = sample
                .frames
                .slice_axis(Axis(1), Slice::from(channel..channel + channels));
            channel += channels;
            self.write_part(index, prefix.as_deref(), source, *channels, part, false)?;
        }
        if let Some(input) = input {
            let mut channel = 0;
            for (source, channels) in &self.inputs {
                let part = input.slice_axis(Axis(1), Slice::from(channel..channel + channels));
                channel += channels;
                self.write_part(index, None, source, *channels, part, true)?;
            }
        }
        if self.layout == Layout::IncompressibleNs {
            let t: Vec<f32> = self.coordinates.time.iter().map(|&v| v as f32).collect();
            self.out
                .write_samples("t", index, std::iter::once(t.as_slice()))?;
        }
        Ok(())
    }

    /// Writes one dataset's share of a sample: `part` is `[T, c, X..]` with
    /// the frames or `[1, c, X..]` with the input, permuted into the
    /// source's storage order.
    fn write_part(
        &self,
        index: usize,
        group: Option<&str>,
        source: &Source,
        channels: usize,
        part: ArrayViewD<'_, f32>,
        input: bool,
    ) -> Result<(), MirrorError> {
        let roles: Vec<Role> = source
            .roles
            .iter()
            .copied()
            .filter(|&r| r != Role::Sample)
            .collect();
        // Drop the canonical axes the dataset does not store (their length
        // is 1), then order the rest as the dataset does.
        let mut arr = part;
        let mut canonical = vec![Role::Time, Role::Channel];
        canonical.extend(std::iter::repeat_n(Role::Space, arr.ndim() - 2));
        for slot in [1, 0] {
            if !roles.contains(&canonical[slot]) {
                arr = arr.index_axis_move(Axis(slot), 0);
                canonical.remove(slot);
            }
        }
        let mut used = vec![false; canonical.len()];
        let order: Vec<usize> = roles
            .iter()
            .filter_map(|role| {
                let pos = (0..canonical.len()).find(|&i| !used[i] && canonical[i] == *role)?;
                used[pos] = true;
                Some(pos)
            })
            .collect();
        let stored: ArrayD<f32> = arr
            .permuted_axes(IxDyn(&order))
            .as_standard_layout()
            .into_owned();
        let expected = self.stored_shape(source, channels, input);
        let data = stored.as_slice().unwrap_or(&[]);
        match group {
            Some(g) => {
                let name = format!("{g}/{}", source.dataset);
                self.out.dataset(&name, &expected)?;
                self.out.write_whole(&name, data)?;
            }
            None => self
                .out
                .write_samples(&source.dataset, index, std::iter::once(data))?,
        }
        Ok(())
    }

    /// Closes the file and moves it to its final path.
    pub fn finish(self) -> Result<PathBuf, MirrorError> {
        Ok(self.out.finish()?)
    }
}
