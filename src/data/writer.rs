//! Atomic float32 HDF5 output: datasets are created at full size up front,
//! filled batch by batch, and the file is renamed from `<name>.tmp` to its
//! final name only after it is closed, so readers never see a partial file.
//!
//! HDF5 buffers writes (the metadata cache, each dataset's sieve buffer)
//! and writes them when a handle closes, where a failure (a full disk) is
//! not reported. So the datasets stay open until [`OutputFile::finish`],
//! which flushes each, then the file, checks every result, fsyncs the
//! file and only then renames it; any failure removes the temporary.
use hdf5::types::VarLenUnicode;
use hdf5::{Hyperslab, SliceOrIndex};
use ndarray::{ArrayView, IxDyn};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

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
    /// The datasets written so far, kept open so that their buffered
    /// writes are flushed, and checked, in [`Self::finish`].
    datasets: Mutex<HashMap<String, hdf5::Dataset>>,
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
        let file =
            hdf5::File::create(&tmp).map_err(|source| hdf5_failure(&path, &tmp, "/", source))?;
        Ok(Self {
            path,
            tmp,
            file: Some(file),
            datasets: Mutex::default(),
        })
    }

    /// The final path of the file (written under `<path>.tmp` until
    /// [`Self::finish`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn hdf5_error(&self, object: &str) -> impl FnOnce(hdf5::Error) -> WriteError + '_ {
        let object = object.to_string();
        move |source| hdf5_failure(&self.path, &self.tmp, &object, source)
    }

    fn open_datasets(&self) -> std::sync::MutexGuard<'_, HashMap<String, hdf5::Dataset>> {
        // The map holds handles only; one left by a panicking writer is
        // still valid.
        self.datasets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Dataset `name`, opened once and kept open until [`Self::finish`].
    fn open(&self, name: &str) -> Result<hdf5::Dataset, WriteError> {
        let mut open = self.open_datasets();
        if let Some(dataset) = open.get(name) {
            return Ok(dataset.clone());
        }
        let dataset = self.file().dataset(name).map_err(self.hdf5_error(name))?;
        open.insert(name.to_string(), dataset.clone());
        Ok(dataset)
    }

    fn keep_open(&self, name: &str, dataset: hdf5::Dataset) {
        self.open_datasets().insert(name.to_string(), dataset);
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
        let dataset = self
            .file()
            .new_dataset::<f32>()
            .shape(shape)
            .create(name)
            .map_err(self.hdf5_error(name))?;
        self.keep_open(name, dataset);
        Ok(())
    }

    /// Writes a complete 1D float32 dataset (coordinates).
    pub fn vector(&self, name: &str, values: &[f64]) -> Result<(), WriteError> {
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let dataset = self
            .file()
            .new_dataset_builder()
            .with_data(&values)
            .create(name)
            .map_err(self.hdf5_error(name))?;
        self.keep_open(name, dataset);
        Ok(())
    }

    /// Writes the whole of dataset `name` from row-major `data`.
    pub fn write_whole(&self, name: &str, data: &[f32]) -> Result<(), WriteError> {
        self.open(name)?
            .write_raw(data)
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
        let dataset = self.open(name)?;
        let mut shape = dataset.shape();
        let count = batch.len();
        shape[0] = count;
        let data: Vec<f32> = batch.flat_map(|s| s.iter().copied()).collect();
        let view = ArrayView::from_shape(IxDyn(&shape), &data)
            .map_err(|e| self.hdf5_error(name)(hdf5::Error::from(e.to_string().as_str())))?;
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

    /// Flushes every dataset and the file, closes it, flushes it to disk
    /// and renames it to its final name; any failure removes the
    /// temporary and leaves an earlier file at the final name untouched.
    pub fn finish(mut self) -> Result<PathBuf, WriteError> {
        let done = self.close().and_then(|()| self.publish());
        if done.is_err() {
            // The write's error is the one to report.
            let _ = std::fs::remove_file(&self.tmp);
        }
        done.map(|()| self.path.clone())
    }

    /// Flushes the datasets' buffers and the file's, checking each, then
    /// closes the file once no handle of it is left open.
    fn close(&mut self) -> Result<(), WriteError> {
        let datasets = std::mem::take(&mut *self.open_datasets());
        for (name, dataset) in &datasets {
            dataset.flush().map_err(self.hdf5_error(name))?;
        }
        drop(datasets);
        let file = self.file.take().ok_or_else(|| WriteError::Io {
            path: self.path.clone(),
            source: std::io::Error::other("the file was already closed"),
        })?;
        file.flush().map_err(self.hdf5_error("/"))?;
        file.close().map_err(self.hdf5_error("/"))
    }

    /// Flushes the closed temporary to disk, renames it into place and
    /// flushes the rename.
    fn publish(&self) -> Result<(), WriteError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WriteError::Io { path, source }
        };
        std::fs::File::open(&self.tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&self.path))?;
        std::fs::rename(&self.tmp, &self.path).map_err(io(&self.path))?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            // Unfinished (an error occurred): the partial file is useless.
            self.open_datasets().clear();
            drop(file);
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An HDF5 failure on the temporary of `path`: where HDF5 reports the
/// operating system's error (a failed write names its `errno`), that
/// error against `path`, as every other write reports one; otherwise
/// HDF5's own message, naming `object`.
fn hdf5_failure(path: &Path, tmp: &Path, object: &str, source: hdf5::Error) -> WriteError {
    match os_errno(&source.to_string()) {
        Some(errno) => WriteError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::from_raw_os_error(errno),
        },
        None => WriteError::Hdf5 {
            path: tmp.to_path_buf(),
            object: object.to_string(),
            source,
        },
    }
}

