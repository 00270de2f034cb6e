use crate::util::{
    checkpoint_file, fixture, fno, snapshot, spawn, succeeded, tempdir, writing_fixture,
};
use fno::data::mirror::MirrorWriter;
use fno::data::{PdebenchFile, Resolution};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tiny Darcy run: 16x16 grid (stride 4), 12 training samples, 6 epochs.
pub(crate) fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("darcy.toml");
    let text = format!(
        r#"[data]
train = {:?}
reduced_resolution = 4
test_fraction = 0.25

[task]
kind = "one_shot"

[model]
modes = [4]
width = 8
layers = 2

[train]
epochs = 6
batch_size = 4
lr = 3e-3
threads = 2
"#,
        fixture("2D_DarcyFlow_beta1.0_Train.hdf5")
            .display()
            .to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn train_args<'a>(config: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", "--config", config, "--out", out, "--quiet"];
    args.extend_from_slice(extra);
    args
}

/// metrics.jsonl without the timing fields, which differ between runs.
fn losses(run: &Path) -> Vec<(u64, f64, f64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["epoch"].as_u64().unwrap(),
                v["train_loss"].as_f64().unwrap(),
                v["test_loss"].as_f64().unwrap(),
                v["lr"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn epochs_done(run: &Path) -> u64 {
    std::fs::read_to_string(run.join("state.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["epoch"].as_u64())
        .unwrap_or(0)
}

/// Train, kill the process after its first checkpoint, resume: the result
/// equals an uninterrupted run bit for bit. A second resumed run, stopped
/// by a smaller epoch count instead of a kill, checks the same without
/// depending on timing.
#[test]
fn killed_and_resumed_run_matches_uninterrupted_run() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let straight = dir.path().join("straight");
    let out = fno(&train_args(config, straight.to_str().unwrap(), &[]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let killed = dir.path().join("killed");
    let mut child = spawn(
        Command::new(env!("CARGO_BIN_EXE_fno"))
            .args(train_args(config, killed.to_str().unwrap(), &[]))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let start = Instant::now();
    while epochs_done(&killed) < 1 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = fno(&train_args(config, killed.to_str().unwrap(), &["--resume"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let staged = dir.path().join("staged");
    let out = fno(&train_args(
        config,
        staged.to_str().unwrap(),
        &["--set", "train.epochs=2"],
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(epochs_done(&staged), 2);
    let out = fno(&train_args(config, staged.to_str().unwrap(), &["--resume"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let want = std::fs::read(checkpoint_file(&straight, "model.safetensors")).unwrap();
    for run in [&killed, &staged] {
        assert_eq!(epochs_done(run), 6);
        assert_eq!(losses(run), losses(&straight), "{}", run.display());
        assert_eq!(
            std::fs::read(checkpoint_file(run, "model.safetensors")).unwrap(),
            want,
            "{}",
            run.display()
        );
        assert_eq!(
            std::fs::read(checkpoint_file(run, "optimizer.safetensors")).unwrap(),
            std::fs::read(checkpoint_file(&straight, "optimizer.safetensors")).unwrap()
        );
    }
    // Training made progress.
    let l = losses(&straight);
    assert!(l[5].1 < l[0].1, "train loss should fall: {l:?}");

    // An existing run is not overwritten without --resume.
    let out = fno(&train_args(config, straight.to_str().unwrap(), &[]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));

    // Evaluation at the training grid (16) and, zero-shot, at 32 and 64.
    let out = fno(&[
        "eval",
        "--run",
        straight.to_str().unwrap(),
        "--data",
        fixture("2D_DarcyFlow_beta1.0_Train.hdf5").to_str().unwrap(),
        "--resolution",
        "32",
        "--resolution",
        "64",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["grid"], serde_json::json!([16, 16]));
    assert_eq!(results[2]["grid"], serde_json::json!([64, 64]));
    let training: Vec<bool> = results
        .iter()
        .map(|r| r["training_resolution"].as_bool().unwrap())
        .collect();
    assert_eq!(training, [true, false, false]);
    for r in results {
        let rel = r["metrics"]["relative_l2"].as_f64().unwrap();
        assert!(rel.is_finite() && rel > 0.0 && rel < 1.5, "{rel}");
    }
    assert_eq!(report["samples"], 4, "the held-out quarter of 16");
    for plot in [
        "prediction_16x16.png",
        "prediction_64x64.png",
        "spectrum.png",
        "loss.png",
    ] {
        assert!(straight.join(plot).exists(), "{plot}");
    }
    assert!(straight.join("eval.json").exists());

    // A resolution that does not divide the grid is refused by name.
    let out = fno(&[
        "eval",
        "--run",
        straight.to_str().unwrap(),
        "--data",
        fixture("2D_DarcyFlow_beta1.0_Train.hdf5").to_str().unwrap(),
        "--resolution",
        "48",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resolution 48"));
}

/// `fno eval` calls a grid the training resolution only if the run was
/// trained on it: on a 32x32 copy of the training data, a run trained at
/// 16x16 is zero-shot at its own stride (8x8) and at 32x32, and at its
/// training resolution only at 16x16.
#[test]
fn eval_tells_zero_shot_grids_from_the_training_grid() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let out = fno(&train_args(
        config.to_str().unwrap(),
        run_s,
        &["--set", "train.epochs=1"],
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = "2D_DarcyFlow_beta1.0_Train.hdf5";
    let fine = dir.path().join("fine").join(name);
    writing_fixture(|| {
        let template = PdebenchFile::open(fixture(name)).unwrap();
        let half = Resolution {
            reduced_resolution: 2,
            ..Resolution::default()
        };
        let indices: Vec<usize> = (0..4).collect();
        let samples = template.read_samples(&indices, &half).unwrap();
        let coords = template.coordinates(&half).unwrap();
        let writer = MirrorWriter::create(&fine, &template, indices.len(), coords).unwrap();
        for (i, s) in samples.iter().enumerate() {
            writer.write_sample(i, s).unwrap();
        }
        writer.finish().unwrap();
    });
    let out = fno(&[
        "eval",
        "--run",
        run_s,
        "--data",
        fine.to_str().unwrap(),
        "--resolution",
        "16",
        "--resolution",
        "32",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let labels: Vec<(serde_json::Value, bool)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["grid"].clone(),
                r["training_resolution"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        labels,
        [
            (serde_json::json!([8, 8]), false),
            (serde_json::json!([16, 16]), true),
            (serde_json::json!([32, 32]), false),
        ]
    );
}

/// A loss that becomes NaN stops training with a clear message and leaves
/// the last good checkpoint untouched.
#[test]
fn divergence_stops_and_keeps_the_last_checkpoint() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let out = fno(&train_args(config, run_s, &["--set", "train.epochs=1"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model = std::fs::read(checkpoint_file(&run, "model.safetensors")).unwrap();
    let state = std::fs::read(run.join("state.json")).unwrap();
    let out = fno(&train_args(
        config,
        run_s,
        &[
            "--resume",
            "--set",
            "train.lr=1e30",
            "--set",
            "train.epochs=3",
        ],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("diverged"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(checkpoint_file(&run, "model.safetensors")).unwrap(),
        model
    );
    assert_eq!(std::fs::read(run.join("state.json")).unwrap(), state);
}

/// A step that leaves the loss finite but breaks the weights (one batch
/// per epoch, so the broken step is the epoch's last) stops the run before
/// its metrics line or checkpoint is written, naming the tensor; the run
/// then resumes with a sound learning rate, and never records a NaN best
/// loss.
#[test]
fn non_finite_weights_are_never_checkpointed() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let one_batch = "data.max_train_samples=4";
    let out = fno(&train_args(
        config,
        run_s,
        &["--set", one_batch, "--set", "train.epochs=1"],
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = snapshot(&run);
    for (lr, needle) in [("1e39", "weight `"), ("1e6", "the test loss is")] {
        let lr = format!("train.lr={lr}");
        let out = fno(&train_args(
            config,
            run_s,
            &[
                "--resume",
                "--set",
                one_batch,
                "--set",
                &lr,
                "--set",
                "train.epochs=3",
            ],
        ));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{lr}: {stderr}");
        assert!(stderr.contains("diverged in epoch 1"), "{stderr}");
        assert!(stderr.contains(needle), "{lr}: {stderr}");
        assert!(stderr.contains("(1 epoch done) is intact"), "{stderr}");
        assert!(snapshot(&run) == before, "{lr} changed the run");
    }
    let out = fno(&train_args(
        config,
        run_s,
        &["--resume", "--set", one_batch, "--set", "train.epochs=3"],
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["epoch"], 3);
    assert!(state["best"][0].as_f64().unwrap().is_finite(), "{state}");
}

/// A fresh run whose first epoch breaks the model commits nothing, and
/// `--resume` with a changed learning rate starts it again from the
/// beginning under the new setting.
#[test]
fn a_run_that_diverges_in_its_first_epoch_resumes_with_a_new_learning_rate() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let out = fno(&train_args(
        config,
        run_s,
        &["--set", "train.lr=1e30", "--set", "train.epochs=1"],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no checkpoint was committed yet"),
        "{stderr}"
    );
    assert!(!run.join("state.json").exists());
    let out = fno(&[
        "train",
        "--out",
        run_s,
        "--quiet",
        "--resume",
        "--set",
        "train.lr=3e-3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(saved.contains("lr = 0.003"), "{saved}");
}

/// Bad configuration values are refused with the setting's name.
#[test]
fn bad_config_names_the_setting() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    for (set, needle) in [
        ("train.epochs=0", "train.epochs"),
        ("train.batch_size=0", "train.batch_size"),
        ("model.width=0", "width"),
        (
            "model.channel_mlp_expansion=-0.5",
            "model.channel_mlp_expansion",
        ),
        ("model.rank=0", "model.rank"),
        ("model.rank=1.5", "model.rank"),
        ("model.factorization=\"cp\"", "factorization"),
        ("model.spectral_init=\"xavier\"", "spectral_init"),
        ("task.kind=autoregressive", "initial_step"),
        ("train.bogus=1", "bogus"),
    ] {
        let out = fno(&train_args(
            config.to_str().unwrap(),
            run.to_str().unwrap(),
            &["--set", set],
        ));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{set}: {stderr}");
        assert!(stderr.contains(needle), "{set}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// neuraloperator's block (channel MLP, soft-gating skip) trains through
/// the CLI, lowers its training loss, saves its extra weights and is
/// evaluated zero-shot at 4x the training grid.
#[test]
fn a_model_with_neuraloperators_block_trains_and_evaluates() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &["--set", "model.channel_mlp_expansion=0.5"],
    )));
    let l = losses(&run);
    assert!(l.last().unwrap().1 < l[0].1, "{l:?}");
    let weights = candle_core::safetensors::load(
        checkpoint_file(&run, "model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(weights["blocks.1.gate"].dims(), &[8]);
    assert_eq!(weights["blocks.1.channel_mlp.fc1.weight"].dims(), &[4, 8]);
    let data = fixture("2D_DarcyFlow_beta1.0_Train.hdf5");
    succeeded(&fno(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--resolution",
        "64",
    ]));
}

/// TFNO and F-FNO blocks train through the CLI on the Darcy fixture: the
/// training loss falls, the run reports the parameter count of the formula
/// (written out here for width 8, modes [4, 4], 2 blocks, 1 + 2 grid input
/// channels), the factorised weights are saved under their names, and the
/// run is evaluated zero-shot at 4x the training grid.
#[test]
fn factorised_spectral_weights_train_and_evaluate() {
    // Lifting 3 -> 16 -> 8, projection 8 -> 16 -> 1, per block the 8 x 8
    // skip with its bias.
    let outside_spectral = (3 * 16 + 16) + (16 * 8 + 8) + (8 * 16 + 16) + (16 + 1) + 2 * (64 + 8);
    // Tucker ranks of the dense weight [8, 8, 8, 4] at 0.5: [6, 6, 6, 3]
    // (tensorly's validate_tucker_rank), complex core and factors.
    let tucker = 2 * (6 * 6 * 6 * 3 + 3 * 8 * 6 + 4 * 3);
    // Per axis: [8, 8, 4] complex weights along each of the two axes.
    let per_axis = 2 * 2 * 8 * 8 * 4;
    for (settings, spectral, saved) in [
        (
            ["model.factorization=\"tucker\"", "model.rank=0.5"],
            tucker,
            ("blocks.1.spectral.factor2_re", vec![8, 6]),
        ),
        (
            ["model.factorization=\"per_axis\"", "model.rank=0.1"],
            per_axis,
            ("blocks.0.spectral.axis1.weight_im", vec![8, 8, 4]),
        ),
    ] {
        let dir = tempdir();
        let config = write_config(dir.path());
        let run = dir.path().join("run");
        let out = fno(&train_args(
            config.to_str().unwrap(),
            run.to_str().unwrap(),
            &["--set", settings[0], "--set", settings[1]],
        ));
        succeeded(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected = format!("parameters {}", outside_spectral + 2 * spectral);
        assert!(stdout.contains(&expected), "{settings:?}: {stdout}");
        let l = losses(&run);
        assert!(l.last().unwrap().1 < l[0].1, "{settings:?}: {l:?}");
        let weights = candle_core::safetensors::load(
            checkpoint_file(&run, "model.safetensors"),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        assert_eq!(weights[saved.0].dims(), saved.1.as_slice(), "{settings:?}");
        let data = fixture("2D_DarcyFlow_beta1.0_Train.hdf5");
        succeeded(&fno(&[
            "eval",
            "--run",
            run.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--resolution",
            "64",
        ]));
    }
}
