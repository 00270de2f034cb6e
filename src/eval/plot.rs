//! PNG plots of predictions, fields, spectra and training curves.
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
//! axes, values that are not positive are left out as well.
//!
//! ```no_run
//! use fno::eval::plot_loss_curve;
//! let train: Vec<(f64, f64)> = (1..=50).map(|e| (e as f64, 1.0 / e as f64)).collect();
//! plot_loss_curve("run/loss.png".as_ref(), &[("train", train)])?;
//! # Ok::<(), fno::eval::EvalError>(())
//! ```
use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::EvalError;

type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn Error>>;

const FONT: &str = "sans-serif";
const TITLE_SIZE: u32 = 24;
const LABEL_SIZE: u32 = 16;
/// Colours of successive series: distinguishable, and readable on white.
const SERIES_COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
/// Anchors of a perceptually ordered dark-blue → green → yellow map, for
/// fields.
const SEQUENTIAL: [(f64, RGBColor); 5] = [
    (0.0, RGBColor(68, 1, 84)),
    (0.25, RGBColor(59, 82, 139)),
    (0.5, RGBColor(33, 145, 140)),
    (0.75, RGBColor(94, 201, 98)),
    (1.0, RGBColor(253, 231, 37)),
];
/// Anchors of a blue → white → red map centred on zero, for errors.
const DIVERGING: [(f64, RGBColor); 3] = [
    (0.0, RGBColor(59, 76, 192)),
    (0.5, RGBColor(242, 242, 242)),
    (1.0, RGBColor(180, 4, 38)),
];
const NON_FINITE: RGBColor = RGBColor(160, 160, 160);

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
    write_png(path, (1000, 800), |root| {
        let (top, bottom) = root.split_vertically(470);
        let mut chart = ChartBuilder::on(&top)
            .caption("Prediction and truth", (FONT, TITLE_SIZE))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(pad(x_range.clone(), 0.0), pad(u_range, 0.05))?;
        chart
            .configure_mesh()
            .x_desc("x")
            .y_desc("u")
            .label_style((FONT, LABEL_SIZE))
            .x_label_formatter(&tick_label)
            .y_label_formatter(&tick_label)
            .draw()?;
        for (i, (label, values)) in [("truth", truth), ("prediction", pred)]
            .into_iter()
            .enumerate()
        {
            let colour = SERIES_COLOURS[i];
            chart
                .draw_series(LineSeries::new(
                    finite_points(x, values),
                    colour.stroke_width(2),
                ))?
                .label(label)
                .legend(move |(lx, ly)| {
                    PathElement::new([(lx, ly), (lx + 24, ly)], colour.stroke_width(2))
                });
        }
        draw_legend(&mut chart)?;

        let mut chart = ChartBuilder::on(&bottom)
            .caption("Error (prediction − truth)", (FONT, TITLE_SIZE))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(pad(x_range, 0.0), pad(e_range, 0.05))?;
        chart
            .configure_mesh()
            .x_desc("x")
            .y_desc("error")
            .label_style((FONT, LABEL_SIZE))
            .x_label_formatter(&tick_label)
            .y_label_formatter(&tick_label)
            .draw()?;
        chart.draw_series(LineSeries::new(
            finite_points(x, &error),
            SERIES_COLOURS[2].stroke_width(2),
        ))?;
        Ok(())
    })
}

