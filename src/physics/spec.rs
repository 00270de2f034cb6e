//! Naming an equation in a config (`[physics.pde]`) and filling in what the
//! config leaves out from the data file's catalogue entry and attributes.
use serde::{Deserialize, Serialize};

use super::{
    Advection, Burgers, Darcy, DiffusionReaction, NavierStokes, Pde, PhysicsError, TimeOrder,
};
use crate::data::FileInfo;
use crate::solvers::burgers::Convention;
use crate::solvers::navier_stokes::Problem;

/// The forcing of the vorticity equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forcing {
    /// Unforced (Taylor–Green and other free decay).
    None,
    /// The FNO paper's `0.1(sin 2π(x+y) + cos 2π(x+y))`.
    Fno,
    /// PINO's Kolmogorov flow, `−4 cos(4y)`.
    Kolmogorov,
}

/// An equation and its parameters; a parameter left out is taken from the
/// training file (its attributes, then its name, as `fno inspect` shows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PdeSpec {
    /// `u_t + β u_x = 0`.
    Advection {
        /// Speed β.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        beta: Option<f64>,
    },
    /// `u_t + u u_x = ε u_xx`, ε = ν/π (`pdebench`) or ν (`plain`).
    Burgers {
        /// Viscosity parameter ν.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nu: Option<f64>,
        /// `pdebench` or `plain`; default: the file's `convention`
        /// attribute, else `pdebench`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        convention: Option<Convention>,
    },
    /// `u_t = ν u_xx + ρ u(1 − u)`.
    DiffusionReaction {
        /// Diffusion ν.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nu: Option<f64>,
        /// Reaction rate ρ.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rho: Option<f64>,
    },
    /// `−∇·(a∇u) = β`, u = 0 on the walls.
    Darcy {
        /// Forcing β.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        beta: Option<f64>,
    },
    /// `ω_t + v·∇ω = νΔω + f`.
    NavierStokesVorticity {
        /// Viscosity ν.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nu: Option<f64>,
        /// Forcing; default from the catalogue family (Kolmogorov files:
        /// `kolmogorov`, other generated vorticity files: `fno`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forcing: Option<Forcing>,
    },
}

impl PdeSpec {
    /// The equation the catalogue names for a file (`info.pde`), with every
    /// parameter left to the file.
    pub fn for_file(info: &FileInfo) -> Result<Self, PhysicsError> {
        let pde = info.pde.as_deref().unwrap_or("");
        Ok(match pde {
            "advection" => Self::Advection { beta: None },
            "burgers" => Self::Burgers {
                nu: None,
                convention: None,
            },
            "diffusion_reaction" => Self::DiffusionReaction { nu: None, rho: None },
            "darcy" => Self::Darcy { beta: None },
            "navier_stokes_vorticity" => Self::NavierStokesVorticity {
                nu: None,
                forcing: None,
            },
            _ => {
                return Err(PhysicsError::Setting {
                    setting: "physics.pde",
                    reason: format!(
                        "{}: no physics residual for {}; set physics.pde.kind to one of advection, burgers, diffusion_reaction, darcy, navier_stokes_vorticity",
                        info.path.display(),
                        if pde.is_empty() { "a file the catalogue does not know".to_string() } else { format!("the equation `{pde}`") }
                    ),
                })
            }
        })
    }

