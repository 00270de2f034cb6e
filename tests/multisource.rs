use crate::util::{checkpoint_file, fixture, fno, succeeded, tempdir};
use candle_core::Device;
use std::path::{Path, PathBuf};
use std::process::Output;

const ADVECTION: &str = "1D_Advection_Sols_beta0.4.hdf5";
/// Three fields (density, Vx, pressure) on 128 points where advection has
/// one on 256.
const CFD: &str = "1D_CFD_Rand_Eta1.e-8_Zeta1.e-8_periodic_Train.hdf5";
const SORPTION: &str = "1D_diff-sorp_NA_NA.h5";
const DARCY: &str = "2D_DarcyFlow_beta1.0_Train.hdf5";

const MODEL: &str = r#"
[model]
modes = [4]
width = 8
layers = 2

[train]
epochs = 2
batch_size = 4
lr = 3e-3
threads = 2
"#;

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A config with `data` as its `[data]` section(s) and a tiny model.
fn write_config(dir: &Path, name: &str, data: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{data}\n{MODEL}")).unwrap();
    path
}

/// Advection (one-shot, the run's task) and CFD (its own output frame)
/// at every 4th point: 64 and 32 points, 1 and 3 channels.
fn two_sources(dir: &Path) -> PathBuf {
    let data = format!(
        r#"[data]
reduced_resolution = 4
test_fraction = 0.25

[[data.sources]]
name = "adv"
file = {:?}

[[data.sources]]
name = "cfd"
file = {:?}
weight = 2.0
task = {{ kind = "one_shot", input_frame = 0, output_frame = 10 }}
"#,
        s(&fixture(ADVECTION)),
        s(&fixture(CFD))
    );
    write_config(dir, "multi.toml", &data)
}

fn train(config: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--config", s(config), "--out", s(out), "--quiet"];
    args.extend_from_slice(extra);
    fno(&args)
}

fn refused(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
}

