//! The fused spectral convolution on CUDA, forward and backward: the
//! formulas of [`crate::spectral::fused`], with the grid transforms of
//! [`super::transform`] and the mixing kernels of `kernels/spectral.cu`.
//!
//! The op's own backward pass transforms the input again for the weight
//! gradient; the stack of Fourier blocks (`model::cuda::block`) keeps each
//! block's input spectrum from the forward pass instead and hands it over.

use candle_core::backend::BackendStorage;
use candle_core::{CudaDevice, CudaStorage, DType, Layout, Tensor};
use cudarc::driver::{CudaSlice, CudaView, PushKernelArg};

use super::plan::FftReal;
use super::transform::GridPlan;
use crate::cuda::{by_dtype, config, cuda_of, tensor, u32_of, upload_index, view, Kernel, Module};
use crate::spectral::error::SpectralError;
use crate::spectral::geometry::Geometry;

/// Sizes the mixing kernels take, checked against their integer types.
struct MixDims {
    batch: u32,
    c_in: u32,
    c_out: u32,
    modes: u32,
    full: u64,
}

impl MixDims {
    fn new(geo: &Geometry) -> candle_core::Result<Self> {
        Ok(Self {
            batch: u32_of("batch", geo.batch)?,
            c_in: u32_of("channels", geo.c_in)?,
            c_out: u32_of("channels", geo.c_out)?,
            modes: u32_of("modes", geo.modes.kept_total())?,
            full: geo.modes.weight_shape().iter().product::<usize>() as u64,
        })
    }
}

/// The kept modes' flat indices in the weights' spatial block, on `dev`.
fn weight_index(dev: &CudaDevice, geo: &Geometry) -> candle_core::Result<CudaSlice<i32>> {
    let index: Vec<Option<usize>> = geo.modes.weight_index().into_iter().map(Some).collect();
    upload_index(dev, &index)
}

fn analysis_in(geo: &Geometry) -> GridPlan {
    GridPlan::new(&geo.in_grid, &geo.modes, geo.inv_points::<f64>())
}

fn synthesis_out(geo: &Geometry) -> GridPlan {
    GridPlan::new(&geo.out_grid, &geo.modes, geo.hermitian::<f64>())
}

/// The fused op's forward pass on device views: `K x` on the output grid.
pub(crate) fn forward_t<T: FftReal>(
    geo: &Geometry,
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    w_re: &CudaView<'_, T>,
    w_im: &CudaView<'_, T>,
) -> candle_core::Result<CudaSlice<T>> {
    Ok(forward_keeping_spectrum(geo, dev, x, w_re, w_im)?.0)
}

/// [`forward_t`], also returning the input's kept modes (`None` when no
/// mode is kept), which [`backward_t`] can take instead of transforming the
/// input again.
pub(crate) fn forward_keeping_spectrum<T: FftReal>(
    geo: &Geometry,
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    w_re: &CudaView<'_, T>,
    w_im: &CudaView<'_, T>,
) -> candle_core::Result<(CudaSlice<T>, Option<CudaSlice<T>>)> {
    let out_points: usize = geo.out_grid.iter().product();
    if geo.is_trivial() {
        return Ok((
            dev.alloc_zeros::<T>(geo.batch * geo.c_out * out_points)?,
            None,
        ));
    }
    let spec = analysis_in(geo).analysis(dev, x, geo.batch * geo.c_in)?;
    let widx = weight_index(dev, geo)?;
    let m = MixDims::new(geo)?;
    // SAFETY: the kernel writes every (batch, c_out, mode) value.
    let mut y = unsafe { dev.alloc::<T>(2 * geo.batch * geo.c_out * geo.modes.kept_total())? };
    let kernel = Kernel::new::<T>(dev, Module::Spectral, "mix")?;
    let mut args = kernel.args();
    args.arg(&spec)
        .arg(w_re)
        .arg(w_im)
        .arg(&widx)
        .arg(&mut y)
        .arg(&m.batch)
        .arg(&m.c_in)
        .arg(&m.c_out)
        .arg(&m.modes)
        .arg(&m.full);
    let total = u64::from(m.batch) * u64::from(m.c_out) * u64::from(m.modes);
    // SAFETY: the arguments match `fno_mix_*` in spectral.cu; the weight
    // views hold [c_in, c_out, full] values (checked by `Geometry`).
    unsafe { args.launch(config(total)) }.map_err(|e| kernel.error(e))?;
    let out = synthesis_out(geo).synthesis(dev, &y.slice(..), geo.batch * geo.c_out)?;
    Ok((out, Some(spec)))
}

