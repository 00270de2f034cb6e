//! 2D fields as heatmaps with colour bars, on the grid's physical
//! coordinates where they are known.
use std::ops::Range;
use std::path::Path;

use ndarray::ArrayView2;
use plotters::prelude::*;

use super::style::{
    colour_at, write_png, DrawResult, Root, DIVERGING, FONT, LABEL_SIZE, NON_FINITE, SEQUENTIAL,
    TITLE_SIZE,
};
use super::ticks::{finite_range, format_tick, linear_labels, pad};
use crate::eval::EvalError;

/// The coordinates a 2D field is drawn against.
///
/// An axis whose coordinates are missing, do not match the field's extent,
/// or are not finite and increasing is drawn against grid indices, and its
/// label says so (`x index`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldAxes {
    /// Cell-centre coordinates along the field's first axis (x,
    /// horizontal).
    pub x: Vec<f64>,
    /// Cell-centre coordinates along its second axis (y, vertical).
    pub y: Vec<f64>,
    /// The time of the field, added to the panel titles, if it has one.
    pub time: Option<f64>,
}

/// Heatmaps of a 2D prediction, the truth and their difference, side by side,
/// each with a colour bar, against grid indices. Fields are `[X, Y]` with x
/// horizontal and y up. Prediction and truth share one colour range so they
/// compare by eye; the error's range is symmetric about zero.
///
/// # Errors
///
/// As [`plot_field_2d_on`].
pub fn plot_field_2d<A>(
    path: &Path,
    pred: ArrayView2<'_, A>,
    truth: ArrayView2<'_, A>,
) -> Result<(), EvalError>
where
    A: Copy + Into<f64>,
{
    plot_field_2d_on(path, &FieldAxes::default(), pred, truth)
}

/// [`plot_field_2d`] against the coordinates in `axes`: ticks and axis
/// labels in physical units, and the time in the titles.
///
/// # Errors
///
/// [`EvalError::ShapeMismatch`] if the shapes differ;
/// [`EvalError::EmptyAxis`] if an axis is empty;
/// [`EvalError::NothingToPlot`] if no value is finite;
/// [`EvalError::Plot`] or [`EvalError::Io`] if drawing or writing fails.
pub fn plot_field_2d_on<A>(
    path: &Path,
    axes: &FieldAxes,
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
    let grid = Grid::new(axes, pred.dim());
    let titled = |name: &str| match axes.time {
        Some(t) => format!("{name} at t = {}", format_tick(t)),
        None => name.to_owned(),
    };
    let panels = [
        (
            titled("Prediction"),
            pred.view(),
            field_range.clone(),
            &SEQUENTIAL[..],
        ),
        (titled("Truth"), truth.view(), field_range, &SEQUENTIAL[..]),
        (titled("Error"), error.view(), -e_max..e_max, &DIVERGING[..]),
    ];
    write_png(path, (1560, 520), |root| {
        for (area, (title, field, range, map)) in root.split_evenly((1, 3)).iter().zip(panels) {
            draw_heatmap(area, &grid, &title, field, range, map)?;
        }
        Ok(())
    })
}

/// Heatmaps of 2D fields side by side, each `(title, [X, Y])` with its own
/// colour range and bar, against grid indices; non-finite entries are
/// drawn grey, which is how unobserved points of an observation show.
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
            let grid = Grid::new(&FieldAxes::default(), field.dim());
            draw_heatmap(area, &grid, title, field.view(), range, &SEQUENTIAL[..])?;
        }
        Ok(())
    })
}

/// Where the cells of a heatmap lie, and what its axes are called.
struct Grid {
    /// Cell edges along x: one more than cells.
    x_edges: Vec<f64>,
    /// Cell edges along y.
    y_edges: Vec<f64>,
    x_desc: &'static str,
    y_desc: &'static str,
}

impl Grid {
    /// The grid of a `[nx, ny]` field on `axes`, each axis falling back to
    /// grid indices on its own.
    fn new(axes: &FieldAxes, (nx, ny): (usize, usize)) -> Self {
        let (x_edges, x_desc) = match cell_edges(&axes.x, nx) {
            Some(edges) => (edges, "x"),
            None => (index_edges(nx), "x index"),
        };
        let (y_edges, y_desc) = match cell_edges(&axes.y, ny) {
            Some(edges) => (edges, "y"),
            None => (index_edges(ny), "y index"),
        };
        Self {
            x_edges,
            y_edges,
            x_desc,
            y_desc,
        }
    }

    fn x_range(&self) -> Range<f64> {
        span(&self.x_edges)
    }

    fn y_range(&self) -> Range<f64> {
        span(&self.y_edges)
    }
}

fn span(edges: &[f64]) -> Range<f64> {
    edges[0]..edges[edges.len() - 1]
}

/// Edges of `n` unit cells: cell i spans [i, i + 1].
fn index_edges(n: usize) -> Vec<f64> {
    (0..=n).map(|i| i as f64).collect()
}

