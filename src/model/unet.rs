//! A U-Net baseline (Ronneberger et al., 2015), as PDEBench and The Well
//! train it beside the FNO: an encoder of convolution pairs and 2×
//! average pooling, a bottleneck, and a decoder that upsamples 2×
//! (nearest, then a 3-wide convolution), concatenates the encoder's
//! output of the same level and applies another pair; a 1×1 convolution
//! maps to the output channels.
//!
//! It differs from PDEBench's `UNet2d` in two ways, both for training with
//! fno's trainer: no batch normalisation (it makes a prediction depend on
//! the other samples of the batch and needs a separate evaluation mode)
//! and the model's activation (GELU by default) instead of tanh. Its
//! convolutions act in grid units, so it has no resolution-independent
//! meaning: on a grid finer than its training grid it sees every feature
//! stretched, which is the comparison `fno eval` draws against the FNO.
//! Each grid axis must be divisible by `2^levels`. One and two spatial
//! axes (candle has no 3D convolution).
use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::activation::Activation;

/// The sizes of a [`UNet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UNetShape {
    /// Spatial axes: 1 or 2.
    pub dims: usize,
    /// Channels entering the network (grid channels included).
    pub in_channels: usize,
    /// Channels it returns.
    pub out_channels: usize,
    /// Channels of the first level; each level down doubles them.
    pub features: usize,
    /// Poolings between the finest level and the bottleneck.
    pub levels: usize,
}

/// A 3-wide (or 1×1) convolution with bias, zero-padded to keep the grid.
#[derive(Debug)]
struct Conv {
    weight: Tensor,
    bias: Tensor,
    dims: usize,
    padding: usize,
}

impl Conv {
    /// PyTorch's default initialisation of `Conv1d`/`Conv2d`: uniform on
    /// `±1/√fan_in` for weight and bias.
    fn new(dims: usize, cin: usize, cout: usize, width: usize, vb: VarBuilder) -> Result<Self> {
        let fan_in = cin * width.pow(dims as u32);
        let bound = 1.0 / (fan_in as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let mut shape = vec![cout, cin];
        shape.extend(std::iter::repeat_n(width, dims));
        Ok(Self {
            weight: vb.get_with_hints(shape, "weight", init)?,
            bias: vb.get_with_hints(cout, "bias", init)?,
            dims,
            padding: width / 2,
        })
    }

    /// The convolution of `x`, which is always two-dimensional here
    /// (`[batch, channels, 1, n]` for a 1D network): candle's `conv1d`
    /// has a wrong backward pass for batches of more than one sample
    /// (candle 0.11.1, checked against finite differences), its `conv2d`
    /// a right one.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // The zeros are added here rather than by the convolution: candle
        // pads both axes alike, and its backward pass of a padded
        // convolution underflows on axes shorter than twice the padding
        // (the bottleneck's 2 cells).
        let mut padded = x.clone();
        for axis in 4 - self.dims..4 {
            padded = padded.pad_with_zeros(axis, self.padding, self.padding)?;
        }
        let weight = match self.dims {
            1 => {
                let (cout, cin, width) = self.weight.dims3()?;
                self.weight.reshape((cout, cin, 1, width))?
            }
            _ => self.weight.clone(),
        };
        let y = padded.conv2d(&weight, 0, 1, 1, 1)?;
        y.broadcast_add(&self.bias.reshape((1, self.bias.dim(0)?, 1, 1))?)
    }

    fn num_parameters(&self) -> usize {
        self.weight.elem_count() + self.bias.elem_count()
    }
}

/// Two 3-wide convolutions, each followed by the activation.
#[derive(Debug)]
struct ConvPair {
    first: Conv,
    second: Conv,
}

impl ConvPair {
    fn new(dims: usize, cin: usize, cout: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            first: Conv::new(dims, cin, cout, 3, vb.pp("0"))?,
            second: Conv::new(dims, cout, cout, 3, vb.pp("1"))?,
        })
    }

    fn forward(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        act.apply(&self.second.forward(&act.apply(&self.first.forward(x)?)?)?)
    }

    fn num_parameters(&self) -> usize {
        self.first.num_parameters() + self.second.num_parameters()
    }
}

