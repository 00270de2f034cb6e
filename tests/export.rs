use crate::train::{train_args, write_config};
use crate::util::{checkpoint_file, fixture, fno, succeeded, tempdir};
use fno::export::spectral::neuralop_index;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A tiny 1D advection run: frame 0 to the last frame on 64 points.
fn write_1d_config(dir: &Path) -> PathBuf {
    let path = dir.join("advection.toml");
    let text = format!(
        r#"[data]
train = {:?}
reduced_resolution = 4
reduced_resolution_t = 20
test_fraction = 0.25

[model]
modes = [4]
width = 8
layers = 2

[train]
epochs = 1
batch_size = 4
threads = 2
"#,
        fixture("1D_Advection_Sols_beta0.4.hdf5")
            .display()
            .to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Trains `config` for one epoch into `dir/name`.
fn train(config: &Path, dir: &Path, name: &str) -> PathBuf {
    train_with(config, dir, name, &[])
}

/// `train` with extra `--set` overrides.
fn train_with(config: &Path, dir: &Path, name: &str, set: &[&str]) -> PathBuf {
    let run = dir.join(name);
    let mut extra = vec!["--set", "train.epochs=1"];
    for s in set {
        extra.extend(["--set", s]);
    }
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &extra,
    )));
    run
}

fn export(run: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "export",
        "--format",
        "neuraloperator",
        run.to_str().unwrap(),
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    fno(&args)
}

/// Key -> (dtype, shape) of a safetensors file.
fn layout(path: &Path) -> BTreeMap<String, (Dtype, Vec<usize>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| (k, (v.dtype(), v.shape().to_vec())))
        .collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The keys, dtypes and shapes of neuraloperator 2.0.0's `FNO` with
