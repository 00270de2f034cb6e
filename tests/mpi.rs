use crate::finetune::hybrid_config;
use crate::train::{train_args, write_config};
use crate::util::{checkpoint_file, fno, succeeded, tempdir};
use std::path::Path;
use std::process::{Command, Output};

/// Runs `fno ARGS` as `ranks` processes under Open MPI's launcher, as CI
/// (root, 2 cores) allows; with `FNO_TEST_LAUNCHER=srun`, under Slurm's
/// `srun` instead (on a node of a running Slurm with PMIx, e.g. the one
/// `scripts/slurm-node.sh` starts), so the same tests check the other
/// launcher.
fn mpirun(ranks: usize, args: &[&str]) -> Output {
    let mut command = if under_srun() {
        let mut srun = Command::new("srun");
        srun.args(["--mpi=pmix", "--overcommit", "--ntasks"]);
        srun
    } else {
        let mut mpirun = Command::new("mpirun");
        mpirun.args([
            "--oversubscribe",
            "--allow-run-as-root",
            "--bind-to",
            "none",
            "-np",
        ]);
        mpirun
    };
    command
        .arg(ranks.to_string())
        .arg(env!("CARGO_BIN_EXE_fno"))
        .args(args)
        .output()
        .expect("running the launcher (Open MPI's mpirun, installed by scripts/setup.sh)")
}

/// Whether the tests launch through Slurm's `srun` (`FNO_TEST_LAUNCHER=srun`).
fn under_srun() -> bool {
    std::env::var("FNO_TEST_LAUNCHER").as_deref() == Ok("srun")
}

/// The largest relative difference between two runs' weights, over every
/// tensor of `file` in their last checkpoints.
fn weight_difference(a: &Path, b: &Path, file: &str) -> f64 {
    let load = |run: &Path| {
        candle_core::safetensors::load(checkpoint_file(run, file), &candle_core::Device::Cpu)
            .unwrap()
    };
    let (a, b) = (load(a), load(b));
    assert_eq!(a.len(), b.len());
    let mut worst = 0.0f64;
    for (name, x) in &a {
        let x = x
            .flatten_all()
            .unwrap()
            .to_dtype(candle_core::DType::F64)
            .unwrap();
        let y = b[name]
            .flatten_all()
            .unwrap()
            .to_dtype(candle_core::DType::F64)
            .unwrap();
        let diff = (&x - &y).unwrap().sqr().unwrap().sum_all().unwrap();
        let norm = y.sqr().unwrap().sum_all().unwrap();
        let (diff, norm) = (
            diff.to_scalar::<f64>().unwrap().sqrt(),
            norm.to_scalar::<f64>().unwrap().sqrt(),
        );
        worst = worst.max(diff / norm.max(1e-30));
    }
    worst
}

/// Checks run `a` ended within 1e-5 (relative) of run `b` in every tensor
/// of `files`, with each epoch's training loss within 1e-6: AdamW would
/// hide a gradient off by a constant factor; the losses would not.
fn assert_trained_alike(a: &Path, b: &Path, files: &[&str]) {
    for file in files {
        let d = weight_difference(a, b, file);
        assert!(d < 1e-5, "{file}: relative difference {d}");
    }
    let (la, lb) = (train_losses(a), train_losses(b));
    assert_eq!(la.len(), lb.len());
    for (x, y) in la.iter().zip(&lb) {
        assert!((x - y).abs() <= 1e-6 * y.abs(), "{la:?} vs {lb:?}");
    }
}

/// Checks a job failed within 30 s of `started`, its stderr containing
/// every needle.
fn failed_quickly(out: &Output, started: std::time::Instant, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
}

/// Each epoch's training loss from `metrics.jsonl`.
fn train_losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["train_loss"]
                .as_f64()
                .unwrap()
        })
        .collect()
}

fn state(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).unwrap()).unwrap()
}

