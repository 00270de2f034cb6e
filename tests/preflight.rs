use crate::util::{fixture, fno, tempdir};
use std::path::Path;
use std::process::Output;

const ADVECTION: &str = "1D_Advection_Sols_beta0.4.hdf5";
const DARCY: &str = "2D_DarcyFlow_beta1.0_Train.hdf5";
const DIFF_SORP: &str = "1D_diff-sorp_NA_NA.h5";

fn config(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name)
        .display()
        .to_string()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `fno train` on the advection fixture with a tiny model and `extra`.
fn train_advection(out: &Path, extra: &[&str]) -> Output {
    let data = fixture(ADVECTION);
    let mut args = vec![
        "train",
        "--config",
        "",
        "--data",
        path(&data),
        "--out",
        path(out),
        "--quiet",
        "--set",
        "model.width=8",
        "--set",
        "model.modes=[4]",
        "--set",
        "train.epochs=1",
        "--set",
        "train.batch_size=4",
    ];
    let cfg = config("advection.toml");
    args[2] = &cfg;
    args.extend_from_slice(extra);
    fno(&args)
}

/// Exit code 2, no panic or abort, and a message holding every needle.
fn refused(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("memory allocation"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "`{needle}` missing from: {stderr}");
    }
}

/// A test file of another layout than the training file's is refused
/// before any sample is sliced (it panicked in the loader), naming both
/// files and both values; nothing is written.
#[test]
fn a_test_file_unlike_the_training_file_is_refused() {
    let dir = tempdir();
    let out = dir.path().join("run");
    let darcy = fixture(DARCY);
    let test = format!("data.test={:?}", path(&darcy));
    refused(
        &train_advection(&out, &["--set", &test]),
        &[
            "data.test",
            DARCY,
            ADVECTION,
            "spatial axes is 2 ([64, 64])",
            "1 ([256])",
        ],
    );
    assert!(!out.exists(), "a refused run writes nothing");
    let sorp = fixture(DIFF_SORP);
    let test = format!("data.test={:?}", path(&sorp));
    refused(
        &train_advection(&out, &["--set", &test]),
        &[DIFF_SORP, "grid is [128]", "[256]"],
    );
}

/// `fno eval`, `predict` and `finetune` of an advection run on a file it
/// cannot take: another dimensionality, or too few frames for the task.
/// A run whose config.toml was edited to an enormous width is refused
/// before its weights are allocated.
#[test]
fn a_run_refuses_files_it_cannot_take() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let out = train_advection(&run, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let darcy = fixture(DARCY);
    let sorp = fixture(DIFF_SORP);
    let eval = |data: &Path| fno(&["eval", "--run", path(&run), "--data", path(data)]);
    refused(
        &eval(&darcy),
        &[DARCY, "grid axes", "1 axes", "2 (spatial grid [64, 64])"],
    );
    refused(
        &eval(&sorp),
        &[DIFF_SORP, "task.initial_step", "= 10", "5 frames"],
    );
    let pred = dir.path().join("pred.h5");
    refused(
        &fno(&[
            "predict",
            "--run",
            path(&run),
            "--input",
            path(&darcy),
            "--out",
            path(&pred),
        ]),
        &[DARCY, "grid axes"],
    );
    assert!(!pred.exists());
    refused(
        &fno(&[
            "finetune",
            "--run",
            path(&run),
            "--data",
            path(&darcy),
            "--sample",
            "0",
            "--steps",
            "1",
        ]),
        &[DARCY, "grid axes"],
    );
    if fno::memory::available().is_none() {
        return;
    }
    let config = run.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("width = 8\n"), "{text}");
    std::fs::write(&config, text.replace("width = 8\n", "width = 2000000\n")).unwrap();
    refused(
        &eval(&fixture(ADVECTION)),
        &["needs about", "GiB are available", "config.toml"],
    );
}

