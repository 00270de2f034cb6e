//! `fno._fno`: the extension module behind the Python package `fno`
//! (python/fno/). Each function calls the library; the package's Python
//! layer adds defaults, dtype conversion, logging and the docstrings
//! users read.
use pyo3::prelude::*;

mod convert;
mod data;
mod errors;
mod export;
mod progress;
mod run;
mod tasks;

/// Registers the classes and functions, and tunes the process as the
/// `fno` binary does: candle's elementwise pool at one thread, and glibc
/// keeping freed memory for reuse (without it, `predict` on 64 Darcy
/// inputs at 64² took 271 ms from Python against 147 ms with it:
/// BENCHMARKS.md, "Python package").
#[pymodule]
fn _fno(m: &Bound<'_, PyModule>) -> PyResult<()> {
    fno::device::candle_pool_default();
    fno::alloc::keep_freed_memory();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<data::File>()?;
    m.add_class::<run::Run>()?;
    m.add_function(wrap_pyfunction!(data::inspect, m)?)?;
    m.add_function(wrap_pyfunction!(run::train, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::finetune, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::inverse, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::generate, m)?)?;
    m.add_function(wrap_pyfunction!(export::export_neuraloperator, m)?)?;
    m.add("cuda", cfg!(feature = "cuda"))?;
    m.add("finetune_defaults", finetune_defaults(m.py())?)?;
    Ok(())
}

/// `fno finetune`'s defaults, which the package's `fno.finetune` repeats
/// in its signature (so that `help()` shows them); its tests compare the
/// two so that a change on one side cannot leave the other behind.
fn finetune_defaults(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let d = fno::finetune::FinetuneOptions::default();
    let dict = pyo3::types::PyDict::new(py);
    dict.set_item("steps", d.steps)?;
    dict.set_item("lr", d.lr)?;
    dict.set_item("anchor", d.anchor)?;
    dict.set_item("w_pde", d.w_pde)?;
    dict.set_item("w_ic", d.w_ic)?;
    dict.set_item("warmup", d.warmup)?;
    Ok(dict)
}