    /// The kind's name, as `physics.pde.kind` spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Advection { .. } => "advection",
            Self::Burgers { .. } => "burgers",
            Self::DiffusionReaction { .. } => "diffusion_reaction",
            Self::Darcy { .. } => "darcy",
            Self::NavierStokesVorticity { .. } => "navier_stokes_vorticity",
        }
    }

    /// The parameters given in the config, with their attribute names.
    fn given(&self) -> Vec<(&'static str, f64)> {
        let pairs = match *self {
            Self::Advection { beta } | Self::Darcy { beta } => vec![("beta", beta)],
            Self::Burgers { nu, .. } | Self::NavierStokesVorticity { nu, .. } => vec![("nu", nu)],
            Self::DiffusionReaction { nu, rho } => vec![("nu", nu), ("rho", rho)],
        };
        pairs
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (name, v)))
            .collect()
    }

    /// Where this equation contradicts `info`, one sentence each (for
    /// warnings): a kind other than the one the catalogue names for the
    /// file, or a parameter other than the file's (attribute or name
    /// token, as `fno inspect` shows).
    pub fn disagreements(&self, info: &FileInfo) -> Vec<String> {
        let file = info.path.display();
        if let Ok(own) = Self::for_file(info) {
            if own.kind() != self.kind() {
                return vec![format!(
                    "physics.pde.kind = \"{}\" but the catalogue names the equation of {file} \"{}\"",
                    self.kind(),
                    own.kind()
                )];
            }
        }
        self.given()
            .into_iter()
            .filter_map(|(name, given)| {
                let have = *info.params.get(name)?;
                let close = (given - have).abs() <= 1e-5 * given.abs().max(have.abs());
                (!close)
                    .then(|| format!("physics.pde.{name} = {given} but {file} has {name} = {have}"))
            })
            .collect()
    }

    /// Builds the residual, taking missing parameters from `info`.
    pub fn build(&self, info: &FileInfo, order: TimeOrder) -> Result<Box<dyn Pde>, PhysicsError> {
        let param =
            |given: Option<f64>, name: &str, setting: &'static str| -> Result<f64, PhysicsError> {
                given
                    .or_else(|| info.params.get(name).copied())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| PhysicsError::Setting {
                        setting,
                        reason: format!(
                            "not given and {} has no `{name}` attribute or file-name token",
                            info.path.display()
                        ),
                    })
            };
        Ok(match *self {
            Self::Advection { beta } => Box::new(Advection {
                beta: param(beta, "beta", "physics.pde.beta")?,
                order,
            }),
            Self::Burgers { nu, convention } => Box::new(Burgers {
                nu: param(nu, "nu", "physics.pde.nu")?,
                convention: convention.unwrap_or_else(|| {
                    match info.text_attributes.get("convention") {
                        Some(c) if c.starts_with("plain") => Convention::Plain,
                        _ => Convention::Pdebench,
                    }
                }),
                order,
            }),
            Self::DiffusionReaction { nu, rho } => Box::new(DiffusionReaction {
                nu: param(nu, "nu", "physics.pde.nu")?,
                rho: param(rho, "rho", "physics.pde.rho")?,
                order,
            }),
            Self::Darcy { beta } => Box::new(Darcy {
                beta: param(beta, "beta", "physics.pde.beta")?,
            }),
            Self::NavierStokesVorticity { nu, forcing } => {
                let forcing = forcing.unwrap_or(match info.family.as_deref() {
                    Some("ns-kolmogorov") => Forcing::Kolmogorov,
                    Some("ns-vorticity") => Forcing::Fno,
                    _ => Forcing::None,
                });
                Box::new(NavierStokes {
                    nu: param(nu, "nu", "physics.pde.nu")?,
                    forcing: match forcing {
                        Forcing::None => None,
                        Forcing::Fno => Some(Problem::Fno),
                        Forcing::Kolmogorov => Some(Problem::Kolmogorov),
                    },
                    order,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreements_name_both_values_and_the_file() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/pdebench/1D_Advection_Sols_beta0.4.hdf5");
        let file = crate::data::PdebenchFile::open(&path).unwrap();
        let info = file.info();
        let same = PdeSpec::Advection { beta: Some(0.4) };
        assert!(same.disagreements(info).is_empty());
        assert!(PdeSpec::Advection { beta: None }
            .disagreements(info)
            .is_empty());
        let fast = PdeSpec::Advection { beta: Some(5.0) }.disagreements(info);
        assert_eq!(fast.len(), 1);
        assert!(fast[0].contains("physics.pde.beta = 5 but") && fast[0].contains("beta = 0.4"));
        assert!(fast[0].contains("1D_Advection_Sols_beta0.4.hdf5"));
        let other = PdeSpec::Darcy { beta: None }.disagreements(info);
        assert!(other[0].contains("\"darcy\"") && other[0].contains("\"advection\""));
    }

    #[test]
    fn specs_parse_from_toml_with_optional_parameters() {
        #[derive(Deserialize)]
        struct W {
            pde: PdeSpec,
        }
        let w: W =
            toml::from_str("pde = { kind = \"burgers\", nu = 0.01, convention = \"plain\" }")
                .unwrap();
        assert_eq!(
            w.pde,
            PdeSpec::Burgers {
                nu: Some(0.01),
                convention: Some(Convention::Plain)
            }
        );
        let w: W = toml::from_str("pde = { kind = \"darcy\" }").unwrap();
        assert_eq!(w.pde, PdeSpec::Darcy { beta: None });
        assert!(toml::from_str::<W>("pde = { kind = \"darcy\", nu = 1 }").is_err());
        assert!(toml::from_str::<W>("pde = { kind = \"heat\" }").is_err());
    }
}
