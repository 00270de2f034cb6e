//! The attributes of a file or sample group: parameters and text for
//! [`super::FileInfo`], raw values for a writer that copies them.
use crate::data::catalog;
use crate::data::writer::Attr;
use hdf5::types::TypeDescriptor;
use std::collections::BTreeMap;

/// Attributes by name, as stored.
pub(crate) type NamedAttrs = Vec<(String, Attr)>;

/// The scalar attributes of `loc` that a writer can copy: numbers as
/// doubles, strings as UTF-8 text.
pub(super) fn scalar_attributes(loc: &hdf5::Location) -> NamedAttrs {
    let Ok(names) = loc.attr_names() else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter_map(|name| {
            let attr = loc.attr(&name).ok().filter(|a| a.is_scalar())?;
            let value = match attr.dtype().and_then(|d| d.to_descriptor()).ok()? {
                TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) => {
                    Attr::F64(attr.read_scalar::<f64>().ok()?)
                }
                TypeDescriptor::Unsigned(_) => Attr::U64(attr.read_scalar::<u64>().ok()?),
                TypeDescriptor::VarLenUnicode => Attr::Text(
                    attr.read_scalar::<hdf5::types::VarLenUnicode>()
                        .ok()?
                        .to_string(),
                ),
                TypeDescriptor::VarLenAscii => Attr::Text(
                    attr.read_scalar::<hdf5::types::VarLenAscii>()
                        .ok()?
                        .to_string(),
                ),
                _ => return None,
            };
            Some((name, value))
        })
        .collect()
}

/// Reads numeric attributes into `params` (mapping release names to ours
/// through the catalogue) and string attributes into `text`.
pub(super) fn read_attributes(
    loc: &hdf5::Location,
    family: Option<&catalog::Family>,
    params: &mut BTreeMap<String, f64>,
    text: &mut BTreeMap<String, String>,
) {
    let Ok(names) = loc.attr_names() else {
        return;
    };
    for name in names {
        let Ok(attr) = loc.attr(&name) else { continue };
        if !attr.is_scalar() {
            continue;
        }
        let key = family
            .and_then(|f| f.params.iter().find(|p| p.attr == name))
            .map_or(name.clone(), |p| p.name.clone());
        match attr.dtype().and_then(|d| d.to_descriptor()) {
            Ok(
                TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_),
            ) => {
                if let Ok(v) = attr.read_scalar::<f64>() {
                    params.insert(key, v);
                }
            }
            Ok(TypeDescriptor::VarLenUnicode) => {
                if let Ok(v) = attr.read_scalar::<hdf5::types::VarLenUnicode>() {
                    text.insert(name, v.to_string());
                }
            }
            Ok(TypeDescriptor::VarLenAscii) => {
                if let Ok(v) = attr.read_scalar::<hdf5::types::VarLenAscii>() {
                    text.insert(name, v.to_string());
                }
            }
            _ => {}
        }
    }
}

/// Takes numeric entries of JSON text attributes (such as the `config` of
/// the incompressible-NS files) as parameters, unless an attribute of the
/// same name already gave one.
pub(super) fn params_from_json_text(
    family: Option<&catalog::Family>,
    text: &BTreeMap<String, String>,
    params: &mut BTreeMap<String, f64>,
) {
    let Some(family) = family else { return };
    for value in text.values() {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(value)
        else {
            continue;
        };
        for spec in &family.params {
            if let Some(v) = map.get(&spec.attr).and_then(|v| v.as_f64()) {
                params.entry(spec.name.clone()).or_insert(v);
            }
        }
    }
}