/// Heatmaps of a 2D prediction, the truth and their difference, side by side,
/// each with a colour bar. Fields are `[X, Y]` with x horizontal and y up.
/// Prediction and truth share one colour range so they compare by eye; the
/// error's range is symmetric about zero.
///
/// # Errors
///
/// [`EvalError::ShapeMismatch`] if the shapes differ;
/// [`EvalError::EmptyAxis`] if an axis is empty;
/// [`EvalError::NothingToPlot`] if no value is finite;
/// [`EvalError::Plot`] or [`EvalError::Io`] if drawing or writing fails.
pub fn plot_field_2d<A>(
    path: &Path,
    pred: ArrayView2<'_, A>,
    truth: ArrayView2<'_, A>,
) -> Result<(), EvalError>
where
    A: Copy + Into<f64>,
{
    if pred.shape() != truth.shape() {
        return Err(EvalError::ShapeMismatch {
            what: "truth against prediction",
            expected: pred.shape().to_vec(),
            got: truth.shape().to_vec(),
        });
    }
    if pred.is_empty() {
        return Err(EvalError::EmptyAxis {
            what: "prediction",
            shape: pred.shape().to_vec(),
        });
    }
    let pred = pred.mapv(Into::into);
    let truth = truth.mapv(Into::into);
    let error = &pred - &truth;
    let field_range = finite_range(pred.iter().chain(truth.iter()).copied()).ok_or_else(|| {
        EvalError::NothingToPlot {
            path: path.to_path_buf(),
            what: "prediction and truth",
            reason: "no finite values",
        }
    })?;
    let field_range = pad(field_range, 0.0);
    let e_max = error
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let e_max = if e_max > 0.0 { e_max } else { 1.0 };
    let panels = [
        (
            "Prediction",
            pred.view(),
            field_range.clone(),
            &SEQUENTIAL[..],
        ),
        ("Truth", truth.view(), field_range, &SEQUENTIAL[..]),
        ("Error", error.view(), -e_max..e_max, &DIVERGING[..]),
    ];
    write_png(path, (1560, 520), |root| {
        for (area, (title, field, range, map)) in root.split_evenly((1, 3)).iter().zip(panels) {
            draw_heatmap(area, title, field, range, map)?;
        }
        Ok(())
    })
}

/// Energy spectra E(k) on log-log axes, one curve per `(label, spectrum)`,
/// where entry k of a spectrum is shell k (as [`energy_spectrum`] returns).
/// Shell 0, the mean, has no place on a log axis and is not drawn.
///
/// [`energy_spectrum`]: super::energy_spectrum
///
/// # Errors
///
/// [`EvalError::NothingToPlot`] if no series has a positive finite value at
/// k ≥ 1; [`EvalError::Plot`] or [`EvalError::Io`] if drawing or writing
/// fails.
pub fn plot_spectra<S: AsRef<str>>(path: &Path, series: &[(S, Vec<f64>)]) -> Result<(), EvalError> {
    let curves: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(label, e)| {
            let points = e
                .iter()
                .enumerate()
                .skip(1)
                .map(|(k, &v)| (k as f64, v))
                .collect();
            (label.as_ref(), points)
        })
        .collect();
    log_chart(
        path,
        "Energy spectrum",
        "wavenumber k",
        "E(k)",
        &curves,
        true,
    )
}

/// Loss curves, one per `(label, [(epoch, loss)])`, with a logarithmic loss
/// axis.
///
/// # Errors
///
/// [`EvalError::NothingToPlot`] if no series has a positive finite loss;
/// [`EvalError::Plot`] or [`EvalError::Io`] if drawing or writing fails.
pub fn plot_loss_curve<S: AsRef<str>>(
    path: &Path,
    series: &[(S, Vec<(f64, f64)>)],
) -> Result<(), EvalError> {
    let curves: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(label, points)| (label.as_ref(), points.clone()))
        .collect();
    log_chart(path, "Loss", "epoch", "loss", &curves, false)
}

/// Curves of an iterative optimisation, one per `(label, [(iteration,
/// value)])`, with a logarithmic value axis (`fno inverse`'s misfit curve).
///
/// # Errors
///
/// [`EvalError::NothingToPlot`] if no series has a positive finite value;
/// [`EvalError::Plot`] or [`EvalError::Io`] if drawing or writing fails.
pub fn plot_iterations<S: AsRef<str>>(
    path: &Path,
    title: &str,
    series: &[(S, Vec<(f64, f64)>)],
) -> Result<(), EvalError> {
    let curves: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(label, points)| (label.as_ref(), points.clone()))
        .collect();
    log_chart(path, title, "iteration", "value", &curves, false)
}

