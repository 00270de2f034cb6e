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
    /// The CUDA GPU with this ordinal; `cuda` alone (`None`) is the GPU of
    /// this process's local rank (see [`fno::dist::gpu_of_local_rank`]), GPU 0 for a
    /// process started without an MPI launcher.
    Cuda(Option<usize>),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a device; expected cpu, cuda or cuda:N");
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(None)),
            _ => {
                let n = s.strip_prefix("cuda:").ok_or_else(bad)?;
                n.parse().map(|n| Self::Cuda(Some(n))).map_err(|_| bad())
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
            Self::Cuda(Some(ordinal)) => open_cuda(ordinal),
            Self::Cuda(None) => open_cuda(gpu_of_this_rank()?),
        }
    }
}

/// This process's GPU when `--device cuda` names none: by its local rank
/// under an MPI launcher, GPU 0 otherwise.
#[cfg(feature = "cuda")]
fn gpu_of_this_rank() -> anyhow::Result<usize> {
    let local_rank = fno::dist::detect(|name| std::env::var(name).ok())
        .ok()
        .flatten()
        .and_then(|launch| launch.local_rank)
        .unwrap_or(0);
    let gpus = cudarc::driver::CudaContext::device_count()
        .context("counting the CUDA devices for --device cuda")?;
    let gpus = usize::try_from(gpus).unwrap_or(0);
    anyhow::ensure!(gpus > 0, "--device cuda: no CUDA device is visible");
    Ok(fno::dist::gpu_of_local_rank(local_rank, gpus))
}

/// Without CUDA every GPU is refused when opened; 0 names it.
#[cfg(not(feature = "cuda"))]
fn gpu_of_this_rank() -> anyhow::Result<usize> {
    Ok(0)
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
    /// Device that runs the model: cpu, cuda or cuda:N. Plain cuda is GPU 0,
    /// or under mpirun/srun the GPU of the rank's local rank (modulo the
    /// node's GPUs). CUDA needs a build with --features cuda.
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
        assert!(DeviceChoice::Cpu.open().unwrap().is_cpu());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let err = format!("{:#}", DeviceChoice::Cuda(Some(1)).open().unwrap_err());
        assert!(err.contains("cuda:1"), "{err}");
        assert!(err.contains("rebuild with --features cuda"), "{err}");
    }
}
