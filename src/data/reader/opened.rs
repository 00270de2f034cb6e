//! What opening a file yields, whatever its layout: below the layouts'
//! modules and the code that dispatches to them.
use super::well::read::WellData;
use super::FileInfo;
use crate::data::layout::Source;

/// The result of validating a file at open time.
pub(super) struct Opened {
    /// What the file holds.
    pub(super) info: FileInfo,
    /// The datasets holding the frames, in channel order.
    pub(super) frames: Vec<Source>,
    /// The datasets holding the input fields, in channel order.
    pub(super) inputs: Vec<Source>,
    /// Sample group names, sorted (grouped layout only).
    pub(super) groups: Vec<String>,
    /// The files and fields of The Well's layout.
    pub(super) well: Option<WellData>,
}

/// The domain of cell-centred coordinates: half a spacing beyond each end.
pub(super) fn domain_of(axis: &[f64]) -> [f64; 2] {
    match axis {
        [] => [0.0, 1.0],
        [only] => [only - 0.5, only + 0.5],
        [first, .., last] => {
            let h = (last - first) / (axis.len() - 1) as f64;
            [first - h / 2.0, last + h / 2.0]
        }
    }
}