/// Two ranks train the same model as one process: the same samples per
/// step (9 training samples in batches of 4, so the last batch reaches
/// only one rank), the same steps, weights equal up to the order of the
/// gradient sums. Only rank 0 writes and prints.
#[test]
fn two_ranks_train_like_one_process() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let set = [
        "--set",
        "train.epochs=3",
        "--set",
        "data.max_train_samples=9",
    ];
    let one = dir.path().join("one");
    succeeded(&fno(&train_args(config, one.to_str().unwrap(), &set)));
    let two = dir.path().join("two");
    let out = mpirun(2, &train_args(config, two.to_str().unwrap(), &set));
    succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("parameters").count(), 1, "{stdout}");
    assert_trained_alike(&two, &one, &["model.safetensors", "optimizer.safetensors"]);
    assert_eq!(train_losses(&one).len(), 3);
    let (s1, s2) = (state(&one), state(&two));
    assert_eq!(
        (s1["epoch"].clone(), s1["step"].clone()),
        (s2["epoch"].clone(), s2["step"].clone())
    );
    assert_eq!(s2["step"], 9);
}

/// Physics terms and unlabelled samples under data parallelism: each
/// rank's labelled and unlabelled samples weigh as in the whole batch.
#[test]
fn two_ranks_train_a_hybrid_space_time_model_like_one_process() {
    let dir = tempdir();
    let config = hybrid_config(dir.path());
    let config = config.to_str().unwrap();
    let one = dir.path().join("one");
    succeeded(&fno(&train_args(config, one.to_str().unwrap(), &[])));
    let two = dir.path().join("two");
    succeeded(&mpirun(2, &train_args(config, two.to_str().unwrap(), &[])));
    assert_trained_alike(&two, &one, &["model.safetensors"]);
}

/// Fine-tuning with a frozen trunk under data parallelism: every rank
/// drops the same gradients, so the trunk stays exactly the pretrained one
/// through the frozen epoch (also across a resume on two ranks), and then
/// the job trains like one process.
#[test]
fn two_ranks_fine_tune_with_a_frozen_trunk_like_one_process() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let pre = dir.path().join("pre");
    let pre = pre.to_str().unwrap();
    succeeded(&fno(&train_args(config, pre, &["--set", "train.epochs=1"])));
    let tune = |epochs: &'static str| {
        vec![
            "--init-from",
            pre,
            "--set",
            "train.freeze_trunk_epochs=1",
            "--set",
            epochs,
        ]
    };
    let one = dir.path().join("one");
    succeeded(&fno(&train_args(
        config,
        one.to_str().unwrap(),
        &tune("train.epochs=2"),
    )));
    let two = dir.path().join("two");
    let two_path = two.to_str().unwrap();
    succeeded(&mpirun(
        2,
        &train_args(config, two_path, &tune("train.epochs=1")),
    ));
    let blocks = |run: &Path, file: &str| {
        let mut all: Vec<(String, Vec<f32>)> =
            candle_core::safetensors::load(checkpoint_file(run, file), &candle_core::Device::Cpu)
                .unwrap()
                .into_iter()
                .filter(|(name, _)| name.starts_with("blocks."))
                .map(|(name, t)| (name, t.flatten_all().unwrap().to_vec1().unwrap()))
                .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    };
    assert_eq!(
        blocks(&two, "model.safetensors"),
        blocks(Path::new(pre), "best.safetensors")
    );
    let mut resume = vec!["--resume"];
    resume.extend(tune("train.epochs=2"));
    succeeded(&mpirun(2, &train_args(config, two_path, &resume)));
    assert_ne!(
        blocks(&two, "model.safetensors"),
        blocks(Path::new(pre), "best.safetensors")
    );
    assert_trained_alike(&two, &one, &["model.safetensors", "optimizer.safetensors"]);
}

/// A global batch the ranks cannot share evenly is refused on every rank,
/// naming both numbers, before anything is written.
#[test]
fn a_batch_the_ranks_cannot_share_is_refused() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    let out = mpirun(
        3,
        &train_args(
            config.to_str().unwrap(),
            run.to_str().unwrap(),
            &["--set", "train.epochs=1"],
        ),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("train.batch_size")
            && stderr.contains("4 samples")
            && stderr.contains("3 processes"),
        "{stderr}"
    );
    assert!(stderr.contains("rank 0 of 3"), "{stderr}");
    assert!(!run.join("state.json").exists());
}

