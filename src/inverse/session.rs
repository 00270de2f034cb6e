//! One inverse problem end to end: load, recover, score, check with the
//! numerical solver, plot and write `inverse.json`.
use super::objective::{Iterate, Misfit, Objective, Regularization, TermValues};
use super::param::{Bounds, Parametrization};
use super::problem::{relative_l2, Problem};
use super::recover::{recover, FrozenOperator, HistoryPoint, RecoverConfig};
use super::solver::{seconds_per_call, ForwardSolver};
use super::{InverseError, Observe, Regularizer};
use crate::data::PdebenchFile;
use crate::eval::{plot_field_2d, plot_heatmaps, plot_iterations, plot_observations_1d};
use crate::eval::plot_prediction_1d;
use crate::train::checkpoint::write_atomic;
use crate::train::run::Predictor;
use candle_core::{Device, Tensor};
use ndarray::{ArrayD, Axis, Ix2};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// File names written to the output directory.
pub mod files {
    /// The report.
    pub const REPORT: &str = "inverse.json";
    /// Every term at every iteration, one JSON line each.
    pub const HISTORY: &str = "history.jsonl";
    /// Recovered and true input.
    pub const RECOVERED: &str = "recovered.png";
    /// Observed values and the noise-free output.
    pub const OBSERVATIONS: &str = "observations.png";
    /// Misfit and loss against iteration.
    pub const MISFIT: &str = "misfit.png";
}

/// What to recover and how.
#[derive(Debug, Clone)]
pub struct InverseOptions {
    /// The data file holding the sample.
    pub data: PathBuf,
    /// Sample index in the file.
    pub sample: usize,
    /// Which output points are observed.
    pub observe: Observe,
    /// Noise standard deviation, as a fraction of the output field's std.
    pub noise: f64,
    /// Seed of the sparse points and the noise.
    pub seed: u64,
    /// Optimiser settings.
    pub recover: RecoverConfig,
    /// The regulariser; `None` picks TV for a bounded coefficient, H1 for
    /// an initial condition.
    pub regularizer: Option<Regularizer>,
    /// Its weight.
    pub reg_weight: f64,
    /// Output directory for the report and plots.
    pub out: PathBuf,
}

/// The numerical solver's view of the recovered input.
#[derive(Debug, Clone, Serialize)]
pub struct SolverCheck {
    /// Which solver, with its parameters.
    pub solver: ForwardSolver,
    /// Relative misfit at the observed points of the solver's output for
    /// the recovered input.
    pub misfit: f64,
    /// The same for the true input: the floor set by noise and by the
    /// solver's discretisation on this grid.
    pub misfit_of_truth: f64,
    /// Seconds per solve.
    pub seconds_per_solve: f64,
    /// Seconds per solve over seconds per surrogate evaluation.
    pub speedup: f64,
}

