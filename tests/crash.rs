use crate::train::{train_args, write_config};
use crate::util::{
    checkpoint_dirs, checkpoint_file, fno, fno_with_fault, snapshot, succeeded, tempdir,
};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The tiny run of these tests: the Darcy config of `train::write_config`
/// (width 8, modes 4, batch 4) for 3 epochs.
const EPOCHS: &str = "train.epochs=3";

/// What an uninterrupted run and a resumed one must agree on bit for bit.
fn outcome(run: &Path) -> Vec<Vec<u8>> {
    [
        "model.safetensors",
        "best.safetensors",
        "optimizer.safetensors",
    ]
    .iter()
    .map(|f| std::fs::read(checkpoint_file(run, f)).unwrap())
    .collect()
}

/// Kills a tiny run at every occurrence of every injection point of the
/// checkpoint writer (after each file's write, before and after each
/// fsync, before and after the publishing rename of `state.json`, before
/// the previous checkpoint's removal), resumes it, and checks the final
/// weights, best weights and optimizer state equal an uninterrupted run's
/// bit for bit, with one checkpoint directory left.
#[test]
fn a_kill_anywhere_in_a_checkpoint_resumes_to_the_same_weights() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let straight = dir.path().join("straight");
    succeeded(&fno(&train_args(
        config,
        straight.to_str().unwrap(),
        &["--set", EPOCHS],
    )));
    let want = outcome(&straight);
    let points = [
        "written",
        "before-fsync",
        "after-fsync",
        "before-publish",
        "after-publish",
        "before-remove",
    ];
    let mut kills = 0;
    for point in points {
        for n in 1.. {
            let run = dir.path().join(format!("{point}-{n}"));
            let run_s = run.to_str().unwrap();
            let fault = format!("checkpoint:{point}:{n}");
            let out = fno_with_fault(&train_args(config, run_s, &["--set", EPOCHS]), &fault);
            if out.status.success() {
                // The point occurs fewer than n times in a run: all tried.
                assert!(n > 1, "{point} never reached");
                break;
            }
            assert_eq!(out.status.code(), None, "{fault}: killed, not failed");
            kills += 1;
            let committed = run.join("state.json").exists();
            let out = fno(&train_args(config, run_s, &["--resume", "--set", EPOCHS]));
            succeeded(&out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                stderr.contains("no committed checkpoint"),
                !committed,
                "{fault}: {stderr}"
            );
            assert!(outcome(&run) == want, "{fault}: weights differ");
            assert_eq!(checkpoint_dirs(&run), vec!["checkpoint-3"], "{fault}");
            std::fs::remove_dir_all(&run).unwrap();
        }
    }
    assert!(kills > 30, "only {kills} kills");
}

/// A second writer is refused while the lock is held (here by the test
/// itself), naming the holder, and changes nothing.
#[test]
fn a_locked_run_is_refused_naming_the_holder() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join(".lock"), b"4242").unwrap();
    let lock = std::fs::File::open(run.join(".lock")).unwrap();
    // SAFETY: flock on a descriptor the test owns.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0);
    for extra in [&[][..], &["--resume"][..]] {
        let out = fno(&train_args(config, run.to_str().unwrap(), extra));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is in use by process 4242"), "{stderr}");
        assert!(snapshot(&run).is_empty(), "nothing written");
    }
    drop(lock);
    succeeded(&fno(&train_args(
        config,
        run.to_str().unwrap(),
        &["--set", "train.epochs=1"],
    )));
}

/// A resume that fails, on a setting the saved weights cannot take or on
/// a learning rate that diverges, leaves every file as it was.
#[test]
fn a_failed_resume_changes_nothing() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    succeeded(&fno(&train_args(
        config,
        run_s,
        &["--set", "train.epochs=1"],
    )));
    let before = snapshot(&run);
    for set in ["model.width=16", "train.lr=1e30"] {
        let out = fno(&[
            "train", "--out", run_s, "--quiet", "--resume", "--set", set, "--set", EPOCHS,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{set}: {stderr}");
        assert!(snapshot(&run) == before, "{set} changed the run");
    }
    succeeded(&fno(&["train", "--out", run_s, "--quiet", "--resume"]));
}

/// A fresh run refuses a directory that is not empty unless told to
/// overwrite; overwriting removes the earlier run's files, not others.
#[test]
fn a_fresh_run_into_a_non_empty_directory_needs_overwrite() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("metrics.jsonl"), b"{\"epoch\":0}\n").unwrap();
    std::fs::write(run.join("notes.txt"), b"mine").unwrap();
    let before = snapshot(&run);
    let out = fno(&train_args(config, run_s, &["--set", "train.epochs=1"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not empty") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert!(snapshot(&run) == before);
    succeeded(&fno(&train_args(
        config,
        run_s,
        &["--set", "train.epochs=1", "--overwrite"],
    )));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 1, "{metrics}");
    assert_eq!(std::fs::read(run.join("notes.txt")).unwrap(), b"mine");
}
