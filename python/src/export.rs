//! `fno.export_neuraloperator`: a run as neuraloperator 2.0.0's `FNO`, as
//! `fno export --format neuraloperator` writes it.
use crate::convert::to_python;
use crate::errors::detached;
use fno::export::{export_neuraloperator as export, ExportOptions};
use fno::rundir::Weights;
use pyo3::prelude::*;
use std::path::PathBuf;

/// Exports the run in `run` to the directory `out`; returns the report
/// (directory, tensor count, grid, `FNO(...)` keyword arguments) as a dict.
#[pyfunction]
#[pyo3(signature = (run, out, last, grid, overwrite, source))]
pub fn export_neuraloperator<'py>(
    py: Python<'py>,
    run: PathBuf,
    out: PathBuf,
    last: bool,
    grid: Option<Vec<usize>>,
    overwrite: bool,
    source: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = ExportOptions {
        weights: if last { Weights::Last } else { Weights::Best },
        grid,
        overwrite,
        source,
    };
    let report = detached(py, || Ok(export(&run, &out, &opts)?))?;
    to_python(py, &report)
}