/// Runs a two-rank job whose ranks get different environments or
/// arguments (Open MPI's `A : B` form, or `srun --multi-prog`): rank 0
/// runs `rank0`, rank 1 runs `rank1`, each a command line starting with
/// the program.
fn mpirun_each(rank0: &[&str], rank1: &[&str]) -> Output {
    if under_srun() {
        let dir = tempdir();
        let programs = dir.path().join("ranks.conf");
        let line = |rank: usize, words: &[&str]| format!("{rank} {}\n", words.join(" "));
        std::fs::write(&programs, line(0, rank0) + &line(1, rank1)).unwrap();
        return Command::new("srun")
            .args([
                "--mpi=pmix",
                "--overcommit",
                "--ntasks",
                "2",
                "--multi-prog",
            ])
            .arg(&programs)
            .output()
            .expect("running srun");
    }
    Command::new("mpirun")
        .args([
            "--oversubscribe",
            "--allow-run-as-root",
            "--bind-to",
            "none",
            "-np",
            "1",
        ])
        .args(rank0)
        .args([":", "-np", "1"])
        .args(rank1)
        .output()
        .expect("running mpirun")
}

/// A rank that cannot read its data ends the whole job: every rank exits,
/// the message names the failing rank and the file, nothing is written.
#[test]
fn a_rank_that_fails_ends_every_rank() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    let args = train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &["--set", "train.epochs=1"],
    );
    let missing = dir.path().join("absent.hdf5");
    let mut bad = args.clone();
    bad.extend(["--data", missing.to_str().unwrap()]);
    let fno_bin = env!("CARGO_BIN_EXE_fno");
    let started = std::time::Instant::now();
    let out = mpirun_each(
        &[[fno_bin].as_slice(), &args].concat(),
        &[[fno_bin].as_slice(), &bad].concat(),
    );
    failed_quickly(&out, started, &["rank 1 of 2", "absent.hdf5"]);
    assert!(!run.join("state.json").exists());
}

/// Rank 0 killed (SIGKILL-like abort) just after publishing its second
/// checkpoint: the job ends, naming the rank; resumed on two ranks it ends
/// with the weights of an uninterrupted two-rank run, bit for bit (the
/// same ranks sum the same parts in the same order).
#[test]
fn a_killed_rank_ends_the_job_and_the_run_resumes_exactly() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let set = ["--set", "train.epochs=3"];
    let straight = dir.path().join("straight");
    succeeded(&mpirun(
        2,
        &train_args(config, straight.to_str().unwrap(), &set),
    ));
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let args = train_args(config, run_s, &set);
    let fno_bin = env!("CARGO_BIN_EXE_fno");
    let out = mpirun_each(
        &[
            [
                "env",
                "FNO_FAULT_INJECT=checkpoint:after-publish:2",
                fno_bin,
            ]
            .as_slice(),
            &args,
        ]
        .concat(),
        &[[fno_bin].as_slice(), &args].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // The killed rank cannot speak; its launcher names it: mpirun as
    // "rank 0", srun as "task 0".
    let named = if under_srun() { "task 0" } else { "rank 0" };
    assert!(stderr.contains(named), "{stderr}");
    assert_eq!(state(&run)["epoch"], 2);
    succeeded(&mpirun(
        2,
        &train_args(config, run_s, &["--resume", "--set", "train.epochs=3"]),
    ));
    for file in ["model.safetensors", "optimizer.safetensors"] {
        assert_eq!(
            std::fs::read(checkpoint_file(&run, file)).unwrap(),
            std::fs::read(checkpoint_file(&straight, file)).unwrap(),
            "{file}"
        );
    }
}

/// A rank that stops answering without dying (rank 0 hangs after
/// publishing its first checkpoint) does not hang the job: the other
/// rank's next collective gives up after FNO_MPI_TIMEOUT seconds, names
/// itself and the variable, and ends the job; the checkpoint stays.
#[test]
fn a_rank_that_stops_answering_times_out() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    let args = train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &["--set", "train.epochs=3"],
    );
    let fno_bin = env!("CARGO_BIN_EXE_fno");
    let started = std::time::Instant::now();
    let out = mpirun_each(
        &[
            [
                "env",
                "FNO_MPI_TIMEOUT=2",
                "FNO_FAULT_INJECT=hang:after-publish:1",
                fno_bin,
            ]
            .as_slice(),
            &args,
        ]
        .concat(),
        &[["env", "FNO_MPI_TIMEOUT=2", fno_bin].as_slice(), &args].concat(),
    );
    failed_quickly(&out, started, &["rank 1 of 2", "FNO_MPI_TIMEOUT"]);
    assert_eq!(state(&run)["epoch"], 1);
}