/// Heatmaps of 2D fields side by side, each `(title, [X, Y])` with its own
/// colour range and bar; non-finite entries are drawn grey, which is how
/// unobserved points of an observation show.
///
/// # Errors
///
/// [`EvalError::EmptyAxis`] if a field is empty;
/// [`EvalError::NothingToPlot`] if a field has no finite value;
/// [`EvalError::Plot`] or [`EvalError::Io`] if drawing or writing fails.
pub fn plot_heatmaps(path: &Path, panels: &[(&str, ArrayView2<'_, f64>)]) -> Result<(), EvalError> {
    let mut ranges = Vec::with_capacity(panels.len());
    for (_, field) in panels {
        if field.is_empty() {
            return Err(EvalError::EmptyAxis {
                what: "field",
                shape: field.shape().to_vec(),
            });
        }
        let range =
            finite_range(field.iter().copied()).ok_or_else(|| EvalError::NothingToPlot {
                path: path.to_path_buf(),
                what: "field",
                reason: "a panel has no finite values",
            })?;
        ranges.push(pad(range, 0.0));
    }
    let width = 520 * panels.len().max(1) as u32;
    write_png(path, (width, 520), |root| {
        for (area, ((title, field), range)) in root
            .split_evenly((1, panels.len().max(1)))
            .iter()
            .zip(panels.iter().zip(ranges))
        {
            draw_heatmap(area, title, field.view(), range, &SEQUENTIAL[..])?;
        }
        Ok(())
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
    write_png(path, (1000, 500), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Observations", (FONT, TITLE_SIZE))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(pad(x_range, 0.0), pad(u_range, 0.05))?;
        chart
            .configure_mesh()
            .x_desc("x")
            .y_desc("u")
            .label_style((FONT, LABEL_SIZE))
            .x_label_formatter(&tick_label)
            .y_label_formatter(&tick_label)
            .draw()?;
        let line = SERIES_COLOURS[0];
        chart
            .draw_series(LineSeries::new(
                finite_points(x, field),
                line.stroke_width(2),
            ))?
            .label("field")
            .legend(move |(lx, ly)| {
                PathElement::new([(lx, ly), (lx + 24, ly)], line.stroke_width(2))
            });
        let dot = SERIES_COLOURS[1];
        chart
            .draw_series(
                observations
                    .iter()
                    .filter(|(px, py)| px.is_finite() && py.is_finite())
                    .map(|&p| Circle::new(p, 3, dot.filled())),
            )?
            .label("observed")
            .legend(move |(lx, ly)| Circle::new((lx + 12, ly), 3, dot.filled()));
        draw_legend(&mut chart)?;
        Ok(())
    })
}

/// A line chart with a log y axis and, if `log_x`, a log x axis.
fn log_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    log_x: bool,
) -> Result<(), EvalError> {
    let drawable =
        |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && y > 0.0 && (!log_x || x > 0.0);
    let curves: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(label, points)| {
            (
                *label,
                points.iter().copied().filter(drawable).collect::<Vec<_>>(),
            )
        })
        .filter(|(_, points)| !points.is_empty())
        .collect();
    let all = || curves.iter().flat_map(|(_, points)| points.iter());
    let ranges = finite_range(all().map(|p| p.0)).zip(finite_range(all().map(|p| p.1)));
    let Some((x_range, y_range)) = ranges else {
        return Err(EvalError::NothingToPlot {
            path: path.to_path_buf(),
            what: "series",
            reason: "no finite point with a positive value",
        });
    };
    let y_range = pad_log(y_range);
    write_png(path, (900, 650), |root| {
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(title, (FONT, TITLE_SIZE))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(45)
            .y_label_area_size(80);
        if log_x {
            let mut chart =
                builder.build_cartesian_2d(pad_log(x_range).log_scale(), y_range.log_scale())?;
            draw_curves(&mut chart, x_desc, y_desc, &curves)
        } else {
            let mut chart = builder.build_cartesian_2d(pad(x_range, 0.0), y_range.log_scale())?;
            draw_curves(&mut chart, x_desc, y_desc, &curves)
        }
    })
}

/// Mesh, labelled curves and legend on an already built chart.
fn draw_curves<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    x_desc: &str,
    y_desc: &str,
    curves: &[(&str, Vec<(f64, f64)>)],
) -> DrawResult
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, LABEL_SIZE))
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .draw()?;
    for (i, (label, points)) in curves.iter().enumerate() {
        let colour = SERIES_COLOURS[i % SERIES_COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(*label)
            .legend(move |(lx, ly)| {
                PathElement::new([(lx, ly), (lx + 24, ly)], colour.stroke_width(2))
            });
    }
    draw_legend(chart)
}

