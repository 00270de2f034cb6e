use crate::util::fixture;
use fno::data::{Layout, PdebenchFile, Resolution, SampleSelection, Split};
use ndarray::{s, ArrayD, Axis, Slice};

/// Every shared file: detected layout, family, sample count and shapes.
#[test]
fn every_shared_file_is_detected_and_read() {
    let cases: &[(&str, Layout, &str, usize, &[usize])] = &[
        (
            "1D_Advection_Sols_beta0.4.hdf5",
            Layout::SingleArray,
            "advection",
            16,
            &[201, 1, 256],
        ),
        (
            "1D_Burgers_Sols_Nu0.1.hdf5",
            Layout::SingleArray,
            "burgers",
            16,
            &[201, 1, 256],
        ),
        (
            "1D_CFD_Rand_Eta1.e-8_Zeta1.e-8_periodic_Train.hdf5",
            Layout::MultiField,
            "cfd-1d",
            8,
            &[21, 3, 128],
        ),
        (
            "1D_diff-sorp_NA_NA.h5",
            Layout::Grouped,
            "diff-sorp",
            4,
            &[21, 1, 128],
        ),
        (
            "2D_DarcyFlow_beta1.0_Train.hdf5",
            Layout::Darcy,
            "darcy",
            16,
            &[1, 1, 64, 64],
        ),
        (
            "2D_diff-react_NA_NA.h5",
            Layout::Grouped,
            "diff-react-2d",
            4,
            &[26, 2, 32, 32],
        ),
        (
            "ns_incom_inhom_2d_512-0.h5",
            Layout::IncompressibleNs,
            "ns-incom",
            1,
            &[11, 3, 32, 32],
        ),
    ];
    for &(name, layout, family, n, frame_shape) in cases {
        let file = PdebenchFile::open(fixture(name)).unwrap();
        let info = file.info();
        assert_eq!(info.layout, layout, "{name}");
        assert_eq!(info.family.as_deref(), Some(family), "{name}");
        assert_eq!(info.num_samples, n, "{name}");
        let all: Vec<usize> = (0..n).collect();
        let samples = file.read_samples(&all, &Resolution::default()).unwrap();
        assert_eq!(samples.len(), n);
        for (i, sample) in samples.iter().enumerate() {
            assert_eq!(sample.index, i);
            assert_eq!(sample.frames.shape(), frame_shape, "{name}");
            assert!(sample.frames.iter().all(|v| v.is_finite()));
        }
        let coords = file.coordinates(&Resolution::default()).unwrap();
        assert_eq!(
            coords.time.len(),
            frame_shape[0],
            "{name}: one time per frame"
        );
        let spatial: Vec<usize> = coords.space.iter().map(Vec::len).collect();
        assert_eq!(spatial, frame_shape[2..], "{name}");
    }
}

#[test]
fn parameters_come_from_names_and_attributes() {
    let burgers = PdebenchFile::open(fixture("1D_Burgers_Sols_Nu0.1.hdf5")).unwrap();
    assert_eq!(burgers.info().params["nu"], 0.1);
    let ns = PdebenchFile::open(fixture("ns_incom_inhom_2d_512-0.h5")).unwrap();
    assert_eq!(
        ns.info().params["nu"],
        0.01,
        "from the JSON config attribute"
    );
    let darcy = PdebenchFile::open(fixture("2D_DarcyFlow_beta1.0_Train.hdf5")).unwrap();
    let d = darcy.read_sample(3, &Resolution::default()).unwrap();
    let nu = d.input.expect("Darcy has an input field");
    assert_eq!(nu.shape(), &[1, 64, 64]);
    assert!(
        nu.iter().all(|&a| a == 1.0 || (a - 0.1).abs() < 1e-6),
        "coefficient takes two values"
    );
}

