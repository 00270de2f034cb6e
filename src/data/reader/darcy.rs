//! The Darcy layout: coefficient `nu` [N, X, Y] (the input) and solution
//! `tensor` [N, 1, X, Y], with `x-coordinate` and `y-coordinate`.
use super::opener::{Contents, Opener};
use super::Coordinates;
use crate::data::error::Result;
use crate::data::layout::{Role, Source};

/// Checks the datasets of the Darcy layout and says where its samples are:
/// one frame of `u` per sample, with `nu` as the input field.
pub(super) fn contents(opener: &mut Opener) -> Result<Contents> {
    let a = opener.float_dataset("nu", 3)?;
    let u = opener.float_dataset("tensor", 4)?;
    opener.require_samples("nu", a[0])?;
    opener.same_shape("tensor", &u, &[a[0], 1, a[1], a[2]])?;
    let x = opener.coordinate("x-coordinate", a[1], false)?;
    let y = opener.coordinate("y-coordinate", a[2], false)?;
    Ok(Contents {
        num_samples: a[0],
        num_frames: 1,
        spatial_shape: vec![a[1], a[2]],
        frames: vec![Source::new(
            "tensor",
            &[Role::Sample, Role::Channel, Role::Space, Role::Space],
        )],
        inputs: vec![Source::new("nu", &[Role::Sample, Role::Space, Role::Space])],
        fields: vec!["u".into()],
        input_fields: vec!["nu".into()],
        coordinates: Coordinates {
            space: vec![x, y],
            time: vec![0.0],
        },
        groups: vec![],
    })
}
