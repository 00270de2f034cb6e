//! Test-time fine-tuning, inverse problems and data generation from
//! Python: reports as dicts, with their arrays.
use crate::convert::{to_numpy, to_python};
use crate::errors::{detached, Failure, Kind};
use crate::run::{load_predictor, open_device, warn};
use fno::data::PdebenchFile;
use fno::finetune::{finetune as finetune_run, FinetuneOptions};
use fno::inverse::recover::RecoverConfig;
use fno::inverse::session::{run as run_inverse, InverseOptions, Operators};
use fno::inverse::{Observe, PdeOutput, Regularizer};
use fno::rundir::{holds_files, RunDir, Weights};
use fno::solvers::GenerateSpec;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::str::FromStr;

/// Fine-tunes a copy of the run's best model on one sample with the
/// physics losses (see `fno/__init__.py`).
#[pyfunction]
#[pyo3(signature = (run, data, sample, steps, lr, anchor, w_pde, w_ic, pde_resolution, warmup, device))]
#[allow(clippy::too_many_arguments)]
pub fn finetune<'py>(
    py: Python<'py>,
    run: PathBuf,
    data: PathBuf,
    sample: usize,
    steps: usize,
    lr: f64,
    anchor: f64,
    w_pde: f64,
    w_ic: f64,
    pde_resolution: Option<Vec<usize>>,
    warmup: usize,
    device: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = FinetuneOptions {
        steps,
        lr,
        anchor,
        w_pde,
        w_ic,
        pde_resolution,
        warmup,
    };
    let device = device.to_string();
    let out = detached(py, || {
        let predictor = load_predictor(&run, Weights::Best, &open_device(&device)?)?;
        let file = PdebenchFile::open(&data)?;
        if let Some(spec) = &predictor.config.physics.pde {
            for warning in spec.disagreements(file.info()) {
                warn(&warning);
            }
        }
        finetune_run(&predictor, &file, sample, &opts).map_err(|e| {
            Failure::from(anyhow::Error::new(e).context(format!(
                "fine-tuning {} on sample {sample} of {}",
                run.display(),
                data.display()
            )))
        })
    })?;
    let dict = to_python(py, &out.report)?.cast_into::<PyDict>()?;
    dict.set_item("before", to_numpy(py, out.before))?;
    dict.set_item("after", to_numpy(py, out.after))?;
    dict.set_item("truth", to_numpy(py, out.truth))?;
    Ok(dict)
}

fn parsed<T: FromStr<Err = String>>(name: &str, text: &str) -> Result<T, Failure> {
    T::from_str(text).map_err(|reason| Failure::argument(name, reason))
}

/// Recovers a sample's input through the run's frozen forward operator
/// (see `fno/__init__.py`).
#[pyfunction]
#[pyo3(signature = (run, data, sample, observe, noise, steps, lbfgs_steps, lr, sharpen, reg, reg_weight, pde_weight, pde_output, seed, out, overwrite, device))]
#[allow(clippy::too_many_arguments)]
pub fn inverse<'py>(
    py: Python<'py>,
    run: PathBuf,
    data: PathBuf,
    sample: usize,
    observe: &str,
    noise: f64,
    steps: usize,
    lbfgs_steps: usize,
    lr: f64,
    sharpen: f64,
    reg: Option<&str>,
    reg_weight: Option<f64>,
    pde_weight: f64,
    pde_output: &str,
    seed: u64,
    out: Option<PathBuf>,
    overwrite: bool,
    device: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let out = out.unwrap_or_else(|| RunDir::new(&run).inverse_dir(sample));
    if !overwrite && holds_files(&out).map_err(Failure::from)? {
        return Err(Failure::new(
            Kind::Value,
            format!(
                "out: {} is not empty: pass overwrite=True to replace it, or choose another out",
                out.display()
            ),
        )
        .into());
    }
    let opts = InverseOptions {
        data: data.clone(),
        sample,
        observe: parsed::<Observe>("observe", observe)?,
        noise,
        seed,
        recover: RecoverConfig {
            steps,
            lbfgs_steps,
            lr,
            sharpen,
        },
        regularizer: reg.map(|r| parsed::<Regularizer>("reg", r)).transpose()?,
        reg_weight,
        pde_weight,
        pde_output: parsed::<PdeOutput>("pde_output", pde_output)?,
        out,
    };
    let device = device.to_string();
    let report = detached(py, || {
        let predictor = load_predictor(&run, Weights::Best, &open_device(&device)?)?;
        let ops = Operators {
            forward: Some((&predictor, run.as_path())),
            learned: None,
        };
        run_inverse(ops, &opts).map_err(|e| {
            Failure::from(anyhow::Error::new(e).context(format!(
                "recovering the input of sample {sample} of {} through {}",
                data.display(),
                run.display()
            )))
        })
    })?;
    let dict = to_python(py, &report)?.cast_into::<PyDict>()?;
    dict.set_item("recovered", to_numpy(py, report.recovered))?;
    dict.set_item("truth", to_numpy(py, report.truth))?;
    Ok(dict)
}

/// Solves `pde` for random inputs and writes a PDEBench-layout file into
/// `out`; `settings` are the fields of the PDE's config (JSON text from
/// the Python layer). Returns the file's path.
#[pyfunction]
pub fn generate(py: Python<'_>, settings: &str, out: PathBuf) -> PyResult<PathBuf> {
    let spec: GenerateSpec = serde_json::from_str(settings)
        .map_err(|e| Failure::new(Kind::Value, format!("invalid generate settings: {e}")))?;
    detached(py, move || {
        fno::solvers::generate(&spec, &out, &|_| {}).map_err(|e| {
            Failure::from(
                anyhow::Error::new(e).context(format!("generating into {}", out.display())),
            )
        })
    })
}
