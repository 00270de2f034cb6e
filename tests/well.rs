use crate::train::train_args;
use crate::util::{fixture, fno, fno_json, succeeded, tempdir};
use fno::data::well_normalizers::stats_normalizers;
use fno::data::{
    BoundaryKind, Layout, PdebenchFile, Resolution, SampleSelection, Split, Task, WellSplits,
};
use std::path::{Path, PathBuf};

/// A file or folder under `tests/data/well/` (written by its
/// `make_fixtures.py`).
pub(crate) fn well_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/well")
        .join(name)
}

/// The stored value of component `c` of field number `field` at
/// trajectory `b`, frame `t`, point `(i, j)`: `make_fixtures.py`'s `value`.
pub(crate) fn value(field: usize, b: usize, t: usize, i: usize, j: usize, c: usize) -> f32 {
    (field * 10000 + b * 1000 + t * 100 + i * 10 + j) as f32 + c as f32 * 0.5
}

fn stride(s: usize, st: usize) -> Resolution {
    Resolution {
        reduced_resolution: s,
        reduced_resolution_t: st,
    }
}

/// The shear data set opened at its root: five trajectories over four
/// files in three split folders, x periodic and y walls, a field stored
/// along x only and one shared by every trajectory, broadcast on reading,
/// every value read back exactly, also at strides.
#[test]
fn shear_data_set_reads_back_exactly() {
    let file = PdebenchFile::open(well_fixture("shear_mini")).unwrap();
    let info = file.info();
    assert_eq!(info.layout, Layout::Well);
    assert_eq!(
        (
            info.num_samples,
            info.num_frames,
            info.spatial_shape.clone()
        ),
        (5, 5, vec![8, 6])
    );
    assert_eq!(info.fields, ["tracer", "pressure", "ambient"]);
    assert!(info.input_fields.is_empty());
    assert_eq!(info.params["Reynolds"], 100.0);
    assert_eq!(info.params["Schmidt"], 0.5);
    let times = &info.coordinates.time;
    assert_eq!(times.len(), 5);
    assert!((times[4] - 0.4).abs() < 1e-6, "{times:?}");
    let well = info.well.as_ref().unwrap();
    assert_eq!(well.dataset_name, "shear_mini");
    assert_eq!(
        well.splits,
        Some(WellSplits {
            train: 0..3,
            valid: 3..4,
            test: 4..5
        })
    );
    assert_eq!(well.files.len(), 4);
    assert_eq!(well.files[1].first_sample, 2);
    let sides: Vec<_> = well.boundaries.iter().map(|b| (b.lower, b.upper)).collect();
    assert_eq!(
        sides,
        [
            (BoundaryKind::Periodic, BoundaryKind::Periodic),
            (BoundaryKind::Wall, BoundaryKind::Wall)
        ]
    );
    assert_eq!(well.padding(0.25), vec![0.0, 0.25]);
    let energy = well
        .scalars
        .iter()
        .find(|s| s.name == "kinetic_energy")
        .unwrap();
    assert!(energy.time_varying && energy.value.is_none());
    let reynolds = well.scalars.iter().find(|s| s.name == "Reynolds").unwrap();
    assert_eq!(reynolds.value, Some(100.0));

    for res in [Resolution::default(), stride(2, 2), stride(3, 4)] {
        let all: Vec<usize> = (0..5).collect();
        let samples = file.read_samples(&all, &res).unwrap();
        let (sx, st) = (res.reduced_resolution, res.reduced_resolution_t);
        for (b, sample) in samples.iter().enumerate() {
            assert_eq!(sample.index, b);
            assert!(sample.input.is_none());
            let f = &sample.frames;
            assert_eq!(
                f.shape(),
                [
                    5usize.div_ceil(st),
                    3,
                    8usize.div_ceil(sx),
                    6usize.div_ceil(sx)
                ]
            );
            for ((t, c, i, j), v) in f
                .view()
                .into_dimensionality::<ndarray::Ix4>()
                .unwrap()
                .indexed_iter()
            {
                let (t, i, j) = (t * st, i * sx, j * sx);
                let want = match c {
                    0 => value(1, b, t, i, j, 0),
                    1 => value(2, b, t, i, 0, 0),
                    _ => value(3, 0, t, i, j, 0),
                };
                assert_eq!(*v, want, "sample {b}, frame {t}, channel {c}, ({i}, {j})");
            }
        }
    }
}

