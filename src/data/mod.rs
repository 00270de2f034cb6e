//! Reading PDEBench HDF5 files, sample by sample.
//!
//! ```no_run
//! use fno::data::{PdebenchFile, Resolution};
//! let file = PdebenchFile::open("1D_Burgers_Sols_Nu0.01.hdf5")?;
//! let sample = file.read_sample(0, &Resolution::default())?;
//! assert_eq!(sample.frames.ndim(), 3); // [T, C, X]
//! # Ok::<(), fno::data::DataError>(())
//! ```
pub mod augment;
pub mod catalog;
mod error;
mod example;
pub mod layout;
pub mod loader;
pub mod mirror;
pub mod normalizer;
mod reader;
pub mod shard;
pub mod split;
pub mod stats;
pub mod task;
pub mod well_normalizers;
pub mod window;
pub mod writer;

pub use augment::{Augment, Augmentation};
pub use error::{DataError, Result};
pub use layout::Layout;
pub use normalizer::{Normalizer, NormalizerFit};
pub use reader::well::{
    padding_for, AxisBoundary, BoundaryKind, FieldTable, WellField, WellFile, WellInfo, WellScalar,
    WellSplits, WellStats,
};
pub use reader::{Coordinates, DatasetInfo, FileInfo, PdebenchFile, Resolution, Sample};
pub use split::{SampleSelection, Split, TestAt};
pub use task::{Example, Task, TaskError};
