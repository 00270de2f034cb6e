//! Integration tests: one binary, one module per purpose.

/// Temporary directories, fixture files and running the `fno` binary.
mod util;

/// The reader against every shared PDEBench-layout file and its known truth.
mod reader;

/// The Well's layout: its fixtures read back exactly (broadcast axes,
/// tensor fields, split folders), stats.yaml normalisation, VRMSE in
/// `fno eval`, `fno inspect`, malformed files.
mod well;

/// The Well's window task: every window of every trajectory, rollouts
/// scored by horizon band, `_delta` normalisation, refusals.
mod well_window;

/// Malformed input: each gets a clear error naming file and dataset, exit 2.
mod faults;

/// Training end to end through the CLI: checkpoints, kill and resume,
/// divergence, evaluation at several resolutions.
mod train;

/// Symmetry transforms of the training samples (`train.augment`): exact
/// resume, refusals; the resolution-consistency term; predictions
/// averaged over symmetries (`inference.symmetries`).
mod augment;

/// Fine-tuning from a pretrained run (`--init-from`): what is copied, the
/// frozen trunk across a resume, refusals.
mod init_from;

/// Mixed precision (`train.precision = "bf16"`): accuracy against f32 on
/// the Darcy case, f32 checkpoints, refusals, `fno bench --precision`.
mod precision;

/// Multi-source pretraining (`[[data.sources]]`): per-source embeddings,
/// normalisers, metrics and evaluation, fine-tuning from it, refusals.
mod multisource;

/// Bad settings and numeric flags: exit code 2 naming the setting or the
/// flag, TOML errors once at the user's line, nothing written.
mod settings;

/// Crash safety and ownership of the run directory: a kill at every
/// injection point of the checkpoint writer resumes bit for bit; one
/// writer at a time; a failed resume changes nothing; `--overwrite`.
mod crash;

/// Full disks and failed writes: every writer (train, predict, generate,
/// finetune, inverse, eval's plots) exits 2 naming the file and the OS's
/// reason and leaves no temporary; `--overwrite` for finetune and inverse.
mod disk;

/// Data-parallel training under `mpirun`: equal to one process, refusals,
/// resume on another number of ranks.
#[cfg(feature = "mpi")]
mod mpi;

/// `fno generate` end to end: bad settings exit with code 2 naming the
/// flag; a good run prints the path of a complete file.
mod generate;

/// Writing samples in the layout of a template file, read back exactly.
mod mirror;

/// `fno predict` end to end: layouts, resolutions, refusals, warnings.
mod predict;

/// `fno inverse` end to end on tiny runs trained in the test: the loss
/// falls, bounds and binarisation hold, bad flags exit with code 2.
mod inverse;

/// The CUDA backend against the CPU: every test needs a GPU and is ignored
/// unless asked for (`cargo test --features cuda -- --ignored`).
#[cfg(feature = "cuda")]
mod cuda;
/// NCCL's gradient sums against one GPU (feature `nccl`, ignored unless
/// asked for, as above).
#[cfg(feature = "nccl")]
mod cuda_nccl;

/// Physics residuals against the shared files' reference table, and their
/// convergence order on generated solutions.
mod physics;

/// Inputs that do not fit the run or the machine (a test or eval file of
/// another layout, strides and modes beyond the grid, models larger than
/// memory): exit code 2 before anything is sliced or allocated; physics
/// parameters that contradict the file warn.
mod preflight;

/// Hybrid data + physics training and `fno finetune` end to end.
mod finetune;

/// `fno export --format neuraloperator`: keys, layouts and mode positions
/// of the state dict, refusals, and (with `FNO_TORCH_PYTHON`) the export
/// loaded into neuraloperator against `fno predict`.
mod export;

/// The U-Net baseline (`model.kind = "unet"`) end to end: 1D and 2D
/// training, evaluation and zero-shot grids with spectrum tables, and
/// what it refuses.
mod unet;

/// The Python package (`import fno`, python/): built into the venv that
/// scripts/setup.sh creates, then its pytest suite.
mod python;
