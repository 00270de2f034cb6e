//! PDEBench (and generated) files from Python: `fno.open` and
//! `fno.inspect`.
use crate::convert::{to_numpy, to_python, vec_to_numpy};
use crate::errors::{detached, Failure};
use fno::data::stats::inspect as inspect_file;
use fno::data::{PdebenchFile, Resolution, SampleSelection, Split, TestAt};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// The samples of a file chosen by a range, a stride and a split, read
/// at the given strides.
#[pyclass(module = "fno._fno", name = "File", frozen)]
pub struct File {
    file: PdebenchFile,
    indices: Vec<usize>,
    resolution: Resolution,
}

fn split_of(name: &str) -> Result<Split, Failure> {
    match name {
        "all" => Ok(Split::All),
        "train" => Ok(Split::Train),
        "test" => Ok(Split::Test),
        other => Err(Failure::argument(
            "split",
            format!("`{other}` is not a split; expected all, train or test"),
        )),
    }
}

fn test_at_of(name: Option<&str>) -> Result<Option<TestAt>, Failure> {
    match name {
        None => Ok(None),
        Some("start") => Ok(Some(TestAt::Start)),
        Some("end") => Ok(Some(TestAt::End)),
        Some(other) => Err(Failure::argument(
            "test_at",
            format!("`{other}` is not a position; expected start or end"),
        )),
    }
}

#[pymethods]
impl File {
    #[new]
    #[pyo3(signature = (path, *, split="all", reduced_resolution=1, reduced_resolution_t=1, reduced_batch=1, range=None, test_fraction=0.1, test_at=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        split: &str,
        reduced_resolution: usize,
        reduced_resolution_t: usize,
        reduced_batch: usize,
        range: Option<(usize, usize)>,
        test_fraction: f64,
        test_at: Option<&str>,
    ) -> PyResult<Self> {
        let selection = SampleSelection {
            range: range.map(|(start, end)| start..end),
            reduced_batch,
            split: split_of(split)?,
            test_fraction,
            test_at: test_at_of(test_at)?,
        };
        let resolution = Resolution {
            reduced_resolution,
            reduced_resolution_t,
        };
        detached(py, move || {
            let file = PdebenchFile::open(&path)?;
            let indices = file.select(&selection)?;
            // Checks the strides now rather than at the first sample.
            file.coordinates(&resolution)?;
            Ok(Self {
                file,
                indices,
                resolution,
            })
        })
    }

    fn __len__(&self) -> usize {
        self.indices.len()
    }

    fn __getitem__<'py>(&self, py: Python<'py>, i: isize) -> PyResult<Bound<'py, PyDict>> {
        let n = self.indices.len() as isize;
        let position = if i < 0 { i + n } else { i };
        if position < 0 || position >= n {
            return Err(PyIndexError::new_err(format!(
                "sample {i} is out of range: the selection holds {n}"
            )));
        }
        let index = self.indices[position as usize];
        let sample = detached(py, || Ok(self.file.read_sample(index, &self.resolution)?))?;
        let dict = PyDict::new(py);
        dict.set_item("index", sample.index)?;
        dict.set_item("frames", to_numpy(py, sample.frames))?;
        dict.set_item("input", sample.input.map(|a| to_numpy(py, a)))?;
        Ok(dict)
    }

    /// File indices of the selected samples, in order.
    #[getter]
    fn indices(&self) -> Vec<usize> {
        self.indices.clone()
    }

    /// The file's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.file.info().path.clone()
    }

    /// What the file holds (layout, PDE, parameters, shapes, datasets).
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, self.file.info())
    }

    /// Grid coordinates at the selection's strides: `x`, `y`, `z` (as
    /// many as the file has spatial axes) and `t`.
    #[getter]
    fn coordinates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let coords = detached(py, || Ok(self.file.coordinates(&self.resolution)?))?;
        let dict = PyDict::new(py);
        for (axis, name) in coords.space.iter().zip(["x", "y", "z"]) {
            dict.set_item(name, vec_to_numpy(py, axis))?;
        }
        dict.set_item("t", vec_to_numpy(py, &coords.time))?;
        Ok(dict)
    }
}

/// `fno inspect FILE --json` as a dict: layout, PDE, shapes, datasets
/// and per-field statistics over `stat_samples` samples spread over the
/// file (every sample when `all`).
#[pyfunction]
#[pyo3(signature = (path, *, stat_samples=8, all=false))]
pub fn inspect<'py>(
    py: Python<'py>,
    path: PathBuf,
    stat_samples: usize,
    all: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if stat_samples == 0 {
        return Err(Failure::argument("stat_samples", "must be at least 1 (got 0)").into());
    }
    let report = detached(py, move || {
        let file = PdebenchFile::open(&path)?;
        Ok(inspect_file(&file, if all { 0 } else { stat_samples })?)
    })?;
    to_python(py, &report)
}