fn draw_legend<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
) -> DrawResult
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .label_font((FONT, LABEL_SIZE))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// One heatmap with its colour bar to the right.
fn draw_heatmap(
    area: &Root<'_>,
    title: &str,
    field: ArrayView2<'_, f64>,
    range: Range<f64>,
    map: &[(f64, RGBColor)],
) -> DrawResult {
    let (nx, ny) = field.dim();
    let width = area.dim_in_pixel().0;
    let (map_area, bar_area) = area.split_horizontally(width * 4 / 5);
    let mut chart = ChartBuilder::on(&map_area)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x index")
        .y_desc("y index")
        .label_style((FONT, LABEL_SIZE))
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .draw()?;
    let span = range.end - range.start;
    chart.draw_series(field.indexed_iter().map(|((i, j), &v)| {
        let colour = if v.is_finite() {
            colour_at(map, (v - range.start) / span)
        } else {
            NON_FINITE
        };
        let (x, y) = (i as f64, j as f64);
        Rectangle::new([(x, y), (x + 1.0, y + 1.0)], colour.filled())
    }))?;

    // The bar's vertical margins match the heatmap's caption and x labels so
    // both line up; its labels go on the right, clear of the bar.
    let mut bar = ChartBuilder::on(&bar_area)
        .margin_top(10 + TITLE_SIZE + 10)
        .margin_bottom(10 + 45)
        .margin_left(5)
        .right_y_label_area_size(75)
        .build_cartesian_2d(0.0..1.0, range.clone())?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .label_style((FONT, LABEL_SIZE))
        .y_label_formatter(&tick_label)
        .draw()?;
    const STEPS: usize = 128;
    bar.draw_series((0..STEPS).map(|s| {
        let lo = range.start + span * s as f64 / STEPS as f64;
        let hi = range.start + span * (s + 1) as f64 / STEPS as f64;
        Rectangle::new(
            [(0.0, lo), (1.0, hi)],
            colour_at(map, (s as f64 + 0.5) / STEPS as f64).filled(),
        )
    }))?;
    Ok(())
}

/// Linear interpolation in a colour map given as sorted `(position, colour)`
/// anchors on [0, 1]; positions outside are clamped.
fn colour_at(map: &[(f64, RGBColor)], t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    for pair in map.windows(2) {
        let ((t0, c0), (t1, c1)) = (pair[0], pair[1]);
        if t <= t1 {
            let w = (t - t0) / (t1 - t0);
            let mix =
                |a: u8, b: u8| (f64::from(a) + w * (f64::from(b) - f64::from(a))).round() as u8;
            return RGBColor(mix(c0.0, c1.0), mix(c0.1, c1.1), mix(c0.2, c1.2));
        }
    }
    map[map.len() - 1].1
}

