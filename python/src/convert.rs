//! Values between Python and the library: reports (serde) to Python
//! dicts, config dicts to TOML, NumPy arrays to tensors and back.
use crate::errors::{Failure, Kind};
use candle_core::{Device, Tensor};
use ndarray::ArrayD;
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Serialize;
use serde_json::Value;

/// A library report as Python objects: the same keys and values as the
/// JSON the CLI writes (`eval.json`, `finetune.json`, ...).
pub fn to_python<'py>(py: Python<'py>, report: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(report)
        .map_err(|e| Failure::new(Kind::Other, format!("encoding a report: {e}")))?;
    json_to_python(py, &value)
}

fn json_to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_python(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A Python value of a config dict as TOML: dicts are tables, lists and
/// tuples arrays; `str`, `bool`, `int`, `float` and `os.PathLike` values
/// as themselves. `key` names the setting in the error.
pub fn to_toml(value: &Bound<'_, PyAny>, key: &str) -> PyResult<toml::Value> {
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut table = toml::Table::new();
        for (k, v) in dict.iter() {
            let name: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("{key}: keys must be strings, got {k}"))
            })?;
            let path = if key.is_empty() {
                name.clone()
            } else {
                format!("{key}.{name}")
            };
            // None leaves the setting at its default, as a missing key does.
            if !v.is_none() {
                table.insert(name, to_toml(&v, &path)?);
            }
        }
        return Ok(toml::Value::Table(table));
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(toml::Value::Integer(value.extract()?));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(value.extract()?));
    }
    if let Ok(s) = value.extract::<std::path::PathBuf>() {
        return Ok(toml::Value::String(s.display().to_string()));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value
            .try_iter()?
            .map(|item| to_toml(&item?, key))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(toml::Value::Array(items));
    }
    Err(PyTypeError::new_err(format!(
        "{key}: {} is not a TOML value (str, bool, int, float, list or dict)",
        value.get_type().name()?
    )))
}

/// A float32 C-contiguous NumPy array (the Python layer converts other
/// dtypes and layouts, copying only then) as a tensor: one copy into
/// the tensor's storage, as a Rust caller building a tensor makes.
pub fn array_to_tensor(array: &PyReadonlyArrayDyn<'_, f32>, device: &Device) -> PyResult<Tensor> {
    let values = array
        .as_slice()
        .map_err(|_| Failure::argument("input", "the array must be C-contiguous float32"))?;
    Tensor::from_slice(values, array.shape(), device).map_err(|e| Failure::from(e).into())
}

/// A tensor's values and shape, read on the CPU (call without the GIL).
pub fn tensor_to_array(tensor: &Tensor) -> Result<ArrayD<f32>, Failure> {
    let shape = tensor.dims().to_vec();
    let values = tensor.flatten_all()?.to_vec1::<f32>()?;
    ArrayD::from_shape_vec(shape, values)
        .map_err(|e| Failure::new(Kind::Other, format!("shaping the result: {e}")))
}

/// An owned array handed to NumPy without a copy.
pub fn to_numpy<'py>(py: Python<'py>, array: ArrayD<f32>) -> Bound<'py, PyArrayDyn<f32>> {
    array.into_pyarray(py)
}

/// A list of f64 values as a NumPy array.
pub fn vec_to_numpy<'py>(py: Python<'py>, values: &[f64]) -> Bound<'py, PyArrayDyn<f64>> {
    ndarray::Array1::from(values.to_vec())
        .into_dyn()
        .into_pyarray(py)
}
