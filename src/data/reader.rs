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
use super::catalog::{self, Boundary};
use super::error::{DataError, Result};
use super::layout::{Layout, Role, Source};
use super::split::SampleSelection;
use super::writer::Attr;
use hdf5::types::TypeDescriptor;
use hdf5::{Dataset, Hyperslab, SliceOrIndex};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest contiguous block (bytes) read in one call before striding in
/// memory. Reading the bounding block and striding in memory beats HDF5's
/// element-wise strided selection by far; past this size we let HDF5 stride,
/// so memory stays bounded.
const BLOCK_BUDGET_BYTES: usize = 32 << 20;

/// Largest run of consecutive samples (bytes) read in one call. Small
/// samples (a Darcy field is 16 kB) gain from fewer HDF5 calls; large ones
/// are read singly, so each lands in its own buffer without a copy (32 MB
/// runs were 4x slower than single reads: BENCHMARKS.md).
const RUN_BUDGET_BYTES: usize = 1 << 20;

/// Spatial and temporal strides, as PDEBench's `reduced_resolution` and
/// `reduced_resolution_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resolution {
    /// Keep every n-th point along each spatial axis. Default: 1.
    pub reduced_resolution: usize,
    /// Keep every n-th time frame. Default: 1.
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
                    reason: "must be at least 1".into(),
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

/// Attributes by name, as stored.
pub(crate) type NamedAttrs = Vec<(String, Attr)>;

