//! `fno export`: a trained run in another library's format.
use anyhow::Context;
use clap::{Args, ValueEnum};
use fno::export::{export_neuraloperator, ExportError, ExportOptions};
use fno::rundir::Weights;
use std::path::PathBuf;

/// The formats `fno export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// neuraloperator 2.0.0's `neuralop.models.FNO`: a safetensors state
    /// dict and the JSON of its constructor arguments.
    Neuraloperator,
}

/// Arguments of `fno export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The format to write.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Run directory written by `fno train`.
    #[arg(value_name = "RUN")]
    pub run: PathBuf,
    /// Directory to write (model.safetensors, fno_kwargs.json,
    /// normalizer.json, export.json).
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// Use the last epoch's weights instead of the best.
    #[arg(long)]
    pub last: bool,
    /// The grid on which the grid-coordinate channels agree exactly, e.g.
    /// 64x64; default: the run's training grid.
    #[arg(long, value_name = "NxM", value_parser = grid)]
    pub grid: Option<Grid>,
    /// Replace the files of a non-empty OUT.
    #[arg(long)]
    pub overwrite: bool,
    /// For a run trained on several sources (`data.sources`): the source
    /// whose lifting, projection and normalisers go with the shared blocks.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Grid sizes, one per axis (one value of `--grid`, not a list of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid(pub Vec<usize>);

/// `64x64` (or `64`, `32x32x16`) as grid sizes of at least 1.
fn grid(text: &str) -> Result<Grid, String> {
    text.split('x')
        .map(|n| match n.trim().parse::<usize>() {
            Ok(0) | Err(_) => Err(format!("{text:?} is not a grid such as 64 or 64x64")),
            Ok(v) => Ok(v),
        })
        .collect::<Result<_, _>>()
        .map(Grid)
}

/// Runs `fno export`.
pub fn run(args: &ExportArgs) -> anyhow::Result<()> {
    let Format::Neuraloperator = args.format;
    let opts = ExportOptions {
        weights: if args.last {
            Weights::Last
        } else {
            Weights::Best
        },
        grid: args.grid.as_ref().map(|g| g.0.clone()),
        overwrite: args.overwrite,
        source: args.source.clone(),
    };
    let report = export_neuraloperator(&args.run, &args.out, &opts)
        .map_err(|e| match e {
            ExportError::Grid(_) => super::on_flag(e, "--grid".into()),
            ExportError::Source(_) => match &args.source {
                Some(name) => super::on_flag(e, format!("--source {name}")),
                None => anyhow::Error::from(e).context("pass --source NAME to export one source"),
            },
            ExportError::NotEmpty(_) => {
                anyhow::Error::from(e).context("pass --overwrite to replace its files")
            }
            other => other.into(),
        })
        .with_context(|| format!("exporting {} to {}", args.run.display(), args.out.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "wrote {} ({} tensors) for neuraloperator 2.0.0's FNO",
            report.dir.display(),
            report.tensors
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Cli;
    use super::grid;
    use clap::Parser;

    #[test]
    fn parses_the_documented_flags() {
        let cli = Cli::try_parse_from([
            "fno",
            "export",
            "--format",
            "neuraloperator",
            "runs/darcy",
            "out",
            "--last",
            "--grid",
            "64x64",
        ]);
        let Ok(Cli {
            command: super::super::Command::Export(args),
        }) = cli
        else {
            panic!("{cli:?}");
        };
        assert_eq!(args.grid, Some(super::Grid(vec![64, 64])));
        assert!(args.last);
        let no_format = Cli::try_parse_from(["fno", "export", "r", "o"]);
        assert!(no_format.is_err());
        let other_format = Cli::try_parse_from(["fno", "export", "--format", "onnx", "r", "o"]);
        assert!(other_format.is_err());
    }

    #[test]
    fn grids_are_sizes_joined_by_x() {
        assert_eq!(grid("64x32").unwrap().0, vec![64, 32]);
        assert_eq!(grid("128").unwrap().0, vec![128]);
        for bad in ["", "0x4", "4x", "a", "4 x -1"] {
            assert!(grid(bad).is_err(), "{bad}");
        }
    }
}