/// The U-Net. Parameters live under `down.{i}`, `bottleneck`, `up.{i}`
/// (the convolution after each upsampling), `decode.{i}` and `head`.
#[derive(Debug)]
pub struct UNet {
    shape: UNetShape,
    activation: Activation,
    down: Vec<ConvPair>,
    bottleneck: ConvPair,
    up: Vec<Conv>,
    decode: Vec<ConvPair>,
    head: Conv,
}

impl UNet {
    /// Creates (or loads, depending on `vb`) the network.
    pub fn new(shape: UNetShape, activation: Activation, vb: VarBuilder) -> Result<Self> {
        let UNetShape { dims, features, .. } = shape;
        let at = |level: usize| features << level;
        let mut down = Vec::with_capacity(shape.levels);
        let mut cin = shape.in_channels;
        for level in 0..shape.levels {
            down.push(ConvPair::new(
                dims,
                cin,
                at(level),
                vb.pp("down").pp(level),
            )?);
            cin = at(level);
        }
        let bottleneck = ConvPair::new(dims, cin, at(shape.levels), vb.pp("bottleneck"))?;
        let mut up = Vec::with_capacity(shape.levels);
        let mut decode = Vec::with_capacity(shape.levels);
        for level in (0..shape.levels).rev() {
            up.push(Conv::new(
                dims,
                at(level + 1),
                at(level),
                3,
                vb.pp("up").pp(level),
            )?);
            decode.push(ConvPair::new(
                dims,
                2 * at(level),
                at(level),
                vb.pp("decode").pp(level),
            )?);
        }
        let head = Conv::new(dims, features, shape.out_channels, 1, vb.pp("head"))?;
        Ok(Self {
            shape,
            activation,
            down,
            bottleneck,
            up,
            decode,
            head,
        })
    }

    /// The sizes the network was built with.
    pub fn shape(&self) -> UNetShape {
        self.shape
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.down
            .iter()
            .map(ConvPair::num_parameters)
            .sum::<usize>()
            + self.bottleneck.num_parameters()
            + self.up.iter().map(Conv::num_parameters).sum::<usize>()
            + self
                .decode
                .iter()
                .map(ConvPair::num_parameters)
                .sum::<usize>()
            + self.head.num_parameters()
    }

    /// The factor every grid axis must be divisible by: `2^levels`.
    pub fn grid_multiple(&self) -> usize {
        1 << self.shape.levels
    }