/// The forward pass of the fused op on CUDA storages (validated by the
/// caller into `geo`).
pub(crate) fn forward(
    op: &'static str,
    geo: &Geometry,
    (x, lx): (&CudaStorage, &Layout),
    (w_re, lr): (&CudaStorage, &Layout),
    (w_im, li): (&CudaStorage, &Layout),
) -> candle_core::Result<CudaStorage> {
    let dev = x.device();
    by_dtype(
        op,
        x,
        || {
            forward_t::<f32>(
                geo,
                dev,
                &view(op, x, lx)?,
                &view(op, w_re, lr)?,
                &view(op, w_im, li)?,
            )
        },
        || {
            forward_t::<f64>(
                geo,
                dev,
                &view(op, x, lx)?,
                &view(op, w_re, lr)?,
                &view(op, w_im, li)?,
            )
        },
    )
}

/// Device gradients of `x` and of (`w_re`, `w_im`), `None` where not
/// wanted.
pub(crate) type DeviceGradients<T> = (Option<CudaSlice<T>>, Option<(CudaSlice<T>, CudaSlice<T>)>);

/// `x`, `w_re`, `w_im` and the output gradient, on the device.
pub(crate) struct Operands<'a, T> {
    pub(crate) x: CudaView<'a, T>,
    pub(crate) w_re: CudaView<'a, T>,
    pub(crate) w_im: CudaView<'a, T>,
    pub(crate) grad: CudaView<'a, T>,
}

/// The fused op's backward pass on device views: the gradients of `x` and
/// of the weights where wanted (`(want_x, want_weights)`). `spectrum`: the
/// input's kept modes from [`forward_keeping_spectrum`], if kept.
pub(crate) fn backward_t<T: FftReal>(
    geo: &Geometry,
    dev: &CudaDevice,
    v: &Operands<'_, T>,
    (want_x, want_weights): (bool, bool),
    spectrum: Option<&CudaView<'_, T>>,
) -> candle_core::Result<DeviceGradients<T>> {
    let full: usize = geo.modes.weight_shape().iter().product();
    let weight_len = geo.c_in * geo.c_out * full;
    let x_len = geo.batch * geo.c_in * geo.in_grid.iter().product::<usize>();
    if geo.is_trivial() {
        let gx = want_x.then(|| dev.alloc_zeros::<T>(x_len)).transpose()?;
        let gw = if want_weights {
            Some((
                dev.alloc_zeros::<T>(weight_len)?,
                dev.alloc_zeros::<T>(weight_len)?,
            ))
        } else {
            None
        };
        return Ok((gx, gw));
    }
    // G = c_k FFT(grad) on the output grid: the adjoint of the synthesis.
    let g_analysis = GridPlan::new(&geo.out_grid, &geo.modes, geo.hermitian::<f64>());
    let g = g_analysis.analysis(dev, &v.grad, geo.batch * geo.c_out)?;
    let widx = weight_index(dev, geo)?;
    let m = MixDims::new(geo)?;
    let x_grid = analysis_in(geo);

    let grad_x = if want_x {
        // SAFETY: the kernel writes every (batch, c_in, mode) value.
        let mut gx = unsafe { dev.alloc::<T>(2 * geo.batch * geo.c_in * geo.modes.kept_total())? };
        let kernel = Kernel::new::<T>(dev, Module::Spectral, "mix_adjoint_x")?;
        let mut args = kernel.args();
        args.arg(&g)
            .arg(&v.w_re)
            .arg(&v.w_im)
            .arg(&widx)
            .arg(&mut gx)
            .arg(&m.batch)
            .arg(&m.c_in)
            .arg(&m.c_out)
            .arg(&m.modes)
            .arg(&m.full);
        let total = u64::from(m.batch) * u64::from(m.c_in) * u64::from(m.modes);
        // SAFETY: as for `fno_mix_*` in `forward_t`.
        unsafe { args.launch(config(total)) }.map_err(|e| kernel.error(e))?;
        // The adjoint of the normalised analysis is the synthesis with the
        // same last-axis weights (1/|N|), on the input grid.
        Some(x_grid.synthesis(dev, &gx.slice(..), geo.batch * geo.c_in)?)
    } else {
        None
    };

    let grad_w = if want_weights {
        let transformed;
        let spec = match spectrum {
            Some(kept) => kept.slice(..),
            None => {
                transformed = x_grid.analysis(dev, &v.x, geo.batch * geo.c_in)?;
                transformed.slice(..)
            }
        };
        // Zeroed: the modes clipped away on these grids keep a zero gradient.
        let mut gw_re = dev.alloc_zeros::<T>(weight_len)?;
        let mut gw_im = dev.alloc_zeros::<T>(weight_len)?;
        let kernel = Kernel::new::<T>(dev, Module::Spectral, "mix_adjoint_w")?;
        let mut args = kernel.args();
        args.arg(&g)
            .arg(&spec)
            .arg(&widx)
            .arg(&mut gw_re)
            .arg(&mut gw_im)
            .arg(&m.batch)
            .arg(&m.c_in)
            .arg(&m.c_out)
            .arg(&m.modes)
            .arg(&m.full);
        let total = u64::from(m.c_in) * u64::from(m.c_out) * u64::from(m.modes);
        // SAFETY: as above; kept modes have distinct weight indices, so no
        // two threads write the same gradient element.
        unsafe { args.launch(config(total)) }.map_err(|e| kernel.error(e))?;
        Some((gw_re, gw_im))
    } else {
        None
    };
    Ok((grad_x, grad_w))
}