/// The `errno = N` of an HDF5 message about a failed system call.
fn os_errno(message: &str) -> Option<i32> {
    let (_, rest) = message.split_once("errno = ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&n| n > 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errno_of_a_failed_system_call_is_read_from_hdf5s_message() {
        let message = "H5C_dest(): file write failed: time = now, filename = 'p.tmp', errno = 28, error message = 'No space left on device'";
        assert_eq!(os_errno(message), Some(28));
        assert_eq!(os_errno("unable to open file: name = 'x'"), None);
        assert_eq!(os_errno("errno = 0, no error"), None);
    }

    #[test]
    fn a_failed_finish_leaves_no_temporary_and_the_target_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory where the file would go: the rename fails.
        std::fs::create_dir_all(dir.path().join("out.h5/inside")).unwrap();
        let out = OutputFile::create(dir.path(), "out.h5").unwrap();
        out.dataset("tensor", &[2, 3]).unwrap();
        out.write_samples("tensor", 0, [&[1.0f32, 2.0, 3.0][..]].into_iter())
            .unwrap();
        let err = out.finish().unwrap_err();
        assert!(
            matches!(&err, WriteError::Io { path, .. } if path.ends_with("out.h5")),
            "{err:?}"
        );
        assert!(!dir.path().join("out.h5.tmp").exists());
        assert!(dir.path().join("out.h5/inside").is_dir());
    }

    #[test]
    fn finished_file_holds_every_sample() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputFile::create(dir.path(), "out.h5").unwrap();
        out.dataset("tensor", &[2, 3]).unwrap();
        out.vector("x-coordinate", &[0.5, 1.5, 2.5]).unwrap();
        for (i, row) in [[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]].iter().enumerate() {
            out.write_samples("tensor", i, std::iter::once(&row[..]))
                .unwrap();
        }
        let path = out.finish().unwrap();
        assert!(!dir.path().join("out.h5.tmp").exists());
        let file = hdf5::File::open(path).unwrap();
        let values: Vec<f32> = file.dataset("tensor").unwrap().read_raw().unwrap();
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