    /// Applies the network on the input's grid.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, x, (y)]`, each axis divisible by
    ///   [`Self::grid_multiple`]
    /// - returns `[batch, out_channels, x, (y)]`
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let act = self.activation;
        let one_d = self.shape.dims == 1;
        let mut v = match one_d {
            true => {
                let (b, c, n) = x.dims3()?;
                x.reshape((b, c, 1, n))?
            }
            false => x.clone(),
        };
        let mut skips = Vec::with_capacity(self.shape.levels);
        for pair in &self.down {
            let kept = pair.forward(&v, act)?;
            v = self.pool(&kept)?;
            skips.push(kept);
        }
        v = self.bottleneck.forward(&v, act)?;
        for ((up, pair), skip) in self.up.iter().zip(&self.decode).zip(skips.iter().rev()) {
            let upsampled = act.apply(&up.forward(&self.upsample(&v)?)?)?;
            v = pair.forward(&Tensor::cat(&[skip, &upsampled], 1)?, act)?;
        }
        let y = self.head.forward(&v)?;
        match one_d {
            true => y.squeeze(2),
            false => Ok(y),
        }
    }

    /// Averages each 2 (1D) or 2 × 2 block of cells.
    fn pool(&self, x: &Tensor) -> Result<Tensor> {
        match self.shape.dims {
            1 => x.avg_pool2d((1, 2)),
            _ => x.avg_pool2d(2),
        }
    }

    /// Repeats each cell twice along every grid axis. Written with a
    /// broadcast rather than candle's nearest upsampling, whose backward
    /// pass replaces the argument's gradient instead of adding to it.
    fn upsample(&self, x: &Tensor) -> Result<Tensor> {
        let mut v = x.clone();
        for axis in 4 - self.shape.dims..4 {
            let expanded = v.unsqueeze(axis + 1)?;
            let mut target = expanded.dims().to_vec();
            target[axis + 1] = 2;
            let mut doubled = v.dims().to_vec();
            doubled[axis] *= 2;
            v = expanded.broadcast_as(target)?.reshape(doubled)?;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    fn net(dims: usize, dtype: DType, map: &VarMap) -> UNet {
        let shape = UNetShape {
            dims,
            in_channels: 2,
            out_channels: 3,
            features: 4,
            levels: 2,
        };
        let vb = VarBuilder::from_varmap(map, dtype, &Device::Cpu);
        UNet::new(shape, Activation::Gelu, vb).unwrap()
    }

    #[test]
    fn shapes_hold_at_several_grids_forward_and_backward() {
        for (dims, grids) in [
            (1, vec![vec![8], vec![16], vec![64]]),
            (2, vec![vec![8, 8], vec![16, 12], vec![32, 64]]),
        ] {
            let map = VarMap::new();
            let net = net(dims, DType::F32, &map);
            for grid in grids {
                let shape = [&[3, 2][..], &grid].concat();
                let x = Var::randn(0f32, 1.0, shape.clone(), &Device::Cpu).unwrap();
                let y = net.forward(x.as_tensor()).unwrap();
                assert_eq!(y.dims(), [&[3, 3][..], &grid].concat());
                let grads = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
                assert_eq!(grads.get(x.as_tensor()).unwrap().dims(), shape);
                for var in map.all_vars() {
                    let g = grads
                        .get(var.as_tensor())
                        .expect("every weight gets a gradient");
                    assert_eq!(g.dims(), var.dims());
                }
            }
        }
    }

    #[test]
    fn the_parameter_count_follows_the_levels() {
        let map = VarMap::new();
        let net = net(2, DType::F32, &map);
        let conv = |cin: usize, cout: usize, w: usize| cout * cin * w * w + cout;
        let pair = |cin: usize, cout: usize| conv(cin, cout, 3) + conv(cout, cout, 3);
        let want = pair(2, 4)
            + pair(4, 8)
            + pair(8, 16)
            + conv(16, 8, 3)
            + pair(16, 8)
            + conv(8, 4, 3)
            + pair(8, 4)
            + conv(4, 3, 1);
        assert_eq!(net.num_parameters(), want);
        let stored: usize = map.all_vars().iter().map(|v| v.elem_count()).sum();
        assert_eq!(stored, want);
    }

    /// The gradient of `sum(net(x) * r)` against central differences in
    /// f64, for every weight tensor and the input, in 1D and 2D.
    #[test]
    fn gradients_match_finite_differences_in_f64() {
        for (dims, grid) in [(1, vec![8]), (2, vec![4, 8])] {
            let map = VarMap::new();
            let net = net(dims, DType::F64, &map);
            let shape = [&[2, 2][..], &grid].concat();
            let x = Var::randn(0f64, 1.0, shape, &Device::Cpu).unwrap();
            let r = Tensor::randn(0f64, 1.0, [&[2, 3][..], &grid].concat(), &Device::Cpu).unwrap();
            let loss = || -> f64 {
                let y = net.forward(x.as_tensor()).unwrap();
                (y * &r)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let y = net.forward(x.as_tensor()).unwrap();
            let grads = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let mut vars = map.all_vars();
            vars.push(x.clone());
            for var in &vars {
                let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap();
                let analytic = analytic.to_vec1::<f64>().unwrap();
                let base = var
                    .as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap();
                // A few entries of each tensor: the first, the middle, the last.
                for i in [0, base.len() / 2, base.len() - 1] {
                    let h = 1e-5;
                    let mut shifted = base.clone();
                    let mut at = |value: f64| {
                        shifted[i] = value;
                        let t =
                            Tensor::from_vec(shifted.clone(), var.shape(), &Device::Cpu).unwrap();
                        var.set(&t).unwrap();
                        loss()
                    };
                    let numeric = (at(base[i] + h) - at(base[i] - h)) / (2.0 * h);
                    var.set(&Tensor::from_vec(base.clone(), var.shape(), &Device::Cpu).unwrap())
                        .unwrap();
                    let scale = numeric.abs().max(analytic[i].abs()).max(1e-3);
                    assert!(
                        (numeric - analytic[i]).abs() / scale < 1e-5,
                        "{dims}D {:?} entry {i}: numeric {numeric}, analytic {}",
                        var.dims(),
                        analytic[i]
                    );
                }
            }
        }
    }
}