/// Edges of the cells centred on `centres`: half-way between neighbours,
/// and half a spacing beyond each end; `None` unless there are `n` finite,
/// strictly increasing centres (a single cell gets unit width).
fn cell_edges(centres: &[f64], n: usize) -> Option<Vec<f64>> {
    let increasing = centres.windows(2).all(|w| w[1] > w[0]);
    if centres.len() != n || n == 0 || !increasing || !centres.iter().all(|c| c.is_finite()) {
        return None;
    }
    if n == 1 {
        return Some(vec![centres[0] - 0.5, centres[0] + 0.5]);
    }
    let mut edges = Vec::with_capacity(n + 1);
    edges.push(centres[0] - (centres[1] - centres[0]) / 2.0);
    edges.extend(centres.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    edges.push(centres[n - 1] + (centres[n - 1] - centres[n - 2]) / 2.0);
    Some(edges)
}

/// One heatmap with its colour bar to the right.
fn draw_heatmap(
    area: &Root<'_>,
    grid: &Grid,
    title: &str,
    field: ArrayView2<'_, f64>,
    range: Range<f64>,
    map: &[(f64, RGBColor)],
) -> DrawResult {
    let width = area.dim_in_pixel().0;
    let (map_area, bar_area) = area.split_horizontally(width * 4 / 5);
    let (x_range, y_range) = (grid.x_range(), grid.y_range());
    let (x_labels, y_labels) = (linear_labels(&x_range), linear_labels(&y_range));
    let mut chart = ChartBuilder::on(&map_area)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, y_range)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(grid.x_desc)
        .y_desc(grid.y_desc)
        .label_style((FONT, LABEL_SIZE))
        .x_label_formatter(&x_labels)
        .y_label_formatter(&y_labels)
        .draw()?;
    let span = range.end - range.start;
    chart.draw_series(field.indexed_iter().map(|((i, j), &v)| {
        let colour = if v.is_finite() {
            colour_at(map, (v - range.start) / span)
        } else {
            NON_FINITE
        };
        let corners = [
            (grid.x_edges[i], grid.y_edges[j]),
            (grid.x_edges[i + 1], grid.y_edges[j + 1]),
        ];
        Rectangle::new(corners, colour.filled())
    }))?;
    draw_colour_bar(&bar_area, range, map)
}

/// A vertical colour bar for `range`, its labels on the right, clear of
/// the bar. Its vertical margins match the heatmap's caption and x labels
/// so that both line up.
fn draw_colour_bar(area: &Root<'_>, range: Range<f64>, map: &[(f64, RGBColor)]) -> DrawResult {
    let labels = linear_labels(&range);
    let mut bar = ChartBuilder::on(area)
        .margin_top(10 + TITLE_SIZE + 10)
        .margin_bottom(10 + 45)
        .margin_left(5)
        .right_y_label_area_size(75)
        .build_cartesian_2d(0.0..1.0, range.clone())?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .label_style((FONT, LABEL_SIZE))
        .y_label_formatter(&labels)
        .draw()?;
    const STEPS: usize = 128;
    let span = range.end - range.start;
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

#[cfg(test)]
mod tests {
    use super::super::testing::{check_png, output_dir};
    use super::*;
    use ndarray::Array2;
    use std::f64::consts::PI;

    fn wave(nx: usize, ny: usize) -> Array2<f64> {
        Array2::from_shape_fn((nx, ny), |(i, j)| {
            (2.0 * PI * i as f64 / nx as f64).sin() * (2.0 * PI * j as f64 / ny as f64).cos()
        })
    }

    #[test]
    fn renders_field_2d() {
        let (_guard, dir) = output_dir();
        let truth = wave(48, 32);
        let pred = truth.mapv(|v| 0.9 * v + 0.05);
        let path = dir.join("field_2d.png");
        plot_field_2d(&path, pred.view(), truth.view()).unwrap();
        check_png(&path, (1560, 520));
    }

    #[test]
    fn renders_field_2d_on_physical_coordinates() {
        let (_guard, dir) = output_dir();
        let truth = wave(48, 32);
        let pred = truth.mapv(|v| 0.9 * v + 0.05);
        let axes = FieldAxes {
            x: (0..48)
                .map(|i| -1.0 + (i as f64 + 0.5) * 2.0 / 48.0)
                .collect(),
            y: (0..32).map(|j| (j as f64 + 0.5) / 32.0).collect(),
            time: Some(2.5),
        };
        let path = dir.join("field_2d_physical.png");
        plot_field_2d_on(&path, &axes, pred.view(), truth.view()).unwrap();
        check_png(&path, (1560, 520));
    }

    #[test]
    fn renders_heatmaps() {
        let (_guard, dir) = output_dir();
        let mut observed = wave(32, 32);
        observed
            .indexed_iter_mut()
            .filter(|((i, j), _)| (i + j) % 3 != 0)
            .for_each(|(_, v)| *v = f64::NAN);
        let clean = wave(32, 32);
        let path = dir.join("heatmaps.png");
        plot_heatmaps(
            &path,
            &[("Observed", observed.view()), ("Noise-free", clean.view())],
        )
        .unwrap();
        check_png(&path, (1040, 520));
    }

    #[test]
    fn grids_use_coordinates_or_fall_back_to_indices() {
        let axes = FieldAxes {
            x: vec![0.125, 0.375, 0.625, 0.875],
            y: vec![1.0, 0.5],
            time: None,
        };
        let grid = Grid::new(&axes, (4, 2));
        assert_eq!(grid.x_edges, [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(grid.x_desc, "x");
        // Decreasing coordinates cannot be drawn as cells: indices instead.
        assert_eq!(grid.y_edges, [0.0, 1.0, 2.0]);
        assert_eq!(grid.y_desc, "y index");
        // Coordinates of another extent are not this field's.
        let grid = Grid::new(&axes, (3, 2));
        assert_eq!(grid.x_desc, "x index");
        assert_eq!(cell_edges(&[2.0], 1), Some(vec![1.5, 2.5]));
    }

    #[test]
    fn bad_field_inputs_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.png");
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
        assert!(!path.exists());
    }
}