/// `hidden_channels = 8`, two layers, ratios 2, one input and one output
/// channel, `dims` grid channels and `spectral` as the Fourier weight's
/// shape.
fn expected(dims: usize, spectral: &[usize]) -> BTreeMap<String, (Dtype, Vec<usize>)> {
    let mut bias = vec![8];
    bias.extend(vec![1; dims]);
    let mut want = BTreeMap::new();
    let mut put = |k: &str, dtype, shape: Vec<usize>| {
        want.insert(k.to_string(), (dtype, shape));
    };
    put("lifting.fcs.0.weight", Dtype::F32, vec![16, 1 + dims, 1]);
    put("lifting.fcs.0.bias", Dtype::F32, vec![16]);
    put("lifting.fcs.1.weight", Dtype::F32, vec![8, 16, 1]);
    put("lifting.fcs.1.bias", Dtype::F32, vec![8]);
    for i in 0..2 {
        put(
            &format!("fno_blocks.convs.{i}.weight.tensor"),
            Dtype::C64,
            spectral.to_vec(),
        );
        put(
            &format!("fno_blocks.convs.{i}.bias"),
            Dtype::F32,
            bias.clone(),
        );
        put(
            &format!("fno_blocks.fno_skips.{i}.conv.weight"),
            Dtype::F32,
            vec![8, 8, 1],
        );
    }
    put("projection.fcs.0.weight", Dtype::F32, vec![16, 8, 1]);
    put("projection.fcs.0.bias", Dtype::F32, vec![16]);
    put("projection.fcs.1.weight", Dtype::F32, vec![1, 16, 1]);
    put("projection.fcs.1.bias", Dtype::F32, vec![1]);
    want
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A 1D run exports neuraloperator's keys, dtypes and shapes; its
/// spectral weights sit at neuraloperator's mode positions (the extra
/// last-axis mode zero), the skip's bias is the convolution's bias; the
/// JSON files hold the kwargs, normalisers and the training grid.
#[test]
fn a_1d_run_exports_neuraloperators_state_dict() {
    let dir = tempdir();
    let run = train(&write_1d_config(dir.path()), dir.path(), "run");
    let out = dir.path().join("export");
    succeeded(&export(&run, &out, &[]));
    let state = out.join("model.safetensors");
    assert_eq!(layout(&state), expected(1, &[8, 8, 5]));

    let exported = std::fs::read(&state).unwrap();
    let exported = SafeTensors::deserialize(&exported).unwrap();
    let source = std::fs::read(checkpoint_file(&run, "best.safetensors")).unwrap();
    let source = SafeTensors::deserialize(&source).unwrap();
    let get = |st: &SafeTensors, k: &str| f32s(st.tensor(k).unwrap().data());
    let (re, im) = (
        get(&source, "blocks.1.spectral.weight_re"),
        get(&source, "blocks.1.spectral.weight_im"),
    );
    let complex = get(&exported, "fno_blocks.convs.1.weight.tensor");
    for i in 0..8 {
        for o in 0..8 {
            for k in 0..5 {
                let at = 2 * ((i * 8 + o) * 5 + k);
                let want = match k {
                    4 => (0.0, 0.0),
                    _ => {
                        let j = (i * 8 + o) * 4 + k;
                        (re[j], im[j])
                    }
                };
                assert_eq!((complex[at], complex[at + 1]), want, "({i}, {o}, {k})");
            }
        }
    }
    assert_eq!(
        get(&exported, "fno_blocks.convs.0.bias"),
        get(&source, "blocks.0.pointwise.bias")
    );
    assert_eq!(
        get(&exported, "fno_blocks.fno_skips.0.conv.weight"),
        get(&source, "blocks.0.pointwise.weight")
    );

    let kwargs = read_json(&out.join("fno_kwargs.json"));
    assert_eq!(kwargs["n_modes"], serde_json::json!([8]));
    assert_eq!(kwargs["use_channel_mlp"], false);
    assert_eq!(kwargs["positional_embedding"], "grid");
    let record = read_json(&out.join("export.json"));
    assert_eq!(record["grid"], serde_json::json!([64]));
    assert_eq!(record["neuraloperator_version"], "2.0.0");
    let norm = read_json(&out.join("normalizer.json"));
    let run_norm = read_json(&run.join("normalizer.json"));
    assert_eq!(norm["input"], run_norm["input"]);
    assert_eq!(norm["output"], run_norm["output"]);

    // A non-empty OUT is kept unless --overwrite; a grid of the wrong
    // rank names --grid.
    let before = std::fs::read(&state).unwrap();
    let refused = export(&run, &out, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--overwrite"));
    assert_eq!(std::fs::read(&state).unwrap(), before);
    let bad_grid = export(&run, &out, &["--overwrite", "--grid", "64x64"]);
    assert_eq!(bad_grid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_grid.stderr).contains("--grid"));
    succeeded(&export(
        &run,
        &out,
        &["--overwrite", "--grid", "128", "--last"],
    ));
    assert_eq!(
        read_json(&out.join("export.json"))["grid"],
        serde_json::json!([128])
    );
}

/// A 2D Darcy run: the spectral weight is `[8, 8, 2m, m + 1]` with the
/// x modes shifted to neuraloperator's fftshifted order, and the 2D
/// biases `[8, 1, 1]`.
#[test]
fn a_2d_run_exports_neuraloperators_state_dict() {
    let dir = tempdir();
    let run = train(&write_config(dir.path()), dir.path(), "run");
    let out = dir.path().join("export");
    succeeded(&export(&run, &out, &[]));
    let state = out.join("model.safetensors");
    assert_eq!(layout(&state), expected(2, &[8, 8, 8, 5]));
    let exported = std::fs::read(&state).unwrap();
    let exported = SafeTensors::deserialize(&exported).unwrap();
    let source = std::fs::read(checkpoint_file(&run, "best.safetensors")).unwrap();
    let source = SafeTensors::deserialize(&source).unwrap();
    let get = |st: &SafeTensors, k: &str| f32s(st.tensor(k).unwrap().data());
    let re = get(&source, "blocks.0.spectral.weight_re");
    let im = get(&source, "blocks.0.spectral.weight_im");
    let complex = get(&exported, "fno_blocks.convs.0.weight.tensor");
    let mut filled = 0;
    for io in 0..64 {
        for jx in 0..8 {
            for ky in 0..4 {
                let from = (io * 8 + jx) * 4 + ky;
                let to = (io * 8 + neuralop_index(jx, 4, false)) * 5 + ky;
                assert_eq!((complex[2 * to], complex[2 * to + 1]), (re[from], im[from]));
                filled += 1;
            }
        }
    }
    let nonzero = complex.chunks(2).filter(|c| c != &[0.0, 0.0]).count();
    assert_eq!(nonzero, filled, "only the fno modes are non-zero");
    assert_eq!(
        read_json(&out.join("fno_kwargs.json"))["n_modes"],
        serde_json::json!([8, 8])
    );
    assert_eq!(
        read_json(&out.join("export.json"))["grid"],
        serde_json::json!([16, 16])
    );
}

/// Copies a run directory (files and checkpoint directories).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Domain padding and a non-GELU activation have no neuraloperator 2.0.0
/// equivalent: exit code 2 naming the setting, nothing written.
#[test]
fn settings_without_an_equivalent_are_refused() {
    let dir = tempdir();
    let run = train(&write_1d_config(dir.path()), dir.path(), "run");
    for (from, to, setting) in [
        ("padding = []", "padding = [0.25]", "model.padding"),
        (
            "activation = \"gelu\"",
            "activation = \"relu\"",
            "model.activation",
        ),
    ] {
        let edited = dir.path().join(setting);
        copy_dir(&run, &edited);
        let config = edited.join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains(from), "{from} in {text}");
        std::fs::write(&config, text.replace(from, to)).unwrap();
        let out = dir.path().join(format!("{setting}.export"));
        let refused = export(&edited, &out, &[]);
        assert_eq!(refused.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(&format!("`{setting}`")), "{stderr}");
        assert!(!out.exists(), "{setting}: nothing is written");
    }
}

