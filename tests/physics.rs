use crate::util::fixture;
use candle_core::{DType, Device, Tensor};
use fno::data::{PdebenchFile, Resolution, Task};
use fno::physics::derivative::derivative;
use fno::physics::time::time_derivative;
use fno::physics::{Advection, Burgers, Grid, NavierStokes, Pde, PdeSpec, TimeOrder};
use fno::solvers::burgers::Convention;
use fno::solvers::TimeStep;

fn norm(t: &Tensor) -> f64 {
    t.sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
        .sqrt()
}

/// Every sample of a file as a space-time f64 tensor `[B, C, X.., T]`.
fn space_time(file: &PdebenchFile) -> Tensor {
    let all: Vec<usize> = (0..file.info().num_samples).collect();
    let samples = file.read_samples(&all, &Resolution::default()).unwrap();
    let targets: Vec<Tensor> = samples
        .iter()
        .map(|s| {
            let ex = Task::SpaceTime.example(s).unwrap();
            let shape = ex.target.shape().to_vec();
            Tensor::from_vec(ex.target.into_raw_vec_and_offset().0, shape, &Device::Cpu)
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
        })
        .collect();
    Tensor::stack(&targets, 0).unwrap()
}

fn dt(file: &PdebenchFile) -> f64 {
    let t = file.coordinates(&Resolution::default()).unwrap().time;
    t[1] - t[0]
}

/// ‖R‖ / ‖u_t‖ over the whole field (interior times).
fn relative_residual(pde: &dyn Pde, u: &Tensor, grid: &Grid, order: TimeOrder) -> f64 {
    let r = pde.residual(u, u, grid).unwrap();
    let u_t = time_derivative(u, grid.dt.unwrap(), order).unwrap();
    norm(&r) / norm(&u_t)
}

fn assert_close(name: &str, got: f64, reference: f64) {
    assert!(
        (got / reference - 1.0).abs() < 0.1,
        "{name}: {got:.3e} vs the reference {reference:.3e}"
    );
}

#[test]
fn one_d_residuals_reproduce_the_reference_table() {
    for (name, reference) in [
        ("1D_Advection_Sols_beta0.4.hdf5", [4.5e-2, 1.1e-2]),
        ("1D_Burgers_Sols_Nu0.1.hdf5", [8.2e-2, 1.4e-2]),
    ] {
        let file = PdebenchFile::open(fixture(name)).unwrap();
        let u = space_time(&file);
        let grid = Grid {
            lengths: vec![1.0],
            dt: Some(dt(&file)),
        };
        for (order, reference) in [TimeOrder::Second, TimeOrder::Fourth]
            .into_iter()
            .zip(reference)
        {
            // The equation and its parameters come from the catalogue and
            // the file's attributes.
            let pde = PdeSpec::for_file(file.info())
                .unwrap()
                .build(file.info(), order)
                .unwrap();
            assert_close(
                name,
                relative_residual(pde.as_ref(), &u, &grid, order),
                reference,
            );
        }
    }
}

#[test]
fn taylor_green_vorticity_residual_reproduces_the_reference_table() {
    let file = PdebenchFile::open(fixture("ns_incom_inhom_2d_512-0.h5")).unwrap();
    // [1, 3 (vx, vy, particles), X, Y, T].
    let fields = space_time(&file);
    let (vx, vy) = (
        fields.narrow(1, 0, 1).unwrap(),
        fields.narrow(1, 1, 1).unwrap(),
    );
    let omega =
        (derivative(&vy, 2, 1.0, 1).unwrap() - derivative(&vx, 3, 1.0, 1).unwrap()).unwrap();
    let grid = Grid {
        lengths: vec![1.0, 1.0],
        dt: Some(dt(&file)),
    };
    for (order, reference) in [(TimeOrder::Second, 1.04e-3), (TimeOrder::Fourth, 2.0e-5)] {
        let pde = NavierStokes {
            nu: file.info().params["nu"],
            forcing: None,
            order,
        };
        assert_close(
            "Taylor-Green",
            relative_residual(&pde, &omega, &grid, order),
            reference,
        );
    }
}

