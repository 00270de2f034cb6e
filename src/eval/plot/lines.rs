//! 1D fields against their coordinate: prediction against truth, and a
//! field with observations of it.
use std::ops::Range;
use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::legend::{draw_legend, legend_width, top_offset, LegendEntry, Mark};
use super::style::{series_colour, write_png, Root, FONT, LABEL_SIZE, TITLE_SIZE};
use super::ticks::{finite_points, finite_range, linear_labels, pad};
use crate::eval::EvalError;

/// Prediction and truth of a 1D sample (top panel) and their difference
/// (bottom panel), against the coordinates `x`.
///
/// # Errors
///
/// [`EvalError::ShapeMismatch`] unless `x`, `pred` and `truth` have the same
/// length; [`EvalError::NothingToPlot`] if no point is finite;
/// [`EvalError::Plot`] or [`EvalError::Io`] if drawing or writing fails.
pub fn plot_prediction_1d(
    path: &Path,
    x: &[f64],
    pred: &[f64],
    truth: &[f64],
) -> Result<(), EvalError> {
    for (what, other) in [("prediction against x", pred), ("truth against x", truth)] {
        if other.len() != x.len() {
            return Err(EvalError::ShapeMismatch {
                what,
                expected: vec![x.len()],
                got: vec![other.len()],
            });
        }
    }
    let error: Vec<f64> = pred.iter().zip(truth).map(|(p, y)| p - y).collect();
    let nothing = |what| EvalError::NothingToPlot {
        path: path.to_path_buf(),
        what,
        reason: "no finite values",
    };
    let x_range = finite_range(x.iter().copied()).ok_or_else(|| nothing("x"))?;
    let u_range = finite_range(pred.iter().chain(truth).copied())
        .ok_or_else(|| nothing("prediction and truth"))?;
    let e_range = finite_range(error.iter().copied()).ok_or_else(|| nothing("error"))?;
    let entries = [
        LegendEntry {
            label: "truth",
            colour: series_colour(0),
            mark: Mark::Line,
        },
        LegendEntry {
            label: "prediction",
            colour: series_colour(1),
            mark: Mark::Line,
        },
        LegendEntry {
            label: "error",
            colour: series_colour(2),
            mark: Mark::Line,
        },
    ];
    write_png(path, (1000, 800), |root| {
        let (top, bottom) = root.split_vertically(470);
        // Both panels leave the legend's width free, so their x axes line up.
        let chart_width = root.dim_in_pixel().0 - legend_width(root, &entries);
        let (top, top_legend) = top.split_horizontally(chart_width);
        let (bottom, bottom_legend) = bottom.split_horizontally(chart_width);
        let mut chart = line_chart(&top, "Prediction and truth", x_range.clone(), u_range, "u")?;
        for (i, values) in [truth, pred].into_iter().enumerate() {
            chart.draw_series(LineSeries::new(
                finite_points(x, values),
                series_colour(i).stroke_width(2),
            ))?;
        }
        let plot_top = chart.plotting_area().get_pixel_range().1.start;
        draw_legend(
            &top_legend,
            &entries[..2],
            top_offset(&top_legend, plot_top),
        )?;

        let title = "Error (prediction − truth)";
        let mut chart = line_chart(&bottom, title, x_range, e_range, "error")?;
        chart.draw_series(LineSeries::new(
            finite_points(x, &error),
            series_colour(2).stroke_width(2),
        ))?;
        let plot_top = chart.plotting_area().get_pixel_range().1.start;
        draw_legend(
            &bottom_legend,
            &entries[2..],
            top_offset(&bottom_legend, plot_top),
        )
    })
}

