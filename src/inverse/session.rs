//! One inverse problem end to end: load, recover, score, check with the
//! numerical solver, plot and write `inverse.json`.
use super::objective::{
    Iterate, Misfit, Objective, PdeOutput, PdeResidual, Regularization, TermValues,
};
use super::param::{Bounds, Parametrization};
use super::problem::{relative_l2, Problem};
use super::recover::{recover, FrozenOperator, HistoryPoint, RecoverConfig};
use super::solver::{seconds_per_call, ForwardSolver};
use super::{InverseError, Observe, Regularizer, Setting};
use crate::data::{FileInfo, PdebenchFile, Resolution, Task};
use crate::eval::{
    plot_field_2d, plot_heatmaps, plot_iterations, plot_observations_1d, plot_prediction_1d,
};
use crate::physics::{Grid, PdeSpec, TimeOrder};
use crate::rundir::{create_dir, files, write_json, write_json_lines};
use crate::train::run::Predictor;
use candle_core::{Device, Tensor};
use ndarray::{ArrayD, Axis, Ix2};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// Its weight; `None` takes [`Regularizer::default_weight`].
    pub reg_weight: Option<f64>,
    /// Weight of the physics residual of the (input, predicted output)
    /// pair ([`PdeResidual`]); 0 leaves it out. Only stationary problems
    /// with an input field (Darcy) have a residual of a one-shot pair.
    pub pde_weight: f64,
    /// Which output the physics residual reads.
    pub pde_output: PdeOutput,
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
    /// Seconds per solve over seconds per surrogate evaluation
    /// ([`InverseReport::surrogate_seconds`]).
    pub speedup: f64,
}

/// The outcome of `fno inverse`.
#[derive(Debug, Clone, Serialize)]
pub struct InverseReport {
    /// The run directory of the forward operator, if one was used.
    pub forward_run: Option<PathBuf>,
    /// The run directory of the learned inverse operator, if one was used.
    pub learned_run: Option<PathBuf>,
    /// The data file.
    pub data: PathBuf,
    /// Sample index.
    pub sample: usize,
    /// `gradient` (through the frozen forward operator) or `learned` (the
    /// learned inverse, refined through the forward operator if given).
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
    /// Weight of the physics residual (0: not used).
    pub pde_weight: f64,
    /// Which output the physics residual reads.
    pub pde_output: PdeOutput,
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
    /// Relative misfit ‖M(y − y_obs)‖/‖M y_obs‖ of the forward surrogate
    /// at the reported input (when there is a forward operator).
    pub misfit: Option<f64>,
    /// The same at the starting point.
    pub initial_misfit: Option<f64>,
    /// The same at the true input: where the surrogate's own error puts
    /// the truth. A recovered input with a lower misfit than this fits the
    /// surrogate's error, not the data.
    pub misfit_of_truth: Option<f64>,
    /// Relative L2 of the forward surrogate's output at the reported input
    /// against the noise-free output.
    pub output_error: Option<f64>,
    /// Loss terms at the reported input.
    pub terms: Option<TermValues>,
    /// The numerical solver's check, for PDEs fno can solve.
    pub solver: Option<SolverCheck>,
    /// Seconds per surrogate evaluation (forward pass, no gradient): the
    /// forward operator's, or the learned inverse's when there is none.
    pub surrogate_seconds: f64,
    /// Wall time of the recovery (optimisation only).
    pub recovery_seconds: f64,
    /// Wall time of the whole command.
    pub wall_seconds: f64,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// The reported input, `[C, grid..]` in physical units (for library
    /// callers; `inverse.json` leaves the field out).
    #[serde(skip)]
    pub recovered: ArrayD<f32>,
    /// The sample's true input, `[C, grid..]`.
    #[serde(skip)]
    pub truth: ArrayD<f32>,
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

/// The trained operators an inverse problem uses: at least one.
#[derive(Clone, Copy)]
pub struct Operators<'a> {
    /// A forward run (task `one_shot`) and its directory: the operator the
    /// gradient method descends through, and the learned method refines
    /// through.
    pub forward: Option<(&'a Predictor, &'a Path)>,
    /// A learned inverse run (task `inverse`) and its directory.
    pub learned: Option<(&'a Predictor, &'a Path)>,
}

