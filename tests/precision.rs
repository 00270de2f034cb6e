use crate::train::{train_args, write_config};
use crate::util::{checkpoint_file, fixture, fno, succeeded, tempdir};
use candle_core::{DType, Device};
use std::collections::BTreeMap;
use std::path::Path;

/// The relative L2 error `fno eval` reports for `run` on the Darcy file at
/// the training grid.
fn test_error(run: &Path) -> f64 {
    let out = fno(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        fixture("2D_DarcyFlow_beta1.0_Train.hdf5").to_str().unwrap(),
        "--json",
    ]);
    succeeded(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["results"][0]["metrics"]["relative_l2"]
        .as_f64()
        .unwrap()
}

/// The name and dtype of every tensor of a checkpoint file of `run`.
fn dtypes(run: &Path, file: &str) -> BTreeMap<String, DType> {
    let tensors = candle_core::safetensors::load(checkpoint_file(run, file), &Device::Cpu).unwrap();
    tensors.into_iter().map(|(n, t)| (n, t.dtype())).collect()
}

/// Checks that every weight `run` saved is f32.
fn assert_f32_weights(run: &Path) {
    for file in ["model.safetensors", "best.safetensors"] {
        let dtypes = dtypes(run, file);
        assert!(!dtypes.is_empty());
        for (name, dtype) in dtypes {
            assert_eq!(dtype, DType::F32, "{file}: {name}");
        }
    }
}

/// The shared Darcy case trained with bf16 kept copies reaches a test
/// error within 5% (relative) of the f32 run's at the same epochs and
/// seed; its configuration records the precision, its weights are f32,
/// its optimiser state has an f32 run's dtypes, and `fno eval` loads it as
/// any run. An f32 run's weights start a bf16 fine-tuning run.
#[test]
fn bf16_training_matches_f32_and_keeps_f32_checkpoints() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let f32_run = dir.path().join("f32");
    let bf16_run = dir.path().join("bf16");
    succeeded(&fno(&train_args(config, f32_run.to_str().unwrap(), &[])));
    succeeded(&fno(&train_args(
        config,
        bf16_run.to_str().unwrap(),
        &["--set", "train.precision=bf16"],
    )));
    let saved = std::fs::read_to_string(bf16_run.join("config.toml")).unwrap();
    assert!(saved.contains("precision = \"bf16\""), "{saved}");
    let saved = std::fs::read_to_string(f32_run.join("config.toml")).unwrap();
    assert!(saved.contains("precision = \"f32\""), "{saved}");
    assert_f32_weights(&bf16_run);
    assert_eq!(
        dtypes(&bf16_run, "optimizer.safetensors"),
        dtypes(&f32_run, "optimizer.safetensors")
    );
    let (e32, e16) = (test_error(&f32_run), test_error(&bf16_run));
    assert!(e32.is_finite() && e32 > 0.0 && e32 < 1.0, "{e32}");
    assert!(
        (e16 - e32).abs() <= 0.05 * e32,
        "bf16 test error {e16} against f32's {e32}"
    );

    let tuned = dir.path().join("tuned");
    succeeded(&fno(&train_args(
        config,
        tuned.to_str().unwrap(),
        &[
            "--init-from",
            f32_run.to_str().unwrap(),
            "--set",
            "train.precision=bf16",
            "--set",
            "train.epochs=1",
        ],
    )));
    assert_f32_weights(&tuned);
    assert!(test_error(&tuned).is_finite());
}

/// A precision other than f32 and bf16 is refused naming the setting and
/// the values it takes, before anything is written.
#[test]
fn an_unknown_precision_is_refused_by_name() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    let out = fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &["--set", "train.precision=fp16"],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in ["train.precision", "fp16", "bf16"] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    assert!(!run.exists());
    let text = std::fs::read_to_string(&config).unwrap() + "precision = \"f16\"\n";
    std::fs::write(&config, text).unwrap();
    let out = fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &[],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in ["precision", "f16", "bf16"] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    assert!(!run.exists());
}

/// `fno bench --precision bf16` times the step with bf16 copies and says
/// so.
#[test]
fn bench_reports_its_precision() {
    let out = fno(&[
        "bench",
        "--dims",
        "1",
        "--size",
        "16",
        "--batch",
        "2",
        "--width",
        "4",
        "--modes",
        "2",
        "--layers",
        "2",
        "--steps",
        "1",
        "--threads",
        "1",
        "--precision",
        "bf16",
        "--json",
    ]);
    succeeded(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["precision"], "bf16");
    assert!(report["train_step_ms"].as_f64().unwrap() > 0.0);
}