/// A 1D field as a line and observations of it as dots, against `x`
/// (`fno inverse`'s observation plot).
///
/// # Errors
///
/// [`EvalError::ShapeMismatch`] unless `x` and `field` have the same
/// length; [`EvalError::NothingToPlot`] if nothing is finite;
/// [`EvalError::Plot`] or [`EvalError::Io`] if drawing or writing fails.
pub fn plot_observations_1d(
    path: &Path,
    x: &[f64],
    field: &[f64],
    observations: &[(f64, f64)],
) -> Result<(), EvalError> {
    if field.len() != x.len() {
        return Err(EvalError::ShapeMismatch {
            what: "field against x",
            expected: vec![x.len()],
            got: vec![field.len()],
        });
    }
    let nothing = || EvalError::NothingToPlot {
        path: path.to_path_buf(),
        what: "field and observations",
        reason: "no finite values",
    };
    let x_range = finite_range(x.iter().copied()).ok_or_else(nothing)?;
    let u_range = finite_range(
        field
            .iter()
            .copied()
            .chain(observations.iter().map(|p| p.1)),
    )
    .ok_or_else(nothing)?;
    let entries = [
        LegendEntry {
            label: "field",
            colour: series_colour(0),
            mark: Mark::Line,
        },
        LegendEntry {
            label: "observations",
            colour: series_colour(1),
            mark: Mark::Dot,
        },
    ];
    write_png(path, (1000, 500), |root| {
        let chart_width = root.dim_in_pixel().0 - legend_width(root, &entries);
        let (chart_area, legend_area) = root.split_horizontally(chart_width);
        let mut chart = line_chart(&chart_area, "Observations", x_range, u_range, "u")?;
        chart.draw_series(LineSeries::new(
            finite_points(x, field),
            series_colour(0).stroke_width(2),
        ))?;
        let dot = series_colour(1);
        chart.draw_series(
            observations
                .iter()
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|&p| Circle::new(p, 4, dot.filled())),
        )?;
        let plot_top = chart.plotting_area().get_pixel_range().1.start;
        draw_legend(&legend_area, &entries, top_offset(&legend_area, plot_top))
    })
}

/// A chart with linear axes.
type LineChart<'a> =
    ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart of values against x with its mesh drawn: x spans the data
/// exactly, the values get 5% headroom.
fn line_chart<'a>(
    area: &Root<'a>,
    title: &str,
    x_range: Range<f64>,
    y_range: Range<f64>,
    y_desc: &str,
) -> Result<LineChart<'a>, Box<dyn std::error::Error>> {
    let (x_range, y_range) = (pad(x_range, 0.0), pad(y_range, 0.05));
    let (x_labels, y_labels) = (linear_labels(&x_range), linear_labels(&y_range));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, y_range)?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc(y_desc)
        .label_style((FONT, LABEL_SIZE))
        .x_label_formatter(&x_labels)
        .y_label_formatter(&y_labels)
        .draw()?;
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_png, output_dir};
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn renders_prediction_1d() {
        let (_guard, dir) = output_dir();
        let n = 128;
        let x: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        let truth: Vec<f64> = x.iter().map(|x| (2.0 * PI * x).sin()).collect();
        let pred: Vec<f64> = x
            .iter()
            .map(|x| 0.95 * (2.0 * PI * x).sin() + 0.03 * (14.0 * PI * x).cos())
            .collect();
        let path = dir.join("prediction_1d.png");
        plot_prediction_1d(&path, &x, &pred, &truth).unwrap();
        check_png(&path, (1000, 800));
    }

    #[test]
    fn renders_observations_1d() {
        let (_guard, dir) = output_dir();
        let n = 64;
        let x: Vec<f64> = (0..n).map(|i| -1.0 + 2.0 * i as f64 / n as f64).collect();
        let field: Vec<f64> = x.iter().map(|x| (PI * x).cos()).collect();
        let observed: Vec<(f64, f64)> = x
            .iter()
            .zip(&field)
            .step_by(7)
            .map(|(&x, &u)| (x, u + 0.05))
            .collect();
        let path = dir.join("observations_1d.png");
        plot_observations_1d(&path, &x, &field, &observed).unwrap();
        check_png(&path, (1000, 500));
    }

    #[test]
    fn mismatched_lengths_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.png");
        assert!(matches!(
            plot_prediction_1d(&path, &[0.0, 1.0], &[0.0], &[0.0, 1.0]),
            Err(EvalError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            plot_observations_1d(&path, &[0.0, 1.0], &[0.0], &[]),
            Err(EvalError::ShapeMismatch { .. })
        ));
        assert!(!path.exists());
    }
}
