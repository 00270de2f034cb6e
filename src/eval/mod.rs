//! Evaluation of trained operators: PDEBench's metrics, energy spectra and
//! PNG plots.
//!
//! - [`metrics`]: RMSE, nRMSE, max, cRMSE, bRMSE, fRMSE and relative L2 on
//!   `[B, T, C, X, (Y, (Z))]` batches, streamed through a
//!   [`MetricsAccumulator`];
//! - [`vrmse`]: The Well's variance-scaled RMSE, reported in [`Metrics`];
//! - [`spectrum`]: shell-summed energy spectra of one field;
//! - [`spectrum_table`]: mean spectra of predictions and truths per octave
//!   band, as `eval.json` reports them;
//! - [`plot`]: predictions, fields, spectra and loss curves as PNG files;
//! - [`window`]: the window task's one-step and rollout VRMSE;
//! - [`evaluate`]: a trained run on a file at several resolutions.
//!
//! Everything here is a library: `fno eval` decides what to compute and where
//! to write it.
//!
//! ```
//! use fno::eval::{compute_metrics, MetricsOptions};
//! use ndarray::Array5;
//! // One 2D sample, one frame, one channel: a perfect prediction.
//! let truth = Array5::<f32>::from_elem((1, 1, 1, 8, 8), 2.0);
//! let m = compute_metrics(truth.view(), truth.view(), &MetricsOptions::default())?;
//! assert_eq!(m.relative_l2, 0.0);
//! # Ok::<(), fno::eval::EvalError>(())
//! ```
mod error;
pub mod evaluate;
mod fft;
pub mod metrics;
pub mod plot;
pub mod predict;
pub mod sources;
pub mod spectrum;
pub mod spectrum_table;
pub mod vrmse;
pub mod window;

pub use error::EvalError;
pub use metrics::{
    compute_metrics, FourierBands, Metrics, MetricsAccumulator, MetricsOptions, Summary,
};
pub use plot::{
    plot_field_2d, plot_field_2d_on, plot_heatmaps, plot_iterations, plot_loss_curve,
    plot_observations_1d, plot_prediction_1d, plot_spectra, FieldAxes,
};
pub use spectrum::energy_spectrum;
