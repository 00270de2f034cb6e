//! One source of a multi-source run seen as a single-source run: its
//! file, test file, task and derived channels in a [`RunConfig`] of its
//! own, and its model (the shared Fourier blocks with its embeddings).
//! Training, evaluation and prediction use the view, so everything that
//! works on a single-source run works on each source.
use crate::model::{Fno, ModelConfig, ModelError};
use crate::train::config::{ConfigError, RunConfig, SourceConfig};
use candle_nn::VarBuilder;

/// The prefix of the per-source embeddings in a checkpoint:
/// `sources.<name>.lifting.*`, `sources.<name>.projection.*`; the Fourier
/// blocks they share stay `blocks.*`.
pub const SOURCES: &str = "sources";

/// The run `cfg` restricted to `source`: its file, test file and task in
/// place of the run's, and its derived channels and padding once known.
pub fn source_view(cfg: &RunConfig, source: &SourceConfig) -> RunConfig {
    let mut view = cfg.clone();
    view.data.sources = Vec::new();
    view.data.train = source.file.clone();
    view.data.test = source.test.clone();
    if let Some(task) = source.task {
        view.task = task;
    }
    if source.in_channels > 0 {
        view.model.in_channels = source.in_channels;
        view.model.out_channels = source.out_channels;
    }
    if !source.padding.is_empty() {
        view.model.padding = source.padding.clone();
    }
    view
}

/// The model of the source `name`: the Fourier blocks shared by every
/// source, its own lifting and projection (see [`SOURCES`]).
pub fn source_model(model: &ModelConfig, name: &str, vb: VarBuilder) -> Result<Fno, ModelError> {
    Fno::with_embeddings(model, vb.clone(), vb.pp(SOURCES).pp(name))
}

/// The source of `cfg` that `wanted` names: none for a single-source run
/// asked for none; a multi-source run must be asked for one of its
/// sources, a single-source run for none.
pub fn pick_source<'a>(
    cfg: &'a RunConfig,
    wanted: Option<&str>,
) -> Result<Option<&'a SourceConfig>, ConfigError> {
    let names = || {
        cfg.data
            .sources
            .iter()
            .map(SourceConfig::name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let refuse = |reason: String| ConfigError::Invalid {
        field: "data.sources",
        reason,
    };
    match (wanted, cfg.data.sources.is_empty()) {
        (None, true) => Ok(None),
        (Some(name), true) => Err(refuse(format!(
            "no source {name:?}: the run was trained on one file ({}), not on named sources",
            cfg.data.train.display()
        ))),
        (None, false) => Err(refuse(format!(
            "the run was trained on several sources ({}): choose one",
            names()
        ))),
        (Some(name), false) => cfg
            .data
            .sources
            .iter()
            .find(|s| s.name() == name)
            .map(Some)
            .ok_or_else(|| {
                refuse(format!(
                    "no source {name:?}: the run's sources are {}",
                    names()
                ))
            }),
    }
}
