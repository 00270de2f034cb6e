use crate::train::{train_args, write_config};
use crate::util::{
    checkpoint_dirs, checkpoint_file, fixture, fno, fno_with_fault, succeeded, tempdir,
};
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ENOSPC: &str = "No space left on device (os error 28)";

/// A tiny tmpfs mounted for one test, unmounted when dropped (also when the
/// test fails).
struct TinyFs {
    dir: PathBuf,
}

impl TinyFs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it) on a new
    /// directory `name` in `parent`; `None`, said on stderr, where mounting
    /// is not permitted (not root).
    fn mount(parent: &Path, name: &str, size: &str) -> Option<Self> {
        let dir = parent.join(name);
        std::fs::create_dir(&dir).unwrap();
        let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
        let options = CString::new(format!("size={size}")).unwrap();
        // SAFETY: every pointer is a NUL-terminated string that outlives the
        // call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                options.as_ptr().cast(),
            )
        };
        if rc != 0 {
            eprintln!(
                "skipped: cannot mount a tmpfs on {} ({}); the fault-injection tests cover the writers",
                dir.display(),
                std::io::Error::last_os_error()
            );
            return None;
        }
        Some(Self { dir })
    }

    /// Fills the file system, then frees about `leave` bytes.
    fn fill(&self, leave: u64) {
        let path = self.dir.join("fill");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0xA5u8; 4096];
        while file.write_all(&block).is_ok() {}
        let len = std::fs::metadata(&path).unwrap().len();
        file.set_len(len.saturating_sub(leave)).unwrap();
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let target = CString::new(self.dir.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; MNT_DETACH unmounts even if a
        // failed test left a file open.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks a command failed with exit code 2 and the full disk's reason,
/// naming a path that contains `path`.
fn failed_on_full_disk(out: &Output, path: &Path) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(ENOSPC), "no OS reason: {err}");
    assert!(
        err.contains(path.to_str().unwrap()),
        "{} not named: {err}",
        path.display()
    );
    assert_eq!(err.matches(ENOSPC).count(), 1, "reason repeated: {err}");
}

/// Every path under `dir` (files and directories), relative to it.
fn listing(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            found.push(
                path.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if path.is_dir() {
                todo.push(path);
            }
        }
    }
    found.sort();
    found
}

fn no_temporaries(dir: &Path) {
    let left = listing(dir);
    assert!(
        !left.iter().any(|p| p.ends_with(".tmp")),
        "temporary left in {}: {left:?}",
        dir.display()
    );
}

fn weights(run: &Path) -> Vec<Vec<u8>> {
    ["model.safetensors", "optimizer.safetensors"]
        .iter()
        .map(|f| std::fs::read(checkpoint_file(run, f)).unwrap())
        .collect()
}

/// A one-epoch tiny Darcy run in `dir/run` for the commands that read one.
fn tiny_run(dir: &Path) -> PathBuf {
    let config = write_config(dir);
    let run = dir.join("run");
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &["--set", "train.epochs=1"],
    )));
    run
}

fn darcy() -> String {
    fixture("2D_DarcyFlow_beta1.0_Train.hdf5")
        .to_str()
        .unwrap()
        .to_string()
}

/// The `n`-th file write of a run failing with ENOSPC, for every `n` a
/// two-epoch run reaches (config, normalizer, metrics lines, every file of
/// both checkpoints): each exits 2 naming the path and ENOSPC, leaves no
/// temporary and no unpublished checkpoint, and `--resume` then ends with
/// the weights of a run that never failed.
#[test]
fn an_injected_full_disk_at_any_write_of_train_is_reported_and_resumable() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let epochs = ["--set", "train.epochs=2"];
    let straight = dir.path().join("straight");
    succeeded(&fno(&train_args(
        config,
        straight.to_str().unwrap(),
        &epochs,
    )));
    let want = weights(&straight);
    let mut failures = 0;
    for n in 1.. {
        let run = dir.path().join(format!("full-{n}"));
        let run_s = run.to_str().unwrap();
        let out = fno_with_fault(
            &train_args(config, run_s, &epochs),
            &format!("disk-full:{n}"),
        );
        if out.status.success() {
            assert!(n > 5, "only {n} writes");
            break;
        }
        failures += 1;
        failed_on_full_disk(&out, &run);
        no_temporaries(&run);
        let committed = run.join("state.json").exists();
        let published = checkpoint_dirs(&run);
        assert_eq!(
            published.len(),
            usize::from(committed),
            "{n}: {published:?}"
        );
        let resume = ["--resume", "--set", "train.epochs=2"];
        succeeded(&fno(&train_args(config, run_s, &resume)));
        assert!(weights(&run) == want, "disk-full:{n}: weights differ");
        no_temporaries(&run);
    }
    assert!(failures > 5, "only {failures} writes failed");
}

