//! PNG plots of predictions, fields, spectra and training curves.
//!
//! - `curves`: energy spectra, loss curves and optimisation histories on a
//!   logarithmic value axis;
//! - `lines`: 1D fields against x (prediction and truth, observations);
//! - `fields`: 2D fields as heatmaps with colour bars, on physical
//!   coordinates ([`FieldAxes`]) or grid indices;
//! - `ticks`, `legend`, `style`: what they share (tick placement and
//!   labels, legends beside the chart, font, colours, atomic PNG writing).
//!
//! Text is drawn by plotters' pure-Rust `ab_glyph` renderer from DejaVu Sans
//! embedded in the binary (the `dejavu` crate), so plotting needs neither
//! fontconfig nor any system font. plotters looks fonts up in a process-wide
//! table; every plot function registers the embedded font there before
//! drawing, so no call depends on another having run first.
//!
//! Each function writes `<name>.tmp.png` beside the target and renames it into
//! place, so a reader never sees a half-written image. Non-finite values are
//! left out of curves and ranges and drawn grey in heatmaps; on logarithmic
//! axes, values that are not positive are left out as well. Logarithmic
//! axes are labelled at powers of ten (`1e-12`, `0.01`, `1`, `1e4`), with
//! 1-2-5 steps when they span only a decade or two; legends sit in a column
//! beside the chart, never over the data.
//!
//! ```no_run
//! use fno::eval::plot_loss_curve;
//! let train: Vec<(f64, f64)> = (1..=50).map(|e| (e as f64, 1.0 / e as f64)).collect();
//! plot_loss_curve("run/loss.png".as_ref(), &[("train", train)])?;
//! # Ok::<(), fno::eval::EvalError>(())
//! ```
mod curves;
mod fields;
mod legend;
mod lines;
mod style;
#[cfg(test)]
mod testing;
mod ticks;

pub use curves::{plot_iterations, plot_loss_curve, plot_spectra};
pub use fields::{plot_field_2d, plot_field_2d_on, plot_heatmaps, FieldAxes};
pub use lines::{plot_observations_1d, plot_prediction_1d};
