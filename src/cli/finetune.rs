//! `fno finetune`: test-time physics fine-tuning of one instance, with the
//! error to the truth before and after, the residual curve, the fine-tuned
//! prediction as HDF5 and plots.
use super::device::DeviceArg;
use anyhow::Context;
use clap::Args;
use fno::data::{DataError, PdebenchFile};
use fno::eval::{plot_field_2d, plot_iterations, plot_prediction_1d};
use fno::finetune::{finetune, write_prediction, FinetuneOptions, FinetuneOutput};
use fno::rundir::{create_dir, files, write_json, RunDir, Weights};
use fno::train::TrainError;
use ndarray::{ArrayD, Axis, Ix2};
use std::path::{Path, PathBuf};

/// Arguments of `fno finetune`.
#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// Run directory written by `fno train` (left untouched: a copy of its
    /// model is fine-tuned).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// File holding the instance.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Index of the instance in the file.
    #[arg(long, value_name = "I")]
    pub sample: usize,
    /// Optimiser steps.
    #[arg(long, default_value_t = fno::finetune::DEFAULT_STEPS, value_parser = super::numeric::at_least_one)]
    pub steps: usize,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 1e-3, value_parser = super::numeric::positive)]
    pub lr: f64,
    /// Weight α of the anchor α·mean((G_θ(a) − G_θ0(a))²) to the pretrained
    /// prediction (normalised units); 0 disables it.
    #[arg(long, default_value_t = fno::finetune::DEFAULT_ANCHOR, value_parser = super::numeric::non_negative)]
    pub anchor: f64,
    /// Weight of the mean square PDE residual.
    #[arg(long, default_value_t = 1.0, value_parser = super::numeric::non_negative)]
    pub w_pde: f64,
    /// Weight of the mean square initial-condition misfit.
    #[arg(long, default_value_t = 10.0, value_parser = super::numeric::non_negative)]
    pub w_ic: f64,
    /// Evaluate the residual on a grid finer by these factors, one per
    /// model axis (e.g. `2,2`) [default: the run's physics.pde_resolution,
    /// or, where that is the data grid, 4 times finer in time].
    #[arg(long, value_delimiter = ',', value_name = "F,..", value_parser = super::numeric::at_least_one)]
    pub pde_resolution: Option<Vec<usize>>,
    /// Steps over which the learning rate rises linearly to --lr; 0 starts
    /// at --lr.
    #[arg(long, default_value_t = fno::finetune::DEFAULT_WARMUP)]
    pub warmup: usize,
    /// Output directory [default: RUN/finetune-I].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the results in a non-empty output directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Print finetune.json to stdout instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Where the model runs.
    #[command(flatten)]
    pub device: DeviceArg,
}

/// Runs `fno finetune`.
pub fn run(args: &FinetuneArgs) -> anyhow::Result<()> {
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| RunDir::new(&args.run).finetune_dir(args.sample));
    super::refuse_non_empty(&dir, args.overwrite)?;
    let predictor = super::load_run(&args.run, Weights::Best, &args.device.device()?)?;
    let file = PdebenchFile::open(&args.data)
        .with_context(|| format!("opening {}", args.data.display()))?;
    if let Some(spec) = &predictor.config.physics.pde {
        for warning in spec.disagreements(file.info()) {
            eprintln!("warning: {warning}");
        }
    }
    let opts = FinetuneOptions {
        steps: args.steps,
        lr: args.lr,
        anchor: args.anchor,
        w_pde: args.w_pde,
        w_ic: args.w_ic,
        pde_resolution: args.pde_resolution.clone(),
        warmup: args.warmup,
    };
    let out = finetune(&predictor, &file, args.sample, &opts)
        .map_err(|e| match e {
            TrainError::Data(DataError::SampleOutOfRange { index, .. }) => {
                super::on_flag(e, format!("--sample {index}"))
            }
            e => e.into(),
        })
        .with_context(|| {
            format!(
                "fine-tuning {} on sample {} of {}",
                args.run.display(),
                args.sample,
                args.data.display()
            )
        })?;
    create_dir(&dir)?;
    let h5 = dir.join(files::FINETUNE_PREDICTION);
    write_prediction(
        &h5,
        &out.after,
        &predictor.config.task,
        &file,
        &predictor.config.data.resolution(),
    )?;
    let plots = plot(&dir, &out)?;
    let path = dir.join(files::FINETUNE);
    write_json(&path, &out.report)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out.report)?);
    } else {
        let r = &out.report;
        println!(
            "sample {} of {} ({}), {} steps",
            r.sample,
            r.data.display(),
            r.pde,
            r.steps
        );
        println!(
            "relative L2 to the truth: {:.4e} -> {:.4e}",
            r.rel_l2_before, r.rel_l2_after
        );
        println!(
            "mean square residual:     {:.4e} -> {:.4e}",
            r.residual_before, r.residual_after
        );
        println!("wrote {} and {}", h5.display(), path.display());
        for p in plots {
            println!("plot {}", p.display());
        }
    }
    Ok(())
}