/// On a real full file system: the first checkpoint that does not fit
/// fails naming its file and ENOSPC, leaves nothing half-written, and a
/// later checkpoint that does not fit keeps the previous one resumable.
#[test]
fn train_on_a_full_tmpfs_keeps_the_previous_checkpoint() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let Some(fs) = TinyFs::mount(dir.path(), "full", "1m") else {
        return;
    };
    fs.fill(48 * 1024);
    let run = fs.dir.join("first");
    let out = fno(&train_args(config, run.to_str().unwrap(), &[]));
    failed_on_full_disk(&out, &run);
    no_temporaries(&fs.dir);
    assert!(checkpoint_dirs(&run).is_empty() && !run.join("state.json").exists());

    // Room for one checkpoint (about 150 KiB) but not two.
    let Some(fs) = TinyFs::mount(dir.path(), "one", "224k") else {
        return;
    };
    let run = fs.dir.join("run");
    let out = fno(&train_args(config, run.to_str().unwrap(), &[]));
    failed_on_full_disk(&out, &run.join("checkpoint-2"));
    no_temporaries(&fs.dir);
    assert_eq!(checkpoint_dirs(&run), vec!["checkpoint-1"]);
    let elsewhere = dir.path().join("elsewhere");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&run)
        .arg(&elsewhere)
        .status()
        .unwrap();
    assert!(copied.success());
    let resumed = fno(&train_args(
        config,
        elsewhere.to_str().unwrap(),
        &["--resume", "--set", "train.epochs=2"],
    ));
    succeeded(&resumed);
    assert!(!stderr(&resumed).contains("no committed checkpoint"));
}

/// `fno predict` and `fno generate` onto a full tmpfs exit 2 naming the
/// file and ENOSPC (HDF5's buffered writes and its final flush are
/// checked), leave no temporary, and an earlier prediction stays intact.
#[test]
fn hdf5_writers_on_a_full_tmpfs_fail_and_leave_the_earlier_file() {
    let dir = tempdir();
    let run = tiny_run(dir.path());
    let Some(fs) = TinyFs::mount(dir.path(), "full", "512k") else {
        return;
    };
    let pred = fs.dir.join("pred.hdf5");
    let predict = |extra: &[&str]| {
        let mut args = vec![
            "predict",
            "--run",
            run.to_str().unwrap(),
            "--input",
            &darcy(),
            "--out",
            pred.to_str().unwrap(),
            "--quiet",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        fno(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    succeeded(&predict(&[]));
    let before = std::fs::read(&pred).unwrap();
    // Less room than one more prediction needs, more than HDF5's header.
    fs.fill(16 * 1024);
    let out = predict(&["--overwrite"]);
    failed_on_full_disk(&out, &pred);
    assert_eq!(
        std::fs::read(&pred).unwrap(),
        before,
        "earlier file changed"
    );
    no_temporaries(&fs.dir);

    let generated = fs.dir.join("generated");
    let out = fno(&[
        "generate",
        "advection",
        "--samples",
        "64",
        "--nx",
        "64",
        "--nt",
        "10",
        "--threads",
        "2",
        "--out",
        generated.to_str().unwrap(),
    ]);
    failed_on_full_disk(&out, &generated);
    no_temporaries(&fs.dir);
    assert!(listing(&generated).is_empty(), "{:?}", listing(&generated));
}

/// `fno finetune`, `fno inverse` and `fno eval` (its plots and
/// `eval.json`, in the run directory) on a full tmpfs: exit 2 naming the
/// file and ENOSPC, no temporary, the run's checkpoint untouched.
#[test]
fn reports_and_plots_on_a_full_tmpfs_fail_cleanly() {
    let dir = tempdir();
    let config = write_config(dir.path());
    let Some(fs) = TinyFs::mount(dir.path(), "full", "1m") else {
        return;
    };
    let run = fs.dir.join("run");
    let run_s = run.to_str().unwrap();
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run_s,
        &["--set", "train.epochs=1"],
    )));
    let state = std::fs::read(run.join("state.json")).unwrap();
    fs.fill(8 * 1024);
    let data = darcy();
    let finetune_out = fs.dir.join("finetune");
    let inverse_out = fs.dir.join("inverse");
    let commands: [(Vec<&str>, &Path); 3] = [
        (
            vec![
                "finetune",
                "--run",
                run_s,
                "--data",
                &data,
                "--sample",
                "0",
                "--steps",
                "1",
                "--out",
                finetune_out.to_str().unwrap(),
            ],
            &finetune_out,
        ),
        (
            vec![
                "inverse",
                "--run",
                run_s,
                "--data",
                &data,
                "--sample",
                "0",
                "--steps",
                "1",
                "--out",
                inverse_out.to_str().unwrap(),
            ],
            &inverse_out,
        ),
        (vec!["eval", "--run", run_s, "--data", &data], &run),
    ];
    for (args, written) in commands {
        let out = fno(&args);
        failed_on_full_disk(&out, written);
        no_temporaries(&fs.dir);
    }
    assert_eq!(std::fs::read(run.join("state.json")).unwrap(), state);
    assert!(checkpoint_file(&run, "model.safetensors").exists());
}