/// The outcome of `fno inverse`.
#[derive(Debug, Clone, Serialize)]
pub struct InverseReport {
    /// The run directory of the forward operator.
    pub run: PathBuf,
    /// The data file.
    pub data: PathBuf,
    /// Sample index.
    pub sample: usize,
    /// `gradient` (through the frozen operator) or `learned`.
    pub method: &'static str,
    /// How the output was observed.
    pub observe: String,
    /// Observed values.
    pub observed_points: usize,
    /// Values of the output field.
    pub total_points: usize,
    /// Noise std as a fraction of the field's std.
    pub noise: f64,
    /// Seed of the sparse points and the noise.
    pub seed: u64,
    /// The regulariser.
    pub regularizer: Regularizer,
    /// Its weight.
    pub reg_weight: f64,
    /// Optimiser settings.
    pub optimizer: RecoverConfig,
    /// Bounds of the input, where it is a bounded coefficient.
    pub bounds: Option<Bounds>,
    /// Relative L2 of the reported (binarised, if two-valued) input
    /// against the truth.
    pub relative_l2: f64,
    /// The same before binarisation.
    pub relative_l2_continuous: f64,
    /// Whether the reported input was binarised.
    pub binarized: bool,
    /// Relative misfit ‖M(y − y_obs)‖/‖M y_obs‖ of the surrogate at the
    /// reported input.
    pub misfit: f64,
    /// The same at the starting point.
    pub initial_misfit: f64,
    /// Relative L2 of the surrogate's output at the reported input against
    /// the noise-free output.
    pub output_error: f64,
    /// Loss terms at the reported input.
    pub terms: TermValues,
    /// The numerical solver's check, for PDEs fno can solve.
    pub solver: Option<SolverCheck>,
    /// Seconds per surrogate evaluation (forward pass, no gradient).
    pub surrogate_seconds: f64,
    /// Wall time of the recovery (optimisation only).
    pub recovery_seconds: f64,
    /// Wall time of the whole command.
    pub wall_seconds: f64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

fn batch(a: &ArrayD<f32>, device: &Device) -> Result<Tensor, InverseError> {
    let mut shape = vec![1];
    shape.extend_from_slice(a.shape());
    let values: Vec<f32> = a.iter().copied().collect();
    Ok(Tensor::from_vec(values, shape, device)?)
}

fn values(t: &Tensor) -> Result<Vec<f32>, InverseError> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

/// Checks the run's channels against the file's.
fn check_fit(
    predictor: &Predictor,
    run: &Path,
    problem: &Problem,
    data: &Path,
) -> Result<(), InverseError> {
    let model = &predictor.config.model;
    let (cin, cout) = (problem.truth.shape()[0], problem.clean.shape()[0]);
    let dims = problem.grid.len();
    if model.in_channels != cin || model.out_channels != cout || model.dims != dims {
        return Err(InverseError::Mismatch {
            run: run.to_path_buf(),
            data: data.to_path_buf(),
            reason: format!(
                "the model maps {} to {} channels in {}D, the file gives {cin} to {cout} in {dims}D",
                model.in_channels, model.out_channels, model.dims
            ),
        });
    }
    Ok(())
}

/// Recovers the input of one sample through the frozen operator of
/// `predictor` (loaded from `run`).
pub fn run(
    predictor: &Predictor,
    run: &Path,
    opts: &InverseOptions,
) -> Result<InverseReport, InverseError> {
    let start = Instant::now();
    let device = &predictor.device;
    let cfg = &predictor.config;
    let file = PdebenchFile::open(&opts.data)?;
    let resolution = cfg.data.resolution();
    let problem = Problem::load(
        &file,
        &cfg.task,
        &resolution,
        &predictor.normalizers.input,
        opts.sample,
        &opts.observe,
        opts.noise,
        opts.seed,
    )?;
    check_fit(predictor, run, &problem, &opts.data)?;
    let op = FrozenOperator::new(predictor)?;
    let regularizer = opts.regularizer.unwrap_or(match problem.param {
        Parametrization::Sigmoid(_) => Regularizer::Tv,
        Parametrization::Normalized(_) => Regularizer::H1,
    });
    let mut objective = Objective::default();
    objective.push(
        1.0,
        Box::new(Misfit::new(
            batch(&problem.observed, device)?,
            batch(&problem.mask, device)?,
        )?),
    );
    objective.push(opts.reg_weight, Box::new(Regularization(regularizer)));

    let truth = batch(&problem.truth, device)?;
    let z0 = truth.zeros_like()?;
    let initial_output = op.forward(&problem.param.physical(&z0)?)?;
    let initial_misfit = problem.misfit(&values(&initial_output)?);
    let recovery_start = Instant::now();
    let recovery = recover(&op, &problem.param, &objective, &z0, &opts.recover)?;
    let recovery_seconds = recovery_start.elapsed().as_secs_f64();

    let continuous = values(&recovery.input)?;
    let binarized = problem.param.binarize(&continuous);
    let reported = binarized.clone().unwrap_or_else(|| continuous.clone());
    let reported_t = Tensor::from_vec(reported.clone(), recovery.input.dims(), device)?;
    let output = op.forward(&reported_t)?;
    let output_values = values(&output)?;
    let terms = objective.evaluate(&Iterate {
        input: &reported_t,
        scaled: &problem.param.scaled(&problem.param.unconstrained(&reported_t)?)?,
        output: &output,
    })?;
    let surrogate_seconds = seconds_per_call(|| op.forward(&reported_t).map(|_| ()))?;

    let solver = match ForwardSolver::for_file(file.info(), &problem.grid, problem.elapsed) {
        Some(solver) if problem.truth.shape()[0] == 1 => {
            let solved = solver.solve(&reported)?;
            let truth_values: Vec<f32> = problem.truth.iter().copied().collect();
            let solved_truth = solver.solve(&truth_values)?;
            let seconds = seconds_per_call(|| solver.solve(&reported).map(|_| ()))?;
            Some(SolverCheck {
                misfit: problem.misfit(&solved),
                misfit_of_truth: problem.misfit(&solved_truth),
                seconds_per_solve: seconds,
                speedup: seconds / surrogate_seconds.max(f64::MIN_POSITIVE),
                solver,
            })
        }
        _ => None,
    };

    std::fs::create_dir_all(&opts.out).map_err(|source| InverseError::Io {
        path: opts.out.clone(),
        source,
    })?;
    let mut written = plot(&file, &resolution, &problem, &reported, &recovery.history, &opts.out)?;
    let history_path = opts.out.join(files::HISTORY);
    let lines: String = recovery
        .history
        .iter()
        .map(|h| serde_json::to_string(h).map(|l| l + "\n"))
        .collect::<Result<_, _>>()
        .map_err(|e| InverseError::Io {
            path: history_path.clone(),
            source: e.into(),
        })?;
    write_atomic(&history_path, lines.as_bytes()).map_err(|source| InverseError::Io {
        path: history_path.clone(),
        source,
    })?;
    written.push(history_path);
    let report_path = opts.out.join(files::REPORT);
    written.push(report_path.clone());
    let report = InverseReport {
        run: run.to_path_buf(),
        data: opts.data.clone(),
        sample: opts.sample,
        method: "gradient",
        observe: opts.observe.to_string(),
        observed_points: problem.observed_points(),
        total_points: problem.mask.len(),
        noise: opts.noise,
        seed: opts.seed,
        regularizer,
        reg_weight: opts.reg_weight,
        optimizer: opts.recover,
        bounds: problem.param.bounds(),
        relative_l2: problem.input_error(&reported),
        relative_l2_continuous: problem.input_error(&continuous),
        binarized: binarized.is_some(),
        misfit: problem.misfit(&output_values),
        initial_misfit,
        output_error: relative_l2(&output_values, problem.clean.iter().copied()),
        terms: terms.1,
        solver,
        surrogate_seconds,
        recovery_seconds,
        wall_seconds: start.elapsed().as_secs_f64(),
        files: written,
    };
    write_report(&report_path, &report)?;
    Ok(report)
}

/// Writes the report atomically.
pub fn write_report(path: &Path, report: &InverseReport) -> Result<(), InverseError> {
    let io = |source| InverseError::Io {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_string_pretty(report).map_err(|e| io(e.into()))?;
    write_atomic(path, json.as_bytes()).map_err(io)
}

/// Channel 0 of a `[C, grid..]` array as a 2D field, if it is one.
fn field_2d(a: &ArrayD<f64>) -> Option<ndarray::Array2<f64>> {
    a.index_axis(Axis(0), 0)
        .to_owned()
        .into_dimensionality::<Ix2>()
        .ok()
}

/// Recovered against true input, observations, and the misfit curve.
fn plot(
    file: &PdebenchFile,
    resolution: &crate::data::Resolution,
    problem: &Problem,
    reported: &[f32],
    history: &[HistoryPoint],
    out: &Path,
) -> Result<Vec<PathBuf>, InverseError> {
    let mut written = Vec::new();
    let to64 = |a: &ArrayD<f32>| a.mapv(f64::from);
    let truth = to64(&problem.truth);
    let recovered = ArrayD::from_shape_vec(
        problem.truth.shape(),
        reported.iter().map(|&v| f64::from(v)).collect(),
    )
    .unwrap_or_else(|e| unreachable!("the recovered input has the true input's shape: {e}"));
    let observed = ndarray::Zip::from(&problem.observed)
        .and(&problem.mask)
        .map_collect(|&o, &m| if m > 0.0 { f64::from(o) } else { f64::NAN });
    let clean = to64(&problem.clean);
    let recovered_path = out.join(files::RECOVERED);
    let observations_path = out.join(files::OBSERVATIONS);
    match problem.grid.len() {
        1 => {
            let x: Vec<f64> = file.coordinates(resolution)?.space[0]
                .iter()
                .copied()
                .take(problem.grid[0])
                .collect();
            let row = |a: &ArrayD<f64>| a.index_axis(Axis(0), 0).iter().copied().collect::<Vec<_>>();
            plot_prediction_1d(&recovered_path, &x, &row(&recovered), &row(&truth))?;
            let points: Vec<(f64, f64)> = x
                .iter()
                .zip(row(&observed))
                .filter(|(_, v)| v.is_finite())
                .map(|(&x, v)| (x, v))
                .collect();
            plot_observations_1d(&observations_path, &x, &row(&clean), &points)?;
            written.extend([recovered_path, observations_path]);
        }
        2 => {
            if let (Some(r), Some(t), Some(o), Some(c)) = (
                field_2d(&recovered),
                field_2d(&truth),
                field_2d(&observed),
                field_2d(&clean),
            ) {
                plot_field_2d(&recovered_path, r.view(), t.view())?;
                plot_heatmaps(
                    &observations_path,
                    &[("Observed", o.view()), ("Noise-free output", c.view())],
                )?;
                written.extend([recovered_path, observations_path]);
            }
        }
        _ => {}
    }
    let curve = |name: &str| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|h| Some((h.iteration as f64, h.values.get(name)?)))
            .collect()
    };
    let loss: Vec<(f64, f64)> = history
        .iter()
        .map(|h| (h.iteration as f64, h.values.total))
        .collect();
    if !history.is_empty() {
        let misfit_path = out.join(files::MISFIT);
        plot_iterations(
            &misfit_path,
            "Inverse loss",
            &[("misfit (squared, relative)", curve("misfit")), ("total loss", loss)],
        )?;
        written.push(misfit_path);
    }
    Ok(written)
}
