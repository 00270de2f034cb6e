//! Errors of the data readers.
//!
//! Every variant names the file and, where one is involved, the HDF5 dataset,
//! so a message read out of context still says what to fix.
use std::path::PathBuf;

/// What went wrong while opening or reading a PDEBench file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist or cannot be read at all.
    #[error("{path}: cannot open")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file exists but HDF5 refuses it (not HDF5, truncated, corrupt).
    #[error("{path}: not a readable HDF5 file (truncated or not HDF5?)")]
    NotHdf5 {
        /// The file.
        path: PathBuf,
        /// The HDF5 library's error.
        source: hdf5::Error,
    },
    /// None of the known PDEBench layouts matches the datasets in the file.
    #[error("{path}: unknown layout: top-level members are [{}]; expected one of the PDEBench layouts (tensor, nu+tensor, density/pressure/Vx, 0000/data, velocity, a+u) or The Well's (dimensions + t0_fields/t1_fields/t2_fields)", members.join(", "))]
    UnknownLayout {
        /// The file.
        path: PathBuf,
        /// The top-level member names found.
        members: Vec<String>,
    },
    /// A dataset the layout needs is absent.
    #[error("{path}: the file has no dataset `{dataset}`, which its layout needs")]
    MissingDataset {
        /// The file.
        path: PathBuf,
        /// The dataset's path inside the file.
        dataset: String,
    },
    /// A dataset has the wrong number of axes.
    #[error(
        "{path}: dataset `{dataset}` has rank {got} (shape {shape:?}); expected rank {expected}"
    )]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// The dataset's path inside the file.
        dataset: String,
        /// The rank the layout needs.
        expected: usize,
        /// The rank found.
        got: usize,
        /// The shape found.
        shape: Vec<usize>,
    },
    /// A dataset's extent disagrees with another dataset or with the layout.
    #[error("{path}: dataset `{dataset}` has shape {got:?}; expected {expected}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The dataset's path inside the file.
        dataset: String,
        /// What was expected, in words.
        expected: String,
        /// The shape found.
        got: Vec<usize>,
    },
    /// A dataset holds something other than floating-point numbers.
    #[error("{path}: dataset `{dataset}` has dtype {got}; expected float32 or float64")]
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// The dataset's path inside the file.
        dataset: String,
        /// The dtype found, in words.
        got: String,
    },
    /// The file holds no samples.
    #[error("{path}: dataset `{dataset}` holds zero samples; there is nothing to read")]
    NoSamples {
        /// The file.
        path: PathBuf,
        /// The dataset whose sample axis is empty.
        dataset: String,
    },
    /// The data contain NaN or infinite values.
    #[error(
        "{path}: dataset `{dataset}`, sample {sample}: {count} non-finite values (NaN or Inf)"
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The dataset's path inside the file.
        dataset: String,
        /// The sample index in the file.
        sample: usize,
        /// How many values are not finite.
        count: usize,
    },
    /// Reading a dataset failed inside HDF5 (for example a corrupt chunk).
    #[error("{path}: reading dataset `{dataset}` failed inside HDF5 (corrupt or truncated data?)")]
    Read {
        /// The file.
        path: PathBuf,
        /// The dataset's path inside the file.
        dataset: String,
        /// The HDF5 library's error.
        source: hdf5::Error,
    },
    /// A sample index beyond the file's sample count.
    #[error("{path}: sample {index} is out of range (the file has {count} samples)")]
    SampleOutOfRange {
        /// The file.
        path: PathBuf,
        /// The requested sample.
        index: usize,
        /// The number of samples in the file.
        count: usize,
    },
    /// A reading option makes no sense (zero stride, empty split...).
    #[error("cannot read samples with this `{option}`: {reason}")]
    InvalidOption {
        /// The option's name as users write it.
        option: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// A file or folder in The Well's layout breaks its format (an attribute
    /// missing or of the wrong type, files of one data set that disagree).
    #[error("{path}: {dataset}: {reason}")]
    WellFormat {
        /// The file, or the folder of a multi-file data set.
        path: PathBuf,
        /// The group, dataset or attribute inside the file (`/t0_fields`,
        /// `/t0_fields@field_names`).
        dataset: String,
        /// What is wrong, in the format's terms.
        reason: String,
    },
    /// The data set cannot be used this way (a layout fno reads but does not write).
    #[error("{path}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported, and what to do instead.
        reason: String,
    },
    /// The embedded dataset catalogue could not be parsed (a build defect).
    #[error("datasets/catalog.toml is malformed: {0}")]
    Catalog(#[from] toml::de::Error),
}

/// Result type of the data module.
pub type Result<T> = std::result::Result<T, DataError>;
