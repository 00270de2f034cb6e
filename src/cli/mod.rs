//! Command-line interface: parse flags, call the library, print results.
//!
//! Only this module prints, draws progress bars and picks exit codes. Each
//! subcommand lives in its own file with its argument struct and a parse test.
use anyhow::Context;
use candle_core::Device;
use clap::{Parser, Subcommand};
use fno::rundir::Weights;
use fno::train::run::Predictor;
use std::path::Path;
use std::process::ExitCode;

mod bench;
pub(crate) mod device;
mod eval;
mod export;
mod finetune;
mod generate;
mod inspect;
mod inverse;
mod job;
mod numeric;
mod predict;
mod progress;
mod quickstart;
mod train;

/// Fourier neural operators for PDE surrogates, trained on PDEBench files.
#[derive(Debug, Parser)]
#[command(name = "fno", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the layout, PDE, shapes and statistics of a PDEBench HDF5 file.
    Inspect(inspect::InspectArgs),
    /// Generate data, train a small FNO and evaluate it: the embedded default.
    Quickstart(quickstart::QuickstartArgs),
    /// Train a model from a TOML config into a run directory.
    Train(train::TrainArgs),
    /// Evaluate a trained run: PDEBench metrics at one or more resolutions.
    Eval(eval::EvalArgs),
    /// Write a run's predictions for every sample of a file, in its layout.
    Predict(predict::PredictArgs),
    /// Fine-tune a trained run on one instance with the physics losses.
    Finetune(finetune::FinetuneArgs),
    /// Time the forward pass and a training step of an FNO.
    Bench(bench::BenchArgs),
    /// Solve a PDE for random inputs and write a PDEBench-layout HDF5 file.
    Generate(generate::GenerateArgs),
    /// Recover a sample's input from observations of its output through a
    /// trained run.
    Inverse(inverse::InverseArgs),
    /// Write a trained run in another library's format (neuraloperator).
    Export(export::ExportArgs),
}

/// Parses the command line, runs the command and maps errors to exit code 2.
pub fn main() -> ExitCode {
    restore_sigpipe();
    fno::alloc::keep_freed_memory();
    fno::device::candle_pool_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Quickstart(args) => quickstart::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Finetune(args) => finetune::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Inverse(args) => inverse::run(&args),
        Command::Export(args) => export::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Loads the run in `dir` for a command; its warnings go to stderr.
pub(crate) fn load_run(dir: &Path, weights: Weights, device: &Device) -> anyhow::Result<Predictor> {
    let predictor = Predictor::load(dir, weights, device)
        .with_context(|| format!("loading the run in {}", dir.display()))?;
    Ok(predictor.with_warnings(|clip| eprintln!("warning: {clip}")))
}

/// Refuses to write into a directory that holds anything unless the user
/// passed `--overwrite`: earlier results are never replaced unasked, and a
/// refused command has written nothing.
pub(crate) fn refuse_non_empty(dir: &Path, overwrite: bool) -> anyhow::Result<()> {
    if overwrite {
        return Ok(());
    }
    anyhow::ensure!(
        !fno::rundir::holds_files(dir)?,
        "{} is not empty: pass --overwrite to replace it, or choose another --out",
        dir.display()
    );
    Ok(())
}

/// Names the flag a library error is about: `--flag value: message`.
pub(crate) fn on_flag(err: impl Into<anyhow::Error>, flag: String) -> anyhow::Error {
    err.into().context(flag)
}

/// Sizes the rayon pool that runs fno's kernels (spectral convolutions,
/// FFTs, the fused pointwise ops, AdamW, candle's GEMMs), before any tensor
/// work while the process is still single-threaded. 0 keeps the default of
/// one thread per core; more than the cores available is refused, naming
/// `setting` (the flag or config key the count came from).
pub(crate) fn set_threads(threads: usize, setting: &str) -> anyhow::Result<()> {
    if threads == 0 {
        return Ok(());
    }
    numeric::within_cores(threads).map_err(|reason| anyhow::anyhow!("{setting}: {reason}"))?;
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("configuring the rayon thread pool")
}

/// Lets `fno inspect FILE | head` end quietly: Rust ignores SIGPIPE, which
/// turns a closed pipe into a panic in `println!`; the default action ends
/// the process as every Unix filter does.
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; setting a
    // signal disposition to its default has no other preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