fn tensor_names(run: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        candle_core::safetensors::load(checkpoint_file(run, "model.safetensors"), &Device::Cpu)
            .unwrap()
            .into_keys()
            .collect();
    names.sort();
    names
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two families with different grids and channel counts train one trunk:
/// the checkpoint holds one set of blocks and per-source embeddings, each
/// source has its normalisers and its metrics per epoch, `fno eval`
/// reports every source (or the one named) and `fno predict` needs the
/// source; a single-source run fine-tuned from it takes the trunk.
#[test]
fn two_sources_pretrain_then_fine_tune() {
    let dir = tempdir();
    let pre = dir.path().join("pre");
    succeeded(&train(&two_sources(dir.path()), &pre, &[]));

    let names = tensor_names(&pre);
    assert!(
        names.iter().any(|n| n.starts_with("blocks.1.")),
        "{names:?}"
    );
    for prefix in ["sources.adv.lifting.", "sources.cfd.projection."] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "{names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("lifting.")),
        "{names:?}"
    );
    assert!(pre.join("normalizer-adv.json").exists());
    assert!(pre.join("normalizer-cfd.json").exists());
    let saved = std::fs::read_to_string(pre.join("config.toml")).unwrap();
    assert!(saved.contains("out_channels = 3"), "{saved}");

    let metrics = json_lines(&pre.join("metrics.jsonl"));
    assert_eq!(metrics.len(), 2);
    for line in &metrics {
        for key in ["val_rel_l2/adv", "val_rel_l2/cfd", "val_loss/cfd"] {
            assert!(line[key].as_f64().is_some_and(f64::is_finite), "{line}");
        }
        let mean = (line["val_rel_l2/adv"].as_f64().unwrap()
            + line["val_rel_l2/cfd"].as_f64().unwrap())
            / 2.0;
        assert!((line["test_rel_l2"].as_f64().unwrap() - mean).abs() < 1e-12);
    }

    // Every source on its own held-out split.
    let out = fno(&["eval", "--run", s(&pre), "--json"]);
    succeeded(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sources"]["adv"]["samples"], 4);
    assert_eq!(report["sources"]["cfd"]["samples"], 2);
    assert_eq!(
        report["sources"]["cfd"]["results"][0]["grid"],
        serde_json::json!([32])
    );
    let cfd_rel = report["sources"]["cfd"]["results"][0]["metrics"]["relative_l2"].clone();
    let out = fno(&["eval", "--run", s(&pre), "--source", "cfd", "--json"]);
    succeeded(&out);
    let one: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(one["results"][0]["metrics"]["relative_l2"], cfd_rel);
    refused(
        &fno(&["eval", "--run", s(&pre), "--source", "burgers"]),
        &["--source burgers", "adv, cfd"],
    );

    let pred = dir.path().join("pred.h5");
    let cfd = fixture(CFD);
    let predict = |extra: &[&str]| {
        let mut args = vec![
            "predict",
            "--run",
            s(&pre),
            "--input",
            s(&cfd),
            "--out",
            s(&pred),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        fno(&args)
    };
    refused(&predict(&[]), &["--source", "adv, cfd"]);
    succeeded(&predict(&["--source", "cfd"]));

    exports_one_source_at_a_time(&pre, dir.path());

    // A new family (diffusion-sorption, 128 points) from the pretrained trunk.
    let tuned = dir.path().join("tuned");
    let data = format!(
        "[data]\ntrain = {:?}\ntest_fraction = 0.25\n",
        s(&fixture(SORPTION))
    );
    let config = write_config(dir.path(), "sorp.toml", &data);
    let out = train(&config, &tuned, &["--init-from", s(&pre), "--init-last"]);
    succeeded(&out);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tuned.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["init"]["copied"], serde_json::json!(["trunk"]));
    assert_eq!(
        state["init"]["fresh"],
        serde_json::json!(["lifting", "projection"])
    );
}

/// `fno export` of a multi-source run: refused without `--source` (naming
/// the sources) or with an unknown one; with one, the shared blocks and
/// that source's lifting, projection and normalisers, named as a
/// single-source model's are.
fn exports_one_source_at_a_time(pre: &Path, dir: &Path) {
    let export = |out: &Path, extra: &[&str]| {
        let mut args = vec!["export", "--format", "neuraloperator", s(pre), s(out)];
        args.extend_from_slice(extra);
        fno(&args)
    };
    refused(&export(&dir.join("none"), &[]), &["--source", "adv, cfd"]);
    refused(
        &export(&dir.join("wrong"), &["--source", "burgers"]),
        &["--source burgers", "adv, cfd"],
    );
    for (name, channels) in [("adv", 1), ("cfd", 3)] {
        let out = dir.join(format!("export-{name}"));
        succeeded(&export(&out, &["--source", name]));
        let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let shape = |key: &str| st.tensor(key).unwrap().shape().to_vec();
        // Lifting: the source's channels and one coordinate channel.
        assert_eq!(shape("lifting.fcs.0.weight")[1], channels + 1, "{name}");
        assert_eq!(shape("projection.fcs.1.weight")[0], channels, "{name}");
        assert!(st.names().iter().all(|k| !k.starts_with("sources.")));
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("export.json")).unwrap()).unwrap();
        assert_eq!(record["source"], name);
        let norms: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("normalizer.json")).unwrap()).unwrap();
        let own: serde_json::Value = serde_json::from_slice(
            &std::fs::read(pre.join(format!("normalizer-{name}.json"))).unwrap(),
        )
        .unwrap();
        for side in ["input", "output"] {
            for stat in ["mean", "std"] {
                assert_eq!(norms[side][stat], own[side][stat], "{name} {side}.{stat}");
            }
        }
    }
}

/// Both data.train and data.sources, a source file that does not exist,
/// sources of different dimensionality: exit 2 naming the setting, and no
/// run directory.
#[test]
fn bad_multi_source_configs_name_the_setting() {
    let dir = tempdir();
    let out = dir.path().join("run");
    let source = |file: &Path, name: &str| {
        format!("[[data.sources]]\nname = {name:?}\nfile = {:?}\n", s(file))
    };
    let adv = source(&fixture(ADVECTION), "adv");

    let both = format!("[data]\ntrain = {:?}\n\n{adv}", s(&fixture(ADVECTION)));
    let config = write_config(dir.path(), "both.toml", &both);
    refused(&train(&config, &out, &[]), &["data.train", "data.sources"]);

    let missing = format!("{adv}\n{}", source(&dir.path().join("nope.h5"), "gone"));
    let config = write_config(dir.path(), "missing.toml", &missing);
    refused(
        &train(&config, &out, &[]),
        &["data.sources.file", "\"gone\"", "nope.h5"],
    );

    let mixed = format!("{adv}\n{}", source(&fixture(DARCY), "darcy"));
    let config = write_config(dir.path(), "mixed.toml", &mixed);
    refused(
        &train(&config, &out, &[]),
        &["data.sources", "\"darcy\"", ADVECTION],
    );
    assert!(!out.exists());
}
