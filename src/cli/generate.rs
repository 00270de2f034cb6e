//! `fno generate`: solve a PDE for random inputs and write a PDEBench-layout
//! HDF5 file.
use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};
use fno::solvers::burgers::{BurgersConfig, Convention};
use fno::solvers::darcy::{Coefficient, DarcyConfig};
use fno::solvers::navier_stokes::{NavierStokesConfig, Problem};
use fno::solvers::{
    advection::AdvectionConfig, diffusion_reaction::DiffusionReactionConfig, GenerateSpec,
    SolverError,
};
use std::path::PathBuf;

/// The PDE families `fno generate` can solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pde {
    /// 1D advection u_t + β u_x = 0 (exact).
    Advection,
    /// 1D viscous Burgers.
    Burgers,
    /// 1D diffusion-reaction u_t = ν u_xx + ρ u(1 − u).
    #[value(alias = "reacdiff")]
    DiffusionReaction,
    /// 2D Darcy flow −∇·(a∇u) = β.
    Darcy,
    /// 2D incompressible Navier–Stokes, vorticity form.
    #[value(alias = "navier-stokes")]
    Ns,
}

/// How ν enters Burgers' equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConventionArg {
    /// PDEBench: u_t + (u²/2)_x = (ν/π) u_xx.
    Pdebench,
    /// Textbook: u_t + u u_x = ν u_xx.
    Plain,
}

/// Family of the Darcy coefficient field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CoefficientArg {
    /// Thresholded sum of Gaussians, values 1 and 0.1 (PDEBench).
    Pdebench,
    /// Thresholded Gaussian random field, values 12 and 3 (FNO paper).
    Fno,
}

/// Arguments of `fno generate`; unset values take the PDE's defaults.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The PDE to solve.
    #[arg(value_enum)]
    pub pde: Pde,
    /// Number of samples [default: 1024].
    #[arg(long, value_parser = super::numeric::at_least_one)]
    pub samples: Option<usize>,
    /// Grid points along x [default: 1024 in 1D, 128 Darcy, 64 NS].
    #[arg(long)]
    pub nx: Option<usize>,
    /// Grid points along y (Darcy only) [default: nx, else 128].
    #[arg(long)]
    pub ny: Option<usize>,
    /// Output time intervals (nt + 1 frames; NS: nt frames after t = 0).
    #[arg(long)]
    pub nt: Option<usize>,
    /// Final time [default: 2 advection/Burgers, 1 diffusion-reaction, 50 NS].
    #[arg(long, allow_hyphen_values = true)]
    pub tmax: Option<f64>,
    /// File seed; sample i uses its own generator derived from it.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory (created if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Advection speed (advection) or forcing (Darcy).
    #[arg(long, allow_hyphen_values = true)]
    pub beta: Option<f64>,
    /// Viscosity or diffusion coefficient (Burgers, diffusion-reaction, NS).
    #[arg(long, allow_hyphen_values = true)]
    pub nu: Option<f64>,
    /// Reaction rate (diffusion-reaction).
    #[arg(long, allow_hyphen_values = true)]
    pub rho: Option<f64>,
    /// How ν enters Burgers' equation.
    #[arg(long, value_enum)]
    pub convention: Option<ConventionArg>,
    /// Darcy coefficient family.
    #[arg(long, value_enum)]
    pub coefficient: Option<CoefficientArg>,
    /// NS: PINO's Kolmogorov flow on [0, 2π]² (ν defaults to 1/500).
    #[arg(long)]
    pub kolmogorov: bool,
    /// CFL number of the time step (Burgers, NS).
    #[arg(long, allow_hyphen_values = true)]
    pub cfl: Option<f64>,
    /// Odd factor r: solve on an r times finer grid, store every r-th point
    /// (Burgers, NS).
    #[arg(long)]
    pub refine: Option<usize>,
    /// Worker threads [default: all cores]; the file does not depend on it.
    #[arg(long, value_parser = super::numeric::threads)]
    pub threads: Option<usize>,
}

/// Fails if `flag` was given although `pde` does not use it.
fn reject(given: bool, flag: &str, pde: Pde) -> anyhow::Result<()> {
    if given {
        let name = pde.to_possible_value().map(|v| v.get_name().to_string());
        Err(anyhow!(
            "--{flag} does not apply to `{}`",
            name.unwrap_or_default()
        ))
    } else {
        Ok(())
    }
}

