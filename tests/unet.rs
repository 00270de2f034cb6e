use crate::train::train_args;
use crate::util::{fixture, fno, succeeded, tempdir};
use std::path::{Path, PathBuf};

/// A tiny U-Net run on `file` at stride 4, two epochs.
fn unet_config(dir: &Path, file: &str) -> PathBuf {
    let path = dir.join("unet.toml");
    let text = format!(
        r#"[data]
train = {:?}
reduced_resolution = 4
test_fraction = 0.25

[task]
kind = "one_shot"

[model]
kind = "unet"
unet_features = 4
unet_levels = 2

[train]
epochs = 2
batch_size = 4
lr = 3e-3
threads = 2
"#,
        fixture(file).display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn train_unet(dir: &Path, file: &str) -> PathBuf {
    let config = unet_config(dir, file);
    let run = dir.join("run");
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &[],
    )));
    run
}

/// `fno eval --json` of `run` on `file` at its training grid and `extra`
/// resolutions.
fn eval(run: &Path, file: &str, resolutions: &[&str]) -> serde_json::Value {
    let data = fixture(file);
    let mut args = vec![
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ];
    for r in resolutions {
        args.extend(["--resolution", r]);
    }
    let out = fno(&args);
    succeeded(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The grids of an eval report, with each grid's last spectrum band
/// (the top of the grid) checked to be complete and scored.
fn grids_and_top_bands(report: &serde_json::Value) -> Vec<(serde_json::Value, u64)> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let rel = r["metrics"]["relative_l2"].as_f64().unwrap();
            assert!(rel.is_finite() && rel > 0.0 && rel < 2.0, "{rel}");
            let top = r["spectrum"]["bands"].as_array().unwrap().last().unwrap();
            let ratio = top["ratio"].as_f64().unwrap();
            assert!(ratio.is_finite() && ratio >= 0.0, "{ratio}");
            (r["grid"].clone(), top["k_max"].as_u64().unwrap())
        })
        .collect()
}

/// A 2D U-Net trains, evaluates at its 16² training grid and zero-shot at
/// 2× and 4× on the finer input grids, with a spectrum table per grid up
/// to the grid's complete shells.
#[test]
fn a_2d_unet_trains_and_evaluates_zero_shot() {
    let dir = tempdir();
    let darcy = "2D_DarcyFlow_beta1.0_Train.hdf5";
    let run = train_unet(dir.path(), darcy);
    let report = eval(&run, darcy, &["32", "64"]);
    let got = grids_and_top_bands(&report);
    let want = [
        (serde_json::json!([16, 16]), 8),
        (serde_json::json!([32, 32]), 16),
        (serde_json::json!([64, 64]), 32),
    ];
    assert_eq!(got, want);
    assert!(run.join("spectrum.png").exists());

    // A grid the two poolings do not divide (2 points) is refused by name.
    let out = fno(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        fixture(darcy).to_str().unwrap(),
        "--resolution",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("model.unet_levels"));
}

/// A 1D U-Net on advection (64 points at stride 4): trained, evaluated, and
/// zero-shot at 128 and 256 points.
#[test]
fn a_1d_unet_trains_and_evaluates_zero_shot() {
    let dir = tempdir();
    let advection = "1D_Advection_Sols_beta0.4.hdf5";
    let run = train_unet(dir.path(), advection);
    let got = grids_and_top_bands(&eval(&run, advection, &["128", "256"]));
    let want = [
        (serde_json::json!([64]), 32),
        (serde_json::json!([128]), 64),
        (serde_json::json!([256]), 128),
    ];
    assert_eq!(got, want);
}

/// Exit code 2 and the setting's name in the error.
fn refused(out: &std::process::Output, setting: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(setting), "{setting}: {err}");
}

/// What a U-Net cannot do is refused before training, naming the setting:
/// a grid its poolings do not divide, Fourier-only settings, physics on a
/// finer grid; and a U-Net run cannot be exported to neuraloperator, be
/// fine-tuned at test time, or start an FNO run (`--init-from`).
#[test]
fn what_a_unet_cannot_do_is_refused() {
    let dir = tempdir();
    let darcy = "2D_DarcyFlow_beta1.0_Train.hdf5";
    let config = unet_config(dir.path(), darcy);
    for (set, setting) in [
        ("model.unet_levels=5", "model.unet_levels"),
        ("model.factorization=\"tucker\"", "model.factorization"),
        (
            "model.channel_mlp_expansion=0.5",
            "model.channel_mlp_expansion",
        ),
        ("physics.pde_resolution=[2, 2]", "model.kind"),
    ] {
        let run = dir.path().join("refused");
        refused(
            &fno(&train_args(
                config.to_str().unwrap(),
                run.to_str().unwrap(),
                &["--set", set],
            )),
            setting,
        );
        assert!(!run.exists(), "{setting}: nothing is written");
    }

    let run = train_unet(dir.path(), darcy);
    let export = dir.path().join("export");
    refused(
        &fno(&[
            "export",
            "--format",
            "neuraloperator",
            run.to_str().unwrap(),
            export.to_str().unwrap(),
        ]),
        "model.kind",
    );
    assert!(!export.join("fno_state_dict.safetensors").exists());
    refused(
        &fno(&[
            "finetune",
            "--run",
            run.to_str().unwrap(),
            "--data",
            fixture(darcy).to_str().unwrap(),
            "--sample",
            "0",
            "--out",
            dir.path().join("ft").to_str().unwrap(),
        ]),
        "model.kind",
    );
    let fno_config = crate::train::write_config(dir.path());
    refused(
        &fno(&train_args(
            fno_config.to_str().unwrap(),
            dir.path().join("from_unet").to_str().unwrap(),
            &["--init-from", run.to_str().unwrap()],
        )),
        "model.kind",
    );
}
