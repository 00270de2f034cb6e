//! Library errors as Python exceptions, and the boundary every call
//! crosses: the GIL is released for the work, and a panic becomes an
//! exception instead of ending the interpreter.
//!
//! The exception classes live in `fno/_errors.py` (`FnoError`, and
//! `FnoFileNotFoundError` / `FnoValueError`, which also derive from the
//! built-in `FileNotFoundError` / `ValueError`): Python defines classes
//! with two bases more plainly than PyO3 does. Messages are the library's,
//! as the CLI prints them (`{err:#}`: the error and its causes).
use fno::data::DataError;
use fno::device::DeviceError;
use fno::eval::evaluate::EvaluateError;
use fno::export::ExportError;
use fno::inverse::InverseError;
use fno::rundir::RunDirError;
use fno::solvers::SolverError;
use fno::train::config::ConfigError;
use fno::train::TrainError;
use pyo3::prelude::*;
use std::error::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The Python exception class an error becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file or directory that does not exist.
    NotFound,
    /// A setting or argument outside its meaning.
    Value,
    /// Anything else: a malformed file, a diverged run, a full disk.
    Other,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::NotFound => "FnoFileNotFoundError",
            Kind::Value => "FnoValueError",
            Kind::Other => "FnoError",
        }
    }
}

/// An error on its way to Python: its class and its message.
#[derive(Debug)]
pub struct Failure {
    kind: Kind,
    message: String,
}

impl Failure {
    /// A failure of the given kind.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A bad argument, naming it: `ValueError("name: reason")`.
    pub fn argument(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(Kind::Value, format!("{name}: {reason}"))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        let kind = err
            .chain()
            .map(classify)
            .find(|k| *k != Kind::Other)
            .unwrap_or(Kind::Other);
        Self::new(kind, format!("{err:#}"))
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> Self {
        Python::attach(|py| {
            let raised = py
                .import("fno._errors")
                .and_then(|m| m.getattr(f.kind.class_name()))
                .and_then(|class| class.call1((f.message.clone(),)));
            match raised {
                Ok(exception) => PyErr::from_value(exception),
                Err(import_failed) => import_failed,
            }
        })
    }
}

/// Converts library errors (any `std::error::Error`) with `?`.
macro_rules! failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(err: $t) -> Self {
                anyhow::Error::new(err).into()
            }
        }
    )*};
}
failure_from!(
    DataError,
    DeviceError,
    EvaluateError,
    ExportError,
    InverseError,
    RunDirError,
    SolverError,
    ConfigError,
    TrainError,
    candle_core::Error,
    std::io::Error
);

/// The class of one error of a chain. The library wraps errors
/// transparently (a `TrainError::Data` shows its `DataError`'s message
/// and skips it in the chain), so the wrappers are unpacked here.
fn classify(err: &(dyn Error + 'static)) -> Kind {
    if let Some(e) = err.downcast_ref::<std::io::Error>() {
        return io_kind(e);
    }
    if let Some(e) = err.downcast_ref::<TrainError>() {
        return train_kind(e);
    }
    if let Some(e) = err.downcast_ref::<EvaluateError>() {
        return match e {
            EvaluateError::Resolution { .. } => Kind::Value,
            EvaluateError::Run(e) => train_kind(e),
            EvaluateError::Data(e) => data_kind(e),
            _ => Kind::Other,
        };
    }
    if let Some(e) = err.downcast_ref::<InverseError>() {
        return match e {
            InverseError::Setting { .. } | InverseError::SampleOutOfRange { .. } => Kind::Value,
            _ => Kind::Other,
        };
    }
    if let Some(e) = err.downcast_ref::<SolverError>() {
        return match e {
            SolverError::Invalid { .. } => Kind::Value,
            _ => Kind::Other,
        };
    }
    if let Some(e) = err.downcast_ref::<DataError>() {
        return data_kind(e);
    }
    if let Some(e) = err.downcast_ref::<RunDirError>() {
        return rundir_kind(e);
    }
    if err.is::<ConfigError>() {
        return Kind::Value;
    }
    if let Some(e) = err.downcast_ref::<ExportError>() {
        return match e {
            ExportError::Unsupported { .. } | ExportError::Grid(_) | ExportError::NotEmpty(_) => {
                Kind::Value
            }
            ExportError::Run(e) => train_kind(e),
            ExportError::RunDir(e) => rundir_kind(e),
            _ => Kind::Other,
        };
    }
    match err.downcast_ref::<DeviceError>() {
        Some(DeviceError::Unknown(_) | DeviceError::NoCuda) => Kind::Value,
        _ => Kind::Other,
    }
}

fn io_kind(e: &std::io::Error) -> Kind {
    if e.kind() == std::io::ErrorKind::NotFound {
        Kind::NotFound
    } else {
        Kind::Other
    }
}

fn train_kind(e: &TrainError) -> Kind {
    match e {
        TrainError::Config(_) | TrainError::Fit(_) | TrainError::Memory(_) => Kind::Value,
        TrainError::Data(e) => data_kind(e),
        TrainError::RunDir(e) => rundir_kind(e),
        _ => Kind::Other,
    }
}

fn data_kind(e: &DataError) -> Kind {
    match e {
        DataError::Io { source, .. } => io_kind(source),
        DataError::InvalidOption { .. } | DataError::SampleOutOfRange { .. } => Kind::Value,
        _ => Kind::Other,
    }
}

fn rundir_kind(e: &RunDirError) -> Kind {
    match e {
        RunDirError::Io { error, .. } => io_kind(error),
        _ => Kind::Other,
    }
}

/// Runs `work` with the GIL released (other Python threads run
/// meanwhile) and turns its error, or its panic, into a Python exception.
pub fn detached<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, Failure> + Send,
) -> PyResult<T> {
    py.detach(|| guarded(work)).map_err(PyErr::from)
}

/// Runs `work` holding the GIL, with a panic turned into `FnoError`.
pub fn guarded<T>(work: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".to_string());
            Err(Failure::new(
                Kind::Other,
                format!("internal error (a bug in fno; please report it): {what}"),
            ))
        }
    }
}