/// Checks a run's task kind and its channels against the file's.
fn check_run(
    (predictor, run): (&Predictor, &Path),
    inverse: bool,
    problem: &Problem,
    data: &Path,
) -> Result<(), InverseError> {
    let task = predictor.task();
    let (wanted, kind_ok) = if inverse {
        ("inverse", matches!(task, Task::Inverse { .. }))
    } else {
        ("one_shot", matches!(task, Task::OneShot { .. }))
    };
    if !kind_ok {
        return Err(InverseError::Task {
            task: format!("{task:?} (in {})", run.display()),
            wanted,
        });
    }
    let model = &predictor.config.model;
    let (mut cin, mut cout) = (problem.truth.shape()[0], problem.clean.shape()[0]);
    if inverse {
        std::mem::swap(&mut cin, &mut cout);
    }
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

/// The learned inverse's estimate from the observations; unobserved points
/// are filled with the mean of the observed values, since the operator
/// reads a whole field.
fn learned_estimate(
    learned: &Predictor,
    problem: &Problem,
    device: &Device,
) -> Result<Tensor, InverseError> {
    let (mut sum, mut count) = (0.0f64, 0usize);
    for (&o, &m) in problem.observed.iter().zip(&problem.mask) {
        if m > 0.0 {
            sum += f64::from(o);
            count += 1;
        }
    }
    let mean = (sum / count.max(1) as f64) as f32;
    let filled = ndarray::Zip::from(&problem.observed)
        .and(&problem.mask)
        .map_collect(|&o, &m| if m > 0.0 { o } else { mean });
    Ok(learned.predict(&batch(&filled, device)?, 1)?)
}

/// Recovers the input of one sample: by gradient descent through the
/// frozen forward operator from a neutral start (the gradient method), or
/// from the learned inverse's estimate, refined through the forward
/// operator when one is given (the learned method).
pub fn run(ops: Operators<'_>, opts: &InverseOptions) -> Result<InverseReport, InverseError> {
    let start = Instant::now();
    let loaded = Loaded::new(ops, opts)?;
    let problem = &loaded.problem;
    let regularizer = opts.regularizer.unwrap_or(match problem.param {
        Parametrization::Sigmoid(_) => Regularizer::Tv,
        Parametrization::Normalized(_) => Regularizer::H1,
    });
    let reg_weight = opts
        .reg_weight
        .unwrap_or_else(|| regularizer.default_weight());
    let mut objective = Objective::default();
    objective.push(1.0, Box::new(loaded.misfit()?));
    objective.push(reg_weight, Box::new(Regularization(regularizer)));
    let recovery = loaded.recover(ops, opts, &mut objective)?;

    let continuous = values(&recovery.input)?;
    let binarized = problem.param.binarize(&continuous);
    let reported = binarized.clone().unwrap_or_else(|| continuous.clone());
    let scores = loaded.score(&objective, &reported, recovery.input.dims())?;
    let solver = loaded.solver_check(&reported, scores.surrogate_seconds)?;
    let written = loaded.write_outputs(&reported, &recovery.history, &opts.out)?;
    let report = InverseReport {
        forward_run: ops.forward.map(|(_, d)| d.to_path_buf()),
        learned_run: ops.learned.map(|(_, d)| d.to_path_buf()),
        data: opts.data.clone(),
        sample: opts.sample,
        method: if ops.learned.is_some() {
            "learned"
        } else {
            "gradient"
        },
        observe: opts.observe.to_string(),
        observed_points: problem.observed_points(),
        total_points: problem.mask.len(),
        noise: opts.noise,
        seed: opts.seed,
        regularizer,
        reg_weight,
        pde_weight: opts.pde_weight,
        pde_output: opts.pde_output,
        optimizer: opts.recover,
        bounds: problem.param.bounds(),
        relative_l2: problem.input_error(&reported),
        relative_l2_continuous: problem.input_error(&continuous),
        binarized: binarized.is_some(),
        misfit: scores.misfit,
        initial_misfit: recovery.initial_misfit,
        misfit_of_truth: recovery.misfit_of_truth,
        output_error: scores.output_error,
        terms: scores.terms,
        solver,
        surrogate_seconds: scores.surrogate_seconds,
        recovery_seconds: recovery.seconds,
        wall_seconds: start.elapsed().as_secs_f64(),
        files: written,
        recovered: ArrayD::from_shape_vec(problem.truth.shape(), reported)
            .map_err(|e| InverseError::Tensor(candle_core::Error::wrap(e)))?,
        truth: problem.truth.clone(),
    };
    write_json(&opts.out.join(files::INVERSE), &report)?;
    Ok(report)
}

/// An inverse problem read from its file, with the operators checked
/// against it.
struct Loaded<'a> {
    /// The forward run if there is one, else the learned inverse.
    base: &'a Predictor,
    file: PdebenchFile,
    resolution: Resolution,
    problem: Problem,
    /// The forward operator, frozen.
    op: Option<FrozenOperator>,
}

