use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

/// The venv `scripts/setup.sh` creates (maturin, numpy, pytest,
/// matplotlib); `.complete` marks a finished one.
fn python_env(root: &Path) -> std::path::PathBuf {
    let env = root.join("target/python-env");
    assert!(
        env.join(".complete").exists(),
        "{} is missing: the Python package's tests need the venv that `bash scripts/setup.sh cargo test` (the README's test command) creates",
        env.display()
    );
    env
}

fn run_in(env: &Path, program: &str, args: &[&str], dir: &Path) -> Output {
    let path = format!(
        "{}:{}",
        env.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let child = super::util::spawn(
        Command::new(env.join("bin").join(program))
            .args(args)
            .current_dir(dir)
            .env("VIRTUAL_ENV", env)
            .env("PATH", path)
            .env("FNO_BIN", env!("CARGO_BIN_EXE_fno"))
            .env("MPLBACKEND", "Agg")
            // Everything the tests need is in the venv: never the network.
            .env("PIP_NO_INDEX", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    );
    child.wait_with_output().expect("waiting for a Python tool")
}

fn succeeded(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the extension (dev profile, as `cargo test`: it reuses the
/// dependencies this test build compiled, and compiles only PyO3, numpy,
/// the fno library once more and the bindings: about 90 s on 2 cores the
/// first time, seconds after) into the venv, then runs the pytest suite
/// under python/tests/ against it.
#[test]
fn python_package_passes_its_pytest_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = python_env(root);
    let started = Instant::now();
    let build = run_in(
        &env,
        "maturin",
        &["develop", "-m", "python/Cargo.toml"],
        root,
    );
    succeeded("maturin develop", &build);
    let built = started.elapsed().as_secs_f64();
    let tests = run_in(
        &env,
        "python",
        &[
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "python/tests",
        ],
        root,
    );
    succeeded("pytest python/tests", &tests);
    eprintln!(
        "python package: built in {built:.1} s, tested in {:.1} s",
        started.elapsed().as_secs_f64() - built
    );
}
