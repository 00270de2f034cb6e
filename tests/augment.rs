use crate::train::{train_args, write_config};
use crate::util::{checkpoint_file, fixture, fno, fno_json, succeeded, tempdir};
use std::path::{Path, PathBuf};

fn weights(run: &Path) -> Vec<u8> {
    std::fs::read(checkpoint_file(run, "model.safetensors")).unwrap()
}

/// The records of `run`'s metrics.jsonl, one per epoch.
fn epochs(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Trains the tiny Darcy config of `config` for `epochs` epochs into
/// `dir/name` with the overrides `extra`; returns the run directory.
fn train(dir: &Path, config: &str, name: &str, epochs: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut set = vec!["--set", epochs];
    set.extend_from_slice(extra);
    succeeded(&fno(&train_args(config, out.to_str().unwrap(), &set)));
    out
}

/// Transformed training samples change what is learned, and the draws
/// depend only on the seed, epoch and sample: a run stopped after one
/// epoch and resumed ends bit for bit where an uninterrupted one does.
#[test]
fn augmented_training_resumes_exactly() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let augment = r#"train.augment=["transpose","flip"]"#;
    let run = |name: &str, extra: &[&str]| train(dir.path(), config, name, "train.epochs=3", extra);
    let plain = run("plain", &[]);
    let straight = run("straight", &["--set", augment]);
    assert_ne!(
        weights(&plain),
        weights(&straight),
        "nothing was transformed"
    );
    let staged = run("staged", &["--set", augment, "--set", "train.epochs=1"]);
    succeeded(&fno(&train_args(
        config,
        staged.to_str().unwrap(),
        &["--set", augment, "--set", "train.epochs=3", "--resume"],
    )));
    assert_eq!(weights(&staged), weights(&straight));
}

/// The resolution-consistency term trains through the CLI: the training
/// loss holds both terms (above the plain run's), the weights differ from
/// a run without it, and the run evaluates zero-shot at 4x its grid.
#[test]
fn resolution_consistency_trains_and_changes_the_model() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let run = |name: &str, extra: &[&str]| train(dir.path(), config, name, "train.epochs=2", extra);
    let plain = run("plain", &[]);
    let consistent = run("consistent", &["--set", "train.resolution_consistency=1"]);
    assert_ne!(weights(&plain), weights(&consistent));
    let first_loss = |run: &Path| epochs(run)[0]["train_loss"].as_f64().unwrap();
    assert!(
        first_loss(&consistent) > 1.5 * first_loss(&plain),
        "{} vs {}",
        first_loss(&consistent),
        first_loss(&plain)
    );
    let data = fixture("2D_DarcyFlow_beta1.0_Train.hdf5");
    succeeded(&fno(&[
        "eval",
        "--run",
        consistent.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--resolution",
        "64",
    ]));
}

/// A transform the samples cannot take is an error naming the setting and
/// the grid, before any epoch is written; a bad name lists the valid ones.
#[test]
fn a_transform_that_does_not_fit_is_refused() {
    let dir = tempdir();
    let config = burgers_config(dir.path());
    let out_dir = dir.path().join("run");
    let out = fno(&train_args(
        config.to_str().unwrap(),
        out_dir.to_str().unwrap(),
        &["--set", r#"train.augment=["transpose"]"#],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("train.augment") && stderr.contains("spatial grid"),
        "{stderr}"
    );
    assert!(!out_dir.join("checkpoint-1").exists());

    let out = fno(&train_args(
        config.to_str().unwrap(),
        out_dir.to_str().unwrap(),
        &["--overwrite", "--set", r#"train.augment=["mirror"]"#],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("train.augment") && stderr.contains("odd_reflection"),
        "{stderr}"
    );
}

/// Writes a tiny one-shot Burgers config (frame 0 to frame 50 of the
/// fixture's 201) into `dir`.
fn burgers_config(dir: &Path) -> PathBuf {
    let config = dir.join("burgers.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\ntrain = {:?}\nreduced_resolution = 8\ntest_fraction = 0.25\n\
             [task]\nkind = \"one_shot\"\ninput_frame = 0\noutput_frame = 50\n\
             [model]\nmodes = [4]\nwidth = 8\nlayers = 1\n\
             [train]\nepochs = 2\nbatch_size = 4\nthreads = 1\n",
            fixture("1D_Burgers_Sols_Nu0.1.hdf5").display().to_string()
        ),
    )
    .unwrap();
    config
}

/// The last epoch's test relative L2 in `run`'s metrics.jsonl, and the
/// mean nRMSE `fno eval --last` reports for it.
fn trained_and_evaluated_errors(run: &Path) -> (f64, f64) {
    let last = epochs(run).pop().unwrap();
    let data = fixture("1D_Burgers_Sols_Nu0.1.hdf5");
    let report = fno_json(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--last",
        "--json",
    ]);
    (
        last["test_rel_l2"].as_f64().unwrap(),
        report["results"][0]["metrics"]["nrmse"]["mean"]
            .as_f64()
            .unwrap(),
    )
}

/// `inference.symmetries` changes what the run predicts, not what it
/// learns: the weights equal a plain run's, the averaged error differs
/// from the plain one, and training's validation and `fno eval` report
/// the same averaged figure.
#[test]
fn symmetry_averaged_predictions_are_scored_alike_in_training_and_eval() {
    let dir = tempdir();
    let config = burgers_config(dir.path());
    let config = config.to_str().unwrap();
    let run = |name: &str, extra: &[&str]| train(dir.path(), config, name, "train.epochs=2", extra);
    let plain = run("plain", &[]);
    let averaged = run(
        "averaged",
        &["--set", r#"inference.symmetries=["odd_reflection"]"#],
    );
    assert_eq!(weights(&plain), weights(&averaged));
    let (plain_trained, plain_evaluated) = trained_and_evaluated_errors(&plain);
    let (trained, evaluated) = trained_and_evaluated_errors(&averaged);
    for (a, b) in [(plain_trained, plain_evaluated), (trained, evaluated)] {
        assert!((a - b).abs() <= 1e-5 * b, "training says {a}, eval {b}");
    }
    assert!(
        (trained - plain_trained).abs() > 1e-4 * plain_trained,
        "averaging changed nothing: {trained} vs {plain_trained}"
    );
}

/// A symmetry average that cannot act is refused naming the setting: on a
/// time-series task at parse time, a transpose of a 1D grid before any
/// epoch is written.
#[test]
fn a_symmetry_average_that_does_not_fit_is_refused() {
    let dir = tempdir();
    let config = burgers_config(dir.path());
    let config = config.to_str().unwrap();
    let out_dir = dir.path().join("run");
    let out_dir = out_dir.to_str().unwrap();
    let out = fno(&train_args(
        config,
        out_dir,
        &[
            "--set",
            r#"inference.symmetries=["odd_reflection"]"#,
            "--set",
            "task={kind=\"autoregressive\", initial_step=2}",
        ],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("inference.symmetries"), "{stderr}");

    let out = fno(&train_args(
        config,
        out_dir,
        &[
            "--overwrite",
            "--set",
            r#"inference.symmetries=["transpose"]"#,
        ],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("inference.symmetries") && stderr.contains("[32]"),
        "{stderr}"
    );
    assert!(!Path::new(out_dir).join("checkpoint-1").exists());
}
