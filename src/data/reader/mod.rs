//! Streaming reader for PDEBench HDF5 files.
//!
//! A file is opened once ([`PdebenchFile::open`]), which detects the layout,
//! checks every dataset's rank, dtype and extents, and reads only the small
//! coordinate arrays. Samples are then read one at a time, or as runs of
//! consecutive samples, as HDF5 hyperslabs: memory stays bounded by the
//! samples requested, whatever the size of the file.
//!
//! Every sample comes back in fno's convention: float32, `frames` shaped
//! `[T, C, X, (Y, (Z))]` (channels first for each time step) and, where the
//! layout has one, an `input` field `[C_in, X, (Y, (Z))]`.
//!
//! Opening is in `open`, with one module per layout for the checks and the
//! axis roles of that layout's datasets (`single_array`, `darcy`,
//! `multi_field`, `grouped`, `incompressible_ns`, `vorticity`); the strided
//! reads are in `hyperslab`, the attributes in `attributes`.
use super::catalog::Boundary;
use super::error::{DataError, Result};
use super::layout::{Layout, Role, Source};
use super::split::SampleSelection;
use attributes::{scalar_attributes, NamedAttrs};
use hdf5::Dataset;
use hyperslab::read_canonical;
use ndarray::{ArrayD, Axis};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod attributes;
mod darcy;
mod grouped;
mod hyperslab;
mod incompressible_ns;
mod multi_field;
mod open;
mod opened;
mod opener;
mod single_array;
mod vorticity;
pub mod well;

/// Largest run of consecutive samples (bytes) read in one call. Small
/// samples (a Darcy field is 16 kB) gain from fewer HDF5 calls; large ones
/// are read singly, so each lands in its own buffer without a copy (runs
/// of many large samples were slower than single reads, an extra copy
/// through cache: docs/history/reader.md, "HDF5 streaming (reader)").
const RUN_BUDGET_BYTES: usize = 1 << 20;

/// Spatial and temporal strides, as PDEBench's `reduced_resolution` and
/// `reduced_resolution_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resolution {
    /// Keep every n-th point along each spatial axis. Default: 1.
    /// Training refuses a stride that leaves fewer than 4 points on an
    /// axis ([`crate::train::fit::MIN_POINTS`]).
    pub reduced_resolution: usize,
    /// Keep every n-th time frame. Default: 1. Training refuses a stride
    /// that leaves a single frame of a time series.
    pub reduced_resolution_t: usize,
}

impl Default for Resolution {
    fn default() -> Self {
        Self {
            reduced_resolution: 1,
            reduced_resolution_t: 1,
        }
    }
}

impl Resolution {
    fn validate(&self) -> Result<()> {
        for (option, v) in [
            ("reduced_resolution", self.reduced_resolution),
            ("reduced_resolution_t", self.reduced_resolution_t),
        ] {
            if v == 0 {
                return Err(DataError::InvalidOption {
                    option,
                    reason: "it must be at least 1 (got 0)".into(),
                });
            }
        }
        Ok(())
    }
}

/// Storage facts about one dataset, as `fno inspect` reports them.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    /// Path inside the file (for grouped files, that of the first group).
    pub name: String,
    /// Extent of each axis.
    pub shape: Vec<usize>,
    /// Element type in words (`float32`, ...).
    pub dtype: String,
    /// Filters in pipeline order (`lzf`, `shuffle`, `deflate(4)`, ...).
    pub filters: Vec<String>,
    /// Chunk shape, or `None` for contiguous storage.
    pub chunks: Option<Vec<usize>>,
    /// Bytes used on disk.
    pub storage_bytes: u64,
}

/// Grid coordinates of the stored samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coordinates {
    /// Cell-centre coordinates along each spatial axis.
    pub space: Vec<Vec<f64>>,
    /// Time of each frame (one entry per frame; PDEBench's extra trailing
    /// entry is dropped).
    pub time: Vec<f64>,
}

