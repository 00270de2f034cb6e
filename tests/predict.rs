use crate::train::{train_args, write_config};
use crate::util::{fixture, fno, tempdir};
use fno::data::{Layout, PdebenchFile, Resolution};
use std::path::Path;

fn ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn train_one_epoch(config: &Path, run: &Path, extra: &[&str]) {
    let mut args = vec!["--set", "train.epochs=1"];
    args.extend_from_slice(extra);
    ok(&fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &args,
    )));
}

/// Darcy predictions at twice the training resolution open as a Darcy file
/// holding the input coefficients and finite solutions; the command refuses
/// to overwrite, and a grid too small for the modes warns exactly once.
#[test]
fn darcy_predictions_keep_the_layout_at_a_finer_grid() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    train_one_epoch(&config, &run, &[]);
    let data = fixture("2D_DarcyFlow_beta1.0_Train.hdf5");
    let pred = dir.path().join("pred.hdf5");
    let args = [
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--input",
        data.to_str().unwrap(),
        "--resolution",
        "32",
        "--out",
        pred.to_str().unwrap(),
        "--json",
    ];
    let out = fno(&args);
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["samples"], 16);
    assert_eq!(report["grid"], serde_json::json!([32, 32]));

    let written = PdebenchFile::open(&pred).unwrap();
    assert_eq!(written.info().layout, Layout::Darcy);
    assert_eq!(written.info().num_samples, 16);
    assert_eq!(written.info().spatial_shape, vec![32, 32]);
    let source = PdebenchFile::open(&data).unwrap();
    let half = Resolution {
        reduced_resolution: 2,
        ..Resolution::default()
    };
    for i in [0, 15] {
        let got = written.read_sample(i, &Resolution::default()).unwrap();
        let want = source.read_sample(i, &half).unwrap();
        assert_eq!(got.input, want.input, "the coefficient is copied");
        assert!(got.frames.iter().all(|v| v.is_finite()));
        assert!(got.frames.iter().any(|&v| v != 0.0));
    }

    // An existing output is kept unless --overwrite is given.
    let before = std::fs::read(&pred).unwrap();
    let out = fno(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--overwrite"));
    assert_eq!(std::fs::read(&pred).unwrap(), before);
    let out = fno(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--input",
        data.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("input file"));

    // 4 points hold fewer than the 4 modes the model was trained with.
    let small = dir.path().join("small.hdf5");
    let out = fno(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--input",
        data.to_str().unwrap(),
        "--resolution",
        "4",
        "--out",
        small.to_str().unwrap(),
        "--quiet",
    ]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("modes clipped").count(),
        1,
        "one warning for one grid: {stderr}"
    );
    assert_eq!(
        PdebenchFile::open(&small).unwrap().info().spatial_shape,
        vec![4, 4]
    );
}

/// An autoregressive advection run writes whole trajectories: the given
/// initial frames unchanged, then the rollout, in the single-array layout.
#[test]
fn autoregressive_predictions_are_whole_trajectories() {
    let dir = tempdir();
    let config = dir.path().join("adv.toml");
    std::fs::write(
        &config,
        format!(
            r#"[data]
train = {:?}
reduced_resolution = 8
reduced_resolution_t = 20

[task]
kind = "autoregressive"
initial_step = 2

[model]
modes = [4]
width = 8
layers = 2

[train]
batch_size = 8
threads = 2
"#,
            fixture("1D_Advection_Sols_beta0.4.hdf5")
                .display()
                .to_string()
        ),
    )
    .unwrap();
    let run = dir.path().join("run");
    train_one_epoch(&config, &run, &[]);
    let data = fixture("1D_Advection_Sols_beta0.4.hdf5");
    let pred = dir.path().join("1D_Advection_Sols_beta0.4.hdf5");
    ok(&fno(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--input",
        data.to_str().unwrap(),
        "--resolution",
        "64",
        "--out",
        pred.to_str().unwrap(),
        "--quiet",
    ]));
    let written = PdebenchFile::open(&pred).unwrap();
    let info = written.info();
    assert_eq!(info.layout, Layout::SingleArray);
    assert_eq!(info.num_samples, 16);
    assert_eq!(info.num_frames, 11, "201 frames at stride 20");
    assert_eq!(info.spatial_shape, vec![64]);
    assert_eq!(info.params.get("beta"), Some(&0.4));
    let source = PdebenchFile::open(&data).unwrap();
    let res = Resolution {
        reduced_resolution: 4,
        reduced_resolution_t: 20,
    };
    let want = source.read_sample(3, &res).unwrap();
    let got = written.read_sample(3, &Resolution::default()).unwrap();
    let given = ndarray::Slice::from(..2);
    assert_eq!(
        got.frames.slice_axis(ndarray::Axis(0), given),
        want.frames.slice_axis(ndarray::Axis(0), given)
    );
    assert!(got.frames.iter().all(|v| v.is_finite()));
    let times = written.coordinates(&Resolution::default()).unwrap().time;
    let source_times = source.coordinates(&res).unwrap().time;
    assert_eq!(times.len(), 11);
    for (a, b) in times.iter().zip(&source_times) {
        assert!((a - b).abs() < 1e-6);
    }
}
