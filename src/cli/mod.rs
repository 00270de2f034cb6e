//! Command-line interface: parse flags, call the library, print results.
//!
//! Only this module prints, draws progress bars and picks exit codes. Each
//! subcommand lives in its own file with its argument struct and a parse test.
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod bench;
mod eval;
mod finetune;
mod generate;
mod inspect;
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
    /// Fine-tune a trained run on one instance with the physics losses.
    Finetune(finetune::FinetuneArgs),
    /// Time the forward pass and a training step of an FNO.
    Bench(bench::BenchArgs),
    /// Solve a PDE for random inputs and write a PDEBench-layout HDF5 file.
    Generate(generate::GenerateArgs),
}

/// Parses the command line, runs the command and maps errors to exit code 2.
pub fn main() -> ExitCode {
    restore_sigpipe();
    fno::alloc::keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Quickstart(args) => quickstart::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Finetune(args) => finetune::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Generate(args) => generate::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Sizes every thread pool the model uses: the global rayon pool (our
/// kernels, the FFTs, candle's GEMMs) and candle's own pool, which reads the
/// environment the first time it is used — hence this runs before any
/// tensor work, while the process is still single-threaded. 0 keeps the
/// default of one thread per core.
pub(crate) fn set_threads(threads: usize) -> anyhow::Result<()> {
    if threads == 0 {
        return Ok(());
    }
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
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
