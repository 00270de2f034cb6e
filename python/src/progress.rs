//! Training progress handed to a Python callable as `(event, dict)`.
use crate::convert::to_python;
use fno::rundir::EpochRecord;
use fno::train::trainer::Progress;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Calls `callback(event, details)` for each event of the training loop
/// (`start`, `batch`, `epoch`, `warning`, `no_checkpoint`); the first
/// exception the callback raises is kept, later events skipped, and the
/// exception raised when training returns.
pub struct PyProgress {
    callback: Option<Py<PyAny>>,
    failed: Option<PyErr>,
}

impl PyProgress {
    /// Reports to `callback`, or nowhere.
    pub fn new(callback: Option<Py<PyAny>>) -> Self {
        Self {
            callback,
            failed: None,
        }
    }

    /// The callback's first exception, if it raised one.
    pub fn raise_pending(self) -> PyResult<()> {
        self.failed.map_or(Ok(()), Err)
    }

    fn send(
        &mut self,
        event: &str,
        fill: impl FnOnce(Python<'_>, &Bound<'_, PyDict>) -> PyResult<()>,
    ) {
        let Some(callback) = &self.callback else {
            return;
        };
        if self.failed.is_some() {
            return;
        }
        let result = Python::attach(|py| {
            let details = PyDict::new(py);
            fill(py, &details)?;
            callback.call1(py, (event, details)).map(drop)
        });
        if let Err(err) = result {
            self.failed = Some(err);
        }
    }
}

impl Progress for PyProgress {
    fn start(&mut self, params: usize, first_epoch: usize, epochs: usize, batches: usize) {
        self.send("start", |_, d| {
            d.set_item("params", params)?;
            d.set_item("first_epoch", first_epoch)?;
            d.set_item("epochs", epochs)?;
            d.set_item("batches", batches)
        });
    }

    fn batch(&mut self, loss: f64, lr: f64, samples_per_s: f64) {
        self.send("batch", |_, d| {
            d.set_item("loss", loss)?;
            d.set_item("lr", lr)?;
            d.set_item("samples_per_s", samples_per_s)
        });
    }

    fn epoch(&mut self, record: &EpochRecord) {
        self.send("epoch", |py, d| {
            d.update(to_python(py, record)?.cast::<PyDict>()?.as_mapping())
        });
    }

    fn warning(&mut self, message: &str) {
        self.send("warning", |_, d| d.set_item("message", message));
    }

    fn no_checkpoint(&mut self) {
        self.send("no_checkpoint", |_, _| Ok(()));
    }
}
