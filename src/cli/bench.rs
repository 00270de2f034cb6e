//! `fno bench`: time the forward pass and a training step of an FNO.
use super::device::DeviceArg;
use anyhow::Context;
use clap::{Args, ValueEnum};
use fno::bench::{self, BenchConfig};
use fno::dist::Communicator;
use fno::memory::{check_on, footprint, Use};
use fno::model::{ModelConfig, ModelError, Precision};
use fno::spectral::SpectralBackend;
use fno::train::TrainError;

/// Arguments of `fno bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Number of spatial axes (1 to 3).
    #[arg(long, default_value_t = 2, value_parser = super::numeric::axes)]
    pub dims: usize,
    /// Grid points along every axis.
    #[arg(long, default_value_t = 64, value_parser = super::numeric::at_least_one)]
    pub size: usize,
    /// Samples per batch.
    #[arg(long, default_value_t = 20, value_parser = super::numeric::at_least_one)]
    pub batch: usize,
    /// Hidden channels of the Fourier blocks.
    #[arg(long, default_value_t = 32, value_parser = super::numeric::at_least_one)]
    pub width: usize,
    /// Fourier modes kept per axis (our count: 12 is neuraloperator's 24).
    #[arg(long, default_value_t = 12, value_parser = super::numeric::at_least_one)]
    pub modes: usize,
    /// Number of Fourier blocks.
    #[arg(long, default_value_t = 4, value_parser = super::numeric::at_least_one)]
    pub layers: usize,
    /// Timed repetitions of the forward pass and of the training step.
    ///
    /// Three untimed warm-up repetitions of each run first; the medians
    /// are reported.
    #[arg(long, default_value_t = 20, value_parser = super::numeric::at_least_one)]
    pub steps: usize,
    /// Worker threads for the rayon and candle pools (default: one per core).
    #[arg(long, value_parser = super::numeric::threads)]
    pub threads: Option<usize>,
    /// How spectral convolutions transform.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// What the training step keeps for its backward pass: f32, or bf16
    /// copies (as train.precision).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where the model runs.
    #[command(flatten)]
    pub device: DeviceArg,
}

/// `--backend` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// FFTs (rustfft on the CPU, cuFFT on CUDA).
    Fft,
    /// Dense truncated DFTs over the kept modes.
    Dft,
    /// Whichever the spectral module expects to be faster for the shape.
    Auto,
}

impl From<BackendArg> for SpectralBackend {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Fft => SpectralBackend::Fft,
            BackendArg::Dft => SpectralBackend::Dft,
            BackendArg::Auto => SpectralBackend::Auto,
        }
    }
}

/// `--precision` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// Everything in f32.
    F32,
    /// Saved activations in bf16.
    Bf16,
}

impl From<PrecisionArg> for Precision {
    fn from(arg: PrecisionArg) -> Self {
        match arg {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Bf16 => Precision::Bf16,
        }
    }
}

/// Number of untimed repetitions before the timed ones.
const WARMUP: usize = 3;

/// Runs `fno bench`: in one process, or under an MPI launcher as the
/// ranks of a data-parallel step sharing `--batch`; rank 0 prints.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    super::job::run_as_job(|comm| bench_as(args, comm))
}

/// `fno bench` on this process's rank of `comm`.
fn bench_as(args: &BenchArgs, comm: &dyn Communicator) -> anyhow::Result<()> {
    match args.threads {
        Some(threads) => super::set_threads(threads, "--threads")?,
        None if comm.size() > 1 => {
            super::set_threads(super::job::threads_per_rank(), "threads per rank")?
        }
        None => {}
    }
    let cfg = BenchConfig {
        model: ModelConfig {
            dims: args.dims,
            modes: vec![args.modes; args.dims],
            width: args.width,
            layers: args.layers,
            backend: args.backend.into(),
            ..ModelConfig::default()
        },
        size: args.size,
        batch: args.batch,
        steps: args.steps,
        warmup: WARMUP,
        precision: args.precision.into(),
    };
    let device = args.device.device()?;
    let grid = vec![args.size; args.dims];
    let needs = footprint(
        &cfg.model,
        &grid,
        args.batch.div_ceil(comm.size()),
        Use::Training,
    );
    check_on(
        &device,
        needs,
        "reduce --width, --layers, --modes, --size or --batch",
    )?;
    let report = bench::run(&cfg, &device, comm)
        .map_err(|e| match e {
            TrainError::Model(ModelError::InvalidConfig { field: "batch", .. }) => {
                super::on_flag(e, format!("--batch {}", args.batch))
            }
            e => e.into(),
        })
        .context("running the benchmark")?;
    if !comm.is_root() {
        return Ok(());
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("parameters       {}", report.params);
        println!(
            "forward          {:.2} ms (median of {})",
            report.forward_ms, args.steps
        );
        println!(
            "training step    {:.2} ms (median of {}, {})",
            report.train_step_ms,
            args.steps,
            report.precision.name()
        );
        println!(
            "all-reduce       {:.3} ms ({:.1}% of the step, {} process{}, {})",
            report.all_reduce_ms,
            100.0 * report.all_reduce_ms / report.train_step_ms,
            report.ranks,
            if report.ranks == 1 { "" } else { "es" },
            report.collectives
        );
        println!("transforms       {}", report.transforms);
        match report.peak_rss_mb {
            Some(mb) => println!("peak memory      {mb:.0} MiB"),
            None => println!("peak memory      unknown"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(argv: &[&str]) -> BenchArgs {
        Cli::try_parse_from([&["bench"], argv].concat())
            .unwrap()
            .args
    }

    #[test]
    fn defaults_are_the_fno2d_benchmark() {
        let a = parse(&[]);
        assert_eq!(
            (a.dims, a.size, a.batch, a.width, a.modes, a.layers, a.steps),
            (2, 64, 20, 32, 12, 4, 20)
        );
        assert_eq!(
            (a.threads, a.backend, a.json),
            (None, BackendArg::Auto, false)
        );
        assert_eq!(a.precision, PrecisionArg::F32);
    }

    #[test]
    fn long_forms_and_overrides() {
        let a = parse(&[
            "--dims",
            "1",
            "--size",
            "1024",
            "--batch",
            "8",
            "--width",
            "64",
            "--modes",
            "16",
            "--layers",
            "2",
            "--steps",
            "5",
            "--threads",
            "1",
            "--backend",
            "fft",
            "--json",
        ]);
        assert_eq!(
            (a.dims, a.size, a.batch, a.width, a.modes, a.layers, a.steps),
            (1, 1024, 8, 64, 16, 2, 5)
        );
        assert_eq!(
            (a.threads, a.backend, a.json),
            (Some(1), BackendArg::Fft, true)
        );
        assert_eq!(parse(&["--backend", "dft"]).backend, BackendArg::Dft);
        assert_eq!(
            parse(&["--precision", "bf16"]).precision,
            PrecisionArg::Bf16
        );
        assert!(Cli::try_parse_from(["bench", "--precision", "fp16"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--backend", "fast"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--size", "-3"]).is_err());
    }
}