#[test]
fn darcy_stencil_residual_is_at_the_float32_floor() {
    let file = PdebenchFile::open(fixture("2D_DarcyFlow_beta1.0_Train.hdf5")).unwrap();
    let all: Vec<usize> = (0..file.info().num_samples).collect();
    let samples = file.read_samples(&all, &Resolution::default()).unwrap();
    let to = |a: ndarray::ArrayD<f32>| {
        let shape = a.shape().to_vec();
        Tensor::from_vec(a.into_raw_vec_and_offset().0, shape, &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
    };
    let u: Vec<Tensor> = samples
        .iter()
        .map(|s| to(s.frames.clone()).squeeze(0).unwrap())
        .collect();
    let a: Vec<Tensor> = samples
        .iter()
        .map(|s| to(s.input.clone().unwrap()))
        .collect();
    let (u, a) = (Tensor::stack(&u, 0).unwrap(), Tensor::stack(&a, 0).unwrap());
    let pde = PdeSpec::for_file(file.info())
        .unwrap()
        .build(file.info(), TimeOrder::Fourth)
        .unwrap();
    let r = pde
        .residual(
            &u,
            &a,
            &Grid {
                lengths: vec![1.0, 1.0],
                dt: None,
            },
        )
        .unwrap();
    let rms = norm(&r) / (r.elem_count() as f64).sqrt();
    // The README's 6.6e-5 also carries float32 rounding of the assembled
    // matrix form d·u_p − Σ c·u_q (terms ~10³ that cancel); the flux form
    // differences neighbours first and sees the storage rounding alone.
    assert!(rms < 6.6e-5, "{rms:e}");
    let a: Vec<f64> = a.flatten_all().unwrap().to_vec1().unwrap();
    let u: Vec<f64> = u.flatten_all().unwrap().to_vec1().unwrap();
    assert_close("Darcy", rms, rounding_floor(&a, &u, 64, 64));
}

/// The RMS residual that float32 rounding of `u` alone produces: each
/// stored value is off by a uniform error of variance ulp²/12, and the
/// stencil row of cell p weighs its five values by the operator's entries.
fn rounding_floor(a: &[f64], u: &[f64], nx: usize, ny: usize) -> f64 {
    let ulp2 = |v: f64| {
        let ulp = f64::from(v as f32).abs().log2().floor() - 23.0;
        2f64.powf(ulp).powi(2) / 12.0
    };
    let h = |p: f64, q: f64| 2.0 * p * q / (p + q);
    let (ix2, iy2) = ((nx * nx) as f64, (ny * ny) as f64);
    let mut total = 0.0;
    for s in 0..a.len() / (nx * ny) {
        let (a, u) = (&a[s * nx * ny..], &u[s * nx * ny..]);
        for i in 0..nx {
            for j in 0..ny {
                let p = i * ny + j;
                let mut diag = 0.0;
                let mut var = 0.0;
                let mut neighbour = |q: usize, c: f64| {
                    diag += c;
                    var += c * c * ulp2(u[q]);
                };
                if i > 0 {
                    neighbour(p - ny, h(a[p], a[p - ny]) * ix2);
                }
                if i + 1 < nx {
                    neighbour(p + ny, h(a[p], a[p + ny]) * ix2);
                }
                if j > 0 {
                    neighbour(p - 1, h(a[p], a[p - 1]) * iy2);
                }
                if j + 1 < ny {
                    neighbour(p + 1, h(a[p], a[p + 1]) * iy2);
                }
                let walls = usize::from(i == 0) + usize::from(i + 1 == nx);
                let floors = usize::from(j == 0) + usize::from(j + 1 == ny);
                diag += a[p] * (walls as f64 * ix2 + floors as f64 * iy2);
                total += var + diag * diag * ulp2(u[p]);
            }
        }
    }
    (total / a.len() as f64).sqrt()
}

/// Measured order of ‖R‖/‖u_t‖ as dt halves, on f64 solutions from the
/// generators (smooth initial conditions so that space is resolved).
fn measured_orders(
    frames: impl Fn(usize) -> (Tensor, f64),
    pde: impl Fn(TimeOrder) -> Box<dyn Pde>,
) -> Vec<(TimeOrder, f64)> {
    [TimeOrder::Second, TimeOrder::Fourth]
        .into_iter()
        .map(|order| {
            let errors: Vec<f64> = [20, 40, 80]
                .iter()
                .map(|&nt| {
                    let (u, dt) = frames(nt);
                    let grid = Grid {
                        lengths: vec![1.0],
                        dt: Some(dt),
                    };
                    relative_residual(pde(order).as_ref(), &u, &grid, order)
                })
                .collect();
            let p = (errors[1] / errors[2]).log2();
            (order, p)
        })
        .collect()
}

fn smooth_initial_condition(nx: usize) -> Vec<f64> {
    (0..nx)
        .map(|i| {
            let x = (i as f64 + 0.5) / nx as f64;
            0.25 * (std::f64::consts::TAU * x).sin()
                + 0.1 * (2.0 * std::f64::consts::TAU * x + 1.0).cos()
        })
        .collect()
}

fn to_space_time(frames: Vec<f64>, nt: usize, nx: usize) -> Tensor {
    // [nt + 1, nx] -> [1, 1, nx, nt + 1].
    Tensor::from_vec(frames, (nt + 1, nx), &Device::Cpu)
        .unwrap()
        .t()
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((1, 1, nx, nt + 1))
        .unwrap()
}

fn assert_orders(name: &str, orders: &[(TimeOrder, f64)]) {
    for &(order, p) in orders {
        let expected = f64::from(u8::from(order));
        assert!(
            (p - expected).abs() < 0.3,
            "{name}: measured order {p:.2} for the order-{expected} time difference"
        );
    }
}

#[test]
fn residuals_converge_at_the_order_of_the_time_difference() {
    let (nx, tmax) = (64, 0.5);
    let u0 = smooth_initial_condition(nx);
    let advection = measured_orders(
        |nt| {
            let f = fno::solvers::advection::solve(&u0, 0.4, tmax, nt);
            (to_space_time(f, nt, nx), tmax / nt as f64)
        },
        |order| Box::new(Advection { beta: 0.4, order }),
    );
    assert_orders("advection", &advection);
    let nu = 0.02;
    let burgers = measured_orders(
        |nt| {
            // 2000 solver steps over [0, tmax] at every nt: the solver's
            // own error stays far below the residual being measured.
            let f =
                fno::solvers::burgers::solve(&u0, nu, tmax, nt, TimeStep::PerInterval(2000 / nt))
                    .unwrap();
            (to_space_time(f, nt, nx), tmax / nt as f64)
        },
        |order| {
            Box::new(Burgers {
                nu,
                convention: Convention::Plain,
                order,
            })
        },
    );
    assert_orders("burgers", &burgers);
}
