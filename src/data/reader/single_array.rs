//! The single-array layout of the 1D PDEBench files (advection, Burgers,
//! reaction-diffusion): `tensor` [N, T, X] with `x-coordinate` [X] and
//! `t-coordinate` [T + 1].
use super::opener::{Contents, Opener};
use super::Coordinates;
use crate::data::catalog::Family;
use crate::data::error::Result;
use crate::data::layout::{Role, Source};

/// Checks the datasets of the single-array layout and says where its
/// samples are; the field names come from the catalogue (`u` without one).
pub(super) fn contents(opener: &mut Opener, family: Option<&Family>) -> Result<Contents> {
    let s = opener.float_dataset("tensor", 3)?;
    opener.require_samples("tensor", s[0])?;
    let x = opener.coordinate("x-coordinate", s[2], false)?;
    let t = opener.coordinate("t-coordinate", s[1], true)?;
    Ok(Contents {
        num_samples: s[0],
        num_frames: s[1],
        spatial_shape: vec![s[2]],
        frames: vec![Source::new(
            "tensor",
            &[Role::Sample, Role::Time, Role::Space],
        )],
        inputs: vec![],
        fields: family.map_or_else(|| vec!["u".into()], |f| f.fields.clone()),
        input_fields: vec![],
        coordinates: Coordinates {
            space: vec![x],
            time: t,
        },
        groups: vec![],
    })
}