/// Strides that leave fewer than 4 points (or a single frame) and more
/// Fourier modes than the training grid holds are refused, naming the
/// setting, its value and the limit.
#[test]
fn strides_and_modes_beyond_the_grid_are_refused() {
    let dir = tempdir();
    let out = dir.path().join("run");
    refused(
        &train_advection(&out, &["--set", "data.reduced_resolution=1000"]),
        &[
            "`data.reduced_resolution` = 1000",
            "grid [256]",
            ": 1, at least 4",
            "at most 85",
        ],
    );
    refused(
        &train_advection(&out, &["--set", "data.reduced_resolution_t=1000"]),
        &[
            "`data.reduced_resolution_t` = 1000",
            "201 frames",
            "at most 200",
        ],
    );
    refused(
        &train_advection(&out, &["--set", "model.modes=[1000]"]),
        &["`model.modes` = [1000]", "grid [64]", "at most [33]"],
    );
    assert!(!out.exists());
}

/// Models too large for the machine exit 2 with both numbers, quickly and
/// without an allocator abort (train and bench).
#[test]
fn models_larger_than_memory_are_refused_before_allocation() {
    if fno::memory::available().is_none() {
        return;
    }
    let dir = tempdir();
    let out = dir.path().join("run");
    for setting in [
        "model.width=200000",
        "model.layers=100000",
        "model.lifting_ratio=1000000",
    ] {
        refused(
            &train_advection(&out, &["--set", setting]),
            &["needs about", "GiB are available", "reduce model.width"],
        );
    }
    assert!(!out.exists());
    refused(
        &fno(&["bench", "--width", "200000", "--steps", "1"]),
        &["needs about", "reduce --width"],
    );
}

/// A physics equation whose parameter contradicts the file's attribute
/// trains, with a warning naming both values and the file.
#[test]
fn contradicting_physics_parameters_warn() {
    let dir = tempdir();
    let out = train_advection(
        &dir.path().join("run"),
        &["--set", "physics.pde={kind=\"advection\",beta=5.0}"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: physics.pde.beta = 5 but")
            && stderr.contains(ADVECTION)
            && stderr.contains("beta = 0.4"),
        "{stderr}"
    );
}

/// A one-shot run from frame 30 refuses, in `eval` and `inverse`, a file
/// whose trajectory is shorter (it panicked slicing the frame).
#[test]
fn a_frame_beyond_a_shorter_file_is_an_error() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let out = train_advection(&run, &["--set", "task={kind=\"one_shot\",input_frame=30}"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sorp = fixture(DIFF_SORP);
    let needles = [DIFF_SORP, "`task.input_frame` = 30", "5 frames"];
    refused(
        &fno(&["eval", "--run", path(&run), "--data", path(&sorp)]),
        &needles,
    );
    refused(
        &fno(&[
            "inverse",
            "--run",
            path(&run),
            "--data",
            path(&sorp),
            "--sample",
            "0",
            "--steps",
            "1",
        ]),
        &needles,
    );
}

/// `fno finetune` warns too when the run's equation contradicts the file
/// it fine-tunes on (a Darcy run trained with β = 2 on a β = 1 file).
#[test]
fn finetune_warns_of_contradicting_physics_parameters() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let darcy = fixture(DARCY);
    let cfg = config("darcy.toml");
    let train = fno(&[
        "train",
        "--config",
        &cfg,
        "--data",
        path(&darcy),
        "--out",
        path(&run),
        "--quiet",
        "--set",
        "model.width=8",
        "--set",
        "model.modes=[4]",
        "--set",
        "train.epochs=1",
        "--set",
        "physics.pde={kind=\"darcy\",beta=2.0}",
    ]);
    assert_eq!(train.status.code(), Some(0));
    let out = fno(&[
        "finetune",
        "--run",
        path(&run),
        "--data",
        path(&darcy),
        "--sample",
        "0",
        "--steps",
        "1",
        "--out",
        path(&dir.path().join("ft")),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: physics.pde.beta = 2 but")
            && stderr.contains(DARCY)
            && stderr.contains("beta = 1"),
        "{stderr}"
    );
}
