//! The process-wide choice of how CUDA transforms the grids of the
//! spectral convolution (`--cuda-transforms`): cuFFT, or the direct pruned
//! DFTs planned in `dft_plan.rs`.

/// How CUDA computes the grid transforms of the spectral convolution.
///
/// The choice is process-wide ([`set_cuda_transforms`]); the CPU always
/// runs its own pruned FFTs and ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CudaTransforms {
    /// cuFFT's batched full-length transforms, with our kernels keeping
    /// the bins, padding and moving axes around them.
    #[default]
    Cufft,
    /// Direct DFTs that read each axis once and write only the kept bins
    /// (analysis) or the grid points (synthesis): no full-length or
    /// zero-padded spectrum is ever stored.
    Direct,
}

impl CudaTransforms {
    /// The name `--cuda-transforms` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cufft => "cufft",
            Self::Direct => "direct",
        }
    }
}

impl std::str::FromStr for CudaTransforms {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cufft" => Ok(Self::Cufft),
            "direct" => Ok(Self::Direct),
            other => Err(format!("expected cufft or direct, got {other:?}")),
        }
    }
}

static DIRECT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets how every later CUDA spectral convolution of this process
/// transforms its grids.
pub fn set_cuda_transforms(choice: CudaTransforms) {
    DIRECT.store(
        choice == CudaTransforms::Direct,
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// The choice [`set_cuda_transforms`] made last ([`CudaTransforms::Cufft`]
/// until then).
pub fn cuda_transforms() -> CudaTransforms {
    if DIRECT.load(std::sync::atomic::Ordering::Relaxed) {
        CudaTransforms::Direct
    } else {
        CudaTransforms::Cufft
    }
}
