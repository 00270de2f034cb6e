//! `fno predict`: a run's predictions for every sample of a file, written
//! in that file's PDEBench layout.
use super::device::DeviceArg;
use anyhow::{bail, Context};
use clap::Args;
use fno::eval::predict::predict_file;
use fno::rundir::Weights;
use std::path::PathBuf;

/// Arguments of `fno predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Run directory written by `fno train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// PDEBench file whose samples are predicted (all of them).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Predict on a grid of this many points along x (must divide the
    /// file's size); default: the run's training resolution.
    #[arg(long, value_name = "N", value_parser = super::numeric::at_least_one)]
    pub resolution: Option<usize>,
    /// HDF5 file to write, in the input's layout.
    #[arg(long, value_name = "PRED.hdf5")]
    pub out: PathBuf,
    /// Replace `--out` if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// Use the last epoch's weights instead of the best.
    #[arg(long)]
    pub last: bool,
    /// The source of a multi-source run whose lifting, projection and
    /// normalisers to predict with (its name in `data.sources`).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where the model runs.
    #[command(flatten)]
    pub device: DeviceArg,
}

/// Runs `fno predict`.
pub fn run(args: &PredictArgs) -> anyhow::Result<()> {
    let same = |a: &PathBuf, b: &PathBuf| matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y);
    if same(&args.out, &args.input) {
        bail!(
            "--out {} is the input file; choose another path",
            args.out.display()
        );
    }
    if args.out.is_dir() {
        bail!(
            "--out {} is a directory; give the path of the HDF5 file to write",
            args.out.display()
        );
    }
    if args.out.exists() && !args.overwrite {
        bail!(
            "--out {} exists; pass --overwrite to replace it",
            args.out.display()
        );
    }
    let weights = if args.last {
        Weights::Last
    } else {
        Weights::Best
    };
    let device = args.device.device()?;
    let predictor = fno::train::run::Predictor::load_source(
        &args.run,
        weights,
        &device,
        args.source.as_deref(),
    )
    .map_err(|e| match &args.source {
        Some(name) => super::on_flag(e, format!("--source {name}")),
        None if fno::train::run::run_sources(&args.run).is_ok_and(|s| !s.is_empty()) => {
            super::on_flag(e, "--source NAME is required".into())
        }
        None => e.into(),
    })
    .with_context(|| format!("loading the run in {}", args.run.display()))?
    .with_warnings(|clip| eprintln!("warning: {clip}"));
    let samples = fno::data::PdebenchFile::open(&args.input)?
        .info()
        .num_samples;
    let bar = super::progress::sample_bar(samples as u64, args.quiet || args.json);
    let report = predict_file(
        &predictor,
        &args.input,
        &args.out,
        args.resolution,
        &mut |done| bar.set_position(done as u64),
    )
    .map_err(super::eval::name_resolution)
    .with_context(|| {
        format!(
            "predicting {} with {}",
            args.input.display(),
            args.run.display()
        )
    })?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let grid = report
            .grid
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("x");
        println!(
            "wrote {} ({} samples, {} frames on {grid})",
            report.output.display(),
            report.samples,
            report.frames
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Cli;
    use clap::Parser;

    #[test]
    fn parses_the_documented_flags() {
        let cli = Cli::try_parse_from([
            "fno",
            "predict",
            "--run",
            "runs/darcy",
            "--input",
            "d.hdf5",
            "--resolution",
            "64",
            "--out",
            "pred.hdf5",
        ]);
        assert!(cli.is_ok(), "{cli:?}");
        let missing_out =
            Cli::try_parse_from(["fno", "predict", "--run", "r", "--input", "d.hdf5"]);
        assert!(missing_out.is_err());
    }
}
