//! fno's weights as the state dict of neuraloperator 2.0.0's `FNO`, and
//! its safetensors encoding.
//!
//! | fno variable | neuraloperator key | layout |
//! | --- | --- | --- |
//! | `lifting.fc1.weight` `[h, c]` | `lifting.fcs.0.weight` | `[h, c, 1]` (Conv1d) |
//! | `lifting.fc1.bias` | `lifting.fcs.0.bias` | `[h]`, plus the grid offset (below) |
//! | `lifting.fc2.*`, `projection.fc{1,2}.*` | `lifting.fcs.1.*`, `projection.fcs.{0,1}.*` | as above |
//! | `blocks.i.spectral.weight_{re,im}` | `fno_blocks.convs.i.weight.tensor` | complex64, see [`super::spectral`] |
//! | `blocks.i.pointwise.weight` `[w, w]` | `fno_blocks.fno_skips.i.conv.weight` | `[w, w, 1]` (bias-free Conv1d) |
//! | `blocks.i.pointwise.bias` `[w]` | `fno_blocks.convs.i.bias` | `[w, 1, .., 1]` |
//! | `blocks.i.channel_mlp.fc{1,2}.*` | `fno_blocks.channel_mlp.i.fcs.{0,1}.*` | as the lifting's |
//! | `blocks.i.gate` `[w]` | `fno_blocks.channel_mlp_skips.i.weight` | `[1, w, 1, .., 1]` (SoftGating) |
//!
//! The skip's bias moves to the spectral convolution's bias: both are
//! added to the same sum before the activation.
//!
//! **Grid offset.** fno's coordinate channels are cell-centred,
//! `(i + 0.5) / n`; neuraloperator's `GridEmbeddingND` gives `i / n`.
//! They enter the lifting's first layer linearly, so adding
//! `W[:, c_a] * 0.5 / n_a` to its bias for each coordinate channel `c_a`
//! makes the two equal on a grid of `n_a` points along axis `a` (the
//! training grid by default); on another grid they differ by
//! `W[:, c_a] * 0.5 * (1 / n_a - 1 / n'_a)`.
use super::spectral::{neuralop_shape, to_neuralop};
use super::ExportError;
use crate::model::ModelConfig;
use candle_core::DType;
use candle_nn::VarMap;
use safetensors::tensor::{Dtype, View};
use std::borrow::Cow;
use std::collections::HashMap;

/// One tensor of the exported state dict.
#[derive(Debug, Clone, PartialEq)]
pub struct StateEntry {
    /// The key neuraloperator's `FNO.state_dict()` uses.
    pub key: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Whether it is complex64 (values interleaved real, imaginary).
    pub complex: bool,
    /// Row-major values (two per element when complex).
    pub values: Vec<f32>,
}

impl View for &StateEntry {
    fn dtype(&self) -> Dtype {
        if self.complex {
            Dtype::C64
        } else {
            Dtype::F32
        }
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn data_len(&self) -> usize {
        4 * self.values.len()
    }
}

/// A run's weights by variable name, as f32 shapes and values.
struct Weights(HashMap<String, (Vec<usize>, Vec<f32>)>);

impl Weights {
    fn of(varmap: &VarMap) -> Result<Self, ExportError> {
        let data = varmap
            .data()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut weights = HashMap::with_capacity(data.len());
        for (name, var) in data.iter() {
            let t = var.as_tensor();
            let values = t
                .to_dtype(DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| ExportError::Encode(format!("{name}: {e}")))?;
            weights.insert(name.clone(), (t.dims().to_vec(), values));
        }
        Ok(Self(weights))
    }

