//! The checks every layout shares when a file is opened (rank, dtype,
//! extents, coordinates) and what a layout's checks find ([`Contents`]).
//! Each layout's own checks live in a module of their own (`single_array`,
//! `darcy`, ...), which uses these; `open.rs` picks the layout and
//! assembles the result.
use super::{Coordinates, DatasetInfo};
use crate::data::error::{DataError, Result};
use crate::data::layout::Source;
use hdf5::types::TypeDescriptor;
use hdf5::Dataset;
use std::path::Path;

/// What one layout's checks find in a file: its sizes, the datasets that
/// hold the frames and the input fields, what their channels mean, and the
/// grid.
pub(super) struct Contents {
    /// Number of samples.
    pub(super) num_samples: usize,
    /// Stored time frames per sample (1 for stationary problems).
    pub(super) num_frames: usize,
    /// Extent of each spatial axis.
    pub(super) spatial_shape: Vec<usize>,
    /// The datasets holding the frames, in channel order.
    pub(super) frames: Vec<Source>,
    /// The datasets holding the input fields, in channel order.
    pub(super) inputs: Vec<Source>,
    /// Names of the output channels.
    pub(super) fields: Vec<String>,
    /// Names of the input channels.
    pub(super) input_fields: Vec<String>,
    /// Coordinates at full resolution.
    pub(super) coordinates: Coordinates,
    /// Sample group names, sorted (grouped layout only; empty otherwise).
    pub(super) groups: Vec<String>,
}

/// Validates a freshly opened file and records the storage facts of every
/// dataset it checks.
pub(super) struct Opener<'a> {
    path: &'a Path,
    file: &'a hdf5::File,
    datasets: Vec<DatasetInfo>,
}

impl<'a> Opener<'a> {
    /// A validator of `file`, opened from `path`.
    pub(super) fn new(path: &'a Path, file: &'a hdf5::File) -> Self {
        Self {
            path,
            file,
            datasets: Vec::new(),
        }
    }

    /// The file being validated.
    pub(super) fn file(&self) -> &'a hdf5::File {
        self.file
    }

    /// The path the file was opened from.
    pub(super) fn path(&self) -> &'a Path {
        self.path
    }

    /// The error for a dataset the layout needs and the file lacks.
    pub(super) fn missing(&self, dataset: &str) -> DataError {
        DataError::MissingDataset {
            path: self.path.to_path_buf(),
            dataset: dataset.to_string(),
        }
    }

    /// The error for a dataset whose shape is not the `expected` one.
    pub(super) fn shape_mismatch(&self, dataset: &str, expected: &str, got: &[usize]) -> DataError {
        DataError::ShapeMismatch {
            path: self.path.to_path_buf(),
            dataset: dataset.to_string(),
            expected: expected.to_string(),
            got: got.to_vec(),
        }
    }

    /// The error for a dataset HDF5 fails to read.
    pub(super) fn read_error(&self, dataset: &str) -> impl FnOnce(hdf5::Error) -> DataError {
        let path = self.path.to_path_buf();
        let dataset = dataset.to_string();
        move |source| DataError::Read {
            path,
            dataset,
            source,
        }
    }

    /// The number of axes of dataset `name`, 0 if it is absent.
    pub(super) fn rank(&self, name: &str) -> usize {
        self.file.dataset(name).map(|d| d.ndim()).unwrap_or(0)
    }

    /// Opens a dataset and checks it holds floats of the given rank, without
    /// recording it; returns the dataset, its shape and its dtype in words.
    fn checked_float(&self, name: &str, rank: usize) -> Result<(Dataset, Vec<usize>, String)> {
        let ds = self.file.dataset(name).map_err(|_| self.missing(name))?;
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
        Ok((ds, shape, dtype))
    }

    /// Checks a dataset holds floats of the given rank; returns its shape.
    /// Not recorded in [`FileInfo::datasets`]: for a first look at a dataset
    /// that [`Self::float_dataset`] records later.
    pub(super) fn float_shape(&self, name: &str, rank: usize) -> Result<Vec<usize>> {
        self.checked_float(name, rank).map(|(_, shape, _)| shape)
    }

    /// Opens a dataset, checks it holds floats of the given rank, and records it.
    pub(super) fn float_dataset(&mut self, name: &str, rank: usize) -> Result<Vec<usize>> {
        let (ds, shape, dtype) = self.checked_float(name, rank)?;
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

    /// Reads a 1-D float coordinate array of `len` entries (or `len + 1`
    /// when `extra_ok`, as PDEBench stores times; the extra one is dropped).
    pub(super) fn coordinate(
        &mut self,
        name: &str,
        len: usize,
        extra_ok: bool,
    ) -> Result<Vec<f64>> {
        let shape = self.float_dataset(name, 1)?;
        if shape[0] != len && !(extra_ok && shape[0] == len + 1) {
            let expected = if extra_ok {
                format!("[{len}] or [{}] entries", len + 1)
            } else {
                format!("[{len}]")
            };
            return Err(self.shape_mismatch(name, &expected, &shape));
        }
        let ds = self.file.dataset(name).map_err(|_| self.missing(name))?;
        let values: Vec<f64> = ds.read_raw::<f64>().map_err(self.read_error(name))?;
        Ok(values.into_iter().take(len).collect())
    }

    /// Fails if the sample axis of `dataset` is empty.
    pub(super) fn require_samples(&self, dataset: &str, n: usize) -> Result<()> {
        if n == 0 {
            return Err(DataError::NoSamples {
                path: self.path.to_path_buf(),
                dataset: dataset.to_string(),
            });
        }
        Ok(())
    }

    /// Fails unless `dataset`'s shape `got` is `want`.
    pub(super) fn same_shape(&self, dataset: &str, got: &[usize], want: &[usize]) -> Result<()> {
        if got != want {
            return Err(self.shape_mismatch(dataset, &format!("{want:?}"), got));
        }
        Ok(())
    }

    /// The storage facts of every dataset checked so far.
    pub(super) fn into_datasets(self) -> Vec<DatasetInfo> {
        self.datasets
    }
}

/// Cell centres of `n` cells on `[lo, hi]`.
pub(super) fn cell_centres(domain: [f64; 2], n: usize) -> Vec<f64> {
    let h = (domain[1] - domain[0]) / n as f64;
    (0..n).map(|i| domain[0] + (i as f64 + 0.5) * h).collect()
}

/// The element type of `ds` in words (`float32`, `int64`, ...).
fn describe_dtype(ds: &Dataset) -> String {
    match ds.dtype().and_then(|d| d.to_descriptor()) {
        Ok(TypeDescriptor::Float(size)) => format!("float{}", size as usize * 8),
        Ok(TypeDescriptor::Integer(size)) => format!("int{}", size as usize * 8),
        Ok(TypeDescriptor::Unsigned(size)) => format!("uint{}", size as usize * 8),
        Ok(other) => format!("{other}"),
        Err(_) => "unknown".into(),
    }
}

/// A filter of the HDF5 pipeline in words (`lzf`, `deflate(4)`, ...).
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
