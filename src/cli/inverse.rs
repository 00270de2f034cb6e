//! `fno inverse`: recover the input of a sample (a coefficient field or an
//! initial condition) from observations of its output, by gradient descent
//! through a trained run's frozen operator, or with a learned inverse
//! operator (a run trained with `task.kind = "inverse"`).
use super::device::DeviceArg;
use anyhow::Context;
use clap::{Args, ValueEnum};
use fno::inverse::recover::RecoverConfig;
use fno::inverse::session::{run as run_inverse, InverseOptions, InverseReport, Operators};
use fno::inverse::{InverseError, Observe, PdeOutput, Regularizer, Setting};
use fno::rundir::{RunDir, Weights};
use std::path::PathBuf;

/// How the input is recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Gradient descent through the frozen forward operator of --run.
    Gradient,
    /// The learned inverse operator of --run (task "inverse"), optionally
    /// refined through the forward operator of --forward-run.
    Learned,
}

/// Arguments of `fno inverse`.
#[derive(Debug, Args)]
pub struct InverseArgs {
    /// Run directory: the forward operator (task "one_shot") for the
    /// gradient method, the learned inverse (task "inverse") for the
    /// learned one.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// How the input is recovered.
    #[arg(long, value_enum, default_value_t = Method::Gradient)]
    pub method: Method,
    /// Learned method: a forward run to refine the learned estimate through.
    #[arg(long, value_name = "DIR")]
    pub forward_run: Option<PathBuf>,
    /// Learned method: Adam steps of the refinement through --forward-run.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub finetune_steps: usize,
    /// File holding the sample whose output is observed.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Index of the sample in the file.
    #[arg(long, value_name = "I")]
    pub sample: usize,
    /// Observed points: `full`, `sparse:FRACTION` (a seeded random
    /// fraction in (0, 1]) or `points:FILE` (one point per line, its grid
    /// indices on the run's grid separated by commas or spaces; `#`
    /// starts a comment).
    #[arg(long, value_name = "HOW", default_value = "full")]
    pub observe: Observe,
    /// Gaussian noise added to the observations, as a fraction of the
    /// output field's standard deviation.
    #[arg(long, value_name = "SIGMA", default_value_t = 0.0, value_parser = super::numeric::non_negative)]
    pub noise: f64,
    /// Gradient method: Adam steps.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub steps: usize,
    /// L-BFGS iterations after Adam.
    #[arg(long, value_name = "M", default_value_t = 0)]
    pub lbfgs_steps: usize,
    /// Adam's initial learning rate (cosine decay to 1% of it).
    #[arg(long, value_name = "X", default_value_t = 0.05, value_parser = super::numeric::positive)]
    pub lr: f64,
    /// Final sharpness of a two-valued coefficient's sigmoid: from the
    /// halfway point of the Adam steps the sigmoid's argument is multiplied
    /// by a factor rising to this, so the recovered field ends nearly
    /// binary instead of being rounded afterwards; 1 turns it off.
    #[arg(long, value_name = "K", default_value_t = 16.0)]
    pub sharpen: f64,
    /// Regulariser: `tv` (total variation), `h1` or `none`. Default: `tv`
    /// for a bounded coefficient, `h1` for an initial condition.
    #[arg(long, value_name = "KIND")]
    pub reg: Option<Regularizer>,
    /// Weight of the regulariser [default: 1e-3 for tv, 0.1 for h1].
    #[arg(long, value_name = "W", value_parser = super::numeric::non_negative)]
    pub reg_weight: Option<f64>,
    /// Weight of the physics residual of the (recovered input, predicted
    /// output) pair, mean(R²) over the forcing's mean square; Darcy only.
    #[arg(long, value_name = "W", default_value_t = 0.0, value_parser = super::numeric::non_negative)]
    pub pde_weight: f64,
    /// Output field the physics residual reads: `predicted` (the forward
    /// operator's output) or `observed` (the observations where given, the
    /// prediction elsewhere; exact for full, noise-free observations,
    /// since noise is amplified by the equation's derivatives).
    #[arg(long, value_name = "WHICH", default_value = "predicted")]
    pub pde_output: PdeOutput,
    /// Seed of the sparse points and the noise.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Output directory for inverse.json, history.jsonl and the plots
    /// [default: RUN/inverse-I].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the results in a non-empty output directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Print inverse.json to stdout instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Where the model runs.
    #[command(flatten)]
    pub device: DeviceArg,
}

