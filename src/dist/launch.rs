//! Telling from the environment whether an MPI launcher started this
//! process as one of several.
//!
//! Launchers announce the job in environment variables before MPI is
//! initialised: Open MPI's `mpirun` sets `OMPI_COMM_WORLD_SIZE`, MPICH's
//! and Intel MPI's Hydra set `PMI_SIZE`, Slurm's `srun` sets
//! `SLURM_STEP_NUM_TASKS` for the tasks of a job step. Checking them first
//! keeps a plain `fno train` free of MPI: no initialisation, no library
//! calls, no change. (A batch script's own shell has Slurm variables too,
//! but not a step's task count.)
use super::DistError;

/// How a launcher started this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Processes in the job.
    pub size: usize,
    /// This process's rank, where the launcher says.
    pub rank: Option<usize>,
    /// This process's rank among those on its node, where the launcher
    /// says (which GPU a rank takes, how many threads).
    pub local_rank: Option<usize>,
    /// Processes on this node, where the launcher says.
    pub local_size: Option<usize>,
    /// The variable that gave the size.
    pub variable: &'static str,
}

/// The launchers fno knows: the variables of size, rank, local rank and
/// local size of each.
const LAUNCHERS: [[&str; 4]; 3] = [
    [
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_SIZE",
    ],
    ["PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"],
    [
        "SLURM_STEP_NUM_TASKS",
        "SLURM_PROCID",
        "SLURM_LOCALID",
        "SLURM_STEP_TASKS_PER_NODE",
    ],
];

/// The launch described by `env` (a variable lookup), if a launcher
/// started more than one process.
pub fn detect(env: impl Fn(&str) -> Option<String>) -> Result<Option<Launch>, DistError> {
    for [size, rank, local_rank, local_size] in LAUNCHERS {
        let Some(n) = count(&env, size)? else {
            continue;
        };
        if n <= 1 {
            return Ok(None);
        }
        return Ok(Some(Launch {
            size: n,
            rank: count(&env, rank)?,
            local_rank: count(&env, local_rank)?,
            local_size: count(&env, local_size)?,
            variable: size,
        }));
    }
    Ok(None)
}

/// A variable's value as a count; Slurm's per-node lists (`2(x3),1`) give
/// their first entry.
fn count(
    env: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<usize>, DistError> {
    let Some(value) = env(variable) else {
        return Ok(None);
    };
    let head = value.split([',', '(']).next().unwrap_or_default().trim();
    head.parse()
        .map(Some)
        .map_err(|_| DistError::BadVariable { variable, value })
}

/// The GPU that local rank `local_rank` of a node with `gpus` GPUs uses:
/// the ranks a launcher puts on one node take the GPUs in turn, one each
/// while there are enough (NCCL needs one GPU per rank); more ranks than
/// GPUs share them.
pub fn gpu_of_local_rank(local_rank: usize, gpus: usize) -> usize {
    local_rank % gpus.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_ranks_take_the_gpus_in_turn() {
        let on_four: Vec<usize> = (0..6).map(|r| gpu_of_local_rank(r, 4)).collect();
        assert_eq!(on_four, [0, 1, 2, 3, 0, 1]);
        assert_eq!(gpu_of_local_rank(3, 1), 0);
        assert_eq!(gpu_of_local_rank(2, 0), 0, "no GPU counted is no panic");
    }

    use std::collections::HashMap;

    fn detect_in(vars: &[(&str, &str)]) -> Result<Option<Launch>, DistError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect(|name| map.get(name).cloned())
    }

    #[test]
    fn a_plain_process_is_alone() {
        assert_eq!(detect_in(&[]).unwrap(), None);
        // A batch script's shell: Slurm variables but no step task count.
        assert_eq!(
            detect_in(&[("SLURM_NTASKS", "4"), ("SLURM_PROCID", "0")]).unwrap(),
            None
        );
        assert_eq!(detect_in(&[("OMPI_COMM_WORLD_SIZE", "1")]).unwrap(), None);
    }

    #[test]
    fn launchers_are_recognised() {
        let open_mpi = detect_in(&[
            ("OMPI_COMM_WORLD_SIZE", "4"),
            ("OMPI_COMM_WORLD_RANK", "3"),
            ("OMPI_COMM_WORLD_LOCAL_RANK", "1"),
            ("OMPI_COMM_WORLD_LOCAL_SIZE", "2"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                open_mpi.size,
                open_mpi.rank,
                open_mpi.local_rank,
                open_mpi.local_size
            ),
            (4, Some(3), Some(1), Some(2))
        );
        let hydra = detect_in(&[("PMI_SIZE", "2"), ("PMI_RANK", "0")])
            .unwrap()
            .unwrap();
        assert_eq!((hydra.size, hydra.variable), (2, "PMI_SIZE"));
        let slurm = detect_in(&[
            ("SLURM_STEP_NUM_TASKS", "6"),
            ("SLURM_PROCID", "5"),
            ("SLURM_LOCALID", "2"),
            ("SLURM_STEP_TASKS_PER_NODE", "3(x2)"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!((slurm.size, slurm.local_size), (6, Some(3)));
    }

    #[test]
    fn a_garbled_variable_is_named() {
        let err = detect_in(&[("PMI_SIZE", "two")]).unwrap_err();
        assert!(err.to_string().contains("PMI_SIZE"), "{err}");
    }
}