/// The flags the chosen PDE does not use, each with whether it was given.
fn foreign_flags(args: &GenerateArgs) -> Vec<(&'static str, bool)> {
    let refine = ("refine", args.refine.is_some());
    let ny = ("ny", args.ny.is_some());
    let nt = ("nt", args.nt.is_some());
    let tmax = ("tmax", args.tmax.is_some());
    let beta = ("beta", args.beta.is_some());
    let nu = ("nu", args.nu.is_some());
    let rho = ("rho", args.rho.is_some());
    let convention = ("convention", args.convention.is_some());
    let coefficient = ("coefficient", args.coefficient.is_some());
    let kolmogorov = ("kolmogorov", args.kolmogorov);
    let cfl = ("cfl", args.cfl.is_some());
    match args.pde {
        Pde::Advection => vec![
            refine,
            ny,
            nu,
            rho,
            convention,
            coefficient,
            kolmogorov,
            cfl,
        ],
        Pde::Burgers => vec![ny, beta, rho, coefficient, kolmogorov],
        Pde::DiffusionReaction => {
            vec![refine, ny, beta, convention, coefficient, kolmogorov, cfl]
        }
        Pde::Darcy => vec![refine, nt, tmax, nu, rho, convention, kolmogorov, cfl],
        Pde::Ns => vec![ny, beta, rho, convention, coefficient],
    }
}

/// Builds the library spec from the flags, starting from the PDE's defaults.
pub fn spec(args: &GenerateArgs) -> anyhow::Result<GenerateSpec> {
    foreign_flags(args)
        .into_iter()
        .try_for_each(|(flag, given)| reject(given, flag, args.pde))?;
    Ok(match args.pde {
        Pde::Advection => GenerateSpec::Advection(advection(args)),
        Pde::Burgers => GenerateSpec::Burgers(burgers(args)),
        Pde::DiffusionReaction => GenerateSpec::DiffusionReaction(diffusion_reaction(args)),
        Pde::Darcy => GenerateSpec::Darcy(darcy(args)),
        Pde::Ns => GenerateSpec::NavierStokes(navier_stokes(args)),
    })
}

/// The advection settings: the flags given, defaults for the rest.
fn advection(args: &GenerateArgs) -> AdvectionConfig {
    let d = AdvectionConfig::default();
    AdvectionConfig {
        samples: args.samples.unwrap_or(d.samples),
        nx: args.nx.unwrap_or(d.nx),
        nt: args.nt.unwrap_or(d.nt),
        tmax: args.tmax.unwrap_or(d.tmax),
        beta: args.beta.unwrap_or(d.beta),
        seed: args.seed.unwrap_or(d.seed),
    }
}

/// The Burgers settings: the flags given, defaults for the rest.
fn burgers(args: &GenerateArgs) -> BurgersConfig {
    let d = BurgersConfig::default();
    BurgersConfig {
        samples: args.samples.unwrap_or(d.samples),
        nx: args.nx.unwrap_or(d.nx),
        nt: args.nt.unwrap_or(d.nt),
        tmax: args.tmax.unwrap_or(d.tmax),
        nu: args.nu.unwrap_or(d.nu),
        convention: match args.convention {
            Some(ConventionArg::Plain) => Convention::Plain,
            Some(ConventionArg::Pdebench) => Convention::Pdebench,
            None => d.convention,
        },
        cfl: args.cfl.unwrap_or(d.cfl),
        refine: args.refine.unwrap_or(d.refine),
        seed: args.seed.unwrap_or(d.seed),
    }
}

/// The diffusion-reaction settings: the flags given, defaults for the rest.
fn diffusion_reaction(args: &GenerateArgs) -> DiffusionReactionConfig {
    let d = DiffusionReactionConfig::default();
    DiffusionReactionConfig {
        samples: args.samples.unwrap_or(d.samples),
        nx: args.nx.unwrap_or(d.nx),
        nt: args.nt.unwrap_or(d.nt),
        tmax: args.tmax.unwrap_or(d.tmax),
        nu: args.nu.unwrap_or(d.nu),
        rho: args.rho.unwrap_or(d.rho),
        seed: args.seed.unwrap_or(d.seed),
        ..d
    }
}

/// The Darcy settings: the flags given, defaults for the rest (`ny`
/// follows `nx` unless given).
fn darcy(args: &GenerateArgs) -> DarcyConfig {
    let d = DarcyConfig::default();
    DarcyConfig {
        samples: args.samples.unwrap_or(d.samples),
        nx: args.nx.unwrap_or(d.nx),
        ny: args.ny.or(args.nx).unwrap_or(d.ny),
        beta: args.beta.unwrap_or(d.beta),
        coefficient: match args.coefficient {
            Some(CoefficientArg::Fno) => Coefficient::Fno,
            Some(CoefficientArg::Pdebench) => Coefficient::Pdebench,
            None => d.coefficient,
        },
        seed: args.seed.unwrap_or(d.seed),
        ..d
    }
}

