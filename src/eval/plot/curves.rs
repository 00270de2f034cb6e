//! Curves on a logarithmic value axis: energy spectra, loss curves and the
//! iterations of an optimisation.
use std::path::Path;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

use super::legend::{draw_legend, split_for_legend, top_offset, LegendEntry, Mark};
use super::style::{series_colour, write_png, FONT, LABEL_SIZE, TITLE_SIZE};
use super::ticks::{finite_range, linear_labels, log_labels, log_ticks, pad, pad_log};
use crate::eval::EvalError;

/// Energy spectra E(k) on log-log axes, one curve per `(label, spectrum)`,
/// where entry k of a spectrum is shell k (as [`energy_spectrum`] returns).
/// Shell 0, the mean, has no place on a log axis and is not drawn.
///
/// [`energy_spectrum`]: crate::eval::energy_spectrum
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
    let axes = Axes {
        title: "Energy spectrum",
        x_desc: "wavenumber k",
        y_desc: "E(k)",
        log_x: true,
    };
    log_chart(path, &axes, &curves)
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
    let axes = Axes {
        title: "Loss",
        x_desc: "epoch",
        y_desc: "loss",
        log_x: false,
    };
    log_chart(path, &axes, &borrowed(series))
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
    let axes = Axes {
        title,
        x_desc: "iteration",
        y_desc: "value",
        log_x: false,
    };
    log_chart(path, &axes, &borrowed(series))
}

/// Title, axis descriptions and scale of a curve chart.
struct Axes<'a> {
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    /// Whether x is logarithmic too (y always is).
    log_x: bool,
}

fn borrowed<S: AsRef<str>>(series: &[(S, Vec<(f64, f64)>)]) -> Vec<(&str, Vec<(f64, f64)>)> {
    series
        .iter()
        .map(|(label, points)| (label.as_ref(), points.clone()))
        .collect()
}

/// Curves with a logarithmic y axis (and x axis if `log_x`), legend to the
/// right of the chart; points that a log axis cannot show are left out.
fn log_chart(
    path: &Path,
    axes: &Axes<'_>,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), EvalError> {
    let drawable = |&(x, y): &(f64, f64)| {
        x.is_finite() && y.is_finite() && y > 0.0 && (!axes.log_x || x > 0.0)
    };
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
    let y_ticks = log_ticks(&y_range);
    let y_axis = || {
        y_range
            .clone()
            .log_scale()
            .with_key_points(y_ticks.major.clone())
            .with_light_points(y_ticks.minor.clone())
    };
    write_png(path, (900, 650), |root| {
        let entries: Vec<LegendEntry<'_>> = curves
            .iter()
            .enumerate()
            .map(|(i, (label, _))| LegendEntry {
                label,
                colour: series_colour(i),
                mark: Mark::Line,
            })
            .collect();
        let (chart_area, legend_area) = split_for_legend(root, &entries);
        let mut builder = ChartBuilder::on(&chart_area);
        builder
            .caption(axes.title, (FONT, TITLE_SIZE))
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(80);
        let plot_top = if axes.log_x {
            let x_range = pad_log(x_range);
            let x_ticks = log_ticks(&x_range);
            let x_axis = x_range
                .log_scale()
                .with_key_points(x_ticks.major)
                .with_light_points(x_ticks.minor);
            let mut chart = builder.build_cartesian_2d(x_axis, y_axis())?;
            draw_curves(&mut chart, axes, (&log_labels, &log_labels), &curves)?
        } else {
            let x_range = pad(x_range, 0.0);
            let x_labels = linear_labels(&x_range);
            let mut chart = builder.build_cartesian_2d(x_range, y_axis())?;
            draw_curves(&mut chart, axes, (&x_labels, &log_labels), &curves)?
        };
        draw_legend(&legend_area, &entries, top_offset(&legend_area, plot_top))
    })
}

/// Tick label formatters of the x and y axes.
type Labels<'f> = (&'f dyn Fn(&f64) -> String, &'f dyn Fn(&f64) -> String);

/// Mesh and curves on an already built chart; returns the absolute pixel
/// row of the plotting area's top edge, where the legend starts.
fn draw_curves<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    axes: &Axes<'_>,
    labels: Labels<'_>,
    curves: &[(&str, Vec<(f64, f64)>)],
) -> Result<i32, Box<dyn std::error::Error>>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .label_style((FONT, LABEL_SIZE))
        .x_label_formatter(labels.0)
        .y_label_formatter(labels.1)
        .draw()?;
    for (i, (_, points)) in curves.iter().enumerate() {
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            series_colour(i).stroke_width(2),
        ))?;
    }
    Ok(chart.plotting_area().get_pixel_range().1.start)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_png, output_dir};
    use super::*;

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

    /// A spectrum falling to 1e-14, as a smooth field's does: the case that
    /// used to print "0" for every tick below 1e-12.
    #[test]
    fn renders_steep_spectra() {
        let (_guard, dir) = output_dir();
        let steep: Vec<f64> = (0..=32).map(|k| 10f64.powf(-(k as f64) / 2.3)).collect();
        let path = dir.join("spectra_steep.png");
        plot_spectra(
            &path,
            &[("truth 64", steep.clone()), ("prediction 64", steep)],
        )
        .unwrap();
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
    fn bad_curve_inputs_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.png");
        assert!(matches!(
            plot_loss_curve(&path, &[("train", vec![(1.0, 0.0), (2.0, -1.0)])]),
            Err(EvalError::NothingToPlot { .. })
        ));
        let missing = dir.path().join("no/such/dir/plot.png");
        assert!(matches!(
            plot_spectra(&missing, &[("truth", vec![1.0, 0.5, 0.25])]),
            Err(EvalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound
        ));
        assert!(!path.exists());
    }

    #[test]
    fn renders_iterations() {
        let (_guard, dir) = output_dir();
        let misfit: Vec<(f64, f64)> = (0..200)
            .map(|i| (i as f64, 2e-2 * (-(i as f64) / 30.0).exp() + 1e-6))
            .collect();
        let total: Vec<(f64, f64)> = misfit.iter().map(|&(i, v)| (i, 1.5 * v)).collect();
        let path = dir.join("iterations.png");
        plot_iterations(
            &path,
            "Inverse loss",
            &[
                ("misfit (squared, relative)", misfit),
                ("total loss", total),
            ],
        )
        .unwrap();
        check_png(&path, (900, 650));
    }
}
