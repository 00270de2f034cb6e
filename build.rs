//! Build script. Without the `cuda` feature it does nothing (in particular it
//! never looks for nvcc). With it, it compiles `kernels/*.cu` to PTX (one
//! file per kernel source, for the compute capability in `CUDA_COMPUTE_CAP`
//! or, failing that, the one `nvidia-smi` reports) and links cuFFT, which
//! cudarc's own build script does not do when linking dynamically.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    // Cargo compiles this script with the package's features, so this is
    // the `CARGO_FEATURE_CUDA` test, and `cudaforge` (an optional
    // build-dependency) only exists when it holds.
    #[cfg(feature = "cuda")]
    if let Err(e) = cuda::build() {
        // A build script reports failure by panicking; the message is
        // what the user sees under "failed to run custom build command".
        panic!("building the CUDA kernels in kernels/ failed: {e}");
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use std::path::PathBuf;

    /// Compiles the kernels and writes `$OUT_DIR/ptx.rs`, which defines one
    /// `&str` constant per kernel source (`kernels/spectral.cu` becomes
    /// `SPECTRAL`).
    pub fn build() -> Result<(), Box<dyn std::error::Error>> {
        println!("cargo::rerun-if-changed=kernels");
        println!("cargo::rerun-if-env-changed=CUDA_COMPUTE_CAP");
        let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
        cudaforge::KernelBuilder::new()
            .source_dir("kernels")
            .arg("-std=c++17")
            .arg("-O3")
            .build_ptx()?
            .write(out_dir.join("ptx.rs"))?;
        println!("cargo::rustc-link-lib=dylib=cufft");
        Ok(())
    }
}
