//! PDEBench's incompressible Navier–Stokes layout: `velocity`
//! [B, T, X, Y, 2], `particles` [B, T, X, Y, 1], `force` [B, X, Y, 2] (the
//! input) and the frame times `t` [B, T]; no spatial coordinates are stored.
use super::opener::{cell_centres, Contents, Opener};
use super::Coordinates;
use crate::data::catalog::Family;
use crate::data::error::Result;
use crate::data::layout::{Role, Source};

/// Checks the datasets of the incompressible-NS layout and says where its
/// samples are. The frame times are those of the first sample; the grid is
/// cell-centred on the catalogue's domain (the unit square without one).
pub(super) fn contents(opener: &mut Opener, family: Option<&Family>) -> Result<Contents> {
    let v = opener.float_dataset("velocity", 5)?;
    opener.require_samples("velocity", v[0])?;
    if v[4] != 2 {
        return Err(opener.shape_mismatch("velocity", "[B, T, X, Y, 2]", &v));
    }
    let p = opener.float_dataset("particles", 5)?;
    opener.same_shape("particles", &p, &[v[0], v[1], v[2], v[3], 1])?;
    let f = opener.float_dataset("force", 4)?;
    opener.same_shape("force", &f, &[v[0], v[2], v[3], 2])?;
    let t_shape = opener.float_dataset("t", 2)?;
    opener.same_shape("t", &t_shape, &[v[0], v[1]])?;
    let t: Vec<f64> = opener
        .file()
        .dataset("t")
        .and_then(|d| d.read_slice_1d::<f64, _>(ndarray::s![0, ..]))
        .map_err(opener.read_error("t"))?
        .to_vec();
    let domain = family
        .map(|f| f.domain.clone())
        .unwrap_or(vec![[0.0, 1.0]; 2]);
    let roles = [
        Role::Sample,
        Role::Time,
        Role::Space,
        Role::Space,
        Role::Channel,
    ];
    Ok(Contents {
        num_samples: v[0],
        num_frames: v[1],
        spatial_shape: vec![v[2], v[3]],
        frames: vec![
            Source::new("velocity", &roles),
            Source::new("particles", &roles),
        ],
        inputs: vec![Source::new(
            "force",
            &[Role::Sample, Role::Space, Role::Space, Role::Channel],
        )],
        fields: vec!["vx".into(), "vy".into(), "particles".into()],
        input_fields: vec!["fx".into(), "fy".into()],
        coordinates: Coordinates {
            space: vec![cell_centres(domain[0], v[2]), cell_centres(domain[1], v[3])],
            time: t,
        },
        groups: vec![],
    })
}
