//! `fno quickstart`: the embedded default, end to end, with no downloads.
//!
//! 1. generates 2D Darcy flow data with fno's own solver: coefficient fields
//!    of the FNO paper (a thresholded Gaussian random field taking the
//!    values 12 and 3, forcing 1) on a 64×64 grid;
//! 2. trains a small FNO on the map a → u at 32×32 (every other grid point),
//!    about two minutes on 2 cores;
//! 3. evaluates it at the training resolution and, zero-shot, at 64×64;
//! 4. prints a summary and the paths of the plots.
//!
//! Darcy rather than Burgers: PDEBench-style Burgers initial conditions
//! include samples whose solution almost vanishes by the final time, which
//! makes per-sample relative errors meaningless for a short demo.
use super::device::DeviceArg;
use super::eval::print_table;
use super::progress::TrainBar;
use anyhow::Context;
use clap::Args;
use fno::data::Task;
use fno::eval::evaluate::{evaluate, EvalOptions};
use fno::rundir::{files, RunDir, Weights};
use fno::solvers::darcy::{Coefficient, DarcyConfig};
use fno::solvers::{generate, GenerateSpec};
use fno::train::config::{LossKind, RunConfig};
use fno::train::schedule::Schedule;
use fno::train::train;
use fno::train::trainer::Start;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `fno quickstart`.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Directory for the data, the run and the plots.
    #[arg(long, value_name = "DIR", default_value = "quickstart")]
    pub out: PathBuf,
    /// Training epochs (the default takes about two minutes on 2 cores).
    #[arg(long, default_value_t = 30, value_parser = super::numeric::at_least_one)]
    pub epochs: usize,
    /// Samples to generate (10% are held out for testing).
    #[arg(long, default_value_t = 600, value_parser = super::numeric::at_least_one)]
    pub samples: usize,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Where the model runs.
    #[command(flatten)]
    pub device: DeviceArg,
}

/// The quickstart's training configuration.
fn config(data: PathBuf, epochs: usize) -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.data.train = data;
    cfg.data.reduced_resolution = 2;
    cfg.task = Task::OneShot {
        input_frame: 0,
        output_frame: -1,
    };
    cfg.model.modes = vec![8, 8];
    cfg.model.width = 32;
    cfg.model.layers = 4;
    cfg.train.epochs = epochs;
    cfg.train.batch_size = 20;
    cfg.train.lr = 2e-3;
    cfg.train.schedule = Schedule::Cosine { min_lr: 1e-5 };
    cfg.train.loss = LossKind::RelativeL2;
    cfg
}

/// Runs `fno quickstart`.
pub fn run(args: &QuickstartArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.samples >= 20,
        "--samples must be at least 20 (10% are held out)"
    );
    // Open the device before minutes of data generation, so a bad
    // --device fails at once.
    let device = args.device.device()?;
    let started = Instant::now();
    let data_dir = args.out.join("data");
    let spec = GenerateSpec::Darcy(DarcyConfig {
        samples: args.samples,
        nx: 64,
        ny: 64,
        coefficient: Coefficient::Fno,
        ..DarcyConfig::default()
    });
    eprintln!(
        "[1/3] generating {} Darcy samples (FNO-paper coefficients, 64x64) in {}",
        args.samples,
        data_dir.display()
    );
    let bar = super::progress::sample_bar(spec.samples() as u64, args.quiet);
    let data = generate(&spec, &data_dir, &|done| bar.set_position(done as u64))
        .with_context(|| format!("generating data in {}", data_dir.display()))?;
    bar.finish_and_clear();

    let run_dir = args.out.join("run");
    if RunDir::new(&run_dir).holds_run() {
        std::fs::remove_dir_all(&run_dir).with_context(|| {
            format!(
                "clearing the previous quickstart run in {}",
                run_dir.display()
            )
        })?;
    }
    let cfg = config(data.clone(), args.epochs);
    eprintln!("[2/3] training an FNO (modes 8, width 32, 4 layers) on a -> u at 32x32");
    let mut progress = TrainBar::new(args.quiet);
    let report = train(&cfg, &run_dir, Start::Overwrite, &device, &mut progress);
    progress.finish();
    let report = report.with_context(|| format!("training into {}", run_dir.display()))?;

    eprintln!("[3/3] evaluating at 32x32 (training) and 64x64 (zero-shot super-resolution)");
    let predictor = super::load_run(&run_dir, Weights::Best, &device)?;
    let opts = EvalOptions {
        resolutions: vec![64],
        max_samples: None,
        plot_dir: Some(run_dir.clone()),
    };
    let eval = evaluate(&predictor, &run_dir, &data, &opts)?;
    RunDir::new(&run_dir).write_report(files::EVAL, &eval)?;

    println!();
    println!(
        "fno quickstart: 2D Darcy flow, coefficient -> pressure, {} parameters, {} epochs",
        report.params, args.epochs
    );
    println!(
        "{} training samples, {} test samples; {:.0} s in all",
        report.samples.0,
        report.samples.1,
        started.elapsed().as_secs_f64()
    );
    print_table(&eval);
    println!(
        "run directory {} ({}, {}, {}, {})",
        run_dir.display(),
        files::CONFIG,
        files::STATE,
        files::METRICS,
        files::EVAL
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: QuickstartArgs,
    }

    #[test]
    fn defaults_and_overrides() {
        let w = Wrap::try_parse_from(["x"]).unwrap();
        assert_eq!((w.args.epochs, w.args.samples), (30, 600));
        assert_eq!(w.args.out, PathBuf::from("quickstart"));
        let w = Wrap::try_parse_from([
            "x",
            "--epochs",
            "2",
            "--samples",
            "40",
            "--out",
            "q",
            "--quiet",
        ])
        .unwrap();
        assert_eq!((w.args.epochs, w.args.samples, w.args.quiet), (2, 40, true));
        assert!(config(PathBuf::from("d.h5"), 3).validate().is_ok());
    }
}
