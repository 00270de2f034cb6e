use crate::util::{fixture, fno, single_array, tempdir, write_h5, writing_fixture};
use fno::data::{DataError, PdebenchFile, Resolution};
use std::path::Path;

/// Runs `fno inspect` on a bad file: exit code 2, no panic, and a message
/// naming the file and `needle` (a dataset or a reason).
fn assert_cli_rejects(path: &Path, needle: &str) {
    let out = fno(&["inspect", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let file_name = path.file_name().unwrap().to_string_lossy();
    assert!(
        stderr.contains(file_name.as_ref()),
        "message should name the file: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "message should mention `{needle}`: {stderr}"
    );
}

#[test]
fn truncated_file() {
    let dir = tempdir();
    let path = dir.path().join("1D_Burgers_Sols_Nu0.1.hdf5");
    let bytes = std::fs::read(fixture("1D_Burgers_Sols_Nu0.1.hdf5")).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = PdebenchFile::open(&path)
        .and_then(|f| f.read_sample(15, &Resolution::default()))
        .unwrap_err();
    assert!(
        matches!(err, DataError::NotHdf5 { .. } | DataError::Read { .. }),
        "{err}"
    );
    assert_cli_rejects(&path, "1D_Burgers_Sols_Nu0.1.hdf5");
}

#[test]
fn file_that_is_not_hdf5() {
    let dir = tempdir();
    let path = dir.path().join("notes.h5");
    std::fs::write(&path, "these are not the data you are looking for\n").unwrap();
    assert!(matches!(
        PdebenchFile::open(&path),
        Err(DataError::NotHdf5 { .. })
    ));
    assert_cli_rejects(&path, "not a readable HDF5 file");
}

#[test]
fn missing_file() {
    let dir = tempdir();
    let path = dir.path().join("absent.hdf5");
    assert!(matches!(
        PdebenchFile::open(&path),
        Err(DataError::Io { .. })
    ));
    assert_cli_rejects(&path, "cannot open");
}

#[test]
fn missing_coordinate_dataset() {
    let dir = tempdir();
    let path = dir.path().join("1D_Advection_Sols_beta0.1.hdf5");
    let mut sets = single_array(4, 5, 8);
    sets.retain(|(name, _, _)| *name != "x-coordinate");
    write_h5(&path, &sets);
    let err = PdebenchFile::open(&path).unwrap_err();
    assert!(
        matches!(&err, DataError::MissingDataset { dataset, .. } if dataset == "x-coordinate"),
        "{err}"
    );
    assert_cli_rejects(&path, "x-coordinate");
}

#[test]
fn wrong_rank() {
    let dir = tempdir();
    let path = dir.path().join("1D_Advection_Sols_beta0.1.hdf5");
    let mut sets = single_array(4, 5, 8);
    sets[0] = ("tensor", vec![4, 40], vec![0.0; 160]);
    write_h5(&path, &sets);
    let err = PdebenchFile::open(&path).unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::WrongRank {
                expected: 3,
                got: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_cli_rejects(&path, "`tensor` has rank 2");
}

#[test]
fn integer_dtype() {
    let dir = tempdir();
    let path = dir.path().join("2D_DarcyFlow_beta1.0_Train.hdf5");
    writing_fixture(|| {
        let file = hdf5::File::create(&path).unwrap();
        let nu = ndarray::Array3::<i32>::ones((2, 4, 4));
        file.new_dataset_builder()
            .with_data(&nu)
            .create("nu")
            .unwrap();
        let u = ndarray::Array4::<f32>::zeros((2, 1, 4, 4));
        file.new_dataset_builder()
            .with_data(&u)
            .create("tensor")
            .unwrap();
    });
    let err = PdebenchFile::open(&path).unwrap_err();
    assert!(
        matches!(&err, DataError::WrongDtype { dataset, .. } if dataset == "nu"),
        "{err}"
    );
    assert_cli_rejects(&path, "`nu` has dtype int32");
}

#[test]
fn zero_samples() {
    let dir = tempdir();
    let path = dir.path().join("1D_Advection_Sols_beta0.1.hdf5");
    write_h5(&path, &single_array(0, 5, 8));
    let err = PdebenchFile::open(&path).unwrap_err();
    assert!(matches!(&err, DataError::NoSamples { .. }), "{err}");
    assert_cli_rejects(&path, "zero samples");
}

#[test]
fn nan_in_the_data() {
    let dir = tempdir();
    let path = dir.path().join("1D_Advection_Sols_beta0.1.hdf5");
    let mut sets = single_array(3, 5, 8);
    sets[0].2[2 * 40 + 7] = f32::NAN;
    write_h5(&path, &sets);
    let file = PdebenchFile::open(&path).unwrap();
    assert!(file.read_sample(0, &Resolution::default()).is_ok());
    let err = file.read_sample(2, &Resolution::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::NonFinite { dataset, sample: 2, count: 1, .. } if dataset == "tensor"),
        "{err}"
    );
    // `inspect` counts NaN instead of failing: that is what it is for.
    let out = fno(&["inspect", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["stats"][0]["nan_count"], 1);
}

#[test]
fn unknown_layout_names_the_members() {
    let dir = tempdir();
    let path = dir.path().join("mystery.h5");
    write_h5(&path, &[("weights", vec![3], vec![1.0, 2.0, 3.0])]);
    assert!(matches!(
        PdebenchFile::open(&path),
        Err(DataError::UnknownLayout { .. })
    ));
    assert_cli_rejects(&path, "weights");
}

#[test]
fn out_of_range_sample_and_zero_stride() {
    let file = PdebenchFile::open(fixture("1D_Burgers_Sols_Nu0.1.hdf5")).unwrap();
    assert!(matches!(
        file.read_sample(16, &Resolution::default()),
        Err(DataError::SampleOutOfRange {
            index: 16,
            count: 16,
            ..
        })
    ));
    let zero = Resolution {
        reduced_resolution: 0,
        reduced_resolution_t: 1,
    };
    assert!(matches!(
        file.read_sample(0, &zero),
        Err(DataError::InvalidOption { .. })
    ));
}

/// `--device` on every command that runs the model: an unknown device is a
/// usage error, and CUDA in a build without it says how to get it; both
/// exit 2 before any work is done.
#[test]
fn bad_device_flag() {
    let dir = tempdir();
    let run = dir.path().join("no-run");
    let run = run.to_str().unwrap();
    let commands: [&[&str]; 4] = [
        &["bench", "--steps", "1"],
        &["train", "--config", "configs/absent.toml"],
        &["eval", "--run", run, "--data", run],
        &["quickstart", "--out", run],
    ];
    for args in commands {
        let mut with = args.to_vec();
        with.extend(["--device", "gpu"]);
        let out = fno(&with);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{with:?}: {stderr}");
        assert!(
            stderr.contains("expected cpu, cuda or cuda:N"),
            "{with:?}: {stderr}"
        );
    }
    #[cfg(not(feature = "cuda"))]
    {
        let out = fno(&["bench", "--steps", "1", "--device", "cuda:0"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("rebuild with --features cuda"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