/// An open PDEBench file, ready to stream samples.
pub struct PdebenchFile {
    file: hdf5::File,
    info: FileInfo,
    frame_sources: Vec<Source>,
    input_sources: Vec<Source>,
    /// Sample group names, sorted, for the grouped layout.
    groups: Vec<String>,
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
    /// Only metadata and coordinates are read here.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        std::fs::metadata(&path).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
        let file = hdf5::File::open(&path).map_err(|source| DataError::NotHdf5 {
            path: path.clone(),
            source,
        })?;
        let opened = Opener::new(&path, &file).open()?;
        Ok(Self {
            file,
            info: opened.info,
            frame_sources: opened.frames,
            input_sources: opened.inputs,
            groups: opened.groups,
        })
    }

    /// What the file holds.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// The datasets holding the frames and the input fields, each with its
    /// number of channels, in channel order: what a writer needs to store
    /// samples in this file's layout (see [`super::mirror`]).
    pub(crate) fn storage(&self) -> Result<(Vec<ChannelSource>, Vec<ChannelSource>)> {
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
            return Err(DataError::SampleOutOfRange {
                path: self.info.path.clone(),
                index: start + count - 1,
                count: n,
            });
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

/// Reads a hyperslab of `ds` and returns it as `[count, T, C, X, ...]`,
/// inserting length-1 axes for roles the dataset lacks.
fn read_canonical(
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
struct AxisRange {
    start: usize,
    count: usize,
    step: usize,
}

impl AxisRange {
    fn new(start: usize, count: usize, step: usize) -> Self {
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
fn read_strided(ds: &Dataset, ranges: &[AxisRange]) -> hdf5::Result<ArrayD<f32>> {
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

/// The result of validating a file at open time.
struct Opened {
    info: FileInfo,
    frames: Vec<Source>,
    inputs: Vec<Source>,
    groups: Vec<String>,
}

/// Validates a freshly opened file and gathers its [`FileInfo`].
struct Opener<'a> {
    path: &'a Path,
    file: &'a hdf5::File,
    datasets: Vec<DatasetInfo>,
}

impl<'a> Opener<'a> {
    fn new(path: &'a Path, file: &'a hdf5::File) -> Self {
        Self {
            path,
            file,
            datasets: Vec::new(),
        }
    }

    fn err_missing(&self, dataset: &str) -> DataError {
        DataError::MissingDataset {
            path: self.path.to_path_buf(),
            dataset: dataset.to_string(),
        }
    }

    /// Opens a dataset, checks it holds floats of the given rank, and records it.
    fn float_dataset(&mut self, name: &str, rank: usize) -> Result<Vec<usize>> {
        let ds = self
            .file
            .dataset(name)
            .map_err(|_| self.err_missing(name))?;
        let shape = ds.shape();
        if shape.len() != rank {
            return Err(DataError::WrongRank {
                path: self.path.to_path_buf(),
                dataset: name.to_string(),
                expected: rank,
                got: shape.len(),
                shape,
            });
        }
        let dtype = describe_dtype(&ds);
        if !dtype.starts_with("float") {
            return Err(DataError::WrongDtype {
                path: self.path.to_path_buf(),
                dataset: name.to_string(),
                got: dtype,
            });
        }
        self.datasets.push(DatasetInfo {
            name: name.to_string(),
            shape: shape.clone(),
            dtype,
            filters: ds.filters().iter().map(describe_filter).collect(),
            chunks: ds.chunk(),
            storage_bytes: ds.storage_size(),
        });
        Ok(shape)
    }

    /// Reads a 1-D float coordinate array of at least `len` entries.
    fn coordinate(&mut self, name: &str, len: usize, extra_ok: bool) -> Result<Vec<f64>> {
        let shape = self.float_dataset(name, 1)?;
        if shape[0] != len && !(extra_ok && shape[0] == len + 1) {
            return Err(DataError::ShapeMismatch {
                path: self.path.to_path_buf(),
                dataset: name.to_string(),
                expected: if extra_ok {
                    format!("[{len}] or [{}] entries", len + 1)
                } else {
                    format!("[{len}]")
                },
                got: shape,
            });
        }
        let ds = self
            .file
            .dataset(name)
            .map_err(|_| self.err_missing(name))?;
        let values: Vec<f64> = ds.read_raw::<f64>().map_err(|source| DataError::Read {
            path: self.path.to_path_buf(),
            dataset: name.to_string(),
            source,
        })?;
        Ok(values.into_iter().take(len).collect())
    }

    fn require_samples(&self, dataset: &str, n: usize) -> Result<()> {
        if n == 0 {
            return Err(DataError::NoSamples {
                path: self.path.to_path_buf(),
                dataset: dataset.to_string(),
            });
        }
        Ok(())
    }

    fn same_shape(&self, dataset: &str, got: &[usize], want: &[usize]) -> Result<()> {
        if got != want {
            return Err(DataError::ShapeMismatch {
                path: self.path.to_path_buf(),
                dataset: dataset.to_string(),
                expected: format!("{want:?}"),
                got: got.to_vec(),
            });
        }
        Ok(())
    }

    fn open(mut self) -> Result<Opened> {
        let root_members = self
            .file
            .member_names()
            .map_err(|source| DataError::NotHdf5 {
                path: self.path.to_path_buf(),
                source,
            })?;
        let file = self.file;
        let is_sample_group = |m: &str| {
            file.group(m)
                .map(|g| g.link_exists("data"))
                .unwrap_or(false)
        };
        let layout = Layout::detect(&root_members, is_sample_group).ok_or_else(|| {
            DataError::UnknownLayout {
                path: self.path.to_path_buf(),
                members: root_members.clone(),
            }
        })?;
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let family = catalog::family_for(&stem)?;
        let catalog_fields = family.map(|f| f.fields.clone());
        let mut groups = Vec::new();
        let (shape, frames, inputs, fields, input_fields, coordinates) = match layout {
            Layout::SingleArray => {
                let s = self.float_dataset("tensor", 3)?;
                self.require_samples("tensor", s[0])?;
                let x = self.coordinate("x-coordinate", s[2], false)?;
                let t = self.coordinate("t-coordinate", s[1], true)?;
                (
                    (s[0], s[1], vec![s[2]]),
                    vec![Source::new(
                        "tensor",
                        &[Role::Sample, Role::Time, Role::Space],
                    )],
                    vec![],
                    catalog_fields.unwrap_or_else(|| vec!["u".into()]),
                    vec![],
                    Coordinates {
                        space: vec![x],
                        time: t,
                    },
                )
            }
            Layout::Darcy => {
                let a = self.float_dataset("nu", 3)?;
                let u = self.float_dataset("tensor", 4)?;
                self.require_samples("nu", a[0])?;
                self.same_shape("tensor", &u, &[a[0], 1, a[1], a[2]])?;
                let x = self.coordinate("x-coordinate", a[1], false)?;
                let y = self.coordinate("y-coordinate", a[2], false)?;
                (
                    (a[0], 1, vec![a[1], a[2]]),
                    vec![Source::new(
                        "tensor",
                        &[Role::Sample, Role::Channel, Role::Space, Role::Space],
                    )],
                    vec![Source::new("nu", &[Role::Sample, Role::Space, Role::Space])],
                    vec!["u".into()],
                    vec!["nu".into()],
                    Coordinates {
                        space: vec![x, y],
                        time: vec![0.0],
                    },
                )
            }
            Layout::MultiField => {
                let rank = self.file.dataset("density").map(|d| d.ndim()).unwrap_or(0);
                let d = self.float_dataset("density", rank.clamp(3, 5))?;
                // Recorded again below with the other fields.
                self.datasets.pop();
                let dims = d.len() - 2;
                self.require_samples("density", d[0])?;
                let names: Vec<&str> =
                    ["density", "pressure", "Vx", "Vy", "Vz"][..2 + dims].to_vec();
                let mut sources = Vec::new();
                let mut roles = vec![Role::Sample, Role::Time];
                roles.extend(std::iter::repeat_n(Role::Space, dims));
                for name in &names {
                    let s = self.float_dataset(name, d.len())?;
                    self.same_shape(name, &s, &d)?;
                    sources.push(Source::new(name, &roles));
                }
                let mut space = Vec::new();
                for (k, axis) in ["x-coordinate", "y-coordinate", "z-coordinate"][..dims]
                    .iter()
                    .enumerate()
                {
                    space.push(self.coordinate(axis, d[2 + k], false)?);
                }
                let t = self.coordinate("t-coordinate", d[1], true)?;
                (
                    (d[0], d[1], d[2..].to_vec()),
                    sources,
                    vec![],
                    names.iter().map(|s| s.to_string()).collect(),
                    vec![],
                    Coordinates { space, time: t },
                )
            }
            Layout::IncompressibleNs => {
                let v = self.float_dataset("velocity", 5)?;
                self.require_samples("velocity", v[0])?;
                if v[4] != 2 {
                    return Err(DataError::ShapeMismatch {
                        path: self.path.to_path_buf(),
                        dataset: "velocity".into(),
                        expected: "[B, T, X, Y, 2]".into(),
                        got: v,
                    });
                }
                let p = self.float_dataset("particles", 5)?;
                self.same_shape("particles", &p, &[v[0], v[1], v[2], v[3], 1])?;
                let f = self.float_dataset("force", 4)?;
                self.same_shape("force", &f, &[v[0], v[2], v[3], 2])?;
                let t_shape = self.float_dataset("t", 2)?;
                self.same_shape("t", &t_shape, &[v[0], v[1]])?;
                let t: Vec<f64> = self
                    .file
                    .dataset("t")
                    .and_then(|d| d.read_slice_1d::<f64, _>(ndarray::s![0, ..]))
                    .map_err(|source| DataError::Read {
                        path: self.path.to_path_buf(),
                        dataset: "t".into(),
                        source,
                    })?
                    .to_vec();
                let domain = family
                    .map(|f| f.domain.clone())
                    .unwrap_or(vec![[0.0, 1.0]; 2]);
                let roles = [
                    Role::Sample,
                    Role::Time,
                    Role::Space,
                    Role::Space,
                    Role::Channel,
                ];
                (
                    (v[0], v[1], vec![v[2], v[3]]),
                    vec![
                        Source::new("velocity", &roles),
                        Source::new("particles", &roles),
                    ],
                    vec![Source::new(
                        "force",
                        &[Role::Sample, Role::Space, Role::Space, Role::Channel],
                    )],
                    vec!["vx".into(), "vy".into(), "particles".into()],
                    vec!["fx".into(), "fy".into()],
                    Coordinates {
                        space: vec![cell_centres(domain[0], v[2]), cell_centres(domain[1], v[3])],
                        time: t,
                    },
                )
            }
            Layout::Vorticity => {
                let a = self.float_dataset("a", 3)?;
                let u = self.float_dataset("u", 4)?;
                self.require_samples("a", a[0])?;
                // `fno generate ns` stores time last, [N, X, Y, T], as the FNO
                // paper's files do; [N, T, X, Y] is accepted too.
                let time_last = u[..3] == a[..];
                let (frames, roles): (usize, &[Role]) = if time_last {
                    (u[3], &[Role::Sample, Role::Space, Role::Space, Role::Time])
                } else {
                    self.same_shape("u", &[u[0], u[2], u[3]], &a)?;
                    (u[1], &[Role::Sample, Role::Time, Role::Space, Role::Space])
                };
                let x = self.coordinate("x-coordinate", a[1], false)?;
                let y = self.coordinate("y-coordinate", a[2], false)?;
                let t = self.coordinate("t-coordinate", frames, true)?;
                (
                    (a[0], frames, vec![a[1], a[2]]),
                    vec![Source::new("u", roles)],
                    vec![Source::new("a", &[Role::Sample, Role::Space, Role::Space])],
                    vec!["w".into()],
                    vec!["w0".into()],
                    Coordinates {
                        space: vec![x, y],
                        time: t,
                    },
                )
            }
            Layout::Grouped => {
                groups = root_members.clone();
                groups.sort();
                let first = format!("{}/data", groups[0]);
                let rank = self.file.dataset(&first).map(|d| d.ndim()).unwrap_or(0);
                if !(3..=5).contains(&rank) {
                    return Err(DataError::WrongRank {
                        path: self.path.to_path_buf(),
                        dataset: first,
                        expected: 4,
                        got: rank,
                        shape: self
                            .file
                            .dataset(&format!("{}/data", groups[0]))
                            .map(|d| d.shape())
                            .unwrap_or_default(),
                    });
                }
                let s = self.float_dataset(&first, rank)?;
                let dims = rank - 2;
                let mut space = Vec::new();
                for (k, axis) in ["x", "y", "z"][..dims].iter().enumerate() {
                    let name = format!("{}/grid/{axis}", groups[0]);
                    space.push(self.coordinate(&name, s[1 + k], false)?);
                }
                let t = self.coordinate(&format!("{}/grid/t", groups[0]), s[0], true)?;
                let mut roles = vec![Role::Time];
                roles.extend(std::iter::repeat_n(Role::Space, dims));
                roles.push(Role::Channel);
                let channels = s[rank - 1];
                let fields = catalog_fields
                    .filter(|f| f.len() == channels)
                    .unwrap_or_else(|| (0..channels).map(|c| format!("c{c}")).collect());
                (
                    (groups.len(), s[0], s[1..rank - 1].to_vec()),
                    vec![Source::new("data", &roles)],
                    vec![],
                    fields,
                    vec![],
                    Coordinates { space, time: t },
                )
            }
        };
        let (num_samples, num_frames, spatial_shape) = shape;
        let mut params = family
            .map(|f| f.params_from_name(&stem))
            .unwrap_or_default();
        let mut text_attributes = BTreeMap::new();
        read_attributes(self.file, family, &mut params, &mut text_attributes);
        params_from_json_text(family, &text_attributes, &mut params);
        if let Some(first) = groups.first() {
            if let Ok(g) = self.file.group(first) {
                read_attributes(&g, family, &mut params, &mut text_attributes);
            }
        }
        let domain = family
            .map(|f| f.domain.clone())
            .filter(|d| d.len() == spatial_shape.len())
            .unwrap_or_else(|| {
                coordinates
                    .space
                    .iter()
                    .map(|axis| domain_of(axis))
                    .collect()
            });
        let info = FileInfo {
            path: self.path.to_path_buf(),
            layout,
            family: family.map(|f| f.name.clone()),
            pde: family.map(|f| f.pde.clone()),
            params,
            boundary: family.map(|f| f.boundary_for(&stem)),
            domain,
            notes: family.map(|f| f.notes.clone()),
            text_attributes,
            num_samples,
            num_frames,
            spatial_shape,
            fields,
            input_fields,
            datasets: std::mem::take(&mut self.datasets),
            coordinates,
        };
        Ok(Opened {
            info,
            frames,
            inputs,
            groups,
        })
    }
}

/// The scalar attributes of `loc` that a writer can copy: numbers as
/// doubles, strings as UTF-8 text.
fn scalar_attributes(loc: &hdf5::Location) -> NamedAttrs {
    let Ok(names) = loc.attr_names() else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter_map(|name| {
            let attr = loc.attr(&name).ok().filter(|a| a.is_scalar())?;
            let value = match attr.dtype().and_then(|d| d.to_descriptor()).ok()? {
                TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) => {
                    Attr::F64(attr.read_scalar::<f64>().ok()?)
                }
                TypeDescriptor::Unsigned(_) => Attr::U64(attr.read_scalar::<u64>().ok()?),
                TypeDescriptor::VarLenUnicode => Attr::Text(
                    attr.read_scalar::<hdf5::types::VarLenUnicode>()
                        .ok()?
                        .to_string(),
                ),
                TypeDescriptor::VarLenAscii => Attr::Text(
                    attr.read_scalar::<hdf5::types::VarLenAscii>()
                        .ok()?
                        .to_string(),
                ),
                _ => return None,
            };
            Some((name, value))
        })
        .collect()
}

/// Reads numeric attributes into `params` (mapping release names to ours
/// through the catalogue) and string attributes into `text`.
fn read_attributes(
    loc: &hdf5::Location,
    family: Option<&catalog::Family>,
    params: &mut BTreeMap<String, f64>,
    text: &mut BTreeMap<String, String>,
) {
    let Ok(names) = loc.attr_names() else {
        return;
    };
    for name in names {
        let Ok(attr) = loc.attr(&name) else { continue };
        if !attr.is_scalar() {
            continue;
        }
        let key = family
            .and_then(|f| f.params.iter().find(|p| p.attr == name))
            .map_or(name.clone(), |p| p.name.clone());
        match attr.dtype().and_then(|d| d.to_descriptor()) {
            Ok(
                TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_),
            ) => {
                if let Ok(v) = attr.read_scalar::<f64>() {
                    params.insert(key, v);
                }
            }
            Ok(TypeDescriptor::VarLenUnicode) => {
                if let Ok(v) = attr.read_scalar::<hdf5::types::VarLenUnicode>() {
                    text.insert(name, v.to_string());
                }
            }
            Ok(TypeDescriptor::VarLenAscii) => {
                if let Ok(v) = attr.read_scalar::<hdf5::types::VarLenAscii>() {
                    text.insert(name, v.to_string());
                }
            }
            _ => {}
        }
    }
}

/// Takes numeric entries of JSON text attributes (such as the `config` of
/// the incompressible-NS files) as parameters, unless an attribute of the
/// same name already gave one.
fn params_from_json_text(
    family: Option<&catalog::Family>,
    text: &BTreeMap<String, String>,
    params: &mut BTreeMap<String, f64>,
) {
    let Some(family) = family else { return };
    for value in text.values() {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(value)
        else {
            continue;
        };
        for spec in &family.params {
            if let Some(v) = map.get(&spec.attr).and_then(|v| v.as_f64()) {
                params.entry(spec.name.clone()).or_insert(v);
            }
        }
    }
}

/// Cell centres of `n` cells on `[lo, hi]`.
fn cell_centres(domain: [f64; 2], n: usize) -> Vec<f64> {
    let h = (domain[1] - domain[0]) / n as f64;
    (0..n).map(|i| domain[0] + (i as f64 + 0.5) * h).collect()
}

/// The domain of cell-centred coordinates: half a spacing beyond each end.
fn domain_of(axis: &[f64]) -> [f64; 2] {
    match axis {
        [] => [0.0, 1.0],
        [only] => [only - 0.5, only + 0.5],
        [first, .., last] => {
            let h = (last - first) / (axis.len() - 1) as f64;
            [first - h / 2.0, last + h / 2.0]
        }
    }
}

fn describe_dtype(ds: &Dataset) -> String {
    match ds.dtype().and_then(|d| d.to_descriptor()) {
        Ok(TypeDescriptor::Float(size)) => format!("float{}", size as usize * 8),
        Ok(TypeDescriptor::Integer(size)) => format!("int{}", size as usize * 8),
        Ok(TypeDescriptor::Unsigned(size)) => format!("uint{}", size as usize * 8),
        Ok(other) => format!("{other}"),
        Err(_) => "unknown".into(),
    }
}

fn describe_filter(f: &hdf5::filters::Filter) -> String {
    use hdf5::filters::Filter;
    match f {
        Filter::Deflate(level) => format!("deflate({level})"),
        Filter::Shuffle => "shuffle".into(),
        Filter::Fletcher32 => "fletcher32".into(),
        Filter::LZF => "lzf".into(),
        Filter::SZip(..) => "szip".into(),
        Filter::NBit => "nbit".into(),
        Filter::ScaleOffset(_) => "scaleoffset".into(),
        Filter::User(id, _) => format!("filter#{id}"),
    }
}
