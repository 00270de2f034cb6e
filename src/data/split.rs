//! Which samples of a file to read: a range, PDEBench's `reduced_batch`
//! stride, and the train/test split.
//!
//! PDEBench's FNO loader holds out the *first* 10% of a single-array file
//! but the *last* 10% of a per-sample-group file. We keep both defaults, so
//! numbers compare with theirs, and make the position explicit.
use super::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Which part of the split to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The samples not held out.
    Train,
    /// The held-out samples.
    Test,
    /// Every selected sample (no split).
    #[default]
    All,
}

impl Split {
    /// The part's name as configs write it.
    fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::All => "all",
        }
    }
}

/// Where the held-out samples sit in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestAt {
    /// The first samples (PDEBench's choice for single-array files).
    Start,
    /// The last samples (PDEBench's choice for per-sample-group files).
    End,
}

/// A selection of sample indices within one file.
///
/// Applied in this order: restrict to `range`, keep every
/// `reduced_batch`-th sample, then split (as PDEBench, which splits after
/// striding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleSelection {
    /// File sample indices to consider; `None` means all. Default: `None`.
    pub range: Option<Range<usize>>,
    /// Keep every n-th sample (PDEBench's `reduced_batch`). Default: 1.
    pub reduced_batch: usize,
    /// Which part of the split to read. Default: `all`.
    pub split: Split,
    /// Fraction of samples held out for testing (PDEBench: 0.1). Default: 0.1.
    pub test_fraction: f64,
    /// Where the held-out samples sit; `None` follows PDEBench's default for
    /// the layout. Default: `None`.
    pub test_at: Option<TestAt>,
}

impl Default for SampleSelection {
    fn default() -> Self {
        Self {
            range: None,
            reduced_batch: 1,
            split: Split::All,
            test_fraction: 0.1,
            test_at: None,
        }
    }
}

impl SampleSelection {
    /// The selected file indices, in file order, for a file of `count`
    /// samples whose layout holds out at `layout_default` unless overridden.
    pub fn indices(&self, count: usize, layout_default: TestAt) -> Result<Vec<usize>> {
        if self.reduced_batch == 0 {
            return Err(DataError::InvalidOption {
                option: "reduced_batch",
                reason: "it must be at least 1 (got 0)".into(),
            });
        }
        if !(0.0..1.0).contains(&self.test_fraction) {
            return Err(DataError::InvalidOption {
                option: "test_fraction",
                reason: format!("{} is outside [0, 1)", self.test_fraction),
            });
        }
        let range = self.range.clone().unwrap_or(0..count);
        if range.start >= range.end || range.end > count {
            return Err(DataError::InvalidOption {
                option: "range",
                reason: if range.start >= range.end {
                    format!("{}..{} holds no sample", range.start, range.end)
                } else {
                    format!(
                        "{}..{} goes beyond the file's {count} samples",
                        range.start, range.end
                    )
                },
            });
        }
        let strided: Vec<usize> = range.step_by(self.reduced_batch).collect();
        let n = strided.len();
        // PDEBench truncates toward zero: int(n * ratio).
        let n_test = (n as f64 * self.test_fraction).floor() as usize;
        let at = self.test_at.unwrap_or(layout_default);
        let (test, train) = match at {
            TestAt::Start => (0..n_test, n_test..n),
            TestAt::End => (n - n_test..n, 0..n - n_test),
        };
        let picked = match self.split {
            Split::All => 0..n,
            Split::Train => train,
            Split::Test => test,
        };
        if picked.is_empty() {
            return Err(DataError::InvalidOption {
                option: "split",
                reason: format!(
                    "the {} part of {n} samples is empty at test_fraction {}",
                    self.split.name(),
                    self.test_fraction
                ),
            });
        }
        Ok(strided[picked].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(split: Split) -> SampleSelection {
        SampleSelection {
            split,
            ..SampleSelection::default()
        }
    }

    #[test]
    fn pdebench_single_array_split_holds_out_the_first_tenth() {
        let test = sel(Split::Test).indices(100, TestAt::Start).unwrap();
        let train = sel(Split::Train).indices(100, TestAt::Start).unwrap();
        assert_eq!(test, (0..10).collect::<Vec<_>>());
        assert_eq!(train, (10..100).collect::<Vec<_>>());
    }

    #[test]
    fn grouped_split_holds_out_the_last_tenth() {
        let test = sel(Split::Test).indices(20, TestAt::End).unwrap();
        assert_eq!(test, vec![18, 19]);
    }

    #[test]
    fn stride_then_split_then_override() {
        let s = SampleSelection {
            reduced_batch: 3,
            split: Split::Test,
            test_at: Some(TestAt::End),
            test_fraction: 0.25,
            range: Some(2..20),
        };
        // 2,5,8,11,14,17 -> 6 samples, 1 held out at the end.
        assert_eq!(s.indices(30, TestAt::Start).unwrap(), vec![17]);
    }

    #[test]
    fn nonsense_is_rejected() {
        let mut s = SampleSelection {
            reduced_batch: 0,
            ..SampleSelection::default()
        };
        assert!(s.indices(10, TestAt::Start).is_err());
        s.reduced_batch = 1;
        s.range = Some(5..50);
        assert!(s.indices(10, TestAt::Start).is_err());
        s.range = None;
        s.split = Split::Test;
        s.test_fraction = 0.05;
        assert!(s.indices(10, TestAt::Start).is_err(), "empty test part");
    }
}
