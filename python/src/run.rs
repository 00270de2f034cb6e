//! Training and trained runs from Python: `fno.train`, `fno.Run`.
use crate::convert::{array_to_tensor, tensor_to_array, to_numpy, to_python, to_toml};
use crate::errors::{detached, Failure, Kind};
use crate::progress::PyProgress;
use candle_core::Device;
use fno::data::Task;
use fno::device::DeviceChoice;
use fno::eval::evaluate::{evaluate, EvalOptions, EvaluateError};
use fno::rundir::{files, RunDir, Weights};
use fno::train::config::RunConfig;
use fno::train::run::Predictor;
use fno::train::train as train_run;
use fno::train::trainer::Start;
use numpy::{PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::ffi::CString;
use std::path::PathBuf;
use std::str::FromStr;

/// Opens the device named by `device` (`cpu`, `cuda`, `cuda:N`).
pub fn open_device(device: &str) -> Result<Device, Failure> {
    let open = DeviceChoice::from_str(device).and_then(DeviceChoice::open);
    open.map_err(|e| Failure::argument(&format!("device `{device}`"), e))
}

/// Loads a run, its clipped-mode warnings going to Python's `warnings`.
pub fn load_predictor(
    dir: &std::path::Path,
    weights: Weights,
    device: &Device,
) -> Result<Predictor, Failure> {
    let predictor = Predictor::load(dir, weights, device).map_err(|e| {
        Failure::from(
            anyhow::Error::new(e).context(format!("loading the run in {}", dir.display())),
        )
    })?;
    Ok(predictor.with_warnings(|clip| warn(&clip.to_string())))
}

/// Issues a Python `UserWarning` (from any thread: takes the GIL).
pub fn warn(message: &str) {
    Python::attach(|py| {
        let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
        let category = py.get_type::<PyUserWarning>();
        // A warning turned into an error by a filter surfaces at the next
        // check of Python's error state; nothing here can return it.
        if let Err(err) = PyErr::warn(py, &category, &text, 1) {
            err.restore(py);
        }
    });
}

fn weights_of(which: &str) -> Result<Weights, Failure> {
    match which {
        "best" => Ok(Weights::Best),
        "last" => Ok(Weights::Last),
        other => Err(Failure::argument(
            "which",
            format!("`{other}` is not a checkpoint; expected best or last"),
        )),
    }
}

/// A trained run loaded from its directory, ready to predict and evaluate.
#[pyclass(module = "fno._fno", name = "Run", frozen)]
pub struct Run {
    dir: PathBuf,
    predictor: Predictor,
}

impl Run {
    /// The run's directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn load_from(dir: PathBuf, which: &str, device: &str) -> Result<Self, Failure> {
        let weights = weights_of(which)?;
        let device = open_device(device)?;
        let predictor = load_predictor(&dir, weights, &device)?;
        Ok(Self { dir, predictor })
    }

    /// The output grid `predict(resolution=...)` asks for: `resolution`
    /// points along x with the other spatial axes scaled alike, or one
    /// size per spatial axis; a space-time run keeps its time axis.
    fn out_grid(
        &self,
        grid: &[usize],
        resolution: &Bound<'_, PyAny>,
    ) -> Result<Vec<usize>, Failure> {
        let space_time = matches!(self.predictor.task(), Task::SpaceTime);
        let spatial = grid.len() - usize::from(space_time);
        let mut out: Vec<usize> = if let Ok(n) = resolution.extract::<usize>() {
            grid[..spatial]
                .iter()
                .map(|&g| ((g * n) as f64 / grid[0] as f64).round().max(1.0) as usize)
                .collect()
        } else if let Ok(sizes) = resolution.extract::<Vec<usize>>() {
            if sizes.len() != spatial {
                return Err(Failure::argument(
                    "resolution",
                    format!("{} sizes given for {spatial} spatial axes", sizes.len()),
                ));
            }
            sizes
        } else {
            return Err(Failure::argument(
                "resolution",
                "expected a grid size (int) or one size per spatial axis",
            ));
        };
        if out.contains(&0) {
            return Err(Failure::argument("resolution", "sizes must be at least 1"));
        }
        out.extend_from_slice(&grid[spatial..]);
        Ok(out)
    }
}

#[pymethods]
impl Run {
    /// Loads the run in `dir` with its `best` or `last` weights on
    /// `device`.
    #[staticmethod]
    #[pyo3(signature = (dir, which="best", *, device="cpu"))]
    fn load(py: Python<'_>, dir: PathBuf, which: &str, device: &str) -> PyResult<Self> {
        let (which, device) = (which.to_string(), device.to_string());
        detached(py, move || Self::load_from(dir, &which, &device))
    }

    /// The run directory.
    #[getter(dir)]
    fn dir_py(&self) -> PathBuf {
        self.dir.clone()
    }

