use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;

/// Held while an HDF5 fixture is open for writing and while a child process
/// is started. HDF5 locks files it opens (flock) on descriptors without
/// close-on-exec, so a child forked while a fixture is open for writing
/// would inherit the lock and make the fixture unreadable for as long as
/// the child runs.
static FORK_GUARD: Mutex<()> = Mutex::new(());

/// Runs `f` (which writes HDF5 files and closes them) with no child
/// process being started meanwhile.
pub fn writing_fixture<T>(f: impl FnOnce() -> T) -> T {
    let _guard = FORK_GUARD.lock().unwrap_or_else(|e| e.into_inner());
    f()
}

/// Starts a command with no HDF5 fixture open for writing.
pub fn spawn(cmd: &mut Command) -> Child {
    let _guard = FORK_GUARD.lock().unwrap_or_else(|e| e.into_inner());
    cmd.spawn().expect("starting a child process")
}

/// Path of a PDEBench-layout fixture in `tests/data/pdebench/` (its README
/// says what each file holds and its known truth).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pdebench")
        .join(name)
}

/// A fresh temporary directory, removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a temporary directory")
}

/// Runs the `fno` binary with the given arguments.
pub fn fno(args: &[&str]) -> Output {
    let child = spawn(
        Command::new(env!("CARGO_BIN_EXE_fno"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    child.wait_with_output().expect("running the fno binary")
}

/// Writes an HDF5 file with the given float32 datasets (name, shape, values).
pub fn write_h5(path: &Path, datasets: &[(&str, Vec<usize>, Vec<f32>)]) {
    writing_fixture(|| write_h5_unguarded(path, datasets));
}

fn write_h5_unguarded(path: &Path, datasets: &[(&str, Vec<usize>, Vec<f32>)]) {
    let file = hdf5::File::create(path).expect("creating an HDF5 fixture");
    for (name, shape, values) in datasets {
        let arr =
            ndarray::ArrayD::from_shape_vec(shape.clone(), values.clone()).expect("fixture shape");
        file.new_dataset_builder()
            .with_data(&arr)
            .create(*name)
            .expect("writing a fixture dataset");
    }
}

/// A valid single-array file: `tensor` [n, t, x] with coordinates.
pub fn single_array(n: usize, t: usize, x: usize) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    let values = (0..n * t * x).map(|i| (i as f32 * 0.37).sin()).collect();
    vec![
        ("tensor", vec![n, t, x], values),
        (
            "x-coordinate",
            vec![x],
            (0..x).map(|i| (i as f32 + 0.5) / x as f32).collect(),
        ),
        (
            "t-coordinate",
            vec![t + 1],
            (0..=t).map(|i| i as f32 * 0.01).collect(),
        ),
    ]
}

/// The path of a checkpoint file (`model.safetensors`, …) of a run's
/// committed checkpoint: inside the directory `state.json` names.
pub fn checkpoint_file(run: &Path, name: &str) -> PathBuf {
    let state = std::fs::read_to_string(run.join("state.json")).expect("reading state.json");
    let state: serde_json::Value = serde_json::from_str(&state).expect("parsing state.json");
    let dir = state["checkpoint"]
        .as_str()
        .expect("state.json names its checkpoint");
    run.join(dir).join(name)
}

/// Every file under `dir` but the lock, with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.file_name().is_some_and(|n| n != ".lock") {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Checks a command exited 0, showing its output otherwise.
pub fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `fno` with `args` (a command printing JSON, e.g. `--json`), checks
/// it exited 0 and returns the parsed report.
pub fn fno_json(args: &[&str]) -> serde_json::Value {
    let out = fno(args);
    succeeded(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `fno` with a fault armed (`FNO_FAULT_INJECT`).
pub fn fno_with_fault(args: &[&str], fault: &str) -> Output {
    let child = spawn(
        Command::new(env!("CARGO_BIN_EXE_fno"))
            .args(args)
            .env("FNO_FAULT_INJECT", fault)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    child.wait_with_output().expect("running the fno binary")
}

/// The directories of `run` that hold a checkpoint.
pub fn checkpoint_dirs(run: &Path) -> Vec<String> {
    std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("checkpoint-"))
        .collect()
}