/// A short tick label: at most four decimals with trailing zeros dropped,
/// scientific notation for very large or small magnitudes, and no "-0".
fn tick_label(v: &f64) -> String {
    let magnitude = v.abs();
    // Linear axes put their zero tick a rounding error away from 0.
    if magnitude < 1e-12 {
        return "0".to_owned();
    }
    if !(1e-3..1e5).contains(&magnitude) {
        return format!("{v:.1e}");
    }
    let fixed = format!("{v:.4}");
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// `(x, y)` pairs with both coordinates finite.
fn finite_points<'a>(x: &'a [f64], y: &'a [f64]) -> impl Iterator<Item = (f64, f64)> + 'a {
    x.iter()
        .zip(y)
        .map(|(&a, &b)| (a, b))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
}

/// Smallest and largest finite value, or `None` if there is none.
fn finite_range(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc: Option<Range<f64>>, v| match acc {
            None => Some(v..v),
            Some(r) => Some(r.start.min(v)..r.end.max(v)),
        })
}

/// Widens a range by `fraction` of its span on each side, and a degenerate
/// range to a unit-wide one, so that a constant curve is still drawable.
fn pad(range: Range<f64>, fraction: f64) -> Range<f64> {
    let span = range.end - range.start;
    if span > 0.0 {
        range.start - fraction * span..range.end + fraction * span
    } else {
        range.start - 0.5..range.end + 0.5
    }
}

/// Widens a positive range by a factor of 1.5 on each side (10 if
/// degenerate), so that curves do not touch the frame of a log axis.
fn pad_log(range: Range<f64>) -> Range<f64> {
    let factor = if range.end > range.start { 1.5 } else { 10.0 };
    range.start / factor..range.end * factor
}