    /// The run's resolved configuration (the keys of `config.toml`).
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.predictor.config)
    }

    /// The model's input channels, output channels and grid axes.
    #[getter]
    fn channels(&self) -> (usize, usize, usize) {
        let m = &self.predictor.config.model;
        (m.in_channels, m.out_channels, m.dims)
    }

    /// Predicts from a float32 C-contiguous batch `[B, C_in, grid..]` in
    /// physical units (the Python layer converts other arrays).
    #[pyo3(signature = (input, resolution=None, steps=1))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        input: PyReadonlyArrayDyn<'py, f32>,
        resolution: Option<Bound<'py, PyAny>>,
        steps: usize,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let model = &self.predictor.config.model;
        let shape = input.shape().to_vec();
        if shape.len() != model.dims + 2 {
            return Err(Failure::argument(
                "input",
                format!(
                    "the array has rank {} (shape {shape:?}); this run takes rank {}: [batch, {} channels, {} grid axes]",
                    shape.len(),
                    model.dims + 2,
                    model.in_channels,
                    model.dims
                ),
            )
            .into());
        }
        if shape[1] != model.in_channels {
            return Err(Failure::argument(
                "input",
                format!(
                    "the array has {} channels (shape {shape:?}); this run takes {}",
                    shape[1], model.in_channels
                ),
            )
            .into());
        }
        let autoregressive = matches!(self.predictor.task(), Task::Autoregressive { .. });
        let out_grid = match &resolution {
            Some(_) if autoregressive => {
                return Err(Failure::argument(
                    "resolution",
                    "an autoregressive run rolls out on its input's grid; pass the input on the grid wanted",
                )
                .into())
            }
            Some(r) => Some(self.out_grid(&shape[2..], r)?),
            None => None,
        };
        if steps == 0 || (steps > 1 && !autoregressive) {
            return Err(Failure::argument(
                "steps",
                "must be 1, or the frames to roll out for an autoregressive run",
            )
            .into());
        }
        let x = array_to_tensor(&input, &self.predictor.device)?;
        let predictor = &self.predictor;
        let out = detached(py, move || {
            let y = match &out_grid {
                Some(grid) => predictor.predict_to(&x, grid)?,
                None => predictor.predict(&x, steps)?,
            };
            tensor_to_array(&y)
        })?;
        Ok(to_numpy(py, out))
    }

    /// PDEBench metrics on `data` at the training grid and at each of
    /// `resolutions`; the dict `fno eval --json` prints.
    #[pyo3(signature = (data, resolutions=Vec::new(), *, samples=None, plots=false))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        data: PathBuf,
        resolutions: Vec<usize>,
        samples: Option<usize>,
        plots: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        if resolutions.contains(&0) || samples == Some(0) {
            return Err(Failure::argument("resolutions/samples", "must be at least 1").into());
        }
        let opts = EvalOptions {
            resolutions,
            max_samples: samples,
            plot_dir: plots.then(|| self.dir.clone()),
        };
        let report = detached(py, || {
            evaluate(&self.predictor, &self.dir, &data, &opts).map_err(|e| {
                let err = match e {
                    EvaluateError::Resolution { requested, .. } => {
                        anyhow::Error::new(e).context(format!("resolutions {requested}"))
                    }
                    e => anyhow::Error::new(e),
                };
                Failure::from(err.context(format!(
                    "evaluating {} on {}",
                    self.dir.display(),
                    data.display()
                )))
            })
        })?;
        to_python(py, &report)
    }

    fn __repr__(&self) -> String {
        format!("fno.Run({:?})", self.dir.display().to_string())
    }
}

/// Reads a config: a TOML file's path, or a dict of the same keys.
fn config_text(config: &Bound<'_, PyAny>) -> PyResult<(String, String)> {
    if config.is_instance_of::<pyo3::types::PyDict>() {
        let table = to_toml(config, "")?;
        let text = toml::to_string(&table)
            .map_err(|e| Failure::argument("config", format!("not expressible in TOML: {e}")))?;
        return Ok((text, "the config dict".to_string()));
    }
    if config.is_instance_of::<PyString>() || config.extract::<PathBuf>().is_ok() {
        let path: PathBuf = config.extract()?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Failure::from(anyhow::Error::new(e).context(format!("reading {}", path.display())))
        })?;
        return Ok((text, path.display().to_string()));
    }
    Err(Failure::new(
        Kind::Value,
        "config: expected a path to a TOML file or a dict",
    )
    .into())
}

/// Trains a run (see `fno/__init__.py` for the Python signature).
#[pyfunction]
#[pyo3(signature = (config, run_dir, overrides, resume, overwrite, device, progress))]
#[allow(clippy::too_many_arguments)]
pub fn train(
    py: Python<'_>,
    config: Option<Bound<'_, PyAny>>,
    run_dir: PathBuf,
    overrides: Vec<String>,
    resume: bool,
    overwrite: bool,
    device: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<Run> {
    let (text, origin) = match &config {
        Some(c) => config_text(c)?,
        None if resume => {
            let path = RunDir::new(&run_dir).file(files::CONFIG);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Failure::from(anyhow::Error::new(e).context(format!("reading {}", path.display())))
            })?;
            (text, path.display().to_string())
        }
        None => {
            return Err(Failure::argument(
                "config",
                "required (or resume=True with an existing run_dir)",
            )
            .into())
        }
    };
    let cfg = RunConfig::from_toml(&text, &origin, &overrides).map_err(Failure::from)?;
    let start = match (resume, overwrite) {
        (true, true) => {
            return Err(
                Failure::argument("resume", "resume and overwrite exclude each other").into(),
            )
        }
        (true, false) => Start::Resume,
        (false, true) => Start::Overwrite,
        (false, false) => Start::Fresh,
    };
    let device = device.to_string();
    let mut sink = PyProgress::new(progress);
    let run = detached(py, || {
        let opened = open_device(&device)?;
        train_run(&cfg, &run_dir, start, &opened, &mut sink).map_err(|e| {
            Failure::from(
                anyhow::Error::new(e).context(format!("training into {}", run_dir.display())),
            )
        })?;
        Run::load_from(run_dir.clone(), "best", &device)
    })?;
    sink.raise_pending()?;
    Ok(run)
}
