//! One Well file's metadata, checked against The Well's format
//! (`docs/data_format.md` and `scripts/check_thewell_formatting.py` of
//! PolymathicAI/the_well): root attributes, `/dimensions`, the field
//! groups with each field's flags against its shape, `/scalars` and
//! `/boundary_conditions`. Reads no field data.
use super::attrs::Attrs;
use super::boundary::{self, AxisBoundary};
use super::field::WellField;
use super::info::{channel_names, WellScalar};
use crate::data::error::{DataError, Result};
use crate::data::reader::opener::Opener;
use crate::data::reader::Coordinates;
use std::collections::BTreeMap;

/// What one file holds.
pub(super) struct Schema {
    /// Root `dataset_name`.
    pub(super) dataset_name: String,
    /// Root `grid_type`.
    pub(super) grid_type: String,
    /// Root `n_trajectories`.
    pub(super) trajectories: usize,
    /// Root attributes named by `simulation_parameters`.
    pub(super) params: BTreeMap<String, f64>,
    /// `/dimensions@spatial_dims`.
    pub(super) dims: Vec<String>,
    /// Extent of each spatial axis.
    pub(super) shape: Vec<usize>,
    /// Frames per trajectory.
    pub(super) frames: usize,
    /// Grid and frame times (those of the first trajectory where they vary).
    pub(super) coordinates: Coordinates,
    /// Every field, in group then `field_names` order.
    pub(super) fields: Vec<WellField>,
    /// `/scalars`.
    pub(super) scalars: Vec<WellScalar>,
    /// One entry per spatial axis.
    pub(super) boundaries: Vec<AxisBoundary>,
}

/// Reads and checks the metadata of the file `opener` validates.
pub(super) fn read(opener: &mut Opener) -> Result<Schema> {
    let path = opener.path();
    let file = opener.file();
    let root = Attrs::new(path, file, "/");
    let n_dims = root.count("n_spatial_dims")?;
    if !(1..=3).contains(&n_dims) {
        return Err(root.error("n_spatial_dims", format!("is {n_dims}; fno reads 1 to 3")));
    }
    let trajectories = root.count("n_trajectories")?;
    if trajectories == 0 {
        return Err(DataError::NoSamples {
            path: path.to_path_buf(),
            dataset: "/@n_trajectories".into(),
        });
    }
    let mut params = BTreeMap::new();
    for name in root.strings("simulation_parameters")? {
        params.insert(name.clone(), root.number(&name)?);
    }
    let (dims, shape, frames, coordinates) = dimensions(opener, n_dims, trajectories)?;
    let layout = Layout {
        trajectories,
        frames,
        dims: &dims,
        shape: &shape,
    };
    let mut fields = Vec::new();
    for order in 0..3 {
        fields.extend(field_group(opener, &layout, order)?);
    }
    if !fields.iter().any(|f| f.time_varying) {
        return Err(DataError::WellFormat {
            path: path.to_path_buf(),
            dataset: "/t0_fields, /t1_fields, /t2_fields".into(),
            reason: "no field varies in time; there is nothing to predict".into(),
        });
    }
    let scalars = scalars(opener, &layout)?;
    let boundaries = boundary::read(path, file, &dims, &shape)?;
    Ok(Schema {
        dataset_name: root.string("dataset_name")?,
        grid_type: root.string("grid_type")?,
        trajectories,
        params,
        dims,
        shape,
        frames,
        coordinates,
        fields,
        scalars,
        boundaries,
    })
}

/// The extents a dataset's flags call for.
struct Layout<'a> {
    trajectories: usize,
    frames: usize,
    dims: &'a [String],
    shape: &'a [usize],
}

impl Layout<'_> {
    /// `(B)(T)(X_i where stored)(D × order)` as The Well's checker builds it.
    fn expected(&self, sample: bool, time: bool, stored: &[bool], order: usize) -> Vec<usize> {
        let mut want = Vec::new();
        if sample {
            want.push(self.trajectories);
        }
        if time {
            want.push(self.frames);
        }
        want.extend(
            self.shape
                .iter()
                .zip(stored)
                .filter(|(_, &s)| s)
                .map(|(n, _)| *n),
        );
        want.extend(std::iter::repeat_n(self.dims.len(), order));
        want
    }
}

/// `/dimensions`: axis names, extents, frame count and coordinates.
fn dimensions(
    opener: &mut Opener,
    n_dims: usize,
    trajectories: usize,
) -> Result<(Vec<String>, Vec<usize>, usize, Coordinates)> {
    let path = opener.path();
    let group = opener
        .file()
        .group("dimensions")
        .map_err(|_| opener.missing("dimensions"))?;
    let dims = Attrs::new(path, &group, "/dimensions").strings("spatial_dims")?;
    if dims.len() != n_dims {
        return Err(Attrs::new(path, &group, "/dimensions").error(
            "spatial_dims",
            format!(
                "names {} axes {dims:?}; /@n_spatial_dims is {n_dims}",
                dims.len()
            ),
        ));
    }
    let time = coordinate(opener, "time", trajectories, true)?;
    let mut shape = Vec::with_capacity(n_dims);
    let mut space = Vec::with_capacity(n_dims);
    for dim in &dims {
        let axis = coordinate(opener, dim, trajectories, false)?;
        shape.push(axis.len());
        space.push(axis);
    }
    Ok((dims, shape, time.len(), Coordinates { space, time }))
}