    fn take(&mut self, name: &str) -> Result<(Vec<usize>, Vec<f32>), ExportError> {
        self.0
            .remove(name)
            .ok_or_else(|| ExportError::MissingWeight(name.to_string()))
    }
}

/// The state dict of neuraloperator's `FNO` holding the weights in
/// `varmap` of an fno model built from `model`. `grid` is the grid on
/// which the coordinate channels are made to agree (see the module docs);
/// `None` when the model has none. `embeddings` is the prefix of the
/// lifting's and projection's names: empty for a single-source run,
/// `sources.<name>.` for one source of a multi-source run.
pub fn build(
    varmap: &VarMap,
    model: &ModelConfig,
    grid: Option<&[usize]>,
    embeddings: &str,
) -> Result<Vec<StateEntry>, ExportError> {
    let mut weights = Weights::of(varmap)?;
    let mut entries = Vec::new();
    let offset = grid.map(|g| (model.in_channels, g));
    let lifting = format!("{embeddings}lifting");
    mlp(&mut weights, &lifting, "lifting", offset, &mut entries)?;
    let width = model.width;
    for i in 0..model.layers {
        let (_, re) = weights.take(&format!("blocks.{i}.spectral.weight_re"))?;
        let (_, im) = weights.take(&format!("blocks.{i}.spectral.weight_im"))?;
        entries.push(StateEntry {
            key: format!("fno_blocks.convs.{i}.weight.tensor"),
            shape: neuralop_shape(width, width, &model.modes),
            complex: true,
            values: to_neuralop(&re, &im, width, width, &model.modes),
        });
        let (_, bias) = weights.take(&format!("blocks.{i}.pointwise.bias"))?;
        let mut bias_shape = vec![width];
        bias_shape.extend(std::iter::repeat_n(1, model.dims));
        entries.push(StateEntry {
            key: format!("fno_blocks.convs.{i}.bias"),
            shape: bias_shape,
            complex: false,
            values: bias,
        });
        let (shape, weight) = weights.take(&format!("blocks.{i}.pointwise.weight"))?;
        entries.push(conv1d(
            format!("fno_blocks.fno_skips.{i}.conv.weight"),
            &shape,
            weight,
        ));
        if model.channel_mlp_hidden() > 0 {
            gated_mlp(&mut weights, model, i, &mut entries)?;
        }
    }
    let projection = format!("{embeddings}projection");
    mlp(&mut weights, &projection, "projection", None, &mut entries)?;
    if let Some(name) = weights.0.keys().min() {
        return Err(ExportError::Encode(format!(
            "the run's weight `{name}` has no place in neuraloperator's FNO"
        )));
    }
    Ok(entries)
}

/// Block `i`'s channel MLP and soft-gating factors as neuraloperator's
/// `channel_mlp` and `channel_mlp_skips` entries.
fn gated_mlp(
    weights: &mut Weights,
    model: &ModelConfig,
    i: usize,
    entries: &mut Vec<StateEntry>,
) -> Result<(), ExportError> {
    mlp(
        weights,
        &format!("blocks.{i}.channel_mlp"),
        &format!("fno_blocks.channel_mlp.{i}"),
        None,
        entries,
    )?;
    let (_, gate) = weights.take(&format!("blocks.{i}.gate"))?;
    let mut shape = vec![1, gate.len()];
    shape.extend(std::iter::repeat_n(1, model.dims));
    entries.push(StateEntry {
        key: format!("fno_blocks.channel_mlp_skips.{i}.weight"),
        shape,
        complex: false,
        values: gate,
    });
    Ok(())
}

/// A `[out, in]` matrix as a kernel-size-1 `Conv1d` weight `[out, in, 1]`.
fn conv1d(key: String, shape: &[usize], values: Vec<f32>) -> StateEntry {
    let mut shape = shape.to_vec();
    shape.push(1);
    StateEntry {
        key,
        shape,
        complex: false,
        values,
    }
}

/// The two layers of fno's MLP `name` as neuraloperator's `ChannelMLP`
/// `neuralop_name`. With `grid_offset = (c, grid)` the coordinate channels
/// `c..` of the first layer get the half-cell offset of `grid` folded into
/// its bias.
fn mlp(
    weights: &mut Weights,
    name: &str,
    neuralop_name: &str,
    grid_offset: Option<(usize, &[usize])>,
    entries: &mut Vec<StateEntry>,
) -> Result<(), ExportError> {
    for (layer, fno_layer) in ["fc1", "fc2"].iter().enumerate() {
        let (shape, weight) = weights.take(&format!("{name}.{fno_layer}.weight"))?;
        let (_, mut bias) = weights.take(&format!("{name}.{fno_layer}.bias"))?;
        if let (0, Some((first, grid))) = (layer, grid_offset) {
            fold_grid_offset(&mut bias, &weight, &shape, first, grid)?;
        }
        entries.push(conv1d(
            format!("{neuralop_name}.fcs.{layer}.weight"),
            &shape,
            weight,
        ));
        entries.push(StateEntry {
            key: format!("{neuralop_name}.fcs.{layer}.bias"),
            shape: vec![bias.len()],
            complex: false,
            values: bias,
        });
    }
    Ok(())
}

/// Adds `W[:, first + a] * 0.5 / grid[a]` to `bias` for each axis `a`:
/// the cell-centred coordinates fno feeds minus the left-edge ones
/// neuraloperator feeds, through the layer `W` (`shape` = `[out, in]`).
fn fold_grid_offset(
    bias: &mut [f32],
    weight: &[f32],
    shape: &[usize],
    first: usize,
    grid: &[usize],
) -> Result<(), ExportError> {
    let inputs = shape.get(1).copied().unwrap_or(0);
    if first + grid.len() != inputs {
        return Err(ExportError::Grid(format!(
            "the lifting takes {inputs} channels, not {first} inputs and {} coordinates",
            grid.len()
        )));
    }
    for (o, b) in bias.iter_mut().enumerate() {
        let shift: f64 = grid
            .iter()
            .enumerate()
            .map(|(a, &n)| f64::from(weight[o * inputs + first + a]) * 0.5 / n as f64)
            .sum();
        *b = (f64::from(*b) + shift) as f32;
    }
    Ok(())
}

/// The safetensors bytes of `entries`, in key order, marked as PyTorch
/// tensors (`format = pt`).
pub fn encode(entries: &[StateEntry]) -> Result<Vec<u8>, ExportError> {
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::tensor::serialize(entries.iter().map(|e| (e.key.clone(), e)), Some(metadata))
        .map_err(|e| ExportError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fno;
    use candle_core::Device;
    use candle_nn::VarBuilder;

    fn model(dims: usize) -> (ModelConfig, VarMap) {
        let cfg = ModelConfig {
            dims,
            modes: vec![3; dims],
            width: 4,
            layers: 2,
            in_channels: 2,
            out_channels: 3,
            ..ModelConfig::default()
        };
        let map = VarMap::new();
        Fno::new(
            &cfg,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )
        .unwrap();
        (cfg, map)
    }

    #[test]
    fn keys_and_shapes_of_a_2d_model() {
        let (cfg, map) = model(2);
        let entries = build(&map, &cfg, Some(&[16, 8]), "").unwrap();
        let got: Vec<(&str, &[usize], bool)> = entries
            .iter()
            .map(|e| (e.key.as_str(), e.shape.as_slice(), e.complex))
            .collect();
        let want: Vec<(&str, &[usize], bool)> = vec![
            ("lifting.fcs.0.weight", &[8, 4, 1], false),
            ("lifting.fcs.0.bias", &[8], false),
            ("lifting.fcs.1.weight", &[4, 8, 1], false),
            ("lifting.fcs.1.bias", &[4], false),
            ("fno_blocks.convs.0.weight.tensor", &[4, 4, 6, 4], true),
            ("fno_blocks.convs.0.bias", &[4, 1, 1], false),
            ("fno_blocks.fno_skips.0.conv.weight", &[4, 4, 1], false),
            ("fno_blocks.convs.1.weight.tensor", &[4, 4, 6, 4], true),
            ("fno_blocks.convs.1.bias", &[4, 1, 1], false),
            ("fno_blocks.fno_skips.1.conv.weight", &[4, 4, 1], false),
            ("projection.fcs.0.weight", &[8, 4, 1], false),
            ("projection.fcs.0.bias", &[8], false),
            ("projection.fcs.1.weight", &[3, 8, 1], false),
            ("projection.fcs.1.bias", &[3], false),
        ];
        assert_eq!(got, want);
        for e in &entries {
            let n: usize = e.shape.iter().product();
            assert_eq!(
                e.values.len(),
                if e.complex { 2 * n } else { n },
                "{}",
                e.key
            );
        }
    }

    /// A model with neuraloperator's block exports its channel MLPs and
    /// gates under neuraloperator's names and shapes, nothing left over.
    #[test]
    fn channel_mlp_and_gates_of_a_1d_model() {
        let cfg = ModelConfig {
            dims: 1,
            modes: vec![3],
            width: 4,
            layers: 2,
            channel_mlp_expansion: 0.5,
            ..ModelConfig::default()
        };
        let map = VarMap::new();
        Fno::new(
            &cfg,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let entries = build(&map, &cfg, None, "").unwrap();
        let shape = |key: &str| {
            entries
                .iter()
                .find(|e| e.key == key)
                .map(|e| e.shape.clone())
                .unwrap_or_else(|| panic!("no {key}"))
        };
        for i in 0..2 {
            let mlp = format!("fno_blocks.channel_mlp.{i}.fcs");
            assert_eq!(shape(&format!("{mlp}.0.weight")), [2, 4, 1]);
            assert_eq!(shape(&format!("{mlp}.0.bias")), [2]);
            assert_eq!(shape(&format!("{mlp}.1.weight")), [4, 2, 1]);
            assert_eq!(shape(&format!("{mlp}.1.bias")), [4]);
            let gate = format!("fno_blocks.channel_mlp_skips.{i}.weight");
            assert_eq!(shape(&gate), [1, 4, 1]);
        }
        let gate = &entries
            .iter()
            .find(|e| e.key == "fno_blocks.channel_mlp_skips.1.weight")
            .unwrap()
            .values;
        assert_eq!(gate, &vec![1.0; 4], "gates start at neuraloperator's ones");
        assert_eq!(entries.len(), 4 + 2 * (3 + 5) + 4);
    }

    /// A weight the mapping does not place is an error, not dropped.
    #[test]
    fn a_weight_without_a_place_is_refused() {
        let (cfg, map) = model(1);
        map.get(
            2,
            "extra",
            candle_nn::Init::Const(0.0),
            DType::F32,
            &Device::Cpu,
        )
        .unwrap();
        let err = build(&map, &cfg, None, "").unwrap_err().to_string();
        assert!(err.contains("`extra`"), "{err}");
    }

    /// The folded bias makes `W [x; i/n] + b'` equal `W [x; (i+0.5)/n] + b`.
    #[test]
    fn grid_offset_moves_into_the_lifting_bias() {
        let (cfg, map) = model(2);
        let grid = [16usize, 8];
        let plain = build(&map, &cfg, None, "").unwrap();
        let folded = build(&map, &cfg, Some(&grid), "").unwrap();
        let (w, b0, b1) = (&plain[0].values, &plain[1].values, &folded[1].values);
        let (x, (i, j)) = ([0.3f64, -1.2], (5usize, 3usize));
        for o in 0..8 {
            let row = |k: usize| f64::from(w[o * 4 + k]);
            let linear = row(0) * x[0] + row(1) * x[1];
            let fno = linear
                + row(2) * (i as f64 + 0.5) / 16.0
                + row(3) * (j as f64 + 0.5) / 8.0
                + f64::from(b0[o]);
            let neuralop =
                linear + row(2) * i as f64 / 16.0 + row(3) * j as f64 / 8.0 + f64::from(b1[o]);
            assert!((fno - neuralop).abs() < 1e-6, "output {o}");
        }
        // Only the first bias changes.
        for (a, b) in plain
            .iter()
            .zip(&folded)
            .filter(|(a, _)| a.key != "lifting.fcs.0.bias")
        {
            assert_eq!(a, b);
        }
    }

    #[test]
    fn encodes_complex64_and_float32() {
        let (cfg, map) = model(1);
        let entries = build(&map, &cfg, Some(&[32]), "").unwrap();
        let bytes = encode(&entries).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let spectral = st.tensor("fno_blocks.convs.1.weight.tensor").unwrap();
        assert_eq!(spectral.dtype(), Dtype::C64);
        assert_eq!(spectral.shape(), &[4, 4, 4]);
        let bias = st.tensor("fno_blocks.convs.1.bias").unwrap();
        assert_eq!((bias.dtype(), bias.shape()), (Dtype::F32, &[4usize, 1][..]));
        assert_eq!(st.len(), entries.len());
    }
}
