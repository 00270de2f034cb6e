use crate::train::train_args;
use crate::util::{fno, succeeded, tempdir};
use crate::well::{value, well_fixture};
use candle_core::Device;
use fno::data::loader::{for_each_batch, BatchPlan, LoaderError};
use fno::data::shard::Shard;
use fno::data::window::{window_count, WindowIds};
use fno::data::{PdebenchFile, Resolution, Task};
use std::path::Path;

/// Every window of the shear training split, read through the loader: 3
/// trajectories of 5 frames give 3 windows of 2 + 1 frames each, and each
/// window holds the stored values of its frames (fields tracer, pressure
/// stored along x only, ambient shared by all trajectories).
#[test]
fn windows_are_every_window_of_every_trajectory() {
    let file = PdebenchFile::open(well_fixture("shear_mini/data/train")).unwrap();
    let frames = file.info().num_frames;
    assert_eq!(frames, 5);
    let per_sample = window_count(2, 1, frames);
    assert_eq!(per_sample, 3);
    let ids = WindowIds {
        per_sample,
        n_in: 2,
        n_out: 1,
    };
    let indices = ids.of(&[0, 1, 2]);
    assert_eq!(indices.len(), 9);
    let plan = BatchPlan {
        indices,
        batch_size: 4,
        shuffle_seed: Some(7),
        epoch: 1,
        resolution: Resolution::default(),
        task: Task::Window {
            n_steps_input: 2,
            n_steps_output: 1,
            predict_delta: false,
            max_rollout_steps: None,
        },
        shard: Shard::WHOLE,
        windows: Some(ids),
        augment: None,
    };
    // What frame t of trajectory b holds in channel c at (i, j).
    let stored = |b: usize, t: usize, c: usize, i: usize, j: usize| match c {
        0 => value(1, b, t, i, j, 0),
        1 => value(2, b, t, i, 0, 0),
        _ => value(3, 0, t, i, j, 0),
    };
    let mut seen = Vec::new();
    for_each_batch(
        &file,
        &plan,
        &Device::Cpu,
        |batch| -> Result<(), LoaderError> {
            let x: Vec<f32> = batch.input.flatten_all()?.to_vec1()?;
            let y: Vec<f32> = batch.target.flatten_all()?.to_vec1()?;
            assert_eq!(batch.input.dims()[1..], [6, 8, 6]);
            assert_eq!(batch.target.dims()[1..], [3, 8, 6]);
            for (k, &id) in batch.indices.iter().enumerate() {
                let (b, start) = ids.locate(id);
                for ch in 0..6 {
                    let (t, c) = (start + ch / 3, ch % 3);
                    for (i, j) in [(0, 0), (7, 5), (3, 2)] {
                        let at = ((k * 6 + ch) * 8 + i) * 6 + j;
                        assert_eq!(x[at], stored(b, t, c, i, j), "window {id} channel {ch}");
                    }
                }
                for c in 0..3 {
                    let at = ((k * 3 + c) * 8 + 4) * 6 + 1;
                    assert_eq!(y[at], stored(b, start + 2, c, 4, 1), "window {id}");
                }
                seen.push(id);
            }
            Ok(())
        },
    )
    .unwrap();
    seen.sort_unstable();
    assert_eq!(seen, (0..9).collect::<Vec<_>>());
}