/// The split folders select the samples of `train` and `test`; a split
/// folder on its own is a data set of its files, which finds the data
/// set's stats.yaml two levels up.
#[test]
fn split_folders_select_and_open_alone() {
    let root = PdebenchFile::open(well_fixture("shear_mini")).unwrap();
    let pick = |split, reduced_batch| {
        root.select(&SampleSelection {
            split,
            reduced_batch,
            ..SampleSelection::default()
        })
        .unwrap()
    };
    assert_eq!(pick(Split::Train, 1), [0, 1, 2]);
    assert_eq!(pick(Split::Train, 2), [0, 2]);
    assert_eq!(pick(Split::Test, 1), [4]);
    assert_eq!(pick(Split::All, 1), [0, 1, 2, 3, 4]);

    let train = PdebenchFile::open(well_fixture("shear_mini/data/train")).unwrap();
    assert_eq!(train.info().num_samples, 3);
    assert!(train.info().well.as_ref().unwrap().splits.is_none());
    let stats = train.info().well.as_ref().unwrap().stats.as_ref().unwrap();
    assert!(stats.path.ends_with("shear_mini/stats.yaml"));
    // Trajectory 2 is the second file's first.
    let s = train.read_sample(2, &Resolution::default()).unwrap();
    assert_eq!(s.frames[[1, 0, 3, 4]], value(1, 2, 1, 3, 4, 0));
    let one =
        PdebenchFile::open(well_fixture("shear_mini/data/test/shear_mini_test.hdf5")).unwrap();
    assert_eq!(one.info().num_samples, 1);
    assert!(one.info().well.as_ref().unwrap().stats.is_some());
}

/// A vector field becomes `velocity_x`, `velocity_y`; a field constant in
/// time and shared by all trajectories is the input, broadcast to each.
#[test]
fn vector_and_constant_fields_read_back_exactly() {
    let file = PdebenchFile::open(well_fixture("vector_mini/vector_mini.hdf5")).unwrap();
    let info = file.info();
    assert_eq!(info.fields, ["velocity_x", "velocity_y"]);
    assert_eq!(info.input_fields, ["obstacle"]);
    let well = info.well.as_ref().unwrap();
    assert_eq!(well.padding(0.5), vec![0.5, 0.0]);
    assert_eq!(
        (well.boundaries[0].lower, well.boundaries[1].upper),
        (BoundaryKind::Open, BoundaryKind::Periodic)
    );
    for sample in file.read_samples(&[0, 1], &Resolution::default()).unwrap() {
        let b = sample.index;
        assert_eq!(sample.frames.shape(), [4, 2, 6, 4]);
        for ((t, c, i, j), v) in sample
            .frames
            .view()
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap()
            .indexed_iter()
        {
            assert_eq!(*v, value(5, b, t, i, j, c));
        }
        let input = sample.input.unwrap();
        assert_eq!(input.shape(), [1, 6, 4]);
        for ((_, i, j), v) in input
            .view()
            .into_dimensionality::<ndarray::Ix3>()
            .unwrap()
            .indexed_iter()
        {
            assert_eq!(*v, value(4, 0, 0, i, j, 0));
        }
    }
}

/// stats.yaml gives the normalisers: its means and standard deviations,
/// repeated over an autoregressive window.
#[test]
fn stats_yaml_gives_the_normalisers() {
    let file = PdebenchFile::open(well_fixture("shear_mini")).unwrap();
    let task = Task::Autoregressive {
        initial_step: 2,
        backprop_steps: None,
    };
    let (input, output) = stats_normalizers(file.info(), &task).unwrap().unwrap();
    assert_eq!(output.mean, [1.1238e4, 2.1235e4, 3.0238e4]);
    assert_eq!(output.std, [828.97, 828.97, 143.28]);
    assert_eq!(input.mean.len(), 6);
    assert_eq!(input.std[3..], output.std[..]);
    // A vector field takes one entry per component; a one-shot map from
    // the field constant in time normalises its input with that field's.
    let vector = PdebenchFile::open(well_fixture("vector_mini/vector_mini.hdf5")).unwrap();
    let (input, output) = stats_normalizers(vector.info(), &Task::default())
        .unwrap()
        .unwrap();
    assert_eq!((input.mean, input.std), (vec![40250.0], vec![15.0]));
    assert_eq!(
        (output.mean, output.std),
        (vec![50780.0, 50781.0], vec![600.0, 600.0])
    );
    let plain = PdebenchFile::open(fixture("1D_Advection_Sols_beta0.4.hdf5")).unwrap();
    assert!(stats_normalizers(plain.info(), &task).unwrap().is_none());
}

