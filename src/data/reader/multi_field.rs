//! The multi-field layout of the compressible-flow (CFD) files: `density`,
//! `pressure`, `Vx` (and `Vy`, `Vz` in 2D and 3D), each [N, T, X, (Y, (Z))],
//! with one coordinate dataset per axis.
use super::opener::{Contents, Opener};
use super::Coordinates;
use crate::data::error::Result;
use crate::data::layout::{Role, Source};

/// The field datasets in channel order; the first 2 + (spatial rank) apply.
const FIELDS: [&str; 5] = ["density", "pressure", "Vx", "Vy", "Vz"];

/// The spatial coordinate datasets, one per axis.
const AXES: [&str; 3] = ["x-coordinate", "y-coordinate", "z-coordinate"];

/// Checks the datasets of the multi-field layout and says where its samples
/// are: the rank of `density` fixes the number of spatial axes and so which
/// velocity components must be present, each of `density`'s shape.
pub(super) fn contents(opener: &mut Opener) -> Result<Contents> {
    // Recorded with the other fields below, once its rank is known.
    let d = opener.float_shape("density", opener.rank("density").clamp(3, 5))?;
    let dims = d.len() - 2;
    opener.require_samples("density", d[0])?;
    let mut roles = vec![Role::Sample, Role::Time];
    roles.extend(std::iter::repeat_n(Role::Space, dims));
    let mut frames = Vec::new();
    for name in &FIELDS[..2 + dims] {
        let s = opener.float_dataset(name, d.len())?;
        opener.same_shape(name, &s, &d)?;
        frames.push(Source::new(name, &roles));
    }
    let mut space = Vec::new();
    for (k, axis) in AXES[..dims].iter().enumerate() {
        space.push(opener.coordinate(axis, d[2 + k], false)?);
    }
    let t = opener.coordinate("t-coordinate", d[1], true)?;
    Ok(Contents {
        num_samples: d[0],
        num_frames: d[1],
        spatial_shape: d[2..].to_vec(),
        frames,
        inputs: vec![],
        fields: FIELDS[..2 + dims].iter().map(|s| s.to_string()).collect(),
        input_fields: vec![],
        coordinates: Coordinates { space, time: t },
        groups: vec![],
    })
}
