use crate::util::{fixture, fno, tempdir};
use std::path::{Path, PathBuf};

/// Trains a tiny run of task `kind` (`one_shot` or `inverse`) on a shared
/// file and returns its directory.
fn train(
    dir: &Path,
    name: &str,
    kind: &str,
    file: &str,
    resolution: usize,
    epochs: usize,
) -> PathBuf {
    let config = dir.join(format!("{name}.toml"));
    let text = format!(
        r#"[data]
train = {:?}
reduced_resolution = {resolution}
test_fraction = 0.25

[task]
kind = "{kind}"

[model]
modes = [4]
width = 8
layers = 2

[train]
epochs = {epochs}
batch_size = 4
lr = 3e-3
threads = 2
"#,
        fixture(file).display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let run = dir.join(name);
    let out = fno(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run
}

fn inverse(run: &Path, file: &str, extra: &[&str]) -> std::process::Output {
    let data = fixture(file);
    let mut args = vec![
        "inverse",
        "--run",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    fno(&args)
}

fn ok_json(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Total loss of the first and last iteration in history.jsonl.
fn first_and_last_loss(dir: &Path) -> (f64, f64, usize) {
    let text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let totals: Vec<f64> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["values"]["total"].as_f64().unwrap()
        })
        .collect();
    (totals[0], *totals.last().unwrap(), totals.len())
}

const DARCY: &str = "2D_DarcyFlow_beta1.0_Train.hdf5";
const ADVECTION: &str = "1D_Advection_Sols_beta0.4.hdf5";

/// Darcy coefficient from sparse noisy observations: the loss falls, the
/// coefficient stays within the bounds of the file's two values and is
/// binarised, the solver checks it, and every output file is written.
#[test]
fn darcy_coefficient_is_recovered_within_bounds() {
    let dir = tempdir();
    let run = train(dir.path(), "darcy", "one_shot", DARCY, 4, 10);
    let out_dir = dir.path().join("inv");
    let report = ok_json(&inverse(
        &run,
        DARCY,
        &[
            "--sample",
            "1",
            "--observe",
            "sparse:0.5",
            "--noise",
            "0.05",
            "--steps",
            "30",
            "--lbfgs-steps",
            "5",
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
        ],
    ));
    let (first, last, n) = first_and_last_loss(&out_dir);
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    assert!(n > 30, "L-BFGS iterations are recorded: {n}");
    assert_eq!(report["observed_points"], 128, "half of 16x16");
    assert_eq!(report["total_points"], 256);
    assert_eq!(report["binarized"], true);
    assert_eq!(report["bounds"]["lo"].as_f64().unwrap() as f32, 0.1);
    assert_eq!(report["bounds"]["hi"].as_f64().unwrap() as f32, 1.0);
    assert_eq!(report["regularizer"], "tv");
    let rel = report["relative_l2"].as_f64().unwrap();
    assert!(rel.is_finite() && rel < 1.0, "{rel}");
    assert!(report["misfit"].as_f64().unwrap() < report["initial_misfit"].as_f64().unwrap());
    assert!(report["misfit_of_truth"].as_f64().unwrap().is_finite());
    assert_eq!(report["solver"]["solver"]["pde"], "darcy");
    assert!(report["solver"]["misfit"].as_f64().unwrap().is_finite());
    assert!(report["solver"]["speedup"].as_f64().unwrap() > 0.0);
    for f in [
        "inverse.json",
        "history.jsonl",
        "recovered.png",
        "observations.png",
        "misfit.png",
    ] {
        assert!(out_dir.join(f).exists(), "{f}");
    }

    // The physics term: reported under its weight, of order one at the
    // neutral start (the forcing's scale), and lowered by the descent.
    let pde_dir = dir.path().join("inv-pde");
    let with_pde = ok_json(&inverse(
        &run,
        DARCY,
        &[
            "--sample",
            "1",
            "--steps",
            "20",
            "--pde-weight",
            "1",
            "--out",
            pde_dir.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(with_pde["pde_weight"], 1.0);
    let pde_values: Vec<f64> = std::fs::read_to_string(pde_dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let terms = v["values"]["terms"].as_array().unwrap().clone();
            let pde = terms.iter().find(|t| t[0] == "pde").expect("a pde term");
            assert_eq!(pde[1], 1.0);
            pde[2].as_f64().unwrap()
        })
        .collect();
    let (first, last) = (pde_values[0], *pde_values.last().unwrap());
    assert!(
        first.is_finite() && last.is_finite() && last < first,
        "{first} -> {last}"
    );

    // A learned inverse operator (coefficient from solution), alone and
    // refined through the forward run; refining lowers the misfit.
    let learned = train(dir.path(), "learned", "inverse", DARCY, 4, 10);
    let alone = ok_json(&inverse(
        &learned,
        DARCY,
        &["--sample", "1", "--method", "learned", "--json"],
    ));
    assert_eq!(alone["method"], "learned");
    assert!(alone["misfit"].is_null() && alone["forward_run"].is_null());
    assert!(alone["relative_l2"].as_f64().unwrap().is_finite());
    assert!(learned.join("inverse-1").join("inverse.json").exists());
    let refined = ok_json(&inverse(
        &learned,
        DARCY,
        &[
            "--sample",
            "1",
            "--method",
            "learned",
            "--forward-run",
            run.to_str().unwrap(),
            "--finetune-steps",
            "20",
            "--lr",
            "0.3",
            "--reg",
            "none",
            "--overwrite",
            "--json",
        ],
    ));
    assert!(
        refined["misfit"].as_f64().unwrap() <= refined["initial_misfit"].as_f64().unwrap(),
        "{refined}"
    );
    assert_eq!(refined["optimizer"]["steps"], 20);
    // Each run must be the kind its role needs, and refining needs a
    // forward run.
    for (args, needle) in [
        (vec!["--method", "learned"], "inverse"),
        (vec!["--finetune-steps", "5"], "--method learned"),
    ] {
        let mut a = vec!["--sample", "1"];
        a.extend(args);
        let out = inverse(&run, DARCY, &a);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }
    let out = inverse(
        &learned,
        DARCY,
        &[
            "--sample",
            "1",
            "--method",
            "learned",
            "--finetune-steps",
            "5",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--forward-run"), "{stderr}");
}

/// With the residual read on a full, noise-free observation that is an
/// exact discrete solution (the shared Darcy file at its own 64×64 grid),
/// the coefficient is determined by the equation itself: the recovery is
/// near exact even through a one-epoch surrogate, which alone recovers it
/// poorly.
#[test]
fn darcy_equation_error_on_the_observation_recovers_the_coefficient() {
    let dir = tempdir();
    let run = train(dir.path(), "darcy64", "one_shot", DARCY, 1, 1);
    let recover = |name: &str, extra: &[&str]| {
        let out_dir = dir.path().join(name);
        let mut args = vec![
            "--sample",
            "2",
            "--steps",
            "800",
            "--lr",
            "0.2",
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        ok_json(&inverse(&run, DARCY, &args))
    };
    let plain = recover("plain", &[]);
    let physics = recover(
        "observed",
        &["--pde-weight", "1", "--pde-output", "observed"],
    );
    assert_eq!(physics["pde_output"], "observed");
    assert_eq!(plain["pde_output"], "predicted");
    let (with, without) = (
        physics["relative_l2"].as_f64().unwrap(),
        plain["relative_l2"].as_f64().unwrap(),
    );
    assert!(with < 0.05, "equation error: {with}");
    assert!(
        without > 2.0 * with,
        "surrogate alone {without}, with the equation {with}"
    );
}

/// Advection initial condition from given points of the final state, with
/// H1 smoothing; then every bad flag is refused with exit code 2 and a
/// message naming it, and a failed call leaves the earlier report intact.
#[test]
fn advection_initial_condition_and_bad_flags() {
    let dir = tempdir();
    let run = train(dir.path(), "adv", "one_shot", ADVECTION, 4, 3);
    let points = dir.path().join("points.csv");
    let lines: String = (0..64).step_by(3).map(|i| format!("{i}\n")).collect();
    std::fs::write(&points, format!("# i\n{lines}")).unwrap();
    let observe = format!("points:{}", points.display());
    let out_dir = dir.path().join("inv");
    let report = ok_json(&inverse(
        &run,
        ADVECTION,
        &[
            "--sample",
            "2",
            "--observe",
            &observe,
            "--noise",
            "0.01",
            "--steps",
            "40",
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
        ],
    ));
    let (first, last, _) = first_and_last_loss(&out_dir);
    assert!(last < first, "loss {first} -> {last}");
    assert_eq!(report["observed_points"], 22);
    assert_eq!(report["regularizer"], "h1");
    assert_eq!(report["binarized"], false);
    assert!(report["bounds"].is_null());
    assert_eq!(report["solver"]["solver"]["pde"], "advection");
    let elapsed = report["solver"]["solver"]["elapsed"].as_f64().unwrap();
    assert!((elapsed - 2.0).abs() < 1e-9, "{elapsed}");
    let saved = std::fs::read(out_dir.join("inverse.json")).unwrap();

    let out_s = out_dir.to_str().unwrap().to_owned();
    let with_out = |flags: &[&str]| {
        let mut v = flags.to_vec();
        // Over the earlier report, which no failed call may touch.
        v.extend_from_slice(&["--out", &out_s, "--overwrite"]);
        inverse(&run, ADVECTION, &v)
    };
    for (flags, needle) in [
        (
            &["--sample", "0", "--observe", "sparse:1.5"][..],
            "sparse:1.5",
        ),
        (
            &["--sample", "0", "--observe", "sparse:abc"][..],
            "not a number",
        ),
        (&["--sample", "16"][..], "--sample 16"),
        (&["--sample", "0", "--noise=-1"][..], "--noise"),
        (&["--sample", "0", "--lr", "0"][..], "--lr"),
        (&["--sample", "0", "--reg-weight=-1"][..], "--reg-weight"),
        (&["--sample", "0", "--pde-weight=-1"][..], "--pde-weight"),
        (
            &["--sample", "0", "--pde-output", "observed"][..],
            "--pde-weight",
        ),
        (
            &["--sample", "0", "--pde-output", "both"][..],
            "predicted or observed",
        ),
        (&["--sample", "0", "--sharpen", "0.5"][..], "--sharpen"),
        // An initial condition has no residual of a one-shot pair.
        (&["--sample", "0", "--pde-weight", "1"][..], "stationary"),
        (
            &["--sample", "0", "--observe", "points:/nonexistent.csv"][..],
            "nonexistent.csv",
        ),
    ] {
        let out = with_out(flags);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(needle), "{flags:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    std::fs::write(&points, "3\n64\n").unwrap();
    let out = with_out(&["--sample", "0", "--observe", &observe]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("line 2") && stderr.contains("outside"),
        "{stderr}"
    );

    // The wrong run: a 1D advection run cannot invert a 2D Darcy file, and
    // a directory that holds no run is named.
    let out = inverse(
        &run,
        DARCY,
        &["--sample", "0", "--out", &out_s, "--overwrite"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("does not fit"), "{stderr}");
    let out = inverse(
        dir.path(),
        ADVECTION,
        &["--sample", "0", "--out", &out_s, "--overwrite"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("loading the run"), "{stderr}");
    assert_eq!(std::fs::read(out_dir.join("inverse.json")).unwrap(), saved);
}