/// What the recovery found, and the misfits it started from.
struct Recovery {
    input: Tensor,
    history: Vec<HistoryPoint>,
    initial_misfit: Option<f64>,
    misfit_of_truth: Option<f64>,
    /// Wall time of the learned estimate and the optimisation.
    seconds: f64,
}

/// The forward surrogate's view of the reported input.
struct Scores {
    misfit: Option<f64>,
    output_error: Option<f64>,
    terms: Option<TermValues>,
    surrogate_seconds: f64,
}

impl<'a> Loaded<'a> {
    /// Reads the sample and its observations, and checks each operator's
    /// task and channels against the file.
    fn new(ops: Operators<'a>, opts: &InverseOptions) -> Result<Self, InverseError> {
        let (base, _) = ops
            .forward
            .or(ops.learned)
            .ok_or_else(|| InverseError::Setting {
                setting: Setting::Operators,
                reason: "no trained operator was given".into(),
            })?;
        let file = PdebenchFile::open(&opts.data)?;
        let resolution = base.config.data.resolution();
        let normalizer = match (ops.forward, ops.learned) {
            (None, Some((l, _))) => &l.normalizers.output,
            _ => &base.normalizers.input,
        };
        let problem = Problem::load(
            &file,
            &base.config.task,
            &resolution,
            normalizer,
            opts.sample,
            &opts.observe,
            opts.noise,
            opts.seed,
        )?;
        if let Some(forward) = ops.forward {
            check_run(forward, false, &problem, &opts.data)?;
        }
        if let Some(learned) = ops.learned {
            check_run(learned, true, &problem, &opts.data)?;
        }
        let op = ops
            .forward
            .map(|(p, _)| FrozenOperator::new(p))
            .transpose()?;
        Ok(Self {
            base,
            file,
            resolution,
            problem,
            op,
        })
    }

    fn device(&self) -> &Device {
        &self.base.device
    }

    /// The misfit at the observed points.
    fn misfit(&self) -> Result<Misfit, InverseError> {
        Ok(Misfit::new(
            batch(&self.problem.observed, self.device())?,
            batch(&self.problem.mask, self.device())?,
        )?)
    }

