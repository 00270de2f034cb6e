//! `--device cpu|cuda[:N]`: the flag every command that runs the model
//! shares, parsed in one place.
use anyhow::Context;
use candle_core::Device;
use clap::Args;
use fno::device::DeviceChoice;

/// The `--device` flag, flattened into a command's arguments.
#[derive(Debug, Clone, Args)]
pub struct DeviceArg {
    /// Device that runs the model: cpu, cuda or cuda:N. Plain cuda is GPU 0,
    /// or under mpirun/srun the GPU of the rank's local rank (modulo the
    /// node's GPUs). CUDA needs a build with --features cuda.
    #[arg(long = "device", value_name = "DEVICE", default_value = "cpu")]
    pub choice: DeviceChoice,
}

impl DeviceArg {
    /// Opens the chosen device.
    pub fn device(&self) -> anyhow::Result<Device> {
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
        };
        assert!(arg.device().unwrap().is_cpu());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let arg = DeviceArg {
            choice: DeviceChoice::Cuda(Some(1)),
        };
        let err = format!("{:#}", arg.device().unwrap_err());
        assert!(err.contains("cuda:1"), "{err}");
        assert!(err.contains("rebuild with --features cuda"), "{err}");
    }
}