/// The Navier–Stokes settings: the flags given, defaults for the rest
/// (`--kolmogorov` switches the problem and its default ν to PINO's 1/500).
fn navier_stokes(args: &GenerateArgs) -> NavierStokesConfig {
    let d = NavierStokesConfig::default();
    let (problem, nu) = if args.kolmogorov {
        (Problem::Kolmogorov, 1.0 / 500.0)
    } else {
        (Problem::Fno, d.nu)
    };
    NavierStokesConfig {
        samples: args.samples.unwrap_or(d.samples),
        nx: args.nx.unwrap_or(d.nx),
        nt: args.nt.unwrap_or(d.nt),
        tmax: args.tmax.unwrap_or(d.tmax),
        nu: args.nu.unwrap_or(nu),
        problem,
        cfl: args.cfl.unwrap_or(d.cfl),
        refine: args.refine.unwrap_or(d.refine),
        seed: args.seed.unwrap_or(d.seed),
    }
}

/// Runs `fno generate`: prints the written path.
pub fn run(args: &GenerateArgs) -> anyhow::Result<()> {
    let spec = spec(args)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("starting the worker threads")?;
    let bar = super::progress::sample_bar(spec.samples() as u64, false);
    let result = pool.install(|| {
        fno::solvers::generate(&spec, &args.out, &|done| bar.set_position(done as u64))
    });
    bar.finish_and_clear();
    let path = result.map_err(|err| match err {
        SolverError::Invalid {
            field,
            value,
            reason,
        } => anyhow!("invalid --{} {value}: {reason}", field.replace('_', "-")),
        other => {
            anyhow::Error::new(other).context(format!("generating into {}", args.out.display()))
        }
    })?;
    println!("{}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: GenerateArgs,
    }

    fn parse(argv: &[&str]) -> GenerateArgs {
        Wrapper::try_parse_from(std::iter::once("fno-generate").chain(argv.iter().copied()))
            .map(|w| w.args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn defaults_come_from_the_library() {
        let args = parse(&["burgers"]);
        assert_eq!(args.out, PathBuf::from("."));
        assert_eq!(
            spec(&args).unwrap(),
            GenerateSpec::Burgers(BurgersConfig::default())
        );
    }

    #[test]
    fn long_forms_override() {
        let args = parse(&[
            "burgers",
            "--samples",
            "8",
            "--nx",
            "256",
            "--nt",
            "20",
            "--tmax",
            "1.5",
            "--seed",
            "3",
            "--nu",
            "0.001",
            "--convention",
            "plain",
            "--cfl",
            "0.3",
            "--refine",
            "3",
            "--out",
            "data",
        ]);
        let GenerateSpec::Burgers(cfg) = spec(&args).unwrap() else {
            panic!("not Burgers")
        };
        assert_eq!((cfg.samples, cfg.nx, cfg.nt, cfg.seed), (8, 256, 20, 3));
        assert_eq!(
            (cfg.tmax, cfg.nu, cfg.cfl, cfg.refine),
            (1.5, 0.001, 0.3, 3)
        );
        assert_eq!(cfg.convention, Convention::Plain);
        assert_eq!(args.out, PathBuf::from("data"));
    }

    #[test]
    fn pde_specific_flags() {
        let args = parse(&["darcy", "--coefficient", "fno", "--ny", "32", "--beta", "2"]);
        let GenerateSpec::Darcy(cfg) = spec(&args).unwrap() else {
            panic!("not Darcy")
        };
        assert_eq!(
            (cfg.coefficient, cfg.ny, cfg.beta),
            (Coefficient::Fno, 32, 2.0)
        );
        let args = parse(&["ns", "--kolmogorov"]);
        let GenerateSpec::NavierStokes(cfg) = spec(&args).unwrap() else {
            panic!("not NS")
        };
        assert_eq!((cfg.problem, cfg.nu), (Problem::Kolmogorov, 0.002));
        let args = parse(&["reacdiff", "--rho", "5", "--nu", "-1"]);
        assert!(
            matches!(spec(&args).unwrap(), GenerateSpec::DiffusionReaction(c) if c.rho == 5.0 && c.nu == -1.0)
        );
    }

    #[test]
    fn foreign_flags_are_rejected() {
        let err = spec(&parse(&["advection", "--nu", "0.1"])).unwrap_err();
        assert!(err.to_string().contains("--nu"), "{err}");
    }
}
