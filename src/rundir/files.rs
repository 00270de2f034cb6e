//! File names inside a run directory and inside the directories of the
//! commands that report on a run.

/// The fully resolved configuration.
pub const CONFIG: &str = "config.toml";
/// Weights after the last completed epoch.
pub const MODEL: &str = "model.safetensors";
/// Weights of the epoch with the lowest test loss.
pub const BEST: &str = "best.safetensors";
/// AdamW moments and step count.
pub const OPTIMIZER: &str = "optimizer.safetensors";
/// Input and output normalisers.
pub const NORMALIZER: &str = "normalizer.json";
/// The normalisers of one source of a multi-source run.
pub fn source_normalizer(source: &str) -> String {
    format!("normalizer-{source}.json")
}
/// Whether `name` is a file [`source_normalizer`] names.
pub fn is_source_normalizer(name: &str) -> bool {
    name.strip_prefix("normalizer-")
        .and_then(|rest| rest.strip_suffix(".json"))
        .is_some_and(|source| !source.is_empty())
}
/// Epoch, step, seed, best loss and the checkpoint directory: renaming it
/// into place commits a checkpoint.
pub const STATE: &str = "state.json";
/// One JSON line per epoch.
pub const METRICS: &str = "metrics.jsonl";

/// `fno eval`'s report, in the run directory.
pub const EVAL: &str = "eval.json";

/// `fno finetune`'s report.
pub const FINETUNE: &str = "finetune.json";
/// The fine-tuned prediction in PDEBench's layout.
pub const FINETUNE_PREDICTION: &str = "prediction.hdf5";
/// Residual, initial-condition misfit and error against the step.
pub const FINETUNE_CURVE: &str = "residual_curve.png";
/// The fine-tuned prediction against the truth.
pub const FINETUNE_PLOT: &str = "prediction.png";

/// `fno inverse`'s report.
pub const INVERSE: &str = "inverse.json";
/// Every loss term at every iteration, one JSON line each.
pub const HISTORY: &str = "history.jsonl";
/// Recovered and true input.
pub const RECOVERED: &str = "recovered.png";
/// Observed values and the noise-free output.
pub const OBSERVATIONS: &str = "observations.png";
/// Misfit and loss against iteration.
pub const MISFIT: &str = "misfit.png";

/// Each checkpoint's directory is this prefix and the epochs it holds.
pub const CHECKPOINT_PREFIX: &str = "checkpoint-";
/// Held locked by the one process writing a run; holds its process id.
pub const LOCK: &str = ".lock";
