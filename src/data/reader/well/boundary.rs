//! `/boundary_conditions`: each group's `bc_type` (periodic, wall or open,
//! in any case), `associated_dims` and `mask`, reduced to one kind per side
//! of each spatial axis as The Well's loader does for its padding: a side
//! is periodic or open if any mask point on it is, wall only if every one
//! is, and open where no condition is given.
use super::attrs::Attrs;
use crate::data::error::{DataError, Result};
use ndarray::{ArrayD, Axis};
use serde::Serialize;
use std::path::Path;

/// The boundary condition on one side of an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoundaryKind {
    /// The side wraps around to the other.
    Periodic,
    /// A wall (Dirichlet or Neumann values on the side).
    Wall,
    /// Outflow: waves leave the domain.
    Open,
}

impl BoundaryKind {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "periodic" => Some(Self::Periodic),
            "wall" => Some(Self::Wall),
            "open" => Some(Self::Open),
            _ => None,
        }
    }
}

/// The boundary conditions on both sides of one spatial axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AxisBoundary {
    /// The axis's name in `/dimensions@spatial_dims`.
    pub axis: String,
    /// At the first grid point.
    pub lower: BoundaryKind,
    /// At the last grid point.
    pub upper: BoundaryKind,
}

impl AxisBoundary {
    /// Whether the axis wraps around (both sides periodic), so that a
    /// Fourier layer needs no domain padding along it.
    pub fn is_periodic(&self) -> bool {
        self.lower == BoundaryKind::Periodic && self.upper == BoundaryKind::Periodic
    }
}

/// The per-axis padding fractions these boundaries call for: none along a
/// periodic axis, `fraction` along any other.
pub fn padding_for(boundaries: &[AxisBoundary], fraction: f64) -> Vec<f64> {
    boundaries
        .iter()
        .map(|b| if b.is_periodic() { 0.0 } else { fraction })
        .collect()
}

/// Reads every group of `/boundary_conditions` of `file` (whose axes are
/// `dims`, of extents `shape`) into one [`AxisBoundary`] per axis.
pub(super) fn read(
    path: &Path,
    file: &hdf5::File,
    dims: &[String],
    shape: &[usize],
) -> Result<Vec<AxisBoundary>> {
    let mut sides: Vec<[BoundaryKind; 2]> = vec![[BoundaryKind::Open; 2]; dims.len()];
    let Ok(group) = file.group("boundary_conditions") else {
        return Ok(axes(dims, sides));
    };
    let names = group.member_names().map_err(|_| DataError::WellFormat {
        path: path.to_path_buf(),
        dataset: "/boundary_conditions".into(),
        reason: "its members cannot be listed".into(),
    })?;
    for name in names {
        let object = format!("/boundary_conditions/{name}");
        let Ok(bc) = group.group(&name) else {
            continue;
        };
        let attrs = Attrs::new(path, &bc, &object);
        let text = attrs.string("bc_type")?;
        let kind = BoundaryKind::parse(&text).ok_or_else(|| {
            attrs.error(
                "bc_type",
                format!("is `{text}`; expected periodic, wall or open (any case)"),
            )
        })?;
        let associated = attrs.strings("associated_dims")?;
        let mut axes_of = Vec::with_capacity(associated.len());
        for dim in &associated {
            let axis = dims.iter().position(|d| d == dim).ok_or_else(|| {
                attrs.error(
                    "associated_dims",
                    format!("names `{dim}`, which is not in /dimensions@spatial_dims {dims:?}"),
                )
            })?;
            axes_of.push(axis);
        }
        let mask = read_mask(path, &bc, &object, &axes_of, shape)?;
        // Leading sample or time axes come before the associated ones.
        let lead = mask.ndim() - axes_of.len();
        for (k, &axis) in axes_of.iter().enumerate() {
            let n = mask.shape()[lead + k];
            for (side, index) in [(0, 0), (1, n - 1)] {
                let face = mask.index_axis(Axis(lead + k), index);
                let marked = if kind == BoundaryKind::Wall {
                    face.iter().all(|&m| m)
                } else {
                    face.iter().any(|&m| m)
                };
                if marked {
                    sides[axis][side] = kind;
                }
            }
        }
    }
    Ok(axes(dims, sides))
}

fn axes(dims: &[String], sides: Vec<[BoundaryKind; 2]>) -> Vec<AxisBoundary> {
    dims.iter()
        .zip(sides)
        .map(|(axis, [lower, upper])| AxisBoundary {
            axis: axis.clone(),
            lower,
            upper,
        })
        .collect()
}

/// The `mask` of a boundary group, checked to end in the extents of its
/// associated axes.
fn read_mask(
    path: &Path,
    bc: &hdf5::Group,
    object: &str,
    axes_of: &[usize],
    shape: &[usize],
) -> Result<ArrayD<bool>> {
    let name = format!("{object}/mask");
    let ds = bc.dataset("mask").map_err(|_| DataError::MissingDataset {
        path: path.to_path_buf(),
        dataset: name.clone(),
    })?;
    let got = ds.shape();
    let want: Vec<usize> = axes_of.iter().map(|&a| shape[a]).collect();
    if got.len() < want.len() || got[got.len() - want.len()..] != want[..] || want.contains(&0) {
        return Err(DataError::ShapeMismatch {
            path: path.to_path_buf(),
            dataset: name,
            expected: format!("to end in {want:?}, the extents of its associated_dims"),
            got,
        });
    }
    ds.read_dyn::<bool>().map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        dataset: name,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_in_any_case_and_periodic_axes_get_no_padding() {
        assert_eq!(
            BoundaryKind::parse("PERIODIC"),
            Some(BoundaryKind::Periodic)
        );
        assert_eq!(BoundaryKind::parse("Wall"), Some(BoundaryKind::Wall));
        assert_eq!(BoundaryKind::parse("open"), Some(BoundaryKind::Open));
        assert_eq!(BoundaryKind::parse("symmetric"), None);
        let b = |lower, upper| AxisBoundary {
            axis: "x".into(),
            lower,
            upper,
        };
        let axes = [
            b(BoundaryKind::Periodic, BoundaryKind::Periodic),
            b(BoundaryKind::Wall, BoundaryKind::Wall),
            b(BoundaryKind::Periodic, BoundaryKind::Open),
        ];
        assert_eq!(padding_for(&axes, 0.25), vec![0.0, 0.25, 0.25]);
    }
}
