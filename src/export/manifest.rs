//! The JSON files beside the state dict: `FNO(...)`'s keyword arguments,
//! the normalisers, and what was exported from where.
use crate::model::ModelConfig;
use crate::rundir::Normalizers;
use serde_json::{json, Value};

/// The neuraloperator release the export targets.
pub const NEURALOPERATOR_VERSION: &str = "2.0.0";

/// The keyword arguments of neuraloperator 2.0.0's
/// `neuralop.models.FNO(**kwargs)` that rebuild `model`'s architecture:
/// `n_modes = 2 * modes` on every axis, the hidden width, layer count and
/// MLP ratios, the grid embedding (or none), the channel MLP with its
/// soft-gating skip when the blocks have one (`model.channel_mlp_expansion`;
/// 0.5, neuraloperator's default, is written but unused when they have
/// none), a linear skip, no padding, norm or factorisation. The non-linearity is left at
/// its default, GELU (other activations are refused before this).
pub fn fno_kwargs(model: &ModelConfig) -> Value {
    let n_modes: Vec<usize> = model.modes.iter().map(|m| 2 * m).collect();
    json!({
        "n_modes": n_modes,
        "in_channels": model.in_channels,
        "out_channels": model.out_channels,
        "hidden_channels": model.width,
        "n_layers": model.layers,
        "lifting_channel_ratio": model.lifting_ratio,
        "projection_channel_ratio": model.projection_ratio,
        "positional_embedding": if model.grid_channels { json!("grid") } else { Value::Null },
        "use_channel_mlp": model.channel_mlp_hidden() > 0,
        "channel_mlp_expansion": if model.channel_mlp_hidden() > 0 {
            json!(model.channel_mlp_expansion)
        } else {
            json!(0.5)
        },
        "channel_mlp_skip": "soft-gating",
        "fno_skip": "linear",
        "domain_padding": Value::Null,
        "norm": Value::Null,
        "complex_data": false,
        "preactivation": false,
        "factorization": Value::Null,
        "separable": false,
        "resolution_scaling_factor": Value::Null,
        "fno_block_precision": "full",
    })
}

/// The run's normalisers with how to apply them: neuraloperator's model
/// maps normalised inputs to normalised outputs, as fno's does.
pub fn normalizers(n: &Normalizers) -> Value {
    json!({
        "input": {"mean": n.input.mean, "std": n.input.std},
        "output": {"mean": n.output.mean, "std": n.output.std},
        "apply": "per channel c on axis 1: x_model = (x - input.mean[c]) / input.std[c]; \
                  y = y_model * output.std[c] + output.mean[c] (an autoregressive rollout \
                  stacked as channels repeats output's entries once per frame)",
    })
}

/// Where the export came from and what reproduces it.
pub struct Provenance<'a> {
    /// The run directory.
    pub run: &'a std::path::Path,
    /// The source exported, for a multi-source run.
    pub source: Option<&'a str>,
    /// `"best"` or `"last"`.
    pub weights: &'a str,
    /// The run's task, as in its config.
    pub task: Value,
    /// The grid the coordinate channels agree on (none without them).
    pub grid: Option<&'a [usize]>,
    /// Number of Fourier blocks (the double-activation note needs two).
    pub layers: usize,
    /// Whether the blocks have neuraloperator's channel MLP, with which
    /// its blocks activate once, as fno's do.
    pub channel_mlp: bool,
}

/// `export.json`: the pinned versions, the source, the files, the grid of
/// exact agreement and the caveats of neuraloperator 2.0.0.
pub fn export_record(p: &Provenance) -> Value {
    let mut notes = vec![json!(
        "n_modes = 2 * fno's modes: non-last axes keep frequencies -m..m-1 \
         (fftshifted, index j = frequency j - m), the last axis 0..m, its extra \
         mode m has a zero weight"
    )];
    if p.grid.is_some() {
        notes.push(json!(
            "fno's coordinates are cell-centred ((i + 0.5) / n), neuraloperator's \
             i / n; the half-cell offset is folded into lifting.fcs.0.bias for `grid`, \
             so outputs agree exactly there and differ slightly on other grids"
        ));
    }
    if p.layers > 1 && !p.channel_mlp {
        notes.push(json!(
            "neuraloperator 2.0.0's FNOBlocks applies the non-linearity twice after \
             every block but the last when use_channel_mlp=False (its issue #728; pull \
             request #729 restores one): the weights load, but to reproduce fno's outputs \
             apply the non-linearity once (see docs/neuraloperator-export.md)"
        ));
    }
    json!({
        "format": "neuraloperator",
        "neuraloperator_version": NEURALOPERATOR_VERSION,
        "fno_version": env!("CARGO_PKG_VERSION"),
        "run": p.run.display().to_string(),
        "source": p.source,
        "weights": p.weights,
        "task": p.task,
        "grid": p.grid,
        "files": {
            "state_dict": super::files::STATE_DICT,
            "kwargs": super::files::KWARGS,
            "normalizers": super::files::NORMALIZERS,
        },
        "notes": notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kwargs_double_the_modes_and_switch_off_what_fno_lacks() {
        let model = ModelConfig {
            dims: 2,
            modes: vec![12, 6],
            width: 32,
            layers: 3,
            in_channels: 2,
            grid_channels: false,
            ..ModelConfig::default()
        };
        let kw = fno_kwargs(&model);
        assert_eq!(kw["n_modes"], json!([24, 12]));
        assert_eq!(kw["hidden_channels"], 32);
        assert_eq!(kw["n_layers"], 3);
        assert_eq!(kw["in_channels"], 2);
        assert_eq!(kw["use_channel_mlp"], false);
        let gated = fno_kwargs(&ModelConfig {
            channel_mlp_expansion: 0.25,
            ..model.clone()
        });
        assert_eq!(
            (&gated["use_channel_mlp"], &gated["channel_mlp_expansion"]),
            (&json!(true), &json!(0.25))
        );
        assert_eq!(gated["channel_mlp_skip"], "soft-gating");
        assert_eq!(kw["fno_skip"], "linear");
        assert!(kw["positional_embedding"].is_null());
        let with_grid = fno_kwargs(&ModelConfig::default());
        assert_eq!(with_grid["positional_embedding"], "grid");
        assert_eq!(with_grid["n_modes"], json!([32]));
    }
}
