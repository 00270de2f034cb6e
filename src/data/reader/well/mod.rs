//! The Well's layout (PolymathicAI/the_well, `docs/data_format.md`): a
//! file, a folder of files, or a data set's `data/{train,valid,test}`
//! folders, read as one [`crate::data::PdebenchFile`].
//!
//! Each time-varying field of `t0_fields`, `t1_fields` and `t2_fields`
//! becomes the frames' channels (tensor fields flattened: `velocity_x`,
//! `velocity_y`, ...), each field constant in time an input channel;
//! axes a field does not store (per its `sample_varying`, `time_varying`
//! and `dim_varying` flags) are broadcast when a sample is read. The
//! boundary conditions give each axis's padding (none where periodic) and
//! a `stats.yaml` beside the data set its normalisation.
//!
//! `schema` checks one file's metadata, `attrs` reads its attributes,
//! `boundary` its boundary conditions, `directory` finds the files,
//! `read` streams samples, `stats` and `yaml` read `stats.yaml`, `info`
//! holds what [`crate::data::FileInfo::well`] reports.
use super::opened::{domain_of, Opened};
use super::opener::Opener;
use super::FileInfo;
use crate::data::error::{DataError, Result};
use crate::data::layout::Layout;
use crate::data::split::SampleSelection;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

mod attrs;
mod boundary;
mod directory;
mod field;
mod info;
pub(in crate::data::reader) mod read;
mod schema;
mod stats;
mod yaml;

pub use boundary::{padding_for, AxisBoundary, BoundaryKind};
pub use field::WellField;
pub use info::{WellFile, WellInfo, WellScalar, WellSplits};
pub(crate) use read::WellData;
pub use stats::{FieldTable, WellStats};

use read::Part;
use schema::Schema;

/// Opens the single Well file `opener` validates.
pub(in crate::data::reader) fn open_file(mut opener: Opener) -> Result<Opened> {
    let schema = schema::read(&mut opener)?;
    let path = opener.path().to_path_buf();
    let part = Part {
        path: path.clone(),
        file: opener.file().clone(),
        first: 0,
        count: schema.trajectories,
    };
    let folder = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let found = Found {
        parts: vec![(part, None)],
        schema,
        datasets: opener.into_datasets(),
    };
    assemble(&path, found, None, &folder)
}

/// Opens a folder: a data set's root (with `data/train`, `data/valid`,
/// `data/test`) or a folder of Well files.
pub(in crate::data::reader) fn open_folder(folder: &Path) -> Result<Opened> {
    let (files, is_root) = directory::files_of(folder)?;
    let mut found: Option<Found> = None;
    for (path, split) in files {
        let file = hdf5::File::open(&path).map_err(|source| DataError::NotHdf5 {
            path: path.clone(),
            source,
        })?;
        let mut opener = Opener::new(&path, &file);
        let schema = schema::read(&mut opener)?;
        let datasets = opener.into_datasets();
        let count = schema.trajectories;
        match &mut found {
            None => {
                let part = Part {
                    path,
                    file,
                    first: 0,
                    count,
                };
                found = Some(Found {
                    parts: vec![(part, split)],
                    schema,
                    datasets,
                });
            }
            Some(f) => {
                agree(&f.schema, &schema, &f.parts[0].0.path, &path)?;
                let first = f.parts.iter().map(|(p, _)| p.count).sum();
                let part = Part {
                    path,
                    file,
                    first,
                    count,
                };
                f.parts.push((part, split));
            }
        }
    }
    let found = found.ok_or_else(|| DataError::WellFormat {
        path: folder.to_path_buf(),
        dataset: "the folder".into(),
        reason: "holds no .hdf5 or .h5 file (nor data/train, data/valid, data/test folders holding some); expected a Well data set".into(),
    })?;
    let splits = is_root.then(|| split_ranges(&found.parts));
    assemble(folder, found, splits, folder)
}

/// The files found, the first one's schema and its datasets' storage.
struct Found {
    parts: Vec<(Part, Option<String>)>,
    schema: Schema,
    datasets: Vec<super::DatasetInfo>,
}