/// What a file holds: layout, PDE, sizes and storage.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    /// The file.
    pub path: PathBuf,
    /// The detected storage layout.
    pub layout: Layout,
    /// Catalogue family (`burgers`, `darcy`, ...) matched from the file name.
    pub family: Option<String>,
    /// The equation, from the catalogue.
    pub pde: Option<String>,
    /// Parameters: file attributes override values parsed from the name.
    pub params: BTreeMap<String, f64>,
    /// Boundary conditions, from the catalogue.
    pub boundary: Option<Boundary>,
    /// Domain `[lower, upper]` per spatial axis.
    pub domain: Vec<[f64; 2]>,
    /// Conventions a user must know (from the catalogue).
    pub notes: Option<String>,
    /// Text attributes of the file or first sample group (e.g. `config`).
    pub text_attributes: BTreeMap<String, String>,
    /// Number of samples.
    pub num_samples: usize,
    /// Number of stored time frames (1 for stationary problems).
    pub num_frames: usize,
    /// Extent of each spatial axis.
    pub spatial_shape: Vec<usize>,
    /// Names of the output channels, in channel order.
    pub fields: Vec<String>,
    /// Names of the input channels (`nu` for Darcy, `force` for NS), if any.
    pub input_fields: Vec<String>,
    /// Storage facts of every dataset read.
    pub datasets: Vec<DatasetInfo>,
    /// Coordinates at full resolution.
    pub coordinates: Coordinates,
    /// The Well's description of the data set (its layout only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub well: Option<well::WellInfo>,
}

/// One sample in fno's convention.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Index of the sample in the file.
    pub index: usize,
    /// The trajectory, `[T, C, X, (Y, (Z))]`; `T = 1` for stationary problems.
    pub frames: ArrayD<f32>,
    /// The input field `[C_in, X, (Y, (Z))]` (Darcy coefficient, NS forcing).
    pub input: Option<ArrayD<f32>>,
}

/// A stored dataset and the number of channels it holds.
pub(crate) type ChannelSource = (Source, usize);

/// An open PDEBench file, ready to stream samples.
pub struct PdebenchFile {
    file: hdf5::File,
    info: FileInfo,
    frame_sources: Vec<Source>,
    input_sources: Vec<Source>,
    /// Sample group names, sorted, for the grouped layout.
    groups: Vec<String>,
    /// The files and fields of The Well's layout.
    well: Option<well::WellData>,
}

impl std::fmt::Debug for PdebenchFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdebenchFile")
            .field("info", &self.info)
            .finish()
    }
}

