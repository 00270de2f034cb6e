//! Legends in a column of their own beside the chart, so that they never
//! cover a curve.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{DrawResult, Root, FONT, LABEL_SIZE};

/// Width of a legend's swatch (a line sample or a dot).
const SWATCH: i32 = 26;
/// Gap between the chart and the swatch, and between swatch and label.
const GAP: i32 = 10;
/// Vertical distance between entries.
const ROW: i32 = LABEL_SIZE as i32 + 12;

/// How a series shows in the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    /// A line sample (curves).
    Line,
    /// A dot (scattered points).
    Dot,
}

/// One legend entry.
#[derive(Debug, Clone, Copy)]
pub(super) struct LegendEntry<'a> {
    /// What the series is.
    pub label: &'a str,
    /// The series' colour.
    pub colour: RGBColor,
    /// Its swatch.
    pub mark: Mark,
}

/// The width a legend column needs for `entries`: swatch, gaps and the
/// widest label, but at most a third of `area`.
pub(super) fn legend_width(area: &Root<'_>, entries: &[LegendEntry<'_>]) -> u32 {
    let style = TextStyle::from((FONT, LABEL_SIZE).into_font());
    let widest = entries
        .iter()
        .map(|e| area.estimate_text_size(e.label, &style).map_or(0, |s| s.0))
        .max()
        .unwrap_or(0);
    let wanted = widest + (SWATCH + 3 * GAP) as u32;
    wanted.min(area.dim_in_pixel().0 / 3)
}

/// Draws `entries` top-down in `area`, the first at `top` pixels below the
/// area's upper edge (the top of the plotting area beside it).
pub(super) fn draw_legend(area: &Root<'_>, entries: &[LegendEntry<'_>], top: i32) -> DrawResult {
    let style = TextStyle::from((FONT, LABEL_SIZE).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center))
        .color(&BLACK);
    let x0 = GAP;
    for (i, entry) in entries.iter().enumerate() {
        let y = top + ROW / 2 + ROW * i as i32;
        let colour = entry.colour;
        match entry.mark {
            Mark::Line => area.draw(&PathElement::new(
                [(x0, y), (x0 + SWATCH, y)],
                colour.stroke_width(2),
            ))?,
            Mark::Dot => area.draw(&Circle::new((x0 + SWATCH / 2, y), 4, colour.filled()))?,
        }
        area.draw(&Text::new(entry.label, (x0 + SWATCH + GAP, y), &style))?;
    }
    Ok(())
}

/// Splits `area` into the chart's part and a legend column on its right.
pub(super) fn split_for_legend<'a>(
    area: &Root<'a>,
    entries: &[LegendEntry<'_>],
) -> (Root<'a>, Root<'a>) {
    let width = area.dim_in_pixel().0;
    area.split_horizontally(width - legend_width(area, entries))
}

/// How far below the top of `legend_area` the plotting area whose top edge
/// is at absolute pixel `plot_top` starts.
pub(super) fn top_offset(legend_area: &Root<'_>, plot_top: i32) -> i32 {
    plot_top - legend_area.get_base_pixel().1
}
