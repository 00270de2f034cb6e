//! Which files make up a Well data set, and where its `stats.yaml` is.
//!
//! A data set is released as `<dataset>/data/{train,valid,test}/*.hdf5`
//! with `<dataset>/stats.yaml` (statistics of the training files). fno
//! opens the root (every split, in that order, with the samples of each
//! split remembered), one split folder (its files), or one file; the
//! `stats.yaml` is looked for beside the folder and at the data set's root.
use crate::data::error::{DataError, Result};
use std::path::{Path, PathBuf};

/// The split folders, in sample order.
pub(super) const SPLITS: [&str; 3] = ["train", "valid", "test"];

/// The HDF5 files of one folder (`*.hdf5`, `*.h5`), sorted by name.
pub(super) fn hdf5_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(folder).map_err(|source| DataError::Io {
        path: folder.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DataError::Io {
            path: folder.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let hdf5 = path.extension().is_some_and(|e| e == "hdf5" || e == "h5");
        if hdf5 && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Files, each with the split folder it sits in (if any).
pub(super) type SplitFiles = Vec<(PathBuf, Option<String>)>;

/// The files of `folder`, each with its split when `folder` is a data
/// set's root (it has a `data` folder), and whether it is one.
pub(super) fn files_of(folder: &Path) -> Result<(SplitFiles, bool)> {
    let data = folder.join("data");
    if data.is_dir() {
        let mut files = Vec::new();
        for split in SPLITS {
            let dir = data.join(split);
            if dir.is_dir() {
                for path in hdf5_files(&dir)? {
                    files.push((path, Some(split.to_string())));
                }
            }
        }
        return Ok((files, true));
    }
    let files = hdf5_files(folder)?.into_iter().map(|p| (p, None)).collect();
    Ok((files, false))
}

/// The `stats.yaml` of the data set `folder` belongs to: in `folder`
/// itself, or, for a split folder `<dataset>/data/<split>`, in `<dataset>`.
pub(super) fn stats_file(folder: &Path) -> Option<PathBuf> {
    let here = folder.join("stats.yaml");
    if here.is_file() {
        return Some(here);
    }
    let data = folder.parent()?;
    if data.file_name()? != "data" {
        return None;
    }
    let root = data.parent()?.join("stats.yaml");
    root.is_file().then_some(root)
}
