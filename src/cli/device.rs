//! `--device cpu|cuda[:N]`: the flag every command that runs the model
//! shares, parsed in one place.
use anyhow::Context;
use candle_core::Device;
use clap::Args;
use std::str::FromStr;

/// A device named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// The CUDA GPU with this ordinal (`cuda` alone is GPU 0).
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a device; expected cpu, cuda or cuda:N");
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => {
                let n = s.strip_prefix("cuda:").ok_or_else(bad)?;
                n.parse().map(Self::Cuda).map_err(|_| bad())
            }
        }
    }
}

impl DeviceChoice {
    /// Opens the device. A CUDA device needs a build with `--features cuda`
    /// and a working driver; otherwise this is the error the user sees.
    pub fn open(self) -> anyhow::Result<Device> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(ordinal) => open_cuda(ordinal),
        }
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> anyhow::Result<Device> {
    let device =
        Device::new_cuda(ordinal).with_context(|| format!("opening CUDA device cuda:{ordinal}"))?;
    if let Device::Cuda(gpu) = &device {
        fno::alloc::keep_freed_gpu_memory(gpu)
            .with_context(|| format!("configuring CUDA device cuda:{ordinal}"))?;
    }
    Ok(device)
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(ordinal: usize) -> anyhow::Result<Device> {
    Err(anyhow::anyhow!(
        "fno was built without CUDA; rebuild with --features cuda"
    ))
    .with_context(|| format!("--device cuda:{ordinal}"))
}

/// The `--device` flag, flattened into a command's arguments.
#[derive(Debug, Clone, Args)]
pub struct DeviceArg {
    /// Device that runs the model: cpu, cuda (GPU 0) or cuda:N. CUDA needs a
    /// build with --features cuda.
    #[arg(long = "device", value_name = "DEVICE", default_value = "cpu")]
    pub choice: DeviceChoice,
}

impl DeviceArg {
    /// Opens the chosen device.
    pub fn device(&self) -> anyhow::Result<Device> {
        self.choice.open()
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
        assert_eq!(parse(&["--device", "cuda"]).unwrap(), DeviceChoice::Cuda(0));
        assert_eq!(
            parse(&["--device", "cuda:3"]).unwrap(),
            DeviceChoice::Cuda(3)
        );
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda3"] {
            let err = parse(&["--device", bad]).expect_err(bad).to_string();
            assert!(err.contains("expected cpu, cuda or cuda:N"), "{bad}: {err}");
        }
    }

    #[test]
    fn cpu_opens_everywhere() {
        assert!(DeviceChoice::Cpu.open().unwrap().is_cpu());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let err = format!("{:#}", DeviceChoice::Cuda(1).open().unwrap_err());
        assert!(err.contains("cuda:1"), "{err}");
        assert!(err.contains("rebuild with --features cuda"), "{err}");
    }
}