/// Grouped files keep their per-sample channel order (`data` [T, X, Y, C]).
#[test]
fn grouped_channels_match_raw_storage() {
    let path = fixture("2D_diff-react_NA_NA.h5");
    let file = PdebenchFile::open(&path).unwrap();
    let sample = file.read_sample(2, &Resolution::default()).unwrap();
    let raw: ArrayD<f32> = hdf5::File::open(&path)
        .unwrap()
        .dataset("0002/data")
        .unwrap()
        .read_dyn()
        .unwrap();
    for c in 0..2 {
        let want = raw.index_axis(Axis(3), c);
        let got = sample.frames.index_axis(Axis(1), c);
        assert_eq!(got, want);
    }
}

/// Advection is an exact shift: u(x, t) = u0(x - 0.4 t), periodic on [0, 1).
/// The initial condition is band-limited, so the shift is exact in Fourier space.
#[test]
fn advection_frames_are_exact_shifts() {
    let file = PdebenchFile::open(fixture("1D_Advection_Sols_beta0.4.hdf5")).unwrap();
    let coords = file.coordinates(&Resolution::default()).unwrap();
    for index in [0, 7, 15] {
        let sample = file.read_sample(index, &Resolution::default()).unwrap();
        let u0: Vec<f64> = sample
            .frames
            .slice(s![0, 0, ..])
            .iter()
            .map(|&v| v as f64)
            .collect();
        for t_index in [1, 50, 200] {
            let shift = 0.4 * coords.time[t_index];
            let want = spectral_shift(&u0, shift);
            let got = sample.frames.slice(s![t_index, 0, ..]);
            let err: f64 = got
                .iter()
                .zip(&want)
                .map(|(g, w)| (*g as f64 - w).powi(2))
                .sum::<f64>()
                .sqrt();
            let norm: f64 = want.iter().map(|w| w * w).sum::<f64>().sqrt();
            assert!(
                err / norm < 1e-5,
                "sample {index}, frame {t_index}: {}",
                err / norm
            );
        }
    }
}

/// u(x - a) for periodic samples of u on [0, 1), by a direct DFT.
fn spectral_shift(u: &[f64], a: f64) -> Vec<f64> {
    let n = u.len();
    let tau = std::f64::consts::TAU;
    let coeffs: Vec<(f64, f64)> = (0..n)
        .map(|k| {
            u.iter().enumerate().fold((0.0, 0.0), |(re, im), (j, v)| {
                let ang = -tau * (k * j) as f64 / n as f64;
                (re + v * ang.cos(), im + v * ang.sin())
            })
        })
        .collect();
    (0..n)
        .map(|j| {
            let mut acc = 0.0;
            for (k, (re, im)) in coeffs.iter().enumerate() {
                let kk = if k <= n / 2 {
                    k as f64
                } else {
                    k as f64 - n as f64
                };
                let ang = tau * kk * (j as f64 / n as f64 - a);
                // The Nyquist mode of a real signal is real: keep its cosine part.
                acc += if 2 * k == n {
                    re * ang.cos()
                } else {
                    re * ang.cos() - im * ang.sin()
                };
            }
            acc / n as f64
        })
        .collect()
}