/// The sample order is global, so a run started on two ranks resumes on
/// one and ends where a one-process run ends.
#[test]
fn a_run_resumes_on_another_number_of_ranks() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let one = dir.path().join("one");
    succeeded(&fno(&train_args(
        config,
        one.to_str().unwrap(),
        &["--set", "train.epochs=3"],
    )));
    let mixed = dir.path().join("mixed");
    let mixed_s = mixed.to_str().unwrap();
    succeeded(&mpirun(
        2,
        &train_args(config, mixed_s, &["--set", "train.epochs=2"]),
    ));
    succeeded(&fno(&train_args(
        config,
        mixed_s,
        &["--resume", "--set", "train.epochs=3"],
    )));
    let d = weight_difference(&mixed, &one, "model.safetensors");
    assert!(d < 1e-5, "relative difference {d}");
    assert_eq!(state(&mixed)["step"], state(&one)["step"]);
}

/// The numbers of two `eval.json` reports, compared to a relative 1e-6:
/// the ranks' sums are added in another order than one process adds them.
fn assert_same_report(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-6 * y.abs().max(1e-12),
                "{at}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_same_report(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(x), keys(y), "{at}");
            for (k, v) in x {
                if k != "plots" {
                    assert_same_report(v, &y[k], &format!("{at}.{k}"));
                }
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// `fno eval` on 2 and 3 ranks (each predicting its part of every batch of
/// 4, so 2+2 and 1+1+2) reports the metrics of one process, at the
/// training grid and zero-shot at 4x; rank 0 alone prints and writes.
#[test]
fn evaluation_on_several_ranks_equals_one_process() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run_s,
        &["--set", "train.epochs=2"],
    )));
    let data = crate::util::fixture("2D_DarcyFlow_beta1.0_Train.hdf5");
    let args = [
        "eval",
        "--run",
        run_s,
        "--data",
        data.to_str().unwrap(),
        "--resolution",
        "64",
        "--json",
    ];
    let one = fno(&args);
    succeeded(&one);
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(one["samples"], 4);
    for ranks in [2, 3] {
        std::fs::remove_file(run.join("eval.json")).unwrap();
        let out = mpirun(ranks, &args);
        succeeded(&out);
        let many: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{ranks} ranks printed more than one report: {e}"));
        assert_same_report(&many, &one, &format!("{ranks} ranks"));
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
        assert_same_report(&written, &one, "eval.json");
    }
}

/// Three ranks share a global batch of 3 (one sample each) and train as
/// one process does, with the training samples transformed by symmetries
/// (`train.augment`): each sample draws its transform by its own index,
/// whichever rank reads it.
#[test]
fn three_ranks_train_like_one_process() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let set = [
        "--set",
        "train.epochs=2",
        "--set",
        "train.batch_size=3",
        "--set",
        r#"train.augment=["transpose","flip"]"#,
    ];
    let one = dir.path().join("one");
    succeeded(&fno(&train_args(config, one.to_str().unwrap(), &set)));
    let three = dir.path().join("three");
    succeeded(&mpirun(
        3,
        &train_args(config, three.to_str().unwrap(), &set),
    ));
    assert_trained_alike(
        &three,
        &one,
        &["model.safetensors", "optimizer.safetensors"],
    );
    assert_eq!(state(&three)["step"], state(&one)["step"]);
}

/// `fno bench` under mpirun times the data-parallel step (each rank on its
/// half of the batch) with its all-reduce, and refuses a batch the ranks
/// cannot share, naming `--batch`.
#[test]
fn bench_times_the_data_parallel_step_and_its_all_reduce() {
    let tiny = [
        "bench", "--dims", "1", "--size", "32", "--width", "4", "--modes", "4", "--layers", "1",
        "--steps", "2", "--json", "--batch",
    ];
    let out = mpirun(2, &[&tiny[..], &["4"]].concat());
    succeeded(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("one report from rank 0: {e}"));
    assert_eq!(report["ranks"], 2);
    assert_eq!(
        report["collectives"], "mpi",
        "CPU gradients travel over MPI"
    );
    let (step, reduce) = (
        report["train_step_ms"].as_f64().unwrap(),
        report["all_reduce_ms"].as_f64().unwrap(),
    );
    assert!(reduce > 0.0 && reduce < step, "{report}");
    let out = mpirun(2, &[&tiny[..], &["3"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--batch 3") && stderr.contains("2 processes"),
        "{stderr}"
    );
}
