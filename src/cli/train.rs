//! `fno train`: train a model from a TOML config into a run directory.
use super::device::DeviceArg;
use super::progress::TrainBar;
use anyhow::Context;
use clap::Args;
use fno::dist::Communicator;
use fno::rundir::{files, RunDir, Weights};
use fno::train::config::{ConfigError, RunConfig};
use fno::train::train_with;
use fno::train::trainer::{Progress, Silent, Start, TrainReport};
use fno::train::TrainError;
use std::path::{Path, PathBuf};

/// Arguments of `fno train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML configuration (see configs/). With --resume, defaults to the
    /// run's saved config.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run directory for checkpoints, metrics and plots.
    #[arg(long, value_name = "DIR", default_value = "runs/latest")]
    pub out: PathBuf,
    /// Training file; shorthand for --set data.train=FILE.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Override one setting, e.g. --set train.epochs=10 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Continue the run in --out from its last checkpoint (from the
    /// beginning if it committed none yet).
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Start a new run in a non-empty --out, removing the earlier run's
    /// files.
    #[arg(long)]
    pub overwrite: bool,
    /// Start from a pretrained run (fine-tuning): its Fourier blocks, and
    /// its lifting and projection where this data's channels fit them;
    /// shorthand for --set train.init_from=RUN.
    #[arg(long, value_name = "RUN")]
    pub init_from: Option<PathBuf>,
    /// With --init-from, take the pretrained run's last epoch's weights
    /// instead of its best; shorthand for --set train.init_weights=last.
    #[arg(long, requires = "init_from")]
    pub init_last: bool,
    /// Print the final report as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
    /// Where the model runs.
    #[command(flatten)]
    pub device: DeviceArg,
}

/// Reads the config (file, or the run's saved one when resuming) and
/// applies the overrides.
pub fn load_config(args: &TrainArgs) -> anyhow::Result<RunConfig> {
    let path = match (&args.config, args.resume) {
        (Some(p), _) => p.clone(),
        (None, true) => RunDir::new(&args.out).file(files::CONFIG),
        (None, false) => {
            anyhow::bail!("--config FILE is required (or --resume with an existing --out)")
        }
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut overrides = args.set.clone();
    if let Some(data) = &args.data {
        overrides.push(format!("data.train={}", toml_string(data)));
    }
    if let Some(run) = &args.init_from {
        overrides.push(format!("train.init_from={}", toml_string(run)));
    }
    if args.init_last {
        overrides.push("train.init_weights=\"last\"".into());
    }
    RunConfig::from_toml(&text, &path.display().to_string(), &overrides).map_err(name_flags)
}

/// Names `--set` and `--data` in the errors they can fix.
fn name_flags(err: ConfigError) -> anyhow::Error {
    match err {
        ConfigError::BadOverride { ref given } => {
            let flag = format!("--set {given}");
            super::on_flag(err, flag)
        }
        ConfigError::Override {
            ref given,
            ref message,
        } => {
            let flags: Vec<String> = given.iter().map(|g| format!("--set {g}")).collect();
            anyhow::anyhow!("{}: {message}", flags.join(" "))
        }
        ConfigError::Invalid {
            field: "data.train",
            ..
        } => anyhow::anyhow!("{err} (set data.train or pass --data FILE)"),
        err => err.into(),
    }
}

/// A path as a TOML string literal.
pub fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// Runs `fno train`: in one process, or as one rank of a data-parallel
/// job when an MPI launcher started several (`mpirun -np N fno train ...`).
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    super::job::run_as_job(|comm| train_as(args, comm))
}

/// `fno train` on this process's rank of `comm`; only rank 0 shows
/// progress and the report.
fn train_as(args: &TrainArgs, comm: &dyn Communicator) -> anyhow::Result<()> {
    let mut cfg = load_config(args)?;
    if cfg.train.threads == 0 && comm.size() > 1 {
        cfg.train.threads = super::job::threads_per_rank();
    }
    super::set_threads(cfg.train.threads, "invalid setting `train.threads`")?;
    let device = args.device.device()?;
    let root = comm.is_root();
    let mut bar = TrainBar::new(args.quiet || args.json);
    let start = if args.resume {
        Start::Resume
    } else if args.overwrite {
        Start::Overwrite
    } else {
        Start::Fresh
    };
    // Only rank 0 reports; the others stay quiet unless they fail.
    let progress: &mut dyn Progress = if root { &mut bar } else { &mut Silent };
    let report = train_with(&cfg, &args.out, start, &device, progress, comm);
    bar.finish();
    let report = report
        .map_err(|e| match e {
            TrainError::RunExists { .. } => anyhow::anyhow!(
                "{e}: pass --resume to continue its run, --overwrite to replace it, or choose another --out"
            ),
            TrainError::Config(ConfigError::Invalid {
                field: "train.init_from",
                ..
            }) if args.init_from.is_some() => super::on_flag(e, "--init-from".into()),
            e => e.into(),
        })
        .with_context(|| format!("training into {}", args.out.display()))?;
    if root {
        print_report(&report, args.json)?;
    }
    Ok(())
}

fn print_report(report: &TrainReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!("run        {}", report.run_dir.display());
    println!("parameters {}", report.params);
    println!(
        "samples    {} train, {} test",
        report.samples.0, report.samples.1
    );
    if let Some(last) = &report.last {
        println!(
            "last epoch {}  train loss {:.4e}  test rel-L2 {:.4e}",
            last.epoch, last.train_loss, last.test_rel_l2
        );
    }
    if let Some((loss, epoch)) = report.best {
        println!("best       test loss {loss:.4e} at epoch {epoch}");
    }
    if let Some(init) = &report.init {
        let list = |parts: &[String]| match parts {
            [] => "nothing".to_string(),
            parts => parts.join(", "),
        };
        println!(
            "init from  {} ({} weights): copied {}; new {}",
            init.from.display(),
            match init.weights {
                Weights::Best => "best",
                Weights::Last => "last",
            },
            list(&init.copied),
            list(&init.fresh)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: TrainArgs,
    }

    #[test]
    fn defaults_long_forms_and_overrides() {
        let w = Wrap::try_parse_from(["x", "--config", "c.toml"]).unwrap();
        assert_eq!(w.args.out, PathBuf::from("runs/latest"));
        assert!(!w.args.resume && !w.args.overwrite && w.args.set.is_empty());
        assert!(Wrap::try_parse_from(["x", "--resume", "--overwrite"]).is_err());
        let w = Wrap::try_parse_from([
            "x",
            "--config",
            "c.toml",
            "--out",
            "r",
            "--set",
            "train.epochs=3",
            "--set",
            "train.lr=0.1",
            "--resume",
        ])
        .unwrap();
        assert_eq!(w.args.set, vec!["train.epochs=3", "train.lr=0.1"]);
        assert!(w.args.resume);
        assert!(Wrap::try_parse_from(["x", "--init-last"]).is_err());
        let w = Wrap::try_parse_from(["x", "--init-from", "runs/pre", "--init-last"]).unwrap();
        assert_eq!(w.args.init_from, Some(PathBuf::from("runs/pre")));
        assert!(w.args.init_last);
        let quoted = toml_string(Path::new("a b/\"c\".h5"));
        let parsed: toml::Table = toml::from_str(&format!("v = {quoted}")).unwrap();
        assert_eq!(parsed["v"].as_str(), Some("a b/\"c\".h5"));
    }
}
