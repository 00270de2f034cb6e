use crate::train::train_args;
use crate::util::{fixture, fno, fno_json, succeeded, tempdir};
use std::path::Path;

/// The config of a tiny hybrid space-time run on the shared Burgers file:
/// 64 points (stride 4), 41 frames (stride 5), 8 labelled and 4
/// unlabelled samples, residual and initial-condition terms.
pub(crate) fn hybrid_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("burgers.toml");
    let text = format!(
        r#"[data]
train = {:?}
reduced_resolution = 4
reduced_resolution_t = 5
test_fraction = 0.25
max_train_samples = 8

[task]
kind = "space_time"

[model]
modes = [4, 4]
width = 8
layers = 2
padding = [0.0, 0.125]

[train]
epochs = 2
batch_size = 4
lr = 3e-3
threads = 2

[physics]
w_pde = 0.1
w_ic = 1.0
time_order = 2
pde_resolution = [1, 2]
unlabelled_samples = 4
"#,
        fixture("1D_Burgers_Sols_Nu0.1.hdf5").display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// Trains [`hybrid_config`] for two epochs.
fn train_hybrid(dir: &Path) -> std::path::PathBuf {
    let config = hybrid_config(dir);
    let run = dir.join("run");
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &[],
    )));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    run
}

/// `fno finetune` of `run` on `sample` of `data` into `out`.
fn finetune_args<'a>(
    run: &'a Path,
    data: &'a Path,
    sample: &'a str,
    out: &'a Path,
) -> Vec<&'a str> {
    vec![
        "finetune",
        "--run",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--sample",
        sample,
        "--out",
        out.to_str().unwrap(),
    ]
}

/// `fno finetune --json` of `run` on `sample` of the shared ν = 0.1
/// Burgers file into `out`, with `extra` flags; returns the report.
fn finetune_on_the_shared_file(
    run: &Path,
    sample: &str,
    out: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let data = fixture("1D_Burgers_Sols_Nu0.1.hdf5");
    let mut args = finetune_args(run, &data, sample, out);
    args.push("--json");
    args.extend_from_slice(extra);
    fno_json(&args)
}

#[test]
fn hybrid_training_then_finetuning_lowers_the_residual() {
    // Two epochs leave a model whose trajectory barely moves, so an
    // initial-condition term would trade residual for IC fit: the smoke
    // test fine-tunes on the residual (with an anchor) alone.
    let dir = tempdir();
    let run = train_hybrid(dir.path());
    let data = fixture("1D_Burgers_Sols_Nu0.1.hdf5");
    let out_dir = dir.path().join("ft");
    let report = finetune_on_the_shared_file(
        &run,
        "2",
        &out_dir,
        &[
            "--steps", "15", "--lr", "3e-3", "--anchor", "0.1", "--w-ic", "0",
        ],
    );
    let before = report["residual_before"].as_f64().unwrap();
    let after = report["residual_after"].as_f64().unwrap();
    assert!(after < before, "residual {before} -> {after}");
    let curve = report["curve"].as_array().unwrap();
    let loss = |i: usize| curve[i]["loss"].as_f64().unwrap();
    assert!(loss(15) < loss(0), "loss {} -> {}", loss(0), loss(15));
    assert_eq!(report["curve"].as_array().unwrap().len(), 16);
    assert!(report["rel_l2_before"].as_f64().unwrap() > 0.0);
    let h5 = hdf5::File::open(out_dir.join("prediction.hdf5")).unwrap();
    assert_eq!(h5.dataset("tensor").unwrap().shape(), vec![1, 41, 64]);
    assert_eq!(h5.dataset("t-coordinate").unwrap().shape(), vec![41]);
    assert!(out_dir.join("residual_curve.png").exists());
    assert!(out_dir.join("prediction.png").exists());

    // A sample beyond the file is a user error: exit 2, naming it.
    let bad = dir.path().join("bad");
    let out = fno(&finetune_args(&run, &data, "16", &bad));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--sample 16") && err.contains("16 samples"),
        "{err}"
    );
}

/// A data-only space-time run on the shared Burgers file (ν = 0.1, 64
/// points, 101 frames) trained on its first 12 samples and scored on the
/// whole file, so that its best weights fit the training samples.
fn train_good(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("good.toml");
    let file = fixture("1D_Burgers_Sols_Nu0.1.hdf5").display().to_string();
    let text = format!(
        r#"[data]
train = {file:?}
test = {file:?}
reduced_resolution = 4
reduced_resolution_t = 2
test_fraction = 0.25
max_train_samples = 12

[task]
kind = "space_time"

[model]
modes = [4, 4]
width = 8
layers = 2
padding = [0.0, 0.125]

[train]
epochs = 100
batch_size = 4
lr = 3e-3
threads = 2
loss = "relative_l2"
"#
    );
    std::fs::write(&config, text).unwrap();
    let run = dir.join("good");
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &[],
    )));
    run
}

#[test]
fn default_finetuning_does_not_spoil_a_good_prediction() {
    // Samples 3 and 9 are predicted to 13% and 6% by the run; the defaults
    // (500 steps, residual 4x finer in time, anchor, warm-up) must not move
    // either away from the exact solution by more than 5%. Measured with
    // 500 steps: 0.463x and 0.405x; with the former 200 steps sample 3
    // ended 1.215x (the optimiser's early excursion not yet undone), so a
    // default that stops half-way fails here.
    let dir = tempdir();
    let run = train_good(dir.path());
    for sample in ["3", "9"] {
        let out_dir = dir.path().join(format!("ft-{sample}"));
        let report = finetune_on_the_shared_file(&run, sample, &out_dir, &[]);
        let before = report["rel_l2_before"].as_f64().unwrap();
        let after = report["rel_l2_after"].as_f64().unwrap();
        assert!(
            before < 0.15,
            "sample {sample}: the pretrained prediction is not good: {before}"
        );
        assert!(
            after <= 1.05 * before,
            "sample {sample}: rel L2 {before} -> {after}"
        );
    }
}