/// neuraloperator 2.0.0 loads the exports of a 1D and a 2D run and
/// reproduces `fno predict` to 1e-5 (benches/reference/neuraloperator/
/// check_export.py). Needs a Python with torch and neuraloperator, named
/// by `FNO_TORCH_PYTHON`; skipped (and says so) without one.
#[test]
fn neuraloperator_reproduces_fno_predict() {
    let Some(python) = std::env::var_os("FNO_TORCH_PYTHON") else {
        eprintln!(
            "skipped: set FNO_TORCH_PYTHON to a Python with torch and neuraloperator 2.0.0 \
             to load the exports into neuraloperator"
        );
        return;
    };
    let dir = tempdir();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/reference/neuraloperator/check_export.py");
    let gated = ["model.channel_mlp_expansion=0.5"];
    for (config, data, set) in [
        (
            write_1d_config(dir.path()),
            fixture("1D_Advection_Sols_beta0.4.hdf5"),
            &[][..],
        ),
        (
            write_config(dir.path()),
            fixture("2D_DarcyFlow_beta1.0_Train.hdf5"),
            &[][..],
        ),
        (
            write_config(dir.path()),
            fixture("2D_DarcyFlow_beta1.0_Train.hdf5"),
            &gated[..],
        ),
    ] {
        let stem = config.file_stem().unwrap().to_str().unwrap();
        let name = format!("{stem}{}", if set.is_empty() { "" } else { "-gated" });
        let run = train_with(&config, dir.path(), &name, set);
        let out = std::process::Command::new(&python)
            .arg(&script)
            .args(["--fno", env!("CARGO_BIN_EXE_fno")])
            .arg("--run")
            .arg(&run)
            .arg("--data")
            .arg(&data)
            .output()
            .expect("running the check script");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        eprintln!("{name}: {report}");
        assert!(report["max_rel_diff"].as_f64().unwrap() <= 1e-5, "{report}");
        if !set.is_empty() {
            // neuraloperator as released computes the channel-MLP block.
            let as_released = report["max_rel_diff_as_released"].as_f64().unwrap();
            assert!(as_released <= 1e-5, "{report}");
        }
    }
}