/// The last frame (space-time) or the field (one-shot) of channel 0.
fn final_field(a: &ArrayD<f32>, space_time: bool) -> ArrayD<f64> {
    let c0 = a.index_axis(Axis(0), 0);
    let field = if space_time {
        let t = c0.ndim() - 1;
        c0.index_axis(Axis(t), c0.shape()[t] - 1).to_owned()
    } else {
        c0.to_owned()
    };
    field.mapv(f64::from)
}

fn flat(a: &ArrayD<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}

/// The residual and error curves, and the final frame against the truth.
fn plot(dir: &Path, out: &FinetuneOutput) -> anyhow::Result<Vec<PathBuf>> {
    let curve = |f: fn(&fno::finetune::FinetuneStep) -> f64| -> Vec<(f64, f64)> {
        out.report
            .curve
            .iter()
            .map(|s| (s.step as f64, f(s)))
            .collect()
    };
    let curves = dir.join(files::FINETUNE_CURVE);
    plot_iterations(
        &curves,
        "Test-time fine-tuning",
        &[
            ("mean square residual", curve(|s| s.pde)),
            ("initial-condition misfit", curve(|s| s.ic)),
            ("relative L2 to the truth", curve(|s| s.rel_l2)),
        ],
    )?;
    let space_time = out.truth.ndim() >= 3 && out.report.pde != "darcy";
    let after = final_field(&out.after, space_time);
    let truth = final_field(&out.truth, space_time);
    let field = dir.join(files::FINETUNE_PLOT);
    match after.ndim() {
        1 => {
            let n = after.len();
            let x: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
            plot_prediction_1d(&field, &x, &flat(&after), &flat(&truth))
        }
        _ => {
            let (a, t) = (
                after.view().into_dimensionality::<Ix2>(),
                truth.view().into_dimensionality::<Ix2>(),
            );
            match (a, t) {
                (Ok(a), Ok(t)) => plot_field_2d(&field, a, t),
                _ => return Ok(vec![curves]),
            }
        }
    }?;
    Ok(vec![curves, field])
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: FinetuneArgs,
    }

    #[test]
    fn defaults_and_required_flags() {
        let w =
            Wrap::try_parse_from(["x", "--run", "r", "--data", "d.h5", "--sample", "3"]).unwrap();
        assert_eq!(w.args.sample, 3);
        assert_eq!(w.args.steps, 500);
        let lib = FinetuneOptions::default();
        assert_eq!(
            (
                w.args.steps,
                w.args.lr,
                w.args.anchor,
                w.args.w_pde,
                w.args.w_ic,
                w.args.warmup
            ),
            (lib.steps, lib.lr, lib.anchor, lib.w_pde, lib.w_ic, lib.warmup)
        );
        assert!(Wrap::try_parse_from(["x", "--run", "r", "--data", "d.h5"]).is_err());
    }
}