/// Fails unless `other` (the file `path`) holds what the data set's first
/// file `first` holds: the same fields, grid and frames.
fn agree(reference: &Schema, other: &Schema, first: &Path, path: &Path) -> Result<()> {
    let differs = |what: &str, a: String, b: String| DataError::WellFormat {
        path: path.to_path_buf(),
        dataset: "/".into(),
        reason: format!(
            "its {what} ({b}) differ from those of {} ({a}); one data set's files must agree",
            first.display()
        ),
    };
    if reference.fields != other.fields {
        let names = |s: &Schema| {
            s.fields
                .iter()
                .map(|f| format!("{} {:?}", f.dataset(), f.dim_varying))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(differs("fields", names(reference), names(other)));
    }
    if reference.shape != other.shape || reference.dims != other.dims {
        return Err(differs(
            "spatial axes",
            format!("{:?} {:?}", reference.dims, reference.shape),
            format!("{:?} {:?}", other.dims, other.shape),
        ));
    }
    if reference.frames != other.frames {
        return Err(differs(
            "frames per trajectory",
            reference.frames.to_string(),
            other.frames.to_string(),
        ));
    }
    Ok(())
}

/// The sample range of each split folder.
fn split_ranges(parts: &[(Part, Option<String>)]) -> WellSplits {
    let range = |name: &str| -> Range<usize> {
        let of: Vec<&Part> = parts
            .iter()
            .filter(|(_, s)| s.as_deref() == Some(name))
            .map(|(p, _)| p)
            .collect();
        match (of.first(), of.last()) {
            (Some(a), Some(b)) => a.first..b.first + b.count,
            _ => 0..0,
        }
    };
    WellSplits {
        train: range(directory::SPLITS[0]),
        valid: range(directory::SPLITS[1]),
        test: range(directory::SPLITS[2]),
    }
}

/// The [`Opened`] of a data set: its [`FileInfo`] with [`WellInfo`], and
/// its reader.
fn assemble(
    path: &Path,
    found: Found,
    splits: Option<WellSplits>,
    folder: &Path,
) -> Result<Opened> {
    let Found {
        parts,
        schema,
        datasets,
    } = found;
    let stats = directory::stats_file(folder)
        .map(|p| WellStats::load(&p))
        .transpose()?;
    let channels = |time: bool| -> Vec<String> {
        schema
            .fields
            .iter()
            .filter(|f| f.time_varying == time)
            .flat_map(|f| f.channels.clone())
            .collect()
    };
    let files = parts
        .iter()
        .map(|(p, split)| WellFile {
            path: p.path.clone(),
            split: split.clone(),
            first_sample: p.first,
            trajectories: p.count,
        })
        .collect();
    let num_samples = parts.iter().map(|(p, _)| p.count).sum();
    let text_attributes = BTreeMap::from([
        ("dataset_name".to_string(), schema.dataset_name.clone()),
        ("grid_type".to_string(), schema.grid_type.clone()),
    ]);
    let info = FileInfo {
        path: path.to_path_buf(),
        layout: Layout::Well,
        family: None,
        pde: None,
        params: schema.params.clone(),
        boundary: None,
        domain: schema
            .coordinates
            .space
            .iter()
            .map(|a| domain_of(a))
            .collect(),
        notes: None,
        text_attributes,
        num_samples,
        num_frames: schema.frames,
        spatial_shape: schema.shape.clone(),
        fields: channels(true),
        input_fields: channels(false),
        datasets,
        coordinates: schema.coordinates.clone(),
        well: Some(WellInfo {
            dataset_name: schema.dataset_name.clone(),
            grid_type: schema.grid_type.clone(),
            spatial_dims: schema.dims.clone(),
            files,
            splits,
            boundaries: schema.boundaries.clone(),
            fields: schema.fields.clone(),
            scalars: schema.scalars.clone(),
            stats,
        }),
    };
    let (frames, inputs) = schema.fields.iter().cloned().partition(|f| f.time_varying);
    let data = WellData {
        parts: parts.into_iter().map(|(p, _)| p).collect(),
        frames,
        inputs,
        num_frames: schema.frames,
        shape: schema.shape,
    };
    Ok(Opened {
        info,
        frames: Vec::new(),
        inputs: Vec::new(),
        groups: Vec::new(),
        well: Some(data),
    })
}

/// The samples a selection picks from a data set opened at its root: the
/// `train` or `test` folder's for those splits (the split's stride and
/// range applied within it), every sample for `all`.
pub(in crate::data::reader) fn select_split(
    splits: &WellSplits,
    total: usize,
    selection: &SampleSelection,
) -> Result<Vec<usize>> {
    use crate::data::split::{Split, TestAt};
    let part = match selection.split {
        Split::Train => splits.train.clone(),
        Split::Test => splits.test.clone(),
        Split::All => 0..total,
    };
    if part.is_empty() {
        return Err(DataError::InvalidOption {
            option: "split",
            reason: format!(
                "the data set's `{}` folder holds no file",
                if selection.split == Split::Train {
                    "data/train"
                } else {
                    "data/test"
                }
            ),
        });
    }
    let within = SampleSelection {
        split: Split::All,
        ..selection.clone()
    };
    Ok(within
        .indices(part.len(), TestAt::End)?
        .into_iter()
        .map(|i| part.start + i)
        .collect())
}
