//! The grouped layout (diff-react, diff-sorp, shallow water): one group per
//! sample, `0000`, `0001`, …, each with `data` [T, X, (Y, (Z)), C] and its
//! grid in `grid/x`, (`grid/y`, (`grid/z`)) and `grid/t`.
use super::opener::{Contents, Opener};
use super::Coordinates;
use crate::data::catalog::Family;
use crate::data::error::{DataError, Result};
use crate::data::layout::{Role, Source};

/// Checks the first sample group, which stands for all of them, and says
/// where the samples are. `groups` are the file's top-level members, all
/// sample groups; the channels take the catalogue's field names when their
/// number matches, `c0`, `c1`, … otherwise.
pub(super) fn contents(
    opener: &mut Opener,
    family: Option<&Family>,
    mut groups: Vec<String>,
) -> Result<Contents> {
    groups.sort();
    let first = format!("{}/data", groups[0]);
    let rank = opener.rank(&first);
    if !(3..=5).contains(&rank) {
        return Err(DataError::WrongRank {
            path: opener.path().to_path_buf(),
            expected: 4,
            got: rank,
            shape: opener
                .file()
                .dataset(&first)
                .map(|d| d.shape())
                .unwrap_or_default(),
            dataset: first,
        });
    }
    let s = opener.float_dataset(&first, rank)?;
    let dims = rank - 2;
    let mut space = Vec::new();
    for (k, axis) in ["x", "y", "z"][..dims].iter().enumerate() {
        let name = format!("{}/grid/{axis}", groups[0]);
        space.push(opener.coordinate(&name, s[1 + k], false)?);
    }
    let t = opener.coordinate(&format!("{}/grid/t", groups[0]), s[0], true)?;
    let mut roles = vec![Role::Time];
    roles.extend(std::iter::repeat_n(Role::Space, dims));
    roles.push(Role::Channel);
    let channels = s[rank - 1];
    let fields = family
        .map(|f| f.fields.clone())
        .filter(|f| f.len() == channels)
        .unwrap_or_else(|| (0..channels).map(|c| format!("c{c}")).collect());
    Ok(Contents {
        num_samples: groups.len(),
        num_frames: s[0],
        spatial_shape: s[1..rank - 1].to_vec(),
        frames: vec![Source::new("data", &roles)],
        inputs: vec![],
        fields,
        input_fields: vec![],
        coordinates: Coordinates { space, time: t },
        groups,
    })
}
