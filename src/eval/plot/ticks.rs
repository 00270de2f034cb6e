//! Where ticks go and how their labels read, on linear and logarithmic
//! axes, and the data ranges they span.
use std::ops::Range;

/// Labels on a logarithmic axis: at most this many, so they never crowd.
const MAX_LOG_LABELS: usize = 8;

/// A short label for a tick at `v`: plain decimals for magnitudes in
/// [0.01, 10⁴), compact scientific notation otherwise (`1e-12`, `2.5e-3`,
/// `3e4`), at most three significant digits, and never `-0`.
pub(super) fn format_tick(v: f64) -> String {
    let magnitude = v.abs();
    if magnitude == 0.0 || !v.is_finite() {
        return if v.is_nan() {
            "NaN".to_owned()
        } else {
            zero_or(v)
        };
    }
    if (1e-2..1e4).contains(&magnitude) {
        // Four decimals keep 0.0153 and 12.25 whole; longer tails are noise
        // of the tick step.
        return trim_fraction(&format!("{v:.4}"));
    }
    let scientific = format!("{v:.2e}");
    match scientific.split_once('e') {
        Some((mantissa, exponent)) => format!("{}e{exponent}", trim_fraction(mantissa)),
        None => scientific,
    }
}

/// `"0"` for a zero of either sign, `"inf"`/`"-inf"` for infinities.
fn zero_or(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else {
        format!("{v}")
    }
}

/// Drops trailing zeros of a decimal fraction, then a bare point; `-0`
/// becomes `0`.
fn trim_fraction(text: &str) -> String {
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The label formatter of a linear axis spanning `range`: values within a
/// rounding error of zero (relative to the span) read `0`, since a linear
/// axis places its zero tick a few ulps off.
pub(super) fn linear_labels(range: &Range<f64>) -> impl Fn(&f64) -> String {
    let span = (range.end - range.start).abs();
    move |v: &f64| {
        if v.abs() <= span * 1e-9 {
            "0".to_owned()
        } else {
            format_tick(*v)
        }
    }
}

/// The label formatter of a logarithmic axis.
pub(super) fn log_labels(v: &f64) -> String {
    format_tick(*v)
}

/// Labelled and unlabelled tick positions on a logarithmic axis.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LogTicks {
    /// Labelled ticks, drawn with a bold grid line.
    pub major: Vec<f64>,
    /// Unlabelled ticks, drawn with a light grid line.
    pub minor: Vec<f64>,
}

/// Ticks for a logarithmic axis over the positive range `range`.
///
/// Three decades or more get one labelled tick per decade (every second,
/// third... decade when there are more than [`MAX_LOG_LABELS`]) and light
/// ticks at 2..9 times each decade; a range of a decade or two gets labels
/// at 1, 2 and 5 times powers of ten, or at every integer multiple when
/// even those are too few to read the scale.
pub(super) fn log_ticks(range: &Range<f64>) -> LogTicks {
    let (lo, hi) = (range.start, range.end);
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    // Parsing gives the double nearest to the power, as a literal would.
    let decade = |e: i32| format!("1e{e}").parse().unwrap_or_else(|_| 10f64.powi(e));
    let multiples = |mantissas: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|e| mantissas.iter().map(move |m| m * decade(e)))
            .filter(inside)
            .collect()
    };
    let decades: Vec<i32> = (first..=last).filter(|&e| inside(&decade(e))).collect();
    if decades.len() >= 3 {
        let step = decades.len().div_ceil(MAX_LOG_LABELS);
        // Labelled decades are the multiples of `step`, so that the labels
        // stay on round exponents (1e-12, 1e-9, ...).
        let (major, unlabelled): (Vec<i32>, Vec<i32>) = decades
            .iter()
            .partition(|&&e| e.rem_euclid(step as i32) == 0);
        let minor = if step == 1 {
            multiples(&[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
        } else {
            unlabelled.into_iter().map(decade).collect()
        };
        return LogTicks {
            major: major.into_iter().map(decade).collect(),
            minor,
        };
    }
    let coarse = multiples(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 3 {
        return LogTicks {
            major: coarse,
            minor: multiples(&[3.0, 4.0, 6.0, 7.0, 8.0, 9.0]),
        };
    }
    let every = multiples(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if every.len() >= 2 {
        return LogTicks {
            major: every,
            minor: Vec::new(),
        };
    }
    LogTicks {
        major: linear_ticks(range, 4),
        minor: Vec::new(),
    }
}

/// About `count` ticks at a round step (1, 2 or 5 times a power of ten)
/// inside `range`.
fn linear_ticks(range: &Range<f64>, count: usize) -> Vec<f64> {
    let span = range.end - range.start;
    if span.is_nan() || span <= 0.0 {
        return vec![range.start];
    }
    let raw = span / count as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let start = (range.start / step).ceil() as i64;
    let end = (range.end / step).floor() as i64;
    (start..=end).map(|i| i as f64 * step).collect()
}

/// `(x, y)` pairs with both coordinates finite.
pub(super) fn finite_points<'a>(
    x: &'a [f64],
    y: &'a [f64],
) -> impl Iterator<Item = (f64, f64)> + 'a {
    x.iter()
        .zip(y)
        .map(|(&a, &b)| (a, b))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
}

/// Smallest and largest finite value, or `None` if there is none.
pub(super) fn finite_range(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc: Option<Range<f64>>, v| match acc {
            None => Some(v..v),
            Some(r) => Some(r.start.min(v)..r.end.max(v)),
        })
}