/// Runs `fno inverse`.
pub fn run(args: &InverseArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.sharpen.is_finite() && args.sharpen >= 1.0,
        "--sharpen {}: must be a finite number ≥ 1 (1 turns sharpening off)",
        args.sharpen
    );
    anyhow::ensure!(
        args.pde_output == PdeOutput::Predicted || args.pde_weight > 0.0,
        "--pde-output observed has no effect without --pde-weight W > 0"
    );
    let learned = args.method == Method::Learned;
    anyhow::ensure!(
        learned || args.steps + args.lbfgs_steps > 0,
        "--steps 0 with --lbfgs-steps 0: the gradient method needs at least one step"
    );
    anyhow::ensure!(
        learned || (args.forward_run.is_none() && args.finetune_steps == 0),
        "--forward-run and --finetune-steps belong to --method learned"
    );
    anyhow::ensure!(
        args.forward_run.is_some() || (args.finetune_steps == 0 && args.lbfgs_steps == 0) || !learned,
        "--finetune-steps and --lbfgs-steps refine through a forward operator: give --forward-run DIR"
    );
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| RunDir::new(&args.run).inverse_dir(args.sample));
    super::refuse_non_empty(&out, args.overwrite)?;
    let device = args.device.device()?;
    let load = |dir: &PathBuf| super::load_run(dir, Weights::Best, &device);
    let predictor = load(&args.run)?;
    let forward = args.forward_run.as_ref().map(load).transpose()?;
    let ops = if learned {
        Operators {
            forward: forward.as_ref().zip(args.forward_run.as_deref()),
            learned: Some((&predictor, args.run.as_path())),
        }
    } else {
        Operators {
            forward: Some((&predictor, args.run.as_path())),
            learned: None,
        }
    };
    let opts = InverseOptions {
        data: args.data.clone(),
        sample: args.sample,
        observe: args.observe.clone(),
        noise: args.noise,
        seed: args.seed,
        recover: RecoverConfig {
            steps: if learned {
                args.finetune_steps
            } else {
                args.steps
            },
            lbfgs_steps: args.lbfgs_steps,
            lr: args.lr,
            sharpen: args.sharpen,
        },
        regularizer: args.reg,
        reg_weight: args.reg_weight,
        pde_weight: args.pde_weight,
        pde_output: args.pde_output,
        out,
    };
    let report = run_inverse(ops, &opts)
        .map_err(|e| name_flag(e, args))
        .with_context(|| {
            format!(
                "recovering the input of sample {} of {} through {}",
                args.sample,
                args.data.display(),
                args.run.display()
            )
        })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report);
    }
    Ok(())
}

/// Names the flag behind an error about one of the options.
fn name_flag(err: InverseError, args: &InverseArgs) -> anyhow::Error {
    let flag = match &err {
        InverseError::SampleOutOfRange { sample, .. } => format!("--sample {sample}"),
        InverseError::Diverged { .. } => format!("--lr {}", args.lr),
        InverseError::Setting { setting, .. } => match setting {
            Setting::Noise => format!("--noise {}", args.noise),
            Setting::PdeWeight => format!("--pde-weight {}", args.pde_weight),
            Setting::Operators => "--run".to_string(),
            _ => return err.into(),
        },
        _ => return err.into(),
    };
    super::on_flag(err, flag)
}

/// Prints the figures that matter, one per line.
fn print_summary(r: &InverseReport) {
    println!(
        "sample {} of {}: {} of {} points observed ({}), noise {}",
        r.sample,
        r.data.display(),
        r.observed_points,
        r.total_points,
        r.observe,
        r.noise
    );
    println!(
        "input relative L2 {:.4}{}",
        r.relative_l2,
        if r.binarized {
            format!(" (binarised; {:.4} before)", r.relative_l2_continuous)
        } else {
            String::new()
        }
    );
    if let (Some(m), Some(m0), Some(mt)) = (r.misfit, r.initial_misfit, r.misfit_of_truth) {
        println!(
            "surrogate misfit {m:.3e} (from {m0:.3e}; true input: {mt:.3e}), recovery {:.1} s",
            r.recovery_seconds
        );
    }
    if let Some(pde) = r.terms.as_ref().and_then(|t| t.get("pde")) {
        println!(
            "physics residual mean(R²)/mean(f²) {pde:.3e} (weight {}, on the {} output)",
            r.pde_weight, r.pde_output
        );
    }
    if let Some(s) = &r.solver {
        println!(
            "solver misfit {:.3e} (true input: {:.3e}); solver {:.2e} s vs surrogate {:.2e} s per evaluation: {:.1}x",
            s.misfit, s.misfit_of_truth, s.seconds_per_solve, r.surrogate_seconds, s.speedup
        );
    }
    for f in &r.files {
        println!("wrote {}", f.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: InverseArgs,
    }

    #[test]
    fn defaults_and_observation_forms() {
        let w =
            Wrap::try_parse_from(["x", "--run", "r", "--data", "d.h5", "--sample", "3"]).unwrap();
        assert_eq!(w.args.observe, Observe::Full);
        assert_eq!(
            (w.args.sample, w.args.steps, w.args.lbfgs_steps),
            (3, 500, 0)
        );
        assert!(w.args.reg.is_none() && w.args.out.is_none());
        assert_eq!(w.args.method, Method::Gradient);
        let w = Wrap::try_parse_from([
            "x",
            "--run",
            "r",
            "--data",
            "d",
            "--sample",
            "0",
            "--method",
            "learned",
            "--forward-run",
            "f",
            "--finetune-steps",
            "20",
        ])
        .unwrap();
        assert_eq!(w.args.method, Method::Learned);
        assert_eq!(w.args.finetune_steps, 20);
        let w = Wrap::try_parse_from([
            "x",
            "--run",
            "r",
            "--data",
            "d",
            "--sample",
            "0",
            "--observe",
            "sparse:0.1",
            "--reg",
            "h1",
        ])
        .unwrap();
        assert_eq!(w.args.observe, Observe::Sparse(0.1));
        assert_eq!(w.args.reg, Some(Regularizer::H1));
        for bad in ["sparse:2", "partial"] {
            assert!(Wrap::try_parse_from([
                "x",
                "--run",
                "r",
                "--data",
                "d",
                "--sample",
                "0",
                "--observe",
                bad
            ])
            .is_err());
        }
    }
}
