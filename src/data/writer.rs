//! Atomic float32 HDF5 output: datasets are created at full size up front,
//! filled batch by batch, and the file is renamed from `<name>.tmp` to its
//! final name only after it is closed, so readers never see a partial file.
use hdf5::types::VarLenUnicode;
use hdf5::{Hyperslab, SliceOrIndex};
use ndarray::{ArrayView, IxDyn};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Errors of writing an output file; each names the file and, for HDF5
/// failures, the dataset or attribute.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Creating, writing or renaming the output file failed.
    #[error("writing {}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An HDF5 operation on the output file failed.
    #[error("HDF5 error on {} (dataset or attribute `{object}`)", path.display())]
    Hdf5 {
        /// The file being written.
        path: PathBuf,
        /// The dataset or attribute concerned.
        object: String,
        /// The underlying error.
        #[source]
        source: hdf5::Error,
    },
}

/// A scalar attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// Stored as an HDF5 double, as PDEBench stores `beta` and `Nu`.
    F64(f64),
    /// Stored as an unsigned 64-bit integer (seeds, counts).
    U64(u64),
    /// Stored as a variable-length UTF-8 string.
    Text(String),
}

/// An output file being written; dropped unfinished, it deletes its
/// temporary file.
pub struct OutputFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<hdf5::File>,
}

impl OutputFile {
    /// Creates `<dir>/<name>.tmp` (and `dir` if missing).
    pub fn create(dir: &Path, name: &str) -> Result<Self, WriteError> {
        let path = dir.join(name);
        std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let tmp = dir.join(format!("{name}.tmp"));
        let file = hdf5::File::create(&tmp).map_err(|source| WriteError::Hdf5 {
            path: tmp.clone(),
            object: "/".into(),
            source,
        })?;
        Ok(Self {
            path,
            tmp,
            file: Some(file),
        })
    }

    /// The final path of the file (written under `<path>.tmp` until
    /// [`Self::finish`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn hdf5_error(&self, object: &str) -> impl FnOnce(hdf5::Error) -> WriteError {
        let path = self.tmp.clone();
        let object = object.to_string();
        move |source| WriteError::Hdf5 {
            path,
            object,
            source,
        }
    }

    fn file(&self) -> &hdf5::File {
        // `file` is `None` only inside `finish`, which consumes `self`.
        self.file
            .as_ref()
            .unwrap_or_else(|| unreachable!("file used after finish"))
    }

    /// Creates an empty float32 dataset of `shape`, to be filled by
    /// [`Self::write_samples`].
    pub fn dataset(&self, name: &str, shape: &[usize]) -> Result<(), WriteError> {
        self.file()
            .new_dataset::<f32>()
            .shape(shape)
            .create(name)
            .map(drop)
            .map_err(self.hdf5_error(name))
    }

    /// Writes a complete 1D float32 dataset (coordinates).
    pub fn vector(&self, name: &str, values: &[f64]) -> Result<(), WriteError> {
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        self.file()
            .new_dataset_builder()
            .with_data(&values)
            .create(name)
            .map(drop)
            .map_err(self.hdf5_error(name))
    }

    /// Writes the whole of dataset `name` from row-major `data`.
    pub fn write_whole(&self, name: &str, data: &[f32]) -> Result<(), WriteError> {
        self.file()
            .dataset(name)
            .and_then(|d| d.write_raw(data))
            .map_err(self.hdf5_error(name))
    }

    /// Writes samples `first..first + batch.len()` of dataset `name`; each
    /// sample is the row-major data of one slice along the first axis.
    pub fn write_samples<'a>(
        &self,
        name: &str,
        first: usize,
        batch: impl ExactSizeIterator<Item = &'a [f32]>,
    ) -> Result<(), WriteError> {
        let dataset = self.file().dataset(name).map_err(self.hdf5_error(name))?;
        let mut shape = dataset.shape();
        let count = batch.len();
        shape[0] = count;
        let data: Vec<f32> = batch.flat_map(|s| s.iter().copied()).collect();
        let view = ArrayView::from_shape(IxDyn(&shape), &data).map_err(|e| WriteError::Hdf5 {
            path: self.tmp.clone(),
            object: name.to_string(),
            source: hdf5::Error::from(e.to_string().as_str()),
        })?;
        // Rows first..first + count along the sample axis, everything along
        // the others.
        let rank = shape.len();
        let slab: Vec<SliceOrIndex> = std::iter::once((first..first + count).into())
            .chain(std::iter::repeat_n((..).into(), rank - 1))
            .collect();
        dataset
            .write_slice(view, Hyperslab::from(slab))
            .map_err(self.hdf5_error(name))
    }

    /// Sets file attributes.
    pub fn attrs(&self, attrs: &[(&str, Attr)]) -> Result<(), WriteError> {
        for (name, value) in attrs {
            write_attr(self.file(), name, value).map_err(self.hdf5_error(name))?;
        }
        Ok(())
    }

    /// Creates the group `name` (and its missing parents), with `attrs`.
    pub fn group(&self, name: &str, attrs: &[(String, Attr)]) -> Result<(), WriteError> {
        let mut path = String::new();
        for part in name.split('/').filter(|p| !p.is_empty()) {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(part);
            if !self.file().link_exists(&path) {
                self.file()
                    .create_group(&path)
                    .map_err(self.hdf5_error(&path))?;
            }
        }
        let group = self.file().group(name).map_err(self.hdf5_error(name))?;
        for (attr, value) in attrs {
            write_attr(&group, attr, value).map_err(self.hdf5_error(&format!("{name}/{attr}")))?;
        }
        Ok(())
    }

    /// Closes the file and renames it to its final name.
    pub fn finish(mut self) -> Result<PathBuf, WriteError> {
        if let Some(file) = self.file.take() {
            file.close().map_err(self.hdf5_error("/"))?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|source| WriteError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.path.clone())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            // Unfinished (an error occurred): the partial file is useless.
            drop(file);
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes one scalar attribute on a file or group.
fn write_attr(loc: &hdf5::Location, name: &str, value: &Attr) -> hdf5::Result<()> {
    match value {
        Attr::F64(v) => loc
            .new_attr::<f64>()
            .create(name)
            .and_then(|a| a.write_scalar(v)),
        Attr::U64(v) => loc
            .new_attr::<u64>()
            .create(name)
            .and_then(|a| a.write_scalar(v)),
        Attr::Text(text) => VarLenUnicode::from_str(text)
            .map_err(|e| hdf5::Error::from(e.to_string().as_str()))
            .and_then(|v| {
                loc.new_attr::<VarLenUnicode>()
                    .create(name)
                    .and_then(|a| a.write_scalar(&v))
            }),
    }
}