/// Widens a range by `fraction` of its span on each side, and a degenerate
/// range to a unit-wide one, so that a constant curve is still drawable.
pub(super) fn pad(range: Range<f64>, fraction: f64) -> Range<f64> {
    let span = range.end - range.start;
    if span > 0.0 {
        range.start - fraction * span..range.end + fraction * span
    } else {
        range.start - 0.5..range.end + 0.5
    }
}

/// Widens a positive range by a factor of 1.5 on each side (10 if
/// degenerate), so that curves do not touch the frame of a log axis.
pub(super) fn pad_log(range: Range<f64>) -> Range<f64> {
    let factor = if range.end > range.start { 1.5 } else { 10.0 };
    range.start / factor..range.end * factor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(values: &[f64]) -> Vec<String> {
        values.iter().map(|&v| format_tick(v)).collect()
    }

    #[test]
    fn tick_labels_are_compact() {
        assert_eq!(
            labels(&[1e-12, 2.5e-3, 0.1, 1.0, 100.0]),
            ["1e-12", "2.5e-3", "0.1", "1", "100"]
        );
        assert_eq!(
            labels(&[3e-4, 0.01, 1e4, 2.5e6, -0.25, 0.8, 0.0153, 1.234e-7]),
            ["3e-4", "0.01", "1e4", "2.5e6", "-0.25", "0.8", "0.0153", "1.23e-7"]
        );
        assert_eq!(labels(&[0.0, -0.0, 1e-300]), ["0", "0", "1e-300"]);
    }

    #[test]
    fn linear_labels_snap_rounding_errors_to_zero() {
        let wide = linear_labels(&(-1.0..1.0));
        assert_eq!(wide(&-1e-17), "0");
        assert_eq!(wide(&0.25), "0.25");
        // On an axis of tiny values, tiny values are not zero.
        let tiny = linear_labels(&(-2e-13..2e-13));
        assert_eq!(tiny(&1e-13), "1e-13");
        assert_eq!(tiny(&1e-30), "0");
    }

    #[test]
    fn log_ticks_label_decades() {
        let t = log_ticks(&(6.7e-4..0.75));
        assert_eq!(t.major, [1e-3, 1e-2, 1e-1]);
        assert!(t.minor.contains(&0.5) && t.minor.contains(&2e-3));
        assert!(t.minor.iter().all(|v| (6.7e-4..0.75).contains(v)));
        assert_eq!(
            t.major.iter().map(|&v| log_labels(&v)).collect::<Vec<_>>(),
            ["1e-3", "0.01", "0.1"]
        );
    }

    #[test]
    fn two_decades_get_one_two_five() {
        let t = log_ticks(&(0.67..96.0));
        assert_eq!(
            t.major.iter().map(|&v| log_labels(&v)).collect::<Vec<_>>(),
            ["1", "2", "5", "10", "20", "50"]
        );
    }

    #[test]
    fn many_decades_get_at_most_eight_labels() {
        let t = log_ticks(&(1e-20..10.0));
        assert!(t.major.len() <= MAX_LOG_LABELS, "{:?}", t.major);
        assert!(t.major.contains(&1e-12) && t.major.contains(&1.0));
        // The unlabelled decades still get a (light) tick.
        assert!(t.minor.iter().any(|&v| (v / 1e-11 - 1.0).abs() < 1e-9));
    }

    #[test]
    fn narrow_log_ranges_still_get_labels() {
        let read = |t: LogTicks| t.major.iter().map(|&v| log_labels(&v)).collect::<Vec<_>>();
        assert_eq!(read(log_ticks(&(0.03..0.9))), ["0.05", "0.1", "0.2", "0.5"]);
        assert_eq!(
            read(log_ticks(&(0.15..0.65))),
            ["0.2", "0.3", "0.4", "0.5", "0.6"]
        );
        let t = log_ticks(&(1.2..1.8));
        assert!(t.major.len() >= 2, "{:?}", t.major);
        assert!(t
            .major
            .iter()
            .all(|v| (1.2 - 1e-9..=1.8 + 1e-9).contains(v)));
    }
}
