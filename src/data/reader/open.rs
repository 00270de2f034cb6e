//! Opening a file: detect its layout, run that layout's checks (one module
//! per layout, over the shared checks of `opener.rs`) and gather its
//! [`FileInfo`] with the catalogue entry and the attributes.
use super::attributes::{params_from_json_text, read_attributes};
use super::opened::{domain_of, Opened};
use super::opener::{Contents, Opener};
use super::FileInfo;
use super::{darcy, grouped, incompressible_ns, multi_field, single_array, vorticity};
use crate::data::catalog::{self, Family};
use crate::data::error::{DataError, Result};
use crate::data::layout::Layout;
use std::collections::BTreeMap;

/// Detects the layout, runs its checks and gathers the file's info.
pub(super) fn open(mut opener: Opener) -> Result<Opened> {
    let members = opener
        .file()
        .member_names()
        .map_err(|source| DataError::NotHdf5 {
            path: opener.path().to_path_buf(),
            source,
        })?;
    let file = opener.file();
    let is_sample_group = |m: &str| {
        file.group(m)
            .map(|g| g.link_exists("data"))
            .unwrap_or(false)
    };
    let layout =
        Layout::detect(&members, is_sample_group).ok_or_else(|| DataError::UnknownLayout {
            path: opener.path().to_path_buf(),
            members: members.clone(),
        })?;
    let stem = opener
        .path()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let family = catalog::family_for(&stem)?;
    let contents = match layout {
        Layout::SingleArray => single_array::contents(&mut opener, family)?,
        Layout::Darcy => darcy::contents(&mut opener)?,
        Layout::MultiField => multi_field::contents(&mut opener)?,
        Layout::IncompressibleNs => incompressible_ns::contents(&mut opener, family)?,
        Layout::Vorticity => vorticity::contents(&mut opener)?,
        Layout::Grouped => grouped::contents(&mut opener, family, members)?,
        Layout::Well => return super::well::open_file(opener),
    };
    Ok(opened(opener, layout, family, &stem, contents))
}

/// Completes a layout's contents with what the catalogue and the
/// attributes say: parameters, boundary, domain, notes.
fn opened(
    opener: Opener,
    layout: Layout,
    family: Option<&Family>,
    stem: &str,
    contents: Contents,
) -> Opened {
    let mut params = family.map(|f| f.params_from_name(stem)).unwrap_or_default();
    let mut text_attributes = BTreeMap::new();
    read_attributes(opener.file(), family, &mut params, &mut text_attributes);
    params_from_json_text(family, &text_attributes, &mut params);
    if let Some(first) = contents.groups.first() {
        if let Ok(g) = opener.file().group(first) {
            read_attributes(&g, family, &mut params, &mut text_attributes);
        }
    }
    let domain = family
        .map(|f| f.domain.clone())
        .filter(|d| d.len() == contents.spatial_shape.len())
        .unwrap_or_else(|| {
            contents
                .coordinates
                .space
                .iter()
                .map(|axis| domain_of(axis))
                .collect()
        });
    let info = FileInfo {
        path: opener.path().to_path_buf(),
        layout,
        family: family.map(|f| f.name.clone()),
        pde: family.map(|f| f.pde.clone()),
        params,
        boundary: family.map(|f| f.boundary_for(stem)),
        domain,
        notes: family.map(|f| f.notes.clone()),
        text_attributes,
        num_samples: contents.num_samples,
        num_frames: contents.num_frames,
        spatial_shape: contents.spatial_shape,
        fields: contents.fields,
        input_fields: contents.input_fields,
        datasets: opener.into_datasets(),
        coordinates: contents.coordinates,
        well: None,
    };
    Opened {
        info,
        frames: contents.frames,
        inputs: contents.inputs,
        groups: contents.groups,
        well: None,
    }
}
