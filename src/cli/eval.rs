//! `fno eval`: PDEBench metrics of a trained run, at the training
//! resolution and at finer ones (zero-shot super-resolution).
use super::device::DeviceArg;
use anyhow::{bail, Context};
use clap::Args;
use fno::dist::Communicator;
use fno::eval::evaluate::{evaluate_with, EvalOptions, EvalReport, EvaluateError};
use fno::eval::sources::evaluate_sources;
use fno::rundir::{files, RunDir, Weights};
use fno::train::run::{run_sources, Predictor};
use std::path::PathBuf;

/// Arguments of `fno eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run directory written by `fno train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// File (or Well data set folder) to evaluate on: its test split if it
    /// is the training data. Required for a single-source run; for a
    /// multi-source run, left out: each source on its own data.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// The source of a multi-source run to evaluate (its name in
    /// `data.sources`); left out: every source.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Also evaluate at this grid size along x (repeatable); must divide
    /// the file's size.
    #[arg(long, value_name = "N", value_parser = super::numeric::at_least_one)]
    pub resolution: Vec<usize>,
    /// Evaluate at most this many samples.
    #[arg(long, value_name = "N", value_parser = super::numeric::at_least_one)]
    pub samples: Option<usize>,
    /// Use the last epoch's weights instead of the best.
    #[arg(long)]
    pub last: bool,
    /// Print eval.json to stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where the model runs.
    #[command(flatten)]
    pub device: DeviceArg,
}

/// Runs `fno eval`: in one process, or as one rank of a job started by
/// an MPI launcher, each rank predicting its part of the samples; rank 0
/// alone writes and prints.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    super::job::run_as_job(|comm| eval_as(args, comm))
}

/// `fno eval` on this process's rank of `comm`.
fn eval_as(args: &EvalArgs, comm: &dyn Communicator) -> anyhow::Result<()> {
    if comm.size() > 1 {
        super::set_threads(super::job::threads_per_rank(), "threads per rank")?;
    }
    let weights = if args.last {
        Weights::Last
    } else {
        Weights::Best
    };
    let device = args.device.device()?;
    let opts = EvalOptions {
        resolutions: args.resolution.clone(),
        max_samples: args.samples,
        plot_dir: comm.is_root().then(|| args.run.clone()),
    };
    let sources = run_sources(&args.run)
        .with_context(|| format!("loading the run in {}", args.run.display()))?;
    if !sources.is_empty() && args.source.is_none() {
        return eval_every_source(args, weights, &device, &opts, comm);
    }
    let predictor = Predictor::load_source(&args.run, weights, &device, args.source.as_deref())
        .map_err(|e| match &args.source {
            Some(name) => super::on_flag(e, format!("--source {name}")),
            None => e.into(),
        })
        .with_context(|| format!("loading the run in {}", args.run.display()))?
        .with_warnings(|clip| eprintln!("warning: {clip}"));
    // A source evaluates on its own data unless --data names other data.
    let own = sources
        .iter()
        .find(|s| Some(s.name()) == args.source)
        .map(|s| s.test.clone().unwrap_or_else(|| s.file.clone()));
    let Some(data) = args.data.clone().or(own) else {
        bail!("--data FILE is required: name the file to evaluate on");
    };
    let report = evaluate_with(&predictor, &args.run, &data, &opts, comm)
        .map_err(name_resolution)
        .with_context(|| format!("evaluating {} on {}", args.run.display(), data.display()))?;
    if !comm.is_root() {
        return Ok(());
    }
    let path = RunDir::new(&args.run)
        .write_report(files::EVAL, &report)
        .context("writing the report")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `fno eval` of every source of a multi-source run on its own data.
fn eval_every_source(
    args: &EvalArgs,
    weights: Weights,
    device: &candle_core::Device,
    opts: &EvalOptions,
    comm: &dyn Communicator,
) -> anyhow::Result<()> {
    if let Some(data) = &args.data {
        bail!(
            "--data {}: the run was trained on several sources; pass --source NAME to evaluate one of them on this file, or leave --data out to evaluate every source on its own data",
            data.display()
        );
    }
    let report = evaluate_sources(&args.run, weights, device, opts, comm, |clip| {
        eprintln!("warning: {clip}")
    })
    .map_err(name_resolution)
    .with_context(|| format!("evaluating {}", args.run.display()))?;
    if !comm.is_root() {
        return Ok(());
    }
    let path = RunDir::new(&args.run)
        .write_report(files::EVAL, &report)
        .context("writing the report")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for (name, source) in &report.sources {
            println!("source {name}:");
            print_table(source);
        }
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Names `--resolution` in the error of a grid size that does not fit
/// the file.
pub fn name_resolution(err: EvaluateError) -> anyhow::Error {
    match err {
        EvaluateError::Resolution { requested, .. } => {
            super::on_flag(err, format!("--resolution {requested}"))
        }
        err => err.into(),
    }
}

/// Prints one row per resolution.
pub fn print_table(report: &EvalReport) {
    println!("{} samples of {}", report.samples, report.data.display());
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "grid", "rel L2", "RMSE", "nRMSE", "max", "cRMSE", "bRMSE", "fRMSE lo", "VRMSE"
    );
    for r in &report.results {
        let m = &r.metrics;
        let grid = r
            .grid
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("x");
        let label = if r.training_resolution {
            format!("{grid} (train)")
        } else {
            grid
        };
        println!(
            "{:<12} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e}",
            label,
            m.relative_l2,
            m.rmse.mean,
            m.nrmse.mean,
            m.max.mean,
            m.crmse.mean,
            m.brmse.mean,
            m.frmse.low.as_ref().map_or(f64::NAN, |s| s.mean),
            m.vrmse.mean
        );
        if let Some(w) = &r.window {
            print_window(w);
        }
    }
    for p in &report.plots {
        println!("plot {}", p.display());
    }
}

/// The window task's VRMSE: one step per field, then the rollout by
/// horizon band (frames from 0, end exclusive, as The Well labels them).
fn print_window(w: &fno::eval::window::WindowScores) {
    let per_field = |values: &[f64]| {
        w.fields
            .iter()
            .zip(values)
            .map(|(f, v)| format!("{f} {v:.3e}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  one step ({} windows) VRMSE: {}",
        w.windows,
        per_field(&w.one_step.vrmse.per_channel)
    );
    for band in &w.rollout.bands {
        println!(
            "  rollout T={}:{} VRMSE {:.3e}: {}",
            band.start,
            band.end,
            band.mean,
            per_field(&band.per_field)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: EvalArgs,
    }

    #[test]
    fn defaults_and_repeated_resolutions() {
        let w = Wrap::try_parse_from(["x", "--run", "r", "--data", "d.h5"]).unwrap();
        assert!(w.args.resolution.is_empty() && !w.args.json && !w.args.last);
        let w = Wrap::try_parse_from([
            "x",
            "--run",
            "r",
            "--data",
            "d.h5",
            "--resolution",
            "256",
            "--resolution",
            "512",
            "--json",
        ])
        .unwrap();
        assert_eq!(w.args.resolution, vec![256, 512]);
        assert!(w.args.json);
        let w = Wrap::try_parse_from(["x", "--run", "r", "--source", "burgers"]).unwrap();
        assert!(w.args.data.is_none());
        assert_eq!(w.args.source.as_deref(), Some("burgers"));
    }
}
