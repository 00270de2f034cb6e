//! Runs the steps of a direct transform ([`crate::spectral::dft_plan`]) on
//! the device, each reading the previous step's output: the real last axis
//! as one cuBLAS GEMM, every other axis as one launch of `kernels/dft.cu`.

use candle_core::CudaDevice;
use cudarc::driver::{CudaSlice, CudaView, PushKernelArg};

use crate::cuda::{config, u32_of, upload_real, BatchedGemm, GpuReal, Kernel, Module};
use crate::spectral::dft_plan::DftStep;

/// The steps run in order on `input`; the last step's output.
pub(crate) fn run<T: GpuReal>(
    dev: &CudaDevice,
    input: &CudaView<'_, T>,
    steps: &[DftStep],
) -> candle_core::Result<CudaSlice<T>> {
    let mut cur: Option<CudaSlice<T>> = None;
    for step in steps {
        let src = cur
            .as_ref()
            .map_or_else(|| input.slice(..), |c| c.slice(..));
        cur = Some(launch(dev, &src, step)?);
    }
    match cur {
        Some(out) => Ok(out),
        None => dev.alloc_zeros::<T>(0),
    }
}

/// One step's launch.
fn launch<T: GpuReal>(
    dev: &CudaDevice,
    src: &CudaView<'_, T>,
    step: &DftStep,
) -> candle_core::Result<CudaSlice<T>> {
    let len = step.output_len();
    if len == 0 {
        return dev.alloc_zeros::<T>(0);
    }
    // SAFETY: the GEMM and the kernel write each of the `len` outputs.
    let mut out = unsafe { dev.alloc::<T>(len)? };
    match step {
        DftStep::Rows(r) => {
            let matrix = upload_real::<T>(dev, &r.matrix)?;
            let d = r.gemm();
            BatchedGemm {
                op: "fno-direct-dft",
                trans_a: false,
                trans_b: false,
                m: d.m,
                n: d.n,
                k: d.k,
                ld: (d.lda, d.ldb, d.ldc),
                strides: (0, 0, 0),
                batch: 1,
                accumulate: false,
            }
            .run(&dev.cublas_handle(), &matrix, src, &mut out)?;
        }
        DftStep::Axis(a) => {
            let factors = upload_real::<T>(dev, &a.factors)?;
            let kernel = Kernel::new::<T>(dev, Module::Dft, "dft_axis")?;
            let (outer, inner) = (a.outer as u64, a.inner as u64);
            let (n_in, n_out) = (u32_of("length", a.n_in)?, u32_of("length", a.n_out)?);
            let mut args = kernel.args();
            args.arg(src)
                .arg(&factors)
                .arg(&mut out)
                .arg(&outer)
                .arg(&n_in)
                .arg(&inner)
                .arg(&n_out);
            // SAFETY: the arguments match `fno_dft_axis_*` in dft.cu;
            // `factors` holds the step's `[n_out, n_in]` complex factors,
            // `src` its `[outer, n_in, inner]` complex input.
            unsafe { args.launch(config(len as u64 / 2)) }.map_err(|e| kernel.error(e))?;
        }
    }
    Ok(out)
}
