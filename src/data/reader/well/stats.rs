//! A Well data set's `stats.yaml`: per field the `mean` and `std` (and
//! `mean_delta`, `std_delta` of the frame-to-frame differences) over its
//! training files, one number per scalar field and `D` (`D × D`) for a
//! vector (matrix) field, as The Well's `compute_statistics.py` writes it.
//! Training normalises with them instead of fitting its own (The Well's
//! `ZScoreNormalization`, standard deviations floored at 1e-4).
use super::field::WellField;
use super::yaml::{self, Node};
use crate::data::error::{DataError, Result};
use crate::data::Normalizer;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The smallest standard deviation used, as The Well's `min_denom`.
const MIN_STD: f64 = 1e-4;

/// Statistics per field name, each as a flat row-major list.
pub type FieldTable = BTreeMap<String, Vec<f64>>;

/// The contents of a `stats.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WellStats {
    /// The file.
    pub path: PathBuf,
    /// `mean`.
    pub mean: FieldTable,
    /// `std`.
    pub std: FieldTable,
    /// `mean_delta` (empty if absent).
    pub mean_delta: FieldTable,
    /// `std_delta` (empty if absent).
    pub std_delta: FieldTable,
}

impl WellStats {
    /// Reads `path`; `mean` and `std` are required, the `_delta` tables
    /// optional, other top-level keys (`rms`, ...) ignored.
    pub fn load(path: &Path) -> Result<WellStats> {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let error = |at: String, reason: String| DataError::WellFormat {
            path: path.to_path_buf(),
            dataset: at,
            reason,
        };
        let doc = yaml::parse(&text).map_err(|e| error(format!("line {}", e.line), e.reason))?;
        let Node::Map(top) = doc else {
            return Err(error("the top level".into(), "should be a mapping".into()));
        };
        let table = |key: &str, required: bool| -> Result<FieldTable> {
            let Some((_, node)) = top.iter().find(|(k, _)| k == key) else {
                return if required {
                    Err(error(format!("`{key}`"), "is missing".into()))
                } else {
                    Ok(FieldTable::new())
                };
            };
            let Node::Map(fields) = node else {
                return Err(error(
                    format!("`{key}`"),
                    "should map field names to numbers".into(),
                ));
            };
            fields
                .iter()
                .map(|(name, value)| {
                    value.numbers().map(|v| (name.clone(), v)).ok_or_else(|| {
                        error(
                            format!("`{key}.{name}`"),
                            "should be a number or a list of numbers".into(),
                        )
                    })
                })
                .collect()
        };
        Ok(WellStats {
            path: path.to_path_buf(),
            mean: table("mean", true)?,
            std: table("std", true)?,
            mean_delta: table("mean_delta", false)?,
            std_delta: table("std_delta", false)?,
        })
    }

    /// The normaliser of `fields`' channels, in order: each field's `mean`
    /// and `std` entries, one value per component.
    pub fn normalizer<'a>(
        &self,
        fields: impl IntoIterator<Item = &'a WellField>,
    ) -> Result<Normalizer> {
        let mut mean = Vec::new();
        let mut std = Vec::new();
        for field in fields {
            mean.extend(self.entry(&self.mean, "mean", field)?);
            std.extend(
                self.entry(&self.std, "std", field)?
                    .into_iter()
                    .map(|s| s.max(MIN_STD)),
            );
        }
        Ok(Normalizer { mean, std })
    }

    /// The normaliser of the frame-to-frame changes of `fields`' channels
    /// from `mean_delta` and `std_delta`; `None` when the file has neither
    /// table (a data set whose statistics predate them).
    pub fn delta_normalizer<'a>(
        &self,
        fields: impl IntoIterator<Item = &'a WellField>,
    ) -> Result<Option<Normalizer>> {
        if self.mean_delta.is_empty() && self.std_delta.is_empty() {
            return Ok(None);
        }
        let mut mean = Vec::new();
        let mut std = Vec::new();
        for field in fields {
            mean.extend(self.entry(&self.mean_delta, "mean_delta", field)?);
            std.extend(
                self.entry(&self.std_delta, "std_delta", field)?
                    .into_iter()
                    .map(|s| s.max(MIN_STD)),
            );
        }
        Ok(Some(Normalizer { mean, std }))
    }

    fn entry(&self, table: &FieldTable, key: &str, field: &WellField) -> Result<Vec<f64>> {
        let error = |reason: String| DataError::WellFormat {
            path: self.path.clone(),
            dataset: format!("`{key}.{}`", field.name),
            reason,
        };
        let values = table.get(&field.name).ok_or_else(|| {
            error(format!(
                "is missing; the data set has field `{}`",
                field.name
            ))
        })?;
        if values.len() != field.components() {
            return Err(error(format!(
                "has {} values; field `{}` has {} components ({})",
                values.len(),
                field.name,
                field.components(),
                field.channels.join(", ")
            )));
        }
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(error(format!("holds {bad}; statistics must be finite")));
        }
        Ok(values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, channels: &[&str]) -> WellField {
        WellField {
            name: name.into(),
            order: usize::from(channels.len() > 1),
            sample_varying: true,
            time_varying: true,
            dim_varying: vec![true, true],
            channels: channels.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn loads_tables_floors_std_and_names_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.yaml");
        std::fs::write(
            &path,
            "mean:\n  p: 1.0\n  v: [2.0, 3.0]\nrms:\n  p: 9.0\nstd:\n  p: 0.0\n  v: [4.0, 5.0]\n",
        )
        .unwrap();
        let stats = WellStats::load(&path).unwrap();
        assert!(stats.mean_delta.is_empty());
        let p = field("p", &["p"]);
        let v = field("v", &["v_x", "v_y"]);
        let norm = stats.normalizer([&p, &v]).unwrap();
        assert_eq!(norm.mean, [1.0, 2.0, 3.0]);
        assert_eq!(norm.std, [MIN_STD, 4.0, 5.0]);
        let w = field("w", &["w"]);
        let err = stats.normalizer([&w]).unwrap_err().to_string();
        assert!(
            err.contains("`mean.w`") && err.contains("is missing"),
            "{err}"
        );
        let wrong = field("v", &["v_x", "v_y", "v_z"]);
        let err = stats.normalizer([&wrong]).unwrap_err().to_string();
        assert!(
            err.contains("has 2 values") && err.contains("3 components"),
            "{err}"
        );

        std::fs::write(&path, "mean:\n  p: 1.0\n").unwrap();
        let err = WellStats::load(&path).unwrap_err().to_string();
        assert!(err.contains("stats.yaml") && err.contains("`std`"), "{err}");
        std::fs::write(&path, "mean:\n  p: one\n").unwrap();
        let err = WellStats::load(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("`one`"), "{err}");
    }
}
