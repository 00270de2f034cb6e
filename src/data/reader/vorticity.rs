//! The vorticity layout written by `fno generate ns`: initial vorticity `a`
//! [N, X, Y] (the input) and trajectory `u` [N, X, Y, T] (time last, as in
//! the FNO paper's files) or [N, T, X, Y], with coordinate datasets.
use super::opener::{Contents, Opener};
use super::Coordinates;
use crate::data::error::Result;
use crate::data::layout::{Role, Source};

/// Checks the datasets of the vorticity layout and says where its samples
/// are; the position of the time axis of `u` is told by its shape.
pub(super) fn contents(opener: &mut Opener) -> Result<Contents> {
    let a = opener.float_dataset("a", 3)?;
    let u = opener.float_dataset("u", 4)?;
    opener.require_samples("a", a[0])?;
    let time_last = u[..3] == a[..];
    let (frames, roles): (usize, &[Role]) = if time_last {
        (u[3], &[Role::Sample, Role::Space, Role::Space, Role::Time])
    } else {
        opener.same_shape("u", &[u[0], u[2], u[3]], &a)?;
        (u[1], &[Role::Sample, Role::Time, Role::Space, Role::Space])
    };
    let x = opener.coordinate("x-coordinate", a[1], false)?;
    let y = opener.coordinate("y-coordinate", a[2], false)?;
    let t = opener.coordinate("t-coordinate", frames, true)?;
    Ok(Contents {
        num_samples: a[0],
        num_frames: frames,
        spatial_shape: vec![a[1], a[2]],
        frames: vec![Source::new("u", roles)],
        inputs: vec![Source::new("a", &[Role::Sample, Role::Space, Role::Space])],
        fields: vec!["w".into()],
        input_fields: vec!["w0".into()],
        coordinates: Coordinates {
            space: vec![x, y],
            time: t,
        },
        groups: vec![],
    })
}
