//! `--device cpu|cuda[:N]` and `--cuda-transforms`: the flags every
//! command that runs the model shares, parsed in one place.
use anyhow::Context;
use candle_core::Device;
use clap::Args;
use fno::device::DeviceChoice;
use fno::spectral::{set_cuda_transforms, CudaTransforms};

/// The `--device` flag, flattened into a command's arguments.
#[derive(Debug, Clone, Args)]
pub struct DeviceArg {
    /// Device that runs the model: cpu, cuda or cuda:N. Plain cuda is GPU 0,
    /// or under mpirun/srun the GPU of the rank's local rank (modulo the
    /// node's GPUs). CUDA needs a build with --features cuda.
    #[arg(long = "device", value_name = "DEVICE", default_value = "cpu")]
    pub choice: DeviceChoice,
    /// How CUDA computes the spectral convolutions' grid transforms: cufft
    /// (cuFFT plans with our truncation and padding kernels around them) or
    /// direct (one pruned DFT kernel per axis that writes only the kept
    /// modes, no full or zero-padded spectrum). Needs --device cuda.
    #[arg(long = "cuda-transforms", value_name = "KIND", default_value = "cufft")]
    pub transforms: CudaTransforms,
}

impl DeviceArg {
    /// Opens the chosen device, with the chosen CUDA transforms.
    pub fn device(&self) -> anyhow::Result<Device> {
        if self.transforms != CudaTransforms::Cufft && self.choice == DeviceChoice::Cpu {
            anyhow::bail!(
                "--cuda-transforms {} needs --device cuda (the CPU runs its own pruned FFTs)",
                self.transforms.name()
            );
        }
        set_cuda_transforms(self.transforms);
        self.choice
            .open()
            .with_context(|| format!("--device {}", self.choice.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        device: DeviceArg,
    }

    fn parse(args: &[&str]) -> Result<DeviceChoice, clap::Error> {
        Wrap::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .map(|w| w.device.choice)
    }

    #[test]
    fn parses_cpu_cuda_and_ordinals() {
        assert_eq!(parse(&[]).unwrap(), DeviceChoice::Cpu);
        assert_eq!(parse(&["--device", "cpu"]).unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            parse(&["--device", "cuda"]).unwrap(),
            DeviceChoice::Cuda(None)
        );
        assert_eq!(
            parse(&["--device", "cuda:3"]).unwrap(),
            DeviceChoice::Cuda(Some(3))
        );
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda3"] {
            let err = parse(&["--device", bad]).expect_err(bad).to_string();
            assert!(err.contains("expected cpu, cuda or cuda:N"), "{bad}: {err}");
        }
    }

    #[test]
    fn cpu_opens_everywhere() {
        let arg = DeviceArg {
            choice: DeviceChoice::Cpu,
            transforms: CudaTransforms::Cufft,
        };
        assert!(arg.device().unwrap().is_cpu());
    }

    #[test]
    fn cuda_transforms_parse_and_need_cuda() {
        let parsed = |args: &[&str]| {
            Wrap::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
                .map(|w| w.device.transforms)
        };
        assert_eq!(parsed(&[]).unwrap(), CudaTransforms::Cufft);
        assert_eq!(
            parsed(&["--cuda-transforms", "direct"]).unwrap(),
            CudaTransforms::Direct
        );
        let err = parsed(&["--cuda-transforms", "fft"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected cufft or direct"), "{err}");
        let arg = DeviceArg {
            choice: DeviceChoice::Cpu,
            transforms: CudaTransforms::Direct,
        };
        let err = format!("{:#}", arg.device().unwrap_err());
        assert!(
            err.contains("--cuda-transforms direct needs --device cuda"),
            "{err}"
        );
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let arg = DeviceArg {
            choice: DeviceChoice::Cuda(Some(1)),
            transforms: CudaTransforms::Cufft,
        };
        let err = format!("{:#}", arg.device().unwrap_err());
        assert!(err.contains("cuda:1"), "{err}");
        assert!(err.contains("rebuild with --features cuda"), "{err}");
    }
}
