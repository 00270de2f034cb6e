//! What every plot shares: the embedded font, colours and colour maps, and
//! writing a PNG atomically.
use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::eval::EvalError;
use crate::rundir::write_atomic;

/// A drawing area of a PNG being drawn.
pub(super) type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
/// What drawing steps return: plotters' errors are of several types.
pub(super) type DrawResult = Result<(), Box<dyn Error>>;

/// The family name the embedded font is registered under.
pub(super) const FONT: &str = "sans-serif";
/// Point size of titles.
pub(super) const TITLE_SIZE: u32 = 24;
/// Point size of axis descriptions, tick labels and legends.
pub(super) const LABEL_SIZE: u32 = 16;
/// Colours of successive series: distinguishable, and readable on white.
pub(super) const SERIES_COLOURS: [RGBColor; 8] = [
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
pub(super) const SEQUENTIAL: [(f64, RGBColor); 5] = [
    (0.0, RGBColor(68, 1, 84)),
    (0.25, RGBColor(59, 82, 139)),
    (0.5, RGBColor(33, 145, 140)),
    (0.75, RGBColor(94, 201, 98)),
    (1.0, RGBColor(253, 231, 37)),
];
/// Anchors of a blue → white → red map centred on zero, for errors.
pub(super) const DIVERGING: [(f64, RGBColor); 3] = [
    (0.0, RGBColor(59, 76, 192)),
    (0.5, RGBColor(242, 242, 242)),
    (1.0, RGBColor(180, 4, 38)),
];
/// How heatmaps show non-finite values (and unobserved points).
pub(super) const NON_FINITE: RGBColor = RGBColor(160, 160, 160);

/// The colour of series `i`, cycling through [`SERIES_COLOURS`].
pub(super) fn series_colour(i: usize) -> RGBColor {
    SERIES_COLOURS[i % SERIES_COLOURS.len()]
}

/// Linear interpolation in a colour map given as sorted `(position, colour)`
/// anchors on [0, 1]; positions outside are clamped.
pub(super) fn colour_at(map: &[(f64, RGBColor)], t: f64) -> RGBColor {
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

/// Registers the embedded font, draws into memory, encodes the PNG and
/// writes it atomically ([`write_atomic`]): a failed write (a full disk)
/// is reported with the operating system's reason and leaves no
/// temporary.
pub(super) fn write_png(
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
    let mut pixels = vec![0; 3 * size.0 as usize * size.1 as usize];
    {
        let root = BitMapBackend::with_buffer_and_format(&mut pixels, size)
            .map_err(|e| plot_error(e.to_string()))?
            .into_drawing_area();
        root.fill(&WHITE)
            .map_err(Box::<dyn Error>::from)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Box::<dyn Error>::from))
            .map_err(|e| plot_error(e.to_string()))?;
    }
    let png = encode_png(&pixels, size).map_err(|e| plot_error(e.to_string()))?;
    write_atomic(path, &png).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Encodes 8-bit RGB pixels, row by row, as a PNG.
fn encode_png(pixels: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_map_interpolates_and_clamps() {
        assert_eq!(colour_at(&SEQUENTIAL, -1.0), SEQUENTIAL[0].1);
        assert_eq!(colour_at(&SEQUENTIAL, 2.0), SEQUENTIAL[4].1);
        assert_eq!(colour_at(&DIVERGING, 0.5), DIVERGING[1].1);
        assert_eq!(colour_at(&DIVERGING, 0.25), RGBColor(151, 159, 217));
    }
}