    /// Finds the starting point (the learned estimate, or zero in the
    /// optimiser's coordinates), adds the physics term if asked for, and
    /// descends through the forward operator when there is one.
    fn recover(
        &self,
        ops: Operators<'_>,
        opts: &InverseOptions,
        objective: &mut Objective,
    ) -> Result<Recovery, InverseError> {
        let started = Instant::now();
        let (problem, device) = (&self.problem, self.device());
        let z0 = match ops.learned {
            Some((learned, _)) => problem
                .param
                .unconstrained(&learned_estimate(learned, problem, device)?)?,
            None => batch(&problem.truth, device)?.zeros_like()?,
        };
        let start_input = problem.param.physical(&z0, 1.0)?;
        if opts.pde_weight > 0.0 {
            let mut term = pde_residual(self.file.info(), &start_input)?;
            if opts.pde_output == PdeOutput::Observed {
                term = term.on_observations(
                    &batch(&problem.observed, device)?,
                    &batch(&problem.mask, device)?,
                )?;
            }
            objective.push(opts.pde_weight, Box::new(term));
        }
        let (initial_misfit, misfit_of_truth) = match &self.op {
            Some(op) => (
                Some(problem.misfit(&values(&op.forward(&start_input)?)?)),
                Some(problem.misfit(&values(&op.forward(&batch(&problem.truth, device)?)?)?)),
            ),
            None => (None, None),
        };
        let (input, history) = match &self.op {
            Some(op) if opts.recover.steps + opts.recover.lbfgs_steps > 0 => {
                let r = recover(op, &problem.param, objective, &z0, &opts.recover)?;
                (r.input, r.history)
            }
            _ => (start_input, Vec::new()),
        };
        Ok(Recovery {
            input,
            history,
            initial_misfit,
            misfit_of_truth,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Misfit, output error and loss terms of the forward surrogate at the
    /// reported input, and the seconds per surrogate evaluation.
    fn score(
        &self,
        objective: &Objective,
        reported: &[f32],
        dims: &[usize],
    ) -> Result<Scores, InverseError> {
        let problem = &self.problem;
        let reported_t = Tensor::from_vec(reported.to_vec(), dims, self.device())?;
        let Some(op) = &self.op else {
            let seconds = seconds_per_call(|| {
                learned_estimate(self.base, problem, self.device()).map(|_| ())
            })?;
            return Ok(Scores {
                misfit: None,
                output_error: None,
                terms: None,
                surrogate_seconds: seconds,
            });
        };
        let output = op.forward(&reported_t)?;
        let output_values = values(&output)?;
        let terms = objective.evaluate(&Iterate {
            input: &reported_t,
            scaled: &problem
                .param
                .scaled(&problem.param.unconstrained(&reported_t)?, 1.0)?,
            output: &output,
        })?;
        Ok(Scores {
            misfit: Some(problem.misfit(&output_values)),
            output_error: Some(relative_l2(&output_values, problem.clean.iter().copied())),
            terms: Some(terms.1),
            surrogate_seconds: seconds_per_call(|| op.forward(&reported_t).map(|_| ()))?,
        })
    }

    /// The numerical solver's misfit for the reported and the true input,
    /// for single-channel inputs of PDEs fno can solve.
    fn solver_check(
        &self,
        reported: &[f32],
        surrogate_seconds: f64,
    ) -> Result<Option<SolverCheck>, InverseError> {
        let problem = &self.problem;
        let solver = match ForwardSolver::for_file(self.file.info(), &problem.grid, problem.elapsed)
        {
            Some(solver) if problem.truth.shape()[0] == 1 => solver,
            _ => return Ok(None),
        };
        let solved = solver.solve(reported)?;
        let truth_values: Vec<f32> = problem.truth.iter().copied().collect();
        let solved_truth = solver.solve(&truth_values)?;
        let seconds = seconds_per_call(|| solver.solve(reported).map(|_| ()))?;
        Ok(Some(SolverCheck {
            misfit: problem.misfit(&solved),
            misfit_of_truth: problem.misfit(&solved_truth),
            seconds_per_solve: seconds,
            speedup: seconds / surrogate_seconds.max(f64::MIN_POSITIVE),
            solver,
        }))
    }

    /// Writes the plots and `history.jsonl` into `out`; returns every file
    /// the command writes, `inverse.json` last.
    fn write_outputs(
        &self,
        reported: &[f32],
        history: &[HistoryPoint],
        out: &Path,
    ) -> Result<Vec<PathBuf>, InverseError> {
        create_dir(out)?;
        let mut written = plot(
            &self.file,
            &self.resolution,
            &self.problem,
            reported,
            history,
            out,
        )?;
        let history_path = out.join(files::HISTORY);
        write_json_lines(&history_path, history)?;
        written.push(history_path);
        written.push(out.join(files::INVERSE));
        Ok(written)
    }
}

/// The physics term for a file: its catalogue equation, which must relate
/// an input field to the output (a stationary problem such as Darcy); a
/// one-shot pair of a time-dependent equation has no residual, since the
/// frames between input and output are not predicted.
fn pde_residual(info: &FileInfo, start: &Tensor) -> Result<PdeResidual, InverseError> {
    let refuse = |reason: String| InverseError::Setting {
        setting: Setting::PdeWeight,
        reason,
    };
    if info.input_fields.is_empty() {
        return Err(refuse(format!(
            "{}: the physics residual of an (input, output) pair needs a stationary equation with an input field (Darcy); this file's input is an initial condition, and the frames up to the output are not predicted",
            info.path.display()
        )));
    }
    let pde = PdeSpec::for_file(info)
        .and_then(|spec| spec.build(info, TimeOrder::default()))
        .map_err(|e| refuse(format!("no physics residual for this file: {e}")))?;
    let grid = Grid {
        lengths: info.domain.iter().map(|[lo, hi]| hi - lo).collect(),
        dt: None,
    };
    PdeResidual::new(pde, grid, start)
        .map_err(|e| refuse(format!("no physics residual for this file: {e}")))
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
    resolution: &Resolution,
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
            let row =
                |a: &ArrayD<f64>| a.index_axis(Axis(0), 0).iter().copied().collect::<Vec<_>>();
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
            &[
                ("misfit (squared, relative)", curve("misfit")),
                ("total loss", loss),
            ],
        )?;
        written.push(misfit_path);
    }
    Ok(written)
}