impl PdebenchFile {
    /// Opens a file, detects its layout and validates every dataset.
    ///
    /// Only metadata and coordinates are read here. A folder is read as
    /// a Well data set: its root (`data/{train,valid,test}`) or a folder
    /// of its files.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let meta = std::fs::metadata(&path).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let opened = well::open_folder(&path)?;
            let file = opened
                .well
                .as_ref()
                .and_then(|w| w.first_file())
                .cloned()
                .ok_or_else(|| DataError::MissingDataset {
                    path: path.clone(),
                    dataset: "a Well file".into(),
                })?;
            return Ok(Self::with(file, opened));
        }
        let file = hdf5::File::open(&path).map_err(|source| DataError::NotHdf5 {
            path: path.clone(),
            source,
        })?;
        let opened = open::open(opener::Opener::new(&path, &file))?;
        Ok(Self::with(file, opened))
    }

    fn with(file: hdf5::File, opened: opened::Opened) -> Self {
        Self {
            file,
            info: opened.info,
            frame_sources: opened.frames,
            input_sources: opened.inputs,
            groups: opened.groups,
            well: opened.well,
        }
    }

    /// What the file holds.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// The datasets holding the frames and the input fields, each with its
    /// number of channels, in channel order: what a writer needs to store
    /// samples in this file's layout (see [`super::mirror`]).
    pub(crate) fn storage(&self) -> Result<(Vec<ChannelSource>, Vec<ChannelSource>)> {
        if self.info.layout == Layout::Well {
            return Err(DataError::Unsupported {
                path: self.info.path.clone(),
                reason: "fno reads The Well's layout but does not write it; write predictions from a file in a PDEBench layout".into(),
            });
        }
        let with_channels = |sources: &[Source]| -> Result<Vec<ChannelSource>> {
            sources
                .iter()
                .map(|source| {
                    let Some(axis) = source.roles.iter().position(|&r| r == Role::Channel) else {
                        return Ok((source.clone(), 1));
                    };
                    let name = match self.groups.first() {
                        Some(g) if self.info.layout == Layout::Grouped => {
                            format!("{g}/{}", source.dataset)
                        }
                        _ => source.dataset.clone(),
                    };
                    let shape = self.dataset(&name)?.shape();
                    Ok((source.clone(), shape.get(axis).copied().unwrap_or(1)))
                })
                .collect()
        };
        Ok((
            with_channels(&self.frame_sources)?,
            with_channels(&self.input_sources)?,
        ))
    }

    /// The scalar numeric and text attributes of the file root and, for the
    /// grouped layout, of the first sample group, as stored (release names).
    pub(crate) fn raw_attributes(&self) -> (NamedAttrs, NamedAttrs) {
        let group = self
            .groups
            .first()
            .filter(|_| self.info.layout == Layout::Grouped)
            .and_then(|g| self.file.group(g).ok());
        (
            scalar_attributes(&self.file),
            group.map(|g| scalar_attributes(&g)).unwrap_or_default(),
        )
    }

    /// The file indices chosen by a selection (range, stride, split).
    pub fn select(&self, selection: &SampleSelection) -> Result<Vec<usize>> {
        if let Some(splits) = self.info.well.as_ref().and_then(|w| w.splits.as_ref()) {
            return well::select_split(splits, self.info.num_samples, selection);
        }
        selection.indices(self.info.num_samples, self.info.layout.default_test_at())
    }

    /// Coordinates after applying the strides of `res`.
    pub fn coordinates(&self, res: &Resolution) -> Result<Coordinates> {
        res.validate()?;
        let c = &self.info.coordinates;
        let stride = |v: &Vec<f64>, s: usize| v.iter().copied().step_by(s).collect();
        Ok(Coordinates {
            space: c
                .space
                .iter()
                .map(|axis| stride(axis, res.reduced_resolution))
                .collect(),
            time: stride(&c.time, res.reduced_resolution_t),
        })
    }

    /// Reads one sample at the strides of `res`.
    pub fn read_sample(&self, index: usize, res: &Resolution) -> Result<Sample> {
        let mut run = self.read_run(index, 1, res, true)?;
        run.pop().ok_or(DataError::SampleOutOfRange {
            path: self.info.path.clone(),
            index,
            count: self.info.num_samples,
        })
    }

    /// Reads several samples; consecutive indices are read as one hyperslab
    /// per dataset (up to a bounded block size), which is what makes
    /// sequential reading fast.
    pub fn read_samples(&self, indices: &[usize], res: &Resolution) -> Result<Vec<Sample>> {
        self.read_indices(indices, res, true)
    }

    /// Reads samples without rejecting NaN or Inf, for statistics that count them.
    pub fn read_samples_unchecked(
        &self,
        indices: &[usize],
        res: &Resolution,
    ) -> Result<Vec<Sample>> {
        self.read_indices(indices, res, false)
    }

    fn read_indices(
        &self,
        indices: &[usize],
        res: &Resolution,
        check: bool,
    ) -> Result<Vec<Sample>> {
        let per_sample = self.sample_bytes(res).max(1);
        let max_run = (RUN_BUDGET_BYTES / per_sample).max(1);
        let mut out = Vec::with_capacity(indices.len());
        let mut i = 0;
        while i < indices.len() {
            let mut len = 1;
            while i + len < indices.len() && len < max_run && indices[i + len] == indices[i] + len {
                len += 1;
            }
            out.extend(self.read_run(indices[i], len, res, check)?);
            i += len;
        }
        Ok(out)
    }

    /// Bytes one sample occupies in memory at full time and the given stride.
    fn sample_bytes(&self, res: &Resolution) -> usize {
        let frames = self
            .info
            .num_frames
            .div_ceil(res.reduced_resolution_t.max(1));
        let points: usize = self
            .info
            .spatial_shape
            .iter()
            .map(|n| n.div_ceil(res.reduced_resolution.max(1)))
            .product();
        frames * points * (self.info.fields.len() + self.info.input_fields.len()) * 4
    }

    /// Reads `count` consecutive samples starting at `start`.
    fn read_run(
        &self,
        start: usize,
        count: usize,
        res: &Resolution,
        check: bool,
    ) -> Result<Vec<Sample>> {
        res.validate()?;
        let n = self.info.num_samples;
        if start + count > n {
            // Name the first sample the file lacks.
            return Err(DataError::SampleOutOfRange {
                path: self.info.path.clone(),
                index: start.max(n),
                count: n,
            });
        }
        if let Some(well) = &self.well {
            return well.read_run(start, count, res, check);
        }
        if self.info.layout == Layout::Grouped {
            return (start..start + count)
                .map(|i| self.read_grouped(i, res, check))
                .collect();
        }
        let frames = self.read_sources(&self.frame_sources, None, start, count, res)?;
        let inputs = if self.input_sources.is_empty() {
            None
        } else {
            Some(self.read_sources(&self.input_sources, None, start, count, res)?)
        };
        let frames = split_leading(frames, count);
        // Inputs have no time axis: drop the length-1 frame axis.
        let mut inputs = inputs.map(|a| split_leading(a.remove_axis(Axis(1)), count).into_iter());
        frames
            .into_iter()
            .enumerate()
            .map(|(k, sample_frames)| {
                let input = inputs.as_mut().and_then(|it| it.next());
                self.checked(
                    Sample {
                        index: start + k,
                        frames: sample_frames,
                        input,
                    },
                    check,
                )
            })
            .collect()
    }

    fn read_grouped(&self, index: usize, res: &Resolution, check: bool) -> Result<Sample> {
        let group = &self.groups[index];
        let frames = self.read_sources(&self.frame_sources, Some(group), 0, 1, res)?;
        self.checked(
            Sample {
                index,
                frames: frames.remove_axis(Axis(0)),
                input: None,
            },
            check,
        )
    }

    /// Rejects samples with NaN or Inf, naming the dataset (when `check`).
    fn checked(&self, sample: Sample, check: bool) -> Result<Sample> {
        if !check {
            return Ok(sample);
        }
        let bad = |a: &ArrayD<f32>| a.iter().filter(|v| !v.is_finite()).count();
        let frame_bad = bad(&sample.frames);
        let (count, sources) = if frame_bad > 0 {
            (frame_bad, &self.frame_sources)
        } else {
            let input_bad = sample.input.as_ref().map_or(0, bad);
            (input_bad, &self.input_sources)
        };
        if count > 0 {
            let dataset = match self.info.layout {
                Layout::Grouped => format!("{}/data", self.groups[sample.index]),
                _ => sources
                    .iter()
                    .map(|s| s.dataset.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
            };
            return Err(DataError::NonFinite {
                path: self.info.path.clone(),
                dataset,
                sample: sample.index,
                count,
            });
        }
        Ok(sample)
    }

    /// Reads sources and concatenates them along the channel axis, giving
    /// `[count, T, C, X, ...]`.
    fn read_sources(
        &self,
        sources: &[Source],
        group: Option<&str>,
        start: usize,
        count: usize,
        res: &Resolution,
    ) -> Result<ArrayD<f32>> {
        let mut parts = Vec::with_capacity(sources.len());
        for source in sources {
            let name = match group {
                Some(g) => format!("{g}/{}", source.dataset),
                None => source.dataset.clone(),
            };
            let ds = self.dataset(&name)?;
            parts.push(read_canonical(
                &ds,
                &name,
                &self.info.path,
                &source.roles,
                start,
                count,
                res,
            )?);
        }
        if parts.len() == 1 {
            if let Some(only) = parts.pop() {
                return Ok(only);
            }
        }
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        ndarray::concatenate(Axis(2), &views).map_err(|_| DataError::ShapeMismatch {
            path: self.info.path.clone(),
            dataset: sources
                .iter()
                .map(|s| s.dataset.as_str())
                .collect::<Vec<_>>()
                .join("+"),
            expected: "the same extents in every field".into(),
            got: parts
                .first()
                .map(|p| p.shape().to_vec())
                .unwrap_or_default(),
        })
    }

    fn dataset(&self, name: &str) -> Result<Dataset> {
        self.file
            .dataset(name)
            .map_err(|_| DataError::MissingDataset {
                path: self.info.path.clone(),
                dataset: name.to_string(),
            })
    }
}

/// Splits `[count, ...]` into `count` arrays; a single sample is moved, not copied.
fn split_leading(arr: ArrayD<f32>, count: usize) -> Vec<ArrayD<f32>> {
    if count == 1 {
        vec![arr.remove_axis(Axis(0))]
    } else {
        arr.outer_iter().map(|a| a.to_owned()).collect()
    }
}
