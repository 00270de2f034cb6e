use crate::util::{checkpoint_file, fixture, fno, succeeded, tempdir};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const ADVECTION: &str = "1D_Advection_Sols_beta0.4.hdf5";
/// Three fields (density, pressure, Vx) where advection has one.
const CFD: &str = "1D_CFD_Rand_Eta1.e-8_Zeta1.e-8_periodic_Train.hdf5";

/// A tiny autoregressive 1D run on `data`, thinned to 32 points and 11
/// frames whatever the file's grid.
fn write_config(dir: &Path, data: &str) -> PathBuf {
    let (space, time) = if data == ADVECTION { (8, 20) } else { (4, 2) };
    let path = dir.join(format!("{}.toml", &data[..6]));
    let text = format!(
        r#"[data]
train = {:?}
reduced_resolution = {space}
reduced_resolution_t = {time}
test_fraction = 0.25

[task]
kind = "autoregressive"
initial_step = 2

[model]
modes = [4]
width = 8
layers = 2

[train]
epochs = 2
batch_size = 4
lr = 3e-3
threads = 2
"#,
        fixture(data).display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn train(config: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--config", s(config), "--out", s(out), "--quiet"];
    args.extend_from_slice(extra);
    fno(&args)
}

/// A pretrained advection run of two epochs in `dir/pre`.
fn pretrain(dir: &Path) -> PathBuf {
    let pre = dir.join("pre");
    succeeded(&train(&write_config(dir, ADVECTION), &pre, &[]));
    pre
}

fn weights(run: &Path, file: &str) -> HashMap<String, Vec<f32>> {
    candle_core::safetensors::load(checkpoint_file(run, file), &Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(name, t): (String, Tensor)| (name, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

/// The tensors of `part` (`blocks.`, `lifting.`, `projection.`).
fn part(all: &HashMap<String, Vec<f32>>, prefix: &str) -> Vec<(String, Vec<f32>)> {
    let mut tensors: Vec<_> = all
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!tensors.is_empty(), "no tensor under {prefix}");
    tensors
}

fn init_record(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("state.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["init"].clone()
}

fn refused(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
}

/// On the same data every tensor is taken over: a step too small to move
/// an f32 weight leaves the fine-tuned model equal to the pretrained run's
/// best weights, and its first test loss equal to the pretrained best.
#[test]
fn init_from_a_run_on_the_same_data_copies_every_tensor() {
    let dir = tempdir();
    let pre = pretrain(dir.path());
    let config = write_config(dir.path(), ADVECTION);
    let tuned = dir.path().join("tuned");
    let out = train(
        &config,
        &tuned,
        &[
            "--init-from",
            s(&pre),
            "--set",
            "train.lr=1e-30",
            "--set",
            "train.epochs=1",
        ],
    );
    succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("copied lifting, projection, trunk; new nothing"),
        "{stdout}"
    );
    assert_eq!(
        weights(&tuned, "model.safetensors"),
        weights(&pre, "best.safetensors")
    );
    let record = init_record(&tuned);
    assert_eq!(record["weights"], "best");
    assert_eq!(record["fresh"], serde_json::json!([]));
    let first_loss = |run: &Path| -> f64 {
        let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        lines
            .iter()
            .map(|v| v["test_loss"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min)
    };
    assert_eq!(first_loss(&tuned), first_loss(&pre));
    let saved = std::fs::read_to_string(tuned.join("config.toml")).unwrap();
    assert!(saved.contains("init_from = "), "{saved}");
}

/// Another family with three fields keeps the pretrained trunk and gets
/// new embeddings; the trunk stays frozen, also across a resume inside the
/// frozen epochs (which reads its own checkpoint, not the pretrained run),
/// and moves once it thaws.
#[test]
fn across_families_the_trunk_is_kept_frozen_then_trained() {
    let dir = tempdir();
    let pre = pretrain(dir.path());
    let source = weights(&pre, "model.safetensors");
    let config = write_config(dir.path(), CFD);
    let tuned = dir.path().join("tuned");
    let freeze = ["--set", "train.freeze_trunk_epochs=2"];
    let mut args = vec![
        "--init-from",
        s(&pre),
        "--init-last",
        "--set",
        "train.epochs=1",
    ];
    args.extend_from_slice(&freeze);
    let out = train(&config, &tuned, &args);
    succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("(last weights): copied trunk; new lifting, projection"),
        "{stdout}"
    );
    let after_one = weights(&tuned, "model.safetensors");
    assert_eq!(part(&after_one, "blocks."), part(&source, "blocks."));

    // Resumed inside the frozen epochs, with the pretrained run gone.
    std::fs::rename(&pre, dir.path().join("moved")).unwrap();
    let resumed = |epochs: &str| {
        let set = format!("train.epochs={epochs}");
        let out = fno(&[
            "train",
            "--out",
            s(&tuned),
            "--resume",
            "--quiet",
            "--set",
            &set,
        ]);
        succeeded(&out);
        weights(&tuned, "model.safetensors")
    };
    let after_two = resumed("2");
    assert_eq!(part(&after_two, "blocks."), part(&source, "blocks."));
    assert_ne!(part(&after_two, "lifting."), part(&after_one, "lifting."));
    let after_three = resumed("3");
    assert_ne!(part(&after_three, "blocks."), part(&source, "blocks."));
    assert_eq!(init_record(&tuned)["copied"], serde_json::json!(["trunk"]));
}

/// A trunk of another width is refused naming `model.width`, before the
/// run directory is created; so is a pretrained run that is missing or
/// not a run, naming the flag and the setting.
#[test]
fn a_trunk_that_does_not_fit_or_a_missing_run_is_refused() {
    let dir = tempdir();
    let pre = pretrain(dir.path());
    let config = write_config(dir.path(), CFD);
    let tuned = dir.path().join("tuned");
    let out = train(
        &config,
        &tuned,
        &["--init-from", s(&pre), "--set", "model.width=16"],
    );
    refused(&out, &["model.width", "16 here but 8", "train.init_from"]);
    assert!(!tuned.exists());

    let missing = dir.path().join("nowhere");
    let out = train(&config, &tuned, &["--init-from", s(&missing)]);
    refused(&out, &["--init-from", "train.init_from", "nowhere"]);
    assert!(!tuned.exists());

    let garbage = dir.path().join("garbage");
    std::fs::create_dir(&garbage).unwrap();
    std::fs::write(garbage.join("config.toml"), "[model\nwidth = ").unwrap();
    let out = train(&config, &tuned, &["--init-from", s(&garbage)]);
    refused(&out, &["--init-from", "garbage", "config.toml"]);
    assert!(!tuned.exists());

    let out = train(&config, &tuned, &["--set", "train.freeze_trunk_epochs=1"]);
    refused(&out, &["train.freeze_trunk_epochs", "train.init_from"]);
}