/// Gradients of `x` and of the weights.
pub(crate) type Gradients = (Option<Tensor>, Option<Tensor>, Option<Tensor>);

fn backward_dtype<T: FftReal>(
    op: &'static str,
    geo: &Geometry,
    [x, w_re, w_im, grad]: [&Tensor; 4],
    want: (bool, bool),
) -> candle_core::Result<Gradients> {
    let guards = [x, w_re, w_im, grad].map(|t| t.storage_and_layout());
    let [(sx, lx), (sr, lr), (si, li), (sg, lg)] = &guards;
    let sx = cuda_of(op, sx)?;
    let dev = sx.device();
    let operands = Operands {
        x: view::<T>(op, sx, lx)?,
        w_re: view::<T>(op, cuda_of(op, sr)?, lr)?,
        w_im: view::<T>(op, cuda_of(op, si)?, li)?,
        grad: view::<T>(op, cuda_of(op, sg)?, lg)?,
    };
    let (gx, gw) = backward_t::<T>(geo, dev, &operands, want, None)?;
    let gx = gx.map(|g| tensor(dev, g, x.dims()));
    let (gr, gi) = match gw {
        Some((r, i)) => (
            Some(tensor(dev, r, w_re.dims())),
            Some(tensor(dev, i, w_re.dims())),
        ),
        None => (None, None),
    };
    Ok((gx, gr, gi))
}

/// The backward pass of the fused op on CUDA tensors: contiguous `x`,
/// `w_re`, `w_im` and output gradient `grad` of one dtype (checked by the
/// caller). `want` says which of (input, weights) gradients to compute.
pub(crate) fn backward(
    op: &'static str,
    geo: &Geometry,
    tensors: [&Tensor; 4],
    want: (bool, bool),
) -> candle_core::Result<Gradients> {
    match tensors[0].dtype() {
        DType::F32 => backward_dtype::<f32>(op, geo, tensors, want),
        DType::F64 => backward_dtype::<f64>(op, geo, tensors, want),
        dtype => Err(SpectralError::UnsupportedDType { op, dtype }.into()),
    }
}
