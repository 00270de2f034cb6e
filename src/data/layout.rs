//! Detection of the PDEBench layouts from the datasets a file contains.
//!
//! The release uses six layouts (five from PDEBench, one written by
//! `fno generate ns`). Each is described here as a list of *sources*: a
//! dataset plus the role of each of its axes, so one strided reader in
//! `reader.rs` serves them all.
use serde::Serialize;

/// The storage layouts fno reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `tensor` [N, T, X] with `x-coordinate` and `t-coordinate` (1D advection,
    /// Burgers, reaction-diffusion).
    SingleArray,
    /// `nu` [N, X, Y] (input) and `tensor` [N, 1, X, Y] (output).
    Darcy,
    /// `density`, `pressure`, `Vx`, (`Vy`, (`Vz`)), each [N, T, X, (Y, (Z))].
    MultiField,
    /// Groups `0000`, `0001`, … each with `data` [T, X, (Y), C] and
    /// `grid/{x,y,t}` (diff-react, diff-sorp, shallow water).
    Grouped,
    /// `velocity` [B, T, X, Y, 2], `particles` [B, T, X, Y, 1], `force`
    /// [B, X, Y, 2], `t` [B, T] (PDEBench's incompressible NS).
    IncompressibleNs,
    /// `a` [N, X, Y] initial vorticity and `u` [N, T, X, Y] trajectory,
    /// written by `fno generate ns`.
    Vorticity,
    /// The Well's: `dimensions`, `boundary_conditions`, `scalars` and
    /// `t0_fields`, `t1_fields`, `t2_fields` groups, one dataset per field
    /// with flags saying which axes it stores (a file, a folder of files or
    /// a data set's `data/{train,valid,test}` folders).
    Well,
}

/// What one axis of a stored dataset means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Indexes samples.
    Sample,
    /// Indexes time frames.
    Time,
    /// Indexes channels (fields).
    Channel,
    /// A spatial axis.
    Space,
}

/// A dataset to read and the meaning of its axes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Path of the dataset (relative to the sample group for `Grouped`).
    pub dataset: String,
    /// Role of each axis, in storage order.
    pub roles: Vec<Role>,
}

impl Source {
    pub(crate) fn new(dataset: &str, roles: &[Role]) -> Self {
        Self {
            dataset: dataset.to_string(),
            roles: roles.to_vec(),
        }
    }
}

impl Layout {
    /// How PDEBench splits this layout by default (see [`super::split`]).
    pub fn default_test_at(self) -> super::split::TestAt {
        match self {
            Layout::Grouped => super::split::TestAt::End,
            _ => super::split::TestAt::Start,
        }
    }

    /// Detects the layout from the top-level member names. `is_sample_group`
    /// tells whether a member is a group holding a `data` dataset.
    pub fn detect(members: &[String], is_sample_group: impl Fn(&str) -> bool) -> Option<Layout> {
        let has = |name: &str| members.iter().any(|m| m == name);
        let well_fields = ["t0_fields", "t1_fields", "t2_fields"];
        if has("dimensions") && well_fields.iter().any(|g| has(g)) {
            Some(Layout::Well)
        } else if has("tensor") && has("nu") {
            Some(Layout::Darcy)
        } else if has("tensor") {
            Some(Layout::SingleArray)
        } else if has("density") {
            Some(Layout::MultiField)
        } else if has("velocity") {
            Some(Layout::IncompressibleNs)
        } else if has("a") && has("u") {
            Some(Layout::Vorticity)
        } else if !members.is_empty() && members.iter().all(|m| is_sample_group(m)) {
            Some(Layout::Grouped)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_layout_is_detected_from_its_members() {
        let no = |_: &str| false;
        let cases = [
            (
                vec!["tensor", "x-coordinate", "t-coordinate"],
                Layout::SingleArray,
            ),
            (vec!["nu", "tensor", "x-coordinate"], Layout::Darcy),
            (vec!["density", "pressure", "Vx"], Layout::MultiField),
            (
                vec!["velocity", "particles", "force", "t"],
                Layout::IncompressibleNs,
            ),
            (vec!["a", "u", "x-coordinate"], Layout::Vorticity),
            (
                vec!["boundary_conditions", "dimensions", "scalars", "t1_fields"],
                Layout::Well,
            ),
        ];
        for (members, want) in cases {
            assert_eq!(Layout::detect(&names(&members), no), Some(want));
        }
        assert_eq!(
            Layout::detect(&names(&["0000", "0001"]), |_| true),
            Some(Layout::Grouped)
        );
        assert_eq!(Layout::detect(&names(&["foo"]), no), None);
        assert_eq!(Layout::detect(&names(&["dimensions", "scalars"]), no), None);
        assert_eq!(Layout::detect(&[], |_| true), None);
    }
}
