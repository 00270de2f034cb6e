//! f64 gradient checks of every residual against central finite
//! differences: the residuals are compositions of candle ops and the
//! spectral custom ops, nonlinear in `u` (and in `a` for Darcy), so the
//! check perturbs each entry by a small step and compares.
use candle_core::{Device, Tensor, Var};

use super::loss::pde_loss;
use super::*;
use crate::solvers::burgers::Convention;
use crate::solvers::navier_stokes::Problem;

fn smooth(seed: u64, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            0.5 + ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Largest relative error between candle's gradient of `pde_loss` and
/// central differences, over the inputs listed in `wrt` (0: u, 1: input).
fn check(pde: &dyn Pde, u: &Tensor, input: &Tensor, grid: &Grid, wrt: &[usize]) -> f64 {
    const H: f64 = 1e-6;
    let vars = [
        Var::from_tensor(u).unwrap(),
        Var::from_tensor(input).unwrap(),
    ];
    let loss = pde_loss(pde, vars[0].as_tensor(), vars[1].as_tensor(), grid).unwrap();
    let grads = loss.backward().unwrap();
    let mut worst: f64 = 0.0;
    for &i in wrt {
        let g: Vec<f64> = grads
            .get(vars[i].as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let base: Vec<f64> = vars[i]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for j in (0..base.len()).step_by(3) {
            let eval = |d: f64| {
                let mut v = base.clone();
                v[j] += d;
                let t = Tensor::from_vec(v, vars[i].as_tensor().dims(), &Device::Cpu).unwrap();
                let (uu, aa) = if i == 0 { (&t, input) } else { (u, &t) };
                pde_loss(pde, uu, aa, grid)
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let numeric = (eval(H) - eval(-H)) / (2.0 * H);
            worst = worst.max((numeric - g[j]).abs() / scale);
        }
    }
    worst
}

#[test]
fn residual_gradients_match_finite_differences() {
    let grid1 = Grid {
        lengths: vec![1.0],
        dt: Some(0.1),
    };
    let u1 = smooth(1, &[2, 1, 8, 7]);
    let ic = smooth(2, &[2, 1, 8]);
    let one_d: [Box<dyn Pde>; 4] = [
        Box::new(Advection {
            beta: 0.4,
            order: TimeOrder::Fourth,
        }),
        Box::new(Burgers {
            nu: 0.1,
            convention: Convention::Pdebench,
            order: TimeOrder::Second,
        }),
        Box::new(Burgers {
            nu: 0.1,
            convention: Convention::Plain,
            order: TimeOrder::Fourth,
        }),
        Box::new(DiffusionReaction {
            nu: 0.01,
            rho: 1.0,
            order: TimeOrder::Fourth,
        }),
    ];
    for pde in &one_d {
        let e = check(pde.as_ref(), &u1, &ic, &grid1, &[0]);
        assert!(e < 1e-6, "{}: {e}", pde.name());
    }
    let grid2 = Grid {
        lengths: vec![1.0, 2.0],
        dt: Some(0.05),
    };
    let ns = NavierStokes {
        nu: 0.01,
        forcing: Some(Problem::Fno),
        order: TimeOrder::Fourth,
    };
    let w = smooth(3, &[1, 1, 6, 4, 6]);
    let e = check(&ns, &w, &smooth(4, &[1, 1, 6, 4]), &grid2, &[0]);
    assert!(e < 1e-6, "navier-stokes: {e}");
    let darcy = Darcy { beta: 1.0 };
    let grid = Grid {
        lengths: vec![1.0, 1.0],
        dt: None,
    };
    let (u, a) = (smooth(5, &[2, 1, 5, 4]), smooth(6, &[2, 1, 5, 4]));
    let e = check(&darcy, &u, &a, &grid, &[0, 1]);
    assert!(e < 1e-6, "darcy: {e}");
}

#[test]
fn darcy_stencil_matches_the_generator() {
    let (nx, ny) = (6, 5);
    let a: Vec<f64> = (0..nx * ny)
        .map(|i| if (i * 7) % 3 == 0 { 1.0 } else { 0.1 })
        .collect();
    let u = crate::solvers::darcy::solve(&a, nx, ny, 1.0, 1e-13, 10_000).unwrap();
    let t = |v: Vec<f64>| Tensor::from_vec(v, (1, 1, nx, ny), &Device::Cpu).unwrap();
    let r = Darcy { beta: 1.0 }
        .residual(
            &t(u),
            &t(a),
            &Grid {
                lengths: vec![1.0, 1.0],
                dt: None,
            },
        )
        .unwrap();
    let max = r
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(max < 1e-10, "{max}");
}