fn window_config(dir: &Path, data: &Path, task: &str) -> String {
    let config = dir.join("window.toml");
    let text = format!(
        "[data]\ntrain = {:?}\ntest_fraction = 0.5\n\n[task]\nkind = \"window\"\n{task}\n[model]\nmodes = [3]\nwidth = 8\nlayers = 1\n\n[train]\nepochs = 2\nbatch_size = 4\nthreads = 1\n",
        data.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    config.to_str().unwrap().to_string()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Two epochs of the window task on the shear data set, predicting
/// changes: the output normaliser is stats.yaml's `_delta` tables exactly
/// (std floored at 1e-4 as The Well does); `fno eval` reports one-step
/// VRMSE per field and the rollout's VRMSE by horizon band, all finite.
#[test]
fn window_training_uses_delta_stats_and_eval_reports_rollout_bands() {
    let dir = tempdir();
    let data = well_fixture("shear_mini");
    let config = window_config(
        dir.path(),
        &data,
        "n_steps_input = 2\nn_steps_output = 1\npredict_delta = true\n",
    );
    let run = dir.path().join("run");
    succeeded(&fno(&train_args(&config, run.to_str().unwrap(), &[])));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    let norm = json(&run.join("normalizer.json"));
    assert_eq!(
        norm["output"]["mean"],
        serde_json::json!([100.0, 100.0, 100.0])
    );
    assert_eq!(norm["output"]["std"], serde_json::json!([1e-4, 1e-4, 1e-4]));
    // Inputs: two frames of the fields' mean and std.
    assert_eq!(
        norm["input"]["mean"],
        serde_json::json!([1.1238e4, 2.1235e4, 3.0238e4, 1.1238e4, 2.1235e4, 3.0238e4])
    );
    let out = fno(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    succeeded(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let window = &report["results"][0]["window"];
    // The test split: one trajectory, 3 windows; a rollout of 3 frames.
    assert_eq!(window["windows"], 3);
    let one_step = window["one_step"]["vrmse"]["per_channel"]
        .as_array()
        .unwrap();
    assert_eq!(one_step.len(), 3);
    assert!(one_step.iter().all(|v| v.as_f64().unwrap().is_finite()));
    let rollout = &window["rollout"];
    assert_eq!(rollout["steps"], 3);
    let bands: Vec<(u64, u64)> = rollout["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["start"].as_u64().unwrap(), b["end"].as_u64().unwrap()))
        .collect();
    assert_eq!(bands, vec![(0, 1), (1, 3)]);
    for band in rollout["bands"].as_array().unwrap() {
        let mean = band["mean"].as_f64().unwrap();
        assert!(mean.is_finite() && mean >= 0.0, "{band}");
        assert_eq!(band["per_field"].as_array().unwrap().len(), 3);
    }
    assert_eq!(
        report["results"][0]["metrics"]["vrmse"]["per_time"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// Without `_delta` tables (vector_mini's stats.yaml has none) the changes'
/// statistics are fitted on the training split: every stored change is
/// exactly 100 (the fixture is linear in time), so mean 100 and the
/// smallest standard deviation; the field constant in time is an input
/// channel after the frames, normalised with stats.yaml's entry.
#[test]
fn delta_stats_are_fitted_when_stats_yaml_has_none() {
    let dir = tempdir();
    let data = well_fixture("vector_mini/vector_mini.hdf5");
    let config = window_config(
        dir.path(),
        &data,
        "n_steps_input = 1\npredict_delta = true\n",
    );
    let run = dir.path().join("run");
    succeeded(&fno(&train_args(&config, run.to_str().unwrap(), &[])));
    let norm = json(&run.join("normalizer.json"));
    assert_eq!(norm["output"]["mean"], serde_json::json!([100.0, 100.0]));
    assert_eq!(norm["output"]["std"], serde_json::json!([1e-6, 1e-6]));
    assert_eq!(
        norm["input"]["mean"],
        serde_json::json!([50780.0, 50781.0, 40250.0])
    );
    let resolved: toml::Value =
        toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    assert_eq!(resolved["model"]["in_channels"].as_integer(), Some(3));
}

/// A trajectory too short for one window is refused with exit 2, naming
/// both settings, before anything is written.
#[test]
fn too_short_trajectories_are_refused() {
    let dir = tempdir();
    let config = window_config(
        dir.path(),
        &well_fixture("shear_mini"),
        "n_steps_input = 4\nn_steps_output = 2\n",
    );
    let run = dir.path().join("run");
    let out = fno(&train_args(&config, run.to_str().unwrap(), &[]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("task.n_steps_input` = 4")
            && stderr.contains("task.n_steps_output` = 2")
            && stderr.contains("has 5"),
        "{stderr}"
    );
    assert!(!run.join("normalizer.json").exists());
}

/// The window task on a PDEBench file: rollouts capped at
/// `max_rollout_steps` in `fno eval` and `fno predict`, which writes the
/// given frames and the predicted ones.
#[test]
fn capped_rollouts_on_a_pdebench_file() {
    let dir = tempdir();
    let data = crate::util::fixture("1D_Advection_Sols_beta0.4.hdf5");
    let config = window_config(
        dir.path(),
        &data,
        "n_steps_input = 3\nmax_rollout_steps = 4\n",
    );
    let run = dir.path().join("run");
    succeeded(&fno(&train_args(
        &config,
        run.to_str().unwrap(),
        &["--set", "train.epochs=1"],
    )));
    let out = fno(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    succeeded(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rollout = &report["results"][0]["window"]["rollout"];
    assert_eq!(rollout["steps"], 4);
    assert!(rollout["mean"].as_f64().unwrap().is_finite());
    let pred = dir.path().join("pred.hdf5");
    let out = fno(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--input",
        data.to_str().unwrap(),
        "--out",
        pred.to_str().unwrap(),
    ]);
    succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("7 frames"), "{stdout}");
}
