use crate::util::{fixture, fno, tempdir};
use std::path::Path;

/// Runs `fno ARGS`: exit code 2, no panic, a message containing every
/// needle; returns the message.
fn refused(args: &[&str], needles: &[&str]) -> String {
    let out = fno(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?} should name {needle}: {stderr}"
        );
    }
    stderr
}

/// `fno train` with a config text and overrides into a fresh `--out`:
/// refused naming the needles, with nothing written.
fn train_refused(dir: &Path, config: &str, sets: &[&str], needles: &[&str]) -> String {
    let cfg = dir.join("my.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = dir.join("run");
    let data = fixture("1D_Advection_Sols_beta0.4.hdf5");
    let mut args = vec![
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    let stderr = refused(&args, needles);
    assert!(
        !out.exists(),
        "{sets:?}: a refused run wrote {}",
        out.display()
    );
    stderr
}

#[test]
fn a_toml_error_is_printed_once_at_the_users_line() {
    let dir = tempdir();
    let text = "[task]\nkind = \"one_shot\"\n\n[train]\nepoch = 3\n";
    for sets in [&[][..], &["train.lr=0.01"][..]] {
        let stderr = train_refused(dir.path(), text, sets, &["my.toml", "line 5", "epoch"]);
        assert_eq!(
            stderr.matches("unknown field `epoch`").count(),
            1,
            "{stderr}"
        );
    }
    let stderr = train_refused(
        dir.path(),
        "[train]\nepochs = 2\n",
        &["train.epoch=3"],
        &["--set train.epoch=3", "unknown field `epoch`"],
    );
    assert_eq!(stderr.matches("unknown field").count(), 1, "{stderr}");
}

#[test]
fn bad_numeric_settings_are_refused_by_name() {
    let dir = tempdir();
    for (set, setting) in [
        (
            "train.schedule={kind=\"step\",step_size=1,gamma=nan}",
            "train.schedule.gamma",
        ),
        (
            "train.schedule={kind=\"step\",step_size=0,gamma=0.5}",
            "train.schedule.step_size",
        ),
        (
            "train.schedule={kind=\"cosine\",min_lr=-1e-4}",
            "train.schedule.min_lr",
        ),
        ("train.optimizer.beta1=1.0", "train.optimizer.beta1"),
        ("train.optimizer.beta2=1.5", "train.optimizer.beta2"),
        ("train.optimizer.eps=0.0", "train.optimizer.eps"),
        (
            "train.optimizer.weight_decay=-0.1",
            "train.optimizer.weight_decay",
        ),
        ("train.lr=inf", "train.lr"),
        ("train.warmup_epochs=9", "train.warmup_epochs"),
        ("data.max_train_samples=0", "data.max_train_samples"),
        ("data.test_fraction=1.5", "data.test_fraction"),
        ("model.width=0", "model.width"),
        ("model.lifting_ratio=0", "model.lifting_ratio"),
        ("physics.w_ic=nan", "physics.w_ic"),
        ("train.threads=100000", "train.threads"),
    ] {
        train_refused(dir.path(), "[train]\nepochs = 2\n", &[set], &[setting]);
    }
}

#[test]
fn bad_numeric_flags_are_refused_by_name() {
    let h5 = fixture("1D_Advection_Sols_beta0.4.hdf5");
    let h5 = h5.to_str().unwrap();
    let run = ["--run", "no-such-run", "--data", h5];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            [&["eval"][..], &run, &["--samples", "0"]].concat(),
            "--samples",
        ),
        (
            [&["eval"][..], &run, &["--resolution", "0"]].concat(),
            "--resolution",
        ),
        (
            vec!["bench", "--threads", "100000", "--steps", "1"],
            "--threads",
        ),
        (vec!["bench", "--steps", "0"], "--steps"),
        (vec!["bench", "--dims", "4"], "--dims"),
        (
            vec!["generate", "advection", "--threads", "100000"],
            "--threads",
        ),
        (vec!["generate", "advection", "--samples", "0"], "--samples"),
        (
            [&["finetune"][..], &run, &["--sample", "0", "--lr", "nan"]].concat(),
            "--lr",
        ),
        (
            [&["finetune"][..], &run, &["--sample", "0", "--steps", "0"]].concat(),
            "--steps",
        ),
        (
            [&["finetune"][..], &run, &["--sample", "0", "--w-pde=-1"]].concat(),
            "--w-pde",
        ),
        (
            [&["inverse"][..], &run, &["--sample", "0", "--noise=-0.1"]].concat(),
            "--noise",
        ),
        (
            [&["inverse"][..], &run, &["--sample", "0", "--lr", "inf"]].concat(),
            "--lr",
        ),
        (vec!["inspect", h5, "--stat-samples", "0"], "--stat-samples"),
        (
            vec![
                "predict",
                "--run",
                "r",
                "--input",
                h5,
                "--out",
                "p.h5",
                "--resolution",
                "0",
            ],
            "--resolution",
        ),
        (vec!["quickstart", "--epochs", "0"], "--epochs"),
    ];
    for (args, flag) in cases {
        refused(&args, &[flag]);
    }
}