/// Registers the embedded font, draws into `<name>.tmp.png` and renames it
/// to `path`.
fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Root<'_>) -> DrawResult,
) -> Result<(), EvalError> {
    let plot_error = |reason: String| EvalError::Plot {
        path: path.to_path_buf(),
        reason,
    };
    register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| plot_error("the embedded DejaVu Sans font does not parse".to_owned()))?;
    let tmp = temporary_path(path);
    let drawn = {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Box::<dyn Error>::from)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Box::<dyn Error>::from))
    };
    if let Err(e) = drawn {
        // The partial file is useless; failing to remove it changes nothing
        // for the caller, who gets the drawing error.
        let _ = std::fs::remove_file(&tmp);
        return Err(plot_error(e.to_string()));
    }
    std::fs::rename(&tmp, path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `dir/name.png` → `dir/name.tmp.png`; the `.png` ending tells the encoder
/// the format.
fn temporary_path(path: &Path) -> PathBuf {
    path.with_extension("tmp.png")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use std::f64::consts::PI;

    /// Decodes a PNG and checks it has the expected size and is not blank:
    /// many pixels differ from the white background, in several colours.
    fn check_png(path: &Path, size: (u32, u32)) {
        assert!(!temporary_path(path).exists(), "temporary file left behind");
        let file = std::fs::File::open(path).unwrap();
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), size);
        let channels = info.color_type.samples();
        let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks_exact(channels).collect();
        let inked = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
        assert!(
            inked > pixels.len() / 50,
            "{}: only {inked} non-white pixels",
            path.display()
        );
        let mut colours: Vec<&[u8]> = pixels.clone();
        colours.sort_unstable();
        colours.dedup();
        assert!(
            colours.len() > 8,
            "{}: only {} colours",
            path.display(),
            colours.len()
        );
    }

    /// Where the images go: `FNO_PLOT_DIR` if set, so they can be looked at
    /// after the run, otherwise a temporary directory.
    fn output_dir() -> (Option<tempfile::TempDir>, PathBuf) {
        match std::env::var_os("FNO_PLOT_DIR") {
            Some(dir) => (None, PathBuf::from(dir)),
            None => {
                let tmp = tempfile::tempdir().unwrap();
                let dir = tmp.path().to_path_buf();
                (Some(tmp), dir)
            }
        }
    }

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
    fn renders_field_2d() {
        let (_guard, dir) = output_dir();
        let truth = Array2::from_shape_fn((48, 32), |(i, j)| {
            (2.0 * PI * i as f64 / 48.0).sin() * (2.0 * PI * j as f64 / 32.0).cos()
        });
        let pred = truth.mapv(|v| 0.9 * v + 0.05);
        let path = dir.join("field_2d.png");
        plot_field_2d(&path, pred.view(), truth.view()).unwrap();
        check_png(&path, (1560, 520));
    }

    #[test]
    fn renders_spectra() {
        let (_guard, dir) = output_dir();
        let spectrum = |n: usize, scale: f64| -> Vec<f64> {
            (0..=n / 2)
                .map(|k| scale * (1.0 + k as f64).powf(-5.0 / 3.0))
                .collect()
        };
        let series = [
            ("truth 128", spectrum(128, 1.0)),
            ("prediction 128", spectrum(128, 1.2)),
            ("prediction 256", spectrum(256, 0.8)),
        ];
        let path = dir.join("spectra.png");
        plot_spectra(&path, &series).unwrap();
        check_png(&path, (900, 650));
    }

    #[test]
    fn renders_loss_curve() {
        let (_guard, dir) = output_dir();
        let train: Vec<(f64, f64)> = (1..=100)
            .map(|e| (e as f64, 0.5 * (-(e as f64) / 20.0).exp() + 1e-3))
            .collect();
        let test: Vec<(f64, f64)> = (1..=100)
            .step_by(5)
            .map(|e| (e as f64, 0.6 * (-(e as f64) / 25.0).exp() + 3e-3))
            .collect();
        let path = dir.join("loss.png");
        plot_loss_curve(&path, &[("train", train), ("test", test)]).unwrap();
        check_png(&path, (900, 650));
    }

    #[test]
    fn bad_plot_inputs_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.png");
        assert!(matches!(
            plot_prediction_1d(&path, &[0.0, 1.0], &[0.0], &[0.0, 1.0]),
            Err(EvalError::ShapeMismatch { .. })
        ));
        let a = Array2::<f64>::zeros((3, 4));
        let b = Array2::<f64>::zeros((4, 3));
        assert!(matches!(
            plot_field_2d(&path, a.view(), b.view()),
            Err(EvalError::ShapeMismatch { .. })
        ));
        let nan = Array2::<f64>::from_elem((3, 4), f64::NAN);
        assert!(matches!(
            plot_field_2d(&path, nan.view(), nan.view()),
            Err(EvalError::NothingToPlot { .. })
        ));
        assert!(matches!(
            plot_loss_curve(&path, &[("train", vec![(1.0, 0.0), (2.0, -1.0)])]),
            Err(EvalError::NothingToPlot { .. })
        ));
        let missing = dir.path().join("no/such/dir/plot.png");
        assert!(matches!(
            plot_spectra(&missing, &[("truth", vec![1.0, 0.5, 0.25])]),
            Err(EvalError::Plot { .. })
        ));
        assert!(!path.exists());
    }

    #[test]
    fn tick_labels_are_short() {
        let labels: Vec<String> = [0.0, -1e-17, 0.8, -0.25, 100.0, 1e-4, 2.5e6, 0.00153]
            .iter()
            .map(tick_label)
            .collect();
        assert_eq!(
            labels,
            ["0", "0", "0.8", "-0.25", "100", "1.0e-4", "2.5e6", "0.0015"]
        );
    }

    #[test]
    fn colour_map_interpolates_and_clamps() {
        assert_eq!(colour_at(&SEQUENTIAL, -1.0), SEQUENTIAL[0].1);
        assert_eq!(colour_at(&SEQUENTIAL, 2.0), SEQUENTIAL[4].1);
        assert_eq!(colour_at(&DIVERGING, 0.5), DIVERGING[1].1);
        assert_eq!(colour_at(&DIVERGING, 0.25), RGBColor(151, 159, 217));
    }
}