/// `fno finetune` and `fno inverse` refuse a non-empty output directory
/// (their default one included) unless `--overwrite`, changing nothing.
#[test]
fn finetune_and_inverse_refuse_a_non_empty_out_without_overwrite() {
    let dir = tempdir();
    let run = tiny_run(dir.path());
    let run_s = run.to_str().unwrap();
    let data = darcy();
    for command in ["finetune", "inverse"] {
        let args = [
            command, "--run", run_s, "--data", &data, "--sample", "1", "--steps", "1",
        ];
        succeeded(&fno(&args));
        let default_dir = run.join(format!("{command}-1"));
        let before = listing(&default_dir);
        assert!(!before.is_empty());
        let out = fno(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("is not empty: pass --overwrite to replace it, or choose another --out"),
            "{err}"
        );
        assert_eq!(listing(&default_dir), before);
        succeeded(&fno(&[&args[..], &["--overwrite"]].concat()));

        let mine = dir.path().join(format!("{command}-mine"));
        std::fs::create_dir(&mine).unwrap();
        std::fs::write(mine.join("notes.txt"), b"keep").unwrap();
        let out = fno(&[&args[..], &["--out", mine.to_str().unwrap()]].concat());
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(listing(&mine), vec!["notes.txt"]);
    }
}

/// `fno predict --overwrite` onto a directory is refused before anything
/// is written: no stray `.tmp` beside it.
#[test]
fn predict_onto_a_directory_is_refused_without_a_temporary() {
    let dir = tempdir();
    let run = tiny_run(dir.path());
    let target = dir.path().join("out");
    std::fs::create_dir_all(target.join("inside")).unwrap();
    let out = fno(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--input",
        &darcy(),
        "--out",
        target.to_str().unwrap(),
        "--overwrite",
        "--quiet",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a directory"), "{err}");
    assert!(!dir.path().join("out.tmp").exists());
}

/// The same without a tmpfs: an injected ENOSPC at the first and second
/// file write of `fno eval`, `fno finetune` and `fno inverse` (plots and
/// JSON reports) exits 2 naming the file, with no temporary left and the
/// run untouched.
#[test]
fn an_injected_full_disk_fails_eval_finetune_and_inverse_cleanly() {
    let dir = tempdir();
    let run = tiny_run(dir.path());
    let run_s = run.to_str().unwrap();
    let data = darcy();
    let state = std::fs::read(run.join("state.json")).unwrap();
    for n in 1..=2 {
        for command in ["eval", "finetune", "inverse"] {
            let out_dir = dir.path().join(format!("{command}-{n}"));
            let mut args = vec![command, "--run", run_s, "--data", &data];
            let written = if command == "eval" {
                run.as_path()
            } else {
                let out = out_dir.to_str().unwrap();
                args.extend(["--sample", "0", "--steps", "1", "--out", out]);
                out_dir.as_path()
            };
            let out = fno_with_fault(&args, &format!("disk-full:{n}"));
            failed_on_full_disk(&out, written);
            no_temporaries(dir.path());
        }
    }
    assert_eq!(std::fs::read(run.join("state.json")).unwrap(), state);
}