/// One coordinate of `/dimensions` (the first trajectory's, where it
/// varies by trajectory).
fn coordinate(
    opener: &mut Opener,
    name: &str,
    trajectories: usize,
    is_time: bool,
) -> Result<Vec<f64>> {
    let full = format!("dimensions/{name}");
    let ds = opener
        .file()
        .dataset(&full)
        .map_err(|_| opener.missing(&full))?;
    let attrs = Attrs::new(opener.path(), &ds, &format!("/{full}"));
    let sample = attrs.has("sample_varying") && attrs.flag("sample_varying")?;
    if !is_time && attrs.has("time_varying") && attrs.flag("time_varying")? {
        return Err(attrs.error(
            "time_varying",
            "is true: grids that move in time are not supported (nor by The Well's loader)",
        ));
    }
    let rank = 1 + usize::from(sample);
    let shape = opener.float_dataset(&full, rank)?;
    if sample && shape[0] != trajectories {
        return Err(opener.shape_mismatch(
            &full,
            &format!("[{trajectories}, n] (sample_varying)"),
            &shape,
        ));
    }
    let values: Vec<f64> = ds.read_raw::<f64>().map_err(opener.read_error(&full))?;
    let n = shape[rank - 1];
    if n == 0 {
        return Err(opener.shape_mismatch(&full, "at least one entry", &shape));
    }
    Ok(values.into_iter().take(n).collect())
}

/// The `t{order}_fields` group; an absent group holds no field.
fn field_group(opener: &mut Opener, layout: &Layout, order: usize) -> Result<Vec<WellField>> {
    let path = opener.path();
    let name = format!("t{order}_fields");
    let Ok(group) = opener.file().group(&name) else {
        return Ok(Vec::new());
    };
    let names = Attrs::new(path, &group, &format!("/{name}")).strings("field_names")?;
    let mut fields = Vec::with_capacity(names.len());
    for field in names {
        let dataset = format!("{name}/{field}");
        let (ds, sample, time) = flagged_dataset(opener, &dataset)?;
        let attrs = Attrs::new(path, &ds, &format!("/{dataset}"));
        let stored = attrs.flags("dim_varying")?;
        if stored.len() != layout.dims.len() {
            return Err(attrs.error(
                "dim_varying",
                format!(
                    "has {} entries; it needs one per spatial axis ({})",
                    stored.len(),
                    layout.dims.len()
                ),
            ));
        }
        let want = layout.expected(sample, time, &stored, order);
        let got = opener.float_dataset(&dataset, ds.ndim())?;
        if got != want {
            return Err(opener.shape_mismatch(
                &dataset,
                &format!(
                    "{want:?} from its flags (sample_varying = {sample}, time_varying = {time}, dim_varying = {stored:?}, tensor order {order})"
                ),
                &got,
            ));
        }
        fields.push(WellField {
            channels: channel_names(&field, order, layout.dims),
            name: field,
            order,
            sample_varying: sample,
            time_varying: time,
            dim_varying: stored,
        });
    }
    Ok(fields)
}

/// The dataset `dataset` (a field's or a scalar's) with its
/// `sample_varying` and `time_varying` flags.
fn flagged_dataset(opener: &Opener, dataset: &str) -> Result<(hdf5::Dataset, bool, bool)> {
    let ds = opener
        .file()
        .dataset(dataset)
        .map_err(|_| opener.missing(dataset))?;
    let attrs = Attrs::new(opener.path(), &ds, &format!("/{dataset}"));
    let sample = attrs.flag("sample_varying")?;
    let time = attrs.flag("time_varying")?;
    Ok((ds, sample, time))
}

/// `/scalars`, each checked against its flags; a constant one is read.
fn scalars(opener: &mut Opener, layout: &Layout) -> Result<Vec<WellScalar>> {
    let path = opener.path();
    let Ok(group) = opener.file().group("scalars") else {
        return Ok(Vec::new());
    };
    let names = Attrs::new(path, &group, "/scalars").strings("field_names")?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let dataset = format!("scalars/{name}");
        let (ds, sample, time) = flagged_dataset(opener, &dataset)?;
        let want = layout.expected(sample, time, &[], 0);
        let got = ds.shape();
        // A constant may be stored as shape () or (1,) (the format's text
        // says float32(1), its checker ()).
        let fits = got == want || (want.is_empty() && got == [1]);
        if !fits {
            return Err(opener.shape_mismatch(
                &dataset,
                &format!(
                    "{want:?} from its flags (sample_varying = {sample}, time_varying = {time})"
                ),
                &got,
            ));
        }
        let value = if want.is_empty() {
            let v: Vec<f64> = ds.read_raw::<f64>().map_err(opener.read_error(&dataset))?;
            v.first().copied()
        } else {
            None
        };
        out.push(WellScalar {
            name,
            sample_varying: sample,
            time_varying: time,
            value,
        });
    }
    Ok(out)
}
