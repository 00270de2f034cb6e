//! The `[[data.sources]]` of a multi-source run: several data files, of
//! different PDE families, that train one model's shared Fourier blocks,
//! each through its own lifting and projection ([`super::multi`]).
use super::config_error::{invalid, ConfigError};
use crate::data::Task;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One data source of a multi-source run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Its name in the checkpoint (`sources.<name>.lifting...`), the
    /// normaliser file and the metrics (`val_rel_l2/<name>`): letters,
    /// digits, `_` and `-`. Default: the file's stem, other characters
    /// replaced by `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Training file (any layout `data.train` takes).
    pub file: PathBuf,
    /// Test file; when absent the test set is the held-out split of
    /// `file` (`data.test_fraction`, `data.test_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<PathBuf>,
    /// Relative share of the training steps of an epoch that draw their
    /// batch from this source. Default: 1 (every source equally often).
    #[serde(default = "unit_weight")]
    pub weight: f64,
    /// The source's task (input and output frames); absent: the run's
    /// `[task]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// Derived from the data and the task at the start of the run (any
    /// value given is replaced): the source's input channels.
    #[serde(default)]
    pub in_channels: usize,
    /// Derived like `in_channels`: the source's output channels.
    #[serde(default)]
    pub out_channels: usize,
    /// Derived like `in_channels`: the model's padding on this source's
    /// data (per axis on a Well data set; else `model.padding`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub padding: Vec<f64>,
}

fn unit_weight() -> f64 {
    1.0
}

impl SourceConfig {
    /// The source's name: the one given, else the file's stem.
    pub fn name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => stem_name(&self.file),
        }
    }
}

/// A file's stem with every character outside `[A-Za-z0-9_-]` made `_`.
fn stem_name(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect()
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Rejects sources without a file, with unusable or repeated names, or
/// with weights that are not positive and finite.
pub(super) fn validate_sources(sources: &[SourceConfig]) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, source) in sources.iter().enumerate() {
        if source.file.as_os_str().is_empty() {
            return Err(invalid(
                "data.sources.file",
                format!("source {} names no file", i + 1),
            ));
        }
        let name = source.name();
        if name.is_empty() || !name.chars().all(allowed) {
            return Err(invalid(
                "data.sources.name",
                format!(
                    "{name:?} (source {}): use letters, digits, `_` and `-` only",
                    i + 1
                ),
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(invalid(
                "data.sources.name",
                format!("{name:?} names two sources; give each a name of its own"),
            ));
        }
        let w = source.weight;
        if !(w.is_finite() && w > 0.0) {
            return Err(invalid(
                "data.sources.weight",
                format!("{w} (source {name:?}): must be positive and finite"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(file: &str) -> SourceConfig {
        SourceConfig {
            name: None,
            file: file.into(),
            test: None,
            weight: 1.0,
            task: None,
            in_channels: 0,
            out_channels: 0,
            padding: Vec::new(),
        }
    }

    #[test]
    fn default_names_are_safe_stems() {
        assert_eq!(
            source("/d/1D_Advection_Sols_beta0.4.hdf5").name(),
            "1D_Advection_Sols_beta0_4"
        );
    }

    #[test]
    fn repeated_names_and_bad_weights_are_refused() {
        let twice = [source("a/x.h5"), source("b/x.h5")];
        let err = validate_sources(&twice).unwrap_err().to_string();
        assert!(err.contains("data.sources.name"), "{err}");
        let mut heavy = source("a.h5");
        heavy.weight = 0.0;
        let err = validate_sources(&[heavy]).unwrap_err().to_string();
        assert!(err.contains("data.sources.weight"), "{err}");
        let mut dotted = source("a.h5");
        dotted.name = Some("a.b".into());
        let err = validate_sources(&[dotted]).unwrap_err().to_string();
        assert!(err.contains("data.sources.name"), "{err}");
        assert!(validate_sources(&[source("a.h5"), source("b.h5")]).is_ok());
    }
}
