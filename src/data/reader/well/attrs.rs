//! Typed reads of the attributes The Well's format requires, each failing
//! with an error that names the file, the object and the attribute.
//!
//! h5py writes Python strings as variable-length strings, lists of them as
//! arrays of such strings (and an empty list as an empty float array),
//! booleans as HDF5's FALSE/TRUE enum: those are the encodings read here.
use crate::data::error::{DataError, Result};
use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::Location;
use std::path::Path;

/// The attributes of one group or dataset of a Well file.
pub(super) struct Attrs<'a> {
    path: &'a Path,
    loc: &'a Location,
    /// The object's path inside the file, for messages (`/t0_fields`).
    object: String,
}

impl<'a> Attrs<'a> {
    /// The attributes of `loc`, called `object` in messages.
    pub(super) fn new(path: &'a Path, loc: &'a Location, object: &str) -> Self {
        Self {
            path,
            loc,
            object: object.to_string(),
        }
    }

    /// The error for attribute `key` of this object.
    pub(super) fn error(&self, key: &str, reason: impl Into<String>) -> DataError {
        DataError::WellFormat {
            path: self.path.to_path_buf(),
            dataset: format!("{}@{key}", self.object),
            reason: reason.into(),
        }
    }

    /// Whether the attribute exists.
    pub(super) fn has(&self, key: &str) -> bool {
        self.loc.attr(key).is_ok()
    }

    fn attr(&self, key: &str) -> Result<hdf5::Attribute> {
        self.loc.attr(key).map_err(|_| {
            self.error(
                key,
                "the attribute is missing; The Well's format requires it",
            )
        })
    }

    fn descriptor(&self, attr: &hdf5::Attribute, key: &str) -> Result<TypeDescriptor> {
        attr.dtype()
            .and_then(|d| d.to_descriptor())
            .map_err(|_| self.error(key, "its type cannot be read"))
    }

    /// A string attribute.
    pub(super) fn string(&self, key: &str) -> Result<String> {
        let attr = self.attr(key)?;
        if !attr.is_scalar() {
            return Err(self.error(key, "should be a string, not an array"));
        }
        match self.descriptor(&attr, key)? {
            TypeDescriptor::VarLenUnicode => {
                attr.read_scalar::<VarLenUnicode>().map(|s| s.to_string())
            }
            TypeDescriptor::VarLenAscii => attr.read_scalar::<VarLenAscii>().map(|s| s.to_string()),
            other => return Err(self.error(key, format!("should be a string (found {other})"))),
        }
        .map_err(|_| self.error(key, "the string cannot be read"))
    }

    /// A list of strings; a single string counts as a list of one and an
    /// empty array of any type as the empty list, as h5py writes `[]`.
    pub(super) fn strings(&self, key: &str) -> Result<Vec<String>> {
        let attr = self.attr(key)?;
        if attr.size() == 0 {
            return Ok(Vec::new());
        }
        let read = match self.descriptor(&attr, key)? {
            TypeDescriptor::VarLenUnicode => attr
                .read_raw::<VarLenUnicode>()
                .map(|v| v.iter().map(|s| s.to_string()).collect()),
            TypeDescriptor::VarLenAscii => attr
                .read_raw::<VarLenAscii>()
                .map(|v| v.iter().map(|s| s.to_string()).collect()),
            other => {
                return Err(self.error(key, format!("should be a list of strings (found {other})")))
            }
        };
        read.map_err(|_| self.error(key, "the strings cannot be read"))
    }

    /// A boolean attribute (h5py's FALSE/TRUE enum).
    pub(super) fn flag(&self, key: &str) -> Result<bool> {
        let attr = self.attr(key)?;
        match self.descriptor(&attr, key)? {
            TypeDescriptor::Boolean if attr.is_scalar() => attr
                .read_scalar::<bool>()
                .map_err(|_| self.error(key, "the boolean cannot be read")),
            other => Err(self.error(key, format!("should be a boolean (found {other})"))),
        }
    }

    /// A list of booleans.
    pub(super) fn flags(&self, key: &str) -> Result<Vec<bool>> {
        let attr = self.attr(key)?;
        match self.descriptor(&attr, key)? {
            TypeDescriptor::Boolean => attr
                .read_raw::<bool>()
                .map_err(|_| self.error(key, "the booleans cannot be read")),
            other => Err(self.error(key, format!("should be a list of booleans (found {other})"))),
        }
    }

    /// A non-negative integer attribute.
    pub(super) fn count(&self, key: &str) -> Result<usize> {
        let attr = self.attr(key)?;
        match self.descriptor(&attr, key)? {
            TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) if attr.is_scalar() => {
                let v = attr
                    .read_scalar::<i64>()
                    .map_err(|_| self.error(key, "the integer cannot be read"))?;
                usize::try_from(v).map_err(|_| self.error(key, format!("is {v}; it must be ≥ 0")))
            }
            other => Err(self.error(key, format!("should be an integer (found {other})"))),
        }
    }

    /// A numeric scalar attribute, as a double.
    pub(super) fn number(&self, key: &str) -> Result<f64> {
        let attr = self.attr(key)?;
        match self.descriptor(&attr, key)? {
            TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_)
                if attr.is_scalar() =>
            {
                attr.read_scalar::<f64>()
                    .map_err(|_| self.error(key, "the number cannot be read"))
            }
            TypeDescriptor::Boolean if attr.is_scalar() => attr
                .read_scalar::<bool>()
                .map(f64::from)
                .map_err(|_| self.error(key, "the boolean cannot be read")),
            other => Err(self.error(key, format!("should be a number (found {other})"))),
        }
    }
}