/// Training on the data set's root uses its train folder, validates on
/// its test folder and normalises with stats.yaml; `fno eval` reports
/// VRMSE beside PDEBench's metrics; one padding fraction follows the
/// boundary conditions; `fno predict` refuses to write the layout.
#[test]
fn training_on_a_well_data_set_uses_its_stats_and_eval_reports_vrmse() {
    let dir = tempdir();
    let config = dir.path().join("well.toml");
    let text = format!(
        "[data]\ntrain = {:?}\n\n[task]\nkind = \"autoregressive\"\ninitial_step = 2\n\n[model]\nmodes = [3]\nwidth = 8\nlayers = 1\npadding = [0.25]\n\n[train]\nepochs = 1\nbatch_size = 2\nthreads = 1\n",
        well_fixture("shear_mini").display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let run = dir.path().join("run");
    succeeded(&fno(&train_args(
        config.to_str().unwrap(),
        run.to_str().unwrap(),
        &[],
    )));
    let norm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("normalizer.json")).unwrap())
            .unwrap();
    assert_eq!(
        norm["output"]["mean"],
        serde_json::json!([1.1238e4, 2.1235e4, 3.0238e4])
    );
    // x is periodic: no padding there; y has walls.
    let resolved: toml::Value =
        toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    assert_eq!(
        resolved["model"]["padding"],
        toml::Value::Array(vec![0.0.into(), 0.25.into()])
    );
    let data = well_fixture("shear_mini");
    let report = fno_json(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report["samples"], 1);
    let vrmse = &report["results"][0]["metrics"]["vrmse"];
    assert_eq!(vrmse["per_channel"].as_array().unwrap().len(), 3);
    assert!(vrmse["mean"].as_f64().unwrap() > 0.0);
    // Predictions are not written in The Well's layout: a clear refusal.
    let pred = dir.path().join("pred.hdf5");
    let out = fno(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--input",
        data.to_str().unwrap(),
        "--out",
        pred.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not write it"), "{stderr}");
    assert!(!pred.exists());
}

/// `fno inspect` shows the fields, boundary conditions and scalars.
#[test]
fn inspect_shows_fields_boundaries_and_scalars() {
    let out = fno(&["inspect", well_fixture("shear_mini").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "well      shear_mini (cartesian grid, axes [\"x\", \"y\"]), 4 file(s)",
        "splits    train 0..3  valid 3..4  test 4..5",
        "bc        x          periodic / periodic  (no padding)",
        "bc        y          wall / wall",
        "field     pressure         t0  per-sample time-varying space [\"x\"]  -> pressure",
        "field     ambient          t0  shared time-varying space [\"x\", \"y\"]  -> ambient",
        "scalar    Reynolds         100",
        "scalar    kinetic_energy   per-frame",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let out = fno(&[
        "inspect",
        well_fixture("vector_mini/vector_mini.hdf5")
            .to_str()
            .unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("field     velocity         t1  per-sample time-varying space [\"x\", \"y\"]  -> velocity_x, velocity_y"),
        "{text}"
    );
    assert!(
        text.contains("field     obstacle         t0  shared constant-in-time"),
        "{text}"
    );
}

/// Malformed Well files: exit code 2 and a message naming the file and
/// the dataset or attribute.
#[test]
fn bad_well_files_are_clear_errors() {
    let cases = [
        (
            "bad/missing_field_names.hdf5",
            vec![
                "missing_field_names.hdf5",
                "/t0_fields@field_names",
                "missing",
            ],
        ),
        (
            "bad/shape_contradicts_flags.hdf5",
            vec![
                "shape_contradicts_flags.hdf5",
                "t0_fields/tracer",
                "[1, 5, 8, 6]",
                "[1, 8, 6] from its flags",
                "time_varying = false",
            ],
        ),
    ];
    for (name, needles) in cases {
        let path = well_fixture(name);
        let err = PdebenchFile::open(&path).unwrap_err().to_string();
        for needle in &needles {
            assert!(err.contains(needle), "{name}: {needle:?} not in {err}");
        }
        let out = fno(&["inspect", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needles[1]), "{name}: {stderr}");
    }
    // A NaN is refused when its sample is read, naming field and sample.
    let nan = PdebenchFile::open(well_fixture("bad/nan_value.hdf5")).unwrap();
    assert!(nan.read_sample(0, &Resolution::default()).is_ok());
    let err = nan
        .read_sample(1, &Resolution::default())
        .unwrap_err()
        .to_string();
    for needle in [
        "nan_value.hdf5",
        "t0_fields/pressure",
        "sample 1",
        "1 non-finite",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    // The files of one data set must agree.
    let err = PdebenchFile::open(well_fixture("bad/disagreeing_grids"))
        .unwrap_err()
        .to_string();
    for needle in ["b.hdf5", "spatial axes", "[4, 6]", "a.hdf5", "[8, 6]"] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    let empty = tempdir();
    let err = PdebenchFile::open(empty.path()).unwrap_err().to_string();
    assert!(err.contains("holds no .hdf5 or .h5 file"), "{err}");
}
