//! `fno eval` of a multi-source run: every source evaluated as a
//! single-source run of its own (its view, model and normalisers), on its
//! test file or its training file's held-out split.
use super::evaluate::{evaluate_with, EvalOptions, EvalReport, EvaluateError};
use crate::dist::Communicator;
use crate::rundir::{create_dir, Weights};
use crate::spectral::ModeClip;
use crate::train::run::{run_sources, Predictor};
use crate::train::TrainError;
use candle_core::Device;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The evaluation of every source of a multi-source run (`eval.json`).
#[derive(Debug, Clone, Serialize)]
pub struct SourcesReport {
    /// Each source's report, by source name.
    pub sources: BTreeMap<String, EvalReport>,
}

/// Evaluates every source of the multi-source run in `run_dir` on its own
/// data (`test` when given, else the held-out split of `file`), as
/// [`evaluate_with`] does for one; each source's plots go to
/// `<opts.plot_dir>/eval-<source>/`, and the predictor's warnings to
/// `warn`.
pub fn evaluate_sources(
    run_dir: &Path,
    weights: Weights,
    device: &Device,
    opts: &EvalOptions,
    comm: &dyn Communicator,
    warn: impl Fn(&ModeClip) + Clone + Send + Sync + 'static,
) -> Result<SourcesReport, EvaluateError> {
    let mut sources = BTreeMap::new();
    for source in run_sources(run_dir)? {
        let name = source.name();
        let predictor = Predictor::load_source(run_dir, weights, device, Some(&name))?
            .with_warnings(warn.clone());
        let plot_dir = match &opts.plot_dir {
            Some(dir) => {
                let dir = dir.join(format!("eval-{name}"));
                create_dir(&dir).map_err(TrainError::from)?;
                Some(dir)
            }
            None => None,
        };
        let opts = EvalOptions {
            plot_dir,
            ..opts.clone()
        };
        let data = source.test.as_ref().unwrap_or(&source.file);
        let report = evaluate_with(&predictor, run_dir, data, &opts, comm)?;
        sources.insert(name, report);
    }
    Ok(SourcesReport { sources })
}