/// The Taylor-Green vortex decays as exp(-8 pi^2 nu t) on the unit square.
#[test]
fn taylor_green_velocity_decays_exactly() {
    let file = PdebenchFile::open(fixture("ns_incom_inhom_2d_512-0.h5")).unwrap();
    let nu = file.info().params["nu"];
    let coords = file.coordinates(&Resolution::default()).unwrap();
    let sample = file.read_sample(0, &Resolution::default()).unwrap();
    let energy = |t: usize| -> f64 {
        sample
            .frames
            .slice(s![t, 0..2, .., ..])
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let e0 = energy(0);
    for t in 1..coords.time.len() {
        let want = (-8.0 * std::f64::consts::PI.powi(2) * nu * coords.time[t]).exp();
        let got = energy(t) / e0;
        assert!(
            (got - want).abs() / want < 1e-5,
            "t = {}: {got} vs {want}",
            coords.time[t]
        );
    }
}

/// Reading with strides equals reading everything and subsampling.
#[test]
fn strided_reads_equal_subsampled_full_reads() {
    let files = [
        "1D_Burgers_Sols_Nu0.1.hdf5",
        "1D_CFD_Rand_Eta1.e-8_Zeta1.e-8_periodic_Train.hdf5",
        "2D_DarcyFlow_beta1.0_Train.hdf5",
        "2D_diff-react_NA_NA.h5",
        "1D_diff-sorp_NA_NA.h5",
        "ns_incom_inhom_2d_512-0.h5",
    ];
    let strided = Resolution {
        reduced_resolution: 3,
        reduced_resolution_t: 4,
    };
    for name in files {
        let file = PdebenchFile::open(fixture(name)).unwrap();
        let n = file.info().num_samples;
        let indices: Vec<usize> = (0..n).collect();
        let full = file.read_samples(&indices, &Resolution::default()).unwrap();
        let part = file.read_samples(&indices, &strided).unwrap();
        for (f, p) in full.iter().zip(&part) {
            let want = f.frames.slice_each_axis(|ax| match ax.axis.index() {
                0 => Slice::new(0, None, 4),
                1 => Slice::new(0, None, 1),
                _ => Slice::new(0, None, 3),
            });
            assert_eq!(p.frames.view(), want, "{name}");
            if let (Some(fi), Some(pi)) = (&f.input, &p.input) {
                let want = fi.slice_each_axis(|ax| {
                    Slice::new(0, None, if ax.axis.index() == 0 { 1 } else { 3 })
                });
                assert_eq!(pi.view(), want, "{name} input");
            }
        }
        let coords = file.coordinates(&strided).unwrap();
        assert_eq!(coords.space[0].len(), part[0].frames.shape()[2], "{name}");
        assert_eq!(coords.time.len(), part[0].frames.shape()[0], "{name}");
    }
}

/// Single samples, runs, and scattered indices agree.
#[test]
fn batch_and_single_reads_agree() {
    let file = PdebenchFile::open(fixture("1D_Advection_Sols_beta0.4.hdf5")).unwrap();
    let res = Resolution::default();
    let batch = file.read_samples(&[2, 3, 4, 9, 11, 12], &res).unwrap();
    for s in batch {
        assert_eq!(s, file.read_sample(s.index, &res).unwrap());
    }
}

#[test]
fn pdebench_split_conventions() {
    let single = PdebenchFile::open(fixture("1D_Burgers_Sols_Nu0.1.hdf5")).unwrap();
    let test = SampleSelection {
        split: Split::Test,
        test_fraction: 0.25,
        ..SampleSelection::default()
    };
    assert_eq!(
        single.select(&test).unwrap(),
        vec![0, 1, 2, 3],
        "single-array: first part"
    );
    let grouped = PdebenchFile::open(fixture("2D_diff-react_NA_NA.h5")).unwrap();
    assert_eq!(
        grouped.select(&test).unwrap(),
        vec![3],
        "grouped: last part"
    );
}

/// Errors say what is wrong in the user's terms: which file, which sample,
/// how many there are.
#[test]
fn out_of_range_requests_say_what_the_file_holds() {
    let file = PdebenchFile::open(fixture("1D_Burgers_Sols_Nu0.1.hdf5")).unwrap();
    let err = file
        .read_samples(&[14, 15, 16, 17], &Resolution::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("1D_Burgers_Sols_Nu0.1.hdf5"), "{err}");
    assert!(
        err.contains("sample 16 is out of range (the file has 16 samples)"),
        "{err}"
    );
    let beyond = SampleSelection {
        range: Some(10..20),
        ..SampleSelection::default()
    };
    let err = file.select(&beyond).unwrap_err().to_string();
    assert!(
        err.contains("10..20 goes beyond the file's 16 samples"),
        "{err}"
    );
}
