//! The CUDA backend against the CPU (feature `cuda`, a GPU at run time).
//!
//! Every test is `#[ignore]`d because CI has no GPU; on a machine with one
//! run them with `cargo test --features cuda --test integration -- --ignored
//! cuda`. Each runs the same op on the CPU and on `cuda:0` from the same
//! random inputs and compares outputs and gradients (of the loss
//! `sum(op(x) * r)` with a random `r`) to a relative error of 1e-4, for 1D,
//! 2D and 3D shapes.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use fno::model::{Fno, ModelConfig};
use fno::spectral::fft::{fft, ifft, irfft, rfft};
use fno::spectral::{
    set_cuda_transforms, CudaTransforms, SpectralBackend, SpectralConv, SpectralConvConfig,
};
use fno::train::init::seeded_var_builder;
use fno::train::optim::{AdamW, AdamWConfig};
use rand::{Rng, SeedableRng};

const TOL: f64 = 1e-4;

fn gpu() -> Device {
    Device::new_cuda(0).expect("CUDA device 0")
}

/// Uniform values in [-1, 1) from a seeded generator, on the CPU.
fn random(seed: u64, shape: &[usize], dtype: DType) -> Tensor {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let data: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(data, shape, &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .expect("random tensor")
}

/// `||a - b|| / ||b||`, both brought to the CPU in f64.
fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    let f = |t: &Tensor| -> Vec<f64> {
        t.to_device(&Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F64))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("to host")
    };
    let (a, b) = (f(a), f(b));
    assert_eq!(a.len(), b.len(), "sizes differ");
    let diff: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm.max(1e-300)).sqrt()
}

/// Runs `op` on CPU copies and on GPU copies of `inputs` (all made
/// variables) and checks that outputs and gradients of `sum(op * r)` agree.
fn compare(what: &str, inputs: &[Tensor], op: impl Fn(&[Tensor]) -> candle_core::Result<Tensor>) {
    let gpu = gpu();
    let run = |device: &Device| {
        let vars: Vec<Var> = inputs
            .iter()
            .map(|t| Var::from_tensor(&t.to_device(device).expect("copy")).expect("var"))
            .collect();
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let y = op(&tensors).expect("op");
        let r = random(99, y.dims(), y.dtype())
            .to_device(device)
            .expect("copy");
        let grads = (&y * &r)
            .and_then(|p| p.sum_all())
            .and_then(|l| l.backward())
            .expect("backward");
        let g: Vec<Tensor> = vars
            .iter()
            .map(|v| {
                let g = grads.get(v.as_tensor());
                g.unwrap_or_else(|| panic!("{what}: an input has no gradient"))
                    .clone()
            })
            .collect();
        (y, g)
    };
    let (y_cpu, g_cpu) = run(&Device::Cpu);
    let (y_gpu, g_gpu) = run(&gpu);
    assert!(y_gpu.device().is_cuda(), "{what}: output left the GPU");
    let e = rel_err(&y_gpu, &y_cpu);
    let errors: Vec<f64> = g_gpu
        .iter()
        .zip(&g_cpu)
        .map(|(a, b)| rel_err(a, b))
        .collect();
    let worst = errors.iter().copied().fold(0.0, f64::max);
    // Printed (see with --nocapture) so that a run records the margins.
    eprintln!("{what}: forward {e:.2e}, worst gradient {worst:.2e}");
    assert!(e < TOL, "{what}: forward rel. error {e}");
    for (i, e) in errors.into_iter().enumerate() {
        assert!(e < TOL, "{what}: gradient of input {i} rel. error {e}");
    }
}

#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_fft_ops_match_cpu() {
    for dtype in [DType::F32, DType::F64] {
        for shape in [vec![3, 17], vec![2, 6, 16], vec![2, 4, 5, 12]] {
            let n = *shape.last().expect("rank >= 1");
            let x = random(1, &shape, dtype);
            compare(&format!("rfft {shape:?} {dtype:?}"), &[x], |a| rfft(&a[0]));
            let mut spec = shape.clone();
            for keep in [n / 2 + 1, 3] {
                *spec.last_mut().expect("rank >= 1") = keep;
                spec.push(2);
                let y = random(2, &spec, dtype);
                compare(&format!("irfft {spec:?} -> {n} {dtype:?}"), &[y], |a| {
                    irfft(&a[0], n)
                });
                spec.pop();
            }
            let mut complex = shape.clone();
            complex.push(2);
            let z = random(3, &complex, dtype);
            for axis in 0..shape.len() {
                compare(
                    &format!("fft {complex:?} axis {axis} {dtype:?}"),
                    std::slice::from_ref(&z),
                    |a| fft(&a[0], axis),
                );
                compare(
                    &format!("ifft {complex:?} axis {axis} {dtype:?}"),
                    std::slice::from_ref(&z),
                    |a| ifft(&a[0], axis),
                );
            }
        }
    }
}

/// (input grid, output grid, modes): 1D, 2D and 3D, odd and even sizes,
/// clipped modes, and output grids finer and coarser than the input.
fn conv_cases() -> Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    vec![
        (vec![64], vec![64], vec![16]),
        (vec![33], vec![100], vec![16]),
        (vec![32, 24], vec![32, 24], vec![12, 12]),
        (vec![15, 16], vec![20, 33], vec![9, 9]),
        (vec![12, 10, 9], vec![12, 10, 9], vec![4, 3, 4]),
        (vec![12, 10, 9], vec![16, 7, 12], vec![4, 3, 4]),
    ]
}

fn layer(
    cfg: &SpectralConvConfig,
    w_re: &Tensor,
    w_im: &Tensor,
) -> candle_core::Result<SpectralConv> {
    let map = HashMap::from([
        ("weight_re".to_string(), w_re.clone()),
        ("weight_im".to_string(), w_im.clone()),
    ]);
    let vb = VarBuilder::from_tensors(map, w_re.dtype(), w_re.device());
    SpectralConv::new(cfg, vb).map_err(candle_core::Error::wrap)
}

fn compare_conv(backend: SpectralBackend) {
    for dtype in [DType::F32, DType::F64] {
        for (grid, out, modes) in conv_cases() {
            let cfg = SpectralConvConfig {
                in_channels: 3,
                out_channels: 4,
                modes: modes.clone(),
                backend,
            };
            let mut ws = vec![3, 4];
            let last = modes.len() - 1;
            ws.extend(
                modes
                    .iter()
                    .enumerate()
                    .map(|(a, &m)| if a == last { m } else { 2 * m }),
            );
            let mut xs = vec![2, 3];
            xs.extend(&grid);
            let inputs = [
                random(4, &xs, dtype),
                random(5, &ws, dtype),
                random(6, &ws, dtype),
            ];
            compare(
                &format!("{backend:?} {grid:?} -> {out:?} modes {modes:?} {dtype:?}"),
                &inputs,
                |a| layer(&cfg, &a[1], &a[2])?.forward_to(&a[0], &out),
            );
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_fused_spectral_conv_matches_cpu() {
    compare_conv(SpectralBackend::Fft);
    let cfg = SpectralConvConfig::default();
    let w = Tensor::zeros((32, 32, 24, 12), DType::F32, &gpu()).expect("zeros");
    let conv = layer(&cfg, &w, &w).expect("layer");
    assert_eq!(
        conv.backend_for(&gpu()),
        SpectralBackend::Fft,
        "auto on CUDA"
    );
}

/// Puts the cuFFT transforms back when a test that chose the direct ones
/// ends, passed or not (the GPU tests run one at a time).
struct DirectTransforms;

impl DirectTransforms {
    fn choose() -> Self {
        set_cuda_transforms(CudaTransforms::Direct);
        Self
    }
}

impl Drop for DirectTransforms {
    fn drop(&mut self) {
        set_cuda_transforms(CudaTransforms::Cufft);
    }
}

#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_direct_transforms_match_cpu() {
    let _direct = DirectTransforms::choose();
    compare_conv(SpectralBackend::Fft);
    for (cfg, grid) in fno_cases() {
        compare_fno(&cfg, &grid, &grid);
    }
    let (cfg, grid) = fno_cases().swap_remove(0);
    let finer: Vec<usize> = grid.iter().map(|&n| n + n / 2).collect();
    compare_fno(&cfg, &grid, &finer);
}

/// The bench configuration's layer (64², width 32, modes 12, batch 4) on
/// the GPU, output and gradients, with the direct transforms against
/// cuFFT's: the unfused path the direct one replaces.
#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_direct_transforms_match_cufft_on_the_bench_layer() {
    let cfg = SpectralConvConfig {
        in_channels: 32,
        out_channels: 32,
        modes: vec![12, 12],
        backend: SpectralBackend::Fft,
    };
    let gpu = gpu();
    let to_gpu = |t: Tensor| t.to_device(&gpu).expect("copy");
    let x = Var::from_tensor(&to_gpu(random(11, &[4, 32, 64, 64], DType::F32))).expect("var");
    let w_re = Var::from_tensor(&to_gpu(random(12, &[32, 32, 24, 12], DType::F32))).expect("var");
    let w_im = Var::from_tensor(&to_gpu(random(13, &[32, 32, 24, 12], DType::F32))).expect("var");
    let r = to_gpu(random(14, &[4, 32, 64, 64], DType::F32));
    let run = || {
        let conv = layer(&cfg, w_re.as_tensor(), w_im.as_tensor()).expect("layer");
        let y = conv.forward_to(x.as_tensor(), &[64, 64]).expect("forward");
        let grads = (&y * &r)
            .and_then(|p| p.sum_all())
            .and_then(|l| l.backward())
            .expect("backward");
        let g = |v: &Var| grads.get(v.as_tensor()).expect("gradient").clone();
        [y, g(&x), g(&w_re), g(&w_im)]
    };
    let cufft = run();
    let direct = {
        let _direct = DirectTransforms::choose();
        run()
    };
    for (what, (a, b)) in ["output", "dx", "dw_re", "dw_im"]
        .iter()
        .zip(direct.iter().zip(&cufft))
    {
        let e = rel_err(a, b);
        eprintln!("direct against cuFFT, bench layer, {what}: {e:.2e}");
        assert!(e < TOL, "{what}: rel. error {e}");
    }
}

#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_dense_spectral_conv_matches_cpu() {
    compare_conv(SpectralBackend::Dft);
}

/// The same FNO (same weights) on both devices, evaluated on `out_grid`:
/// output and the gradient of every parameter.
fn compare_fno(cfg: &ModelConfig, grid: &[usize], out_grid: &[usize]) {
    let map = VarMap::new();
    // Seeded, so that a failure reproduces with the same weights;
    // FNO_CUDA_TEST_SEED tries others.
    let seed = std::env::var("FNO_CUDA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Fno::new(
        cfg,
        seeded_var_builder(&map, seed, DType::F32, &Device::Cpu),
    )
    .expect("cpu model");
    let mut names: Vec<(String, Tensor)> = map
        .data()
        .lock()
        .expect("varmap")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let weights: Vec<Tensor> = names.iter().map(|(_, t)| t.clone()).collect();
    let mut xs = vec![3, cfg.in_channels];
    xs.extend(grid);
    let mut inputs = vec![random(7, &xs, DType::F32)];
    inputs.extend(weights);
    compare(
        &format!("FNO {}D {grid:?} -> {out_grid:?}", cfg.dims),
        &inputs,
        |a| {
            let tensors: HashMap<String, Tensor> = names
                .iter()
                .zip(&a[1..])
                .map(|((k, _), t)| (k.clone(), t.clone()))
                .collect();
            let vb = VarBuilder::from_tensors(tensors, DType::F32, a[0].device());
            let model = Fno::new(cfg, vb).map_err(candle_core::Error::wrap)?;
            model
                .forward_to(&a[0], out_grid)
                .map_err(candle_core::Error::wrap)
        },
    );
}

/// Small models, 1D to 3D, with and without domain padding.
fn fno_cases() -> Vec<(ModelConfig, Vec<usize>)> {
    [
        (1, vec![8], vec![64], vec![0.25], 2),
        (2, vec![6, 6], vec![24, 20], vec![0.25, 0.0], 4),
        (3, vec![3, 3, 3], vec![10, 8, 8], vec![0.0, 0.0, 0.0], 2),
    ]
    .into_iter()
    .map(|(dims, modes, grid, padding, layers)| {
        let cfg = ModelConfig {
            dims,
            modes,
            width: 8,
            layers,
            in_channels: 2,
            out_channels: 1,
            padding,
            ..ModelConfig::default()
        };
        (cfg, grid)
    })
    .collect()
}

/// On the input grid a recorded forward pass runs the whole stack of
/// Fourier blocks as one op with its own backward pass on both devices.
#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_fno_forward_and_backward_match_cpu() {
    for (cfg, grid) in fno_cases() {
        compare_fno(&cfg, &grid, &grid);
    }
}

/// On another output grid the blocks run as separate ops (spectral
/// convolution, pointwise layer and epilogue).
#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_fno_on_another_grid_matches_cpu() {
    for (cfg, grid) in fno_cases() {
        let finer: Vec<usize> = grid.iter().map(|n| n + n / 2).collect();
        compare_fno(&cfg, &grid, &finer);
    }
}

/// The pointwise layer (cuBLAS GEMM plus our bias/skip/GELU epilogue and
/// channel-sum kernels) against the CPU's fused op, with and without GELU
/// and the skip input, 1D to 3D grids, f32 and f64; the gradients of the
/// input, weight, bias and skip all checked.
#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_pointwise_layer_matches_cpu() {
    use fno::model::activation::Activation;
    use fno::model::pointwise::PointwiseLinear;
    for dtype in [DType::F32, DType::F64] {
        for grid in [vec![33], vec![12, 10], vec![6, 5, 4]] {
            let (c_in, c_out) = (5, 7);
            let mut x_shape = vec![3, c_in];
            x_shape.extend(&grid);
            let mut y_shape = vec![3, c_out];
            y_shape.extend(&grid);
            let inputs = [
                random(11, &x_shape, dtype),
                random(12, &[c_out, c_in], dtype),
                random(13, &[c_out], dtype),
                random(14, &y_shape, dtype),
            ];
            for (gelu, with_skip) in [(true, true), (true, false), (false, true), (false, false)] {
                let used = if with_skip { &inputs[..] } else { &inputs[..3] };
                compare(
                    &format!("pointwise {grid:?} {dtype:?} gelu {gelu} skip {with_skip}"),
                    used,
                    |a| {
                        let layer = PointwiseLinear::from_parts(a[1].clone(), a[2].clone())?;
                        let skip = a.get(3);
                        if gelu {
                            layer.forward_activated(&a[0], skip, Activation::Gelu)
                        } else {
                            layer.forward(&a[0], skip)
                        }
                    },
                );
            }
        }
    }
}

/// AdamW's in-place kernels on CUDA against the CPU's passes: three steps
/// on the same parameters and loss, f32 and f64, with weight decay.
#[test]
#[ignore = "needs a CUDA GPU: cargo test --features cuda -- --ignored"]
fn cuda_adamw_matches_cpu() {
    for dtype in [DType::F32, DType::F64] {
        let start = random(11, &[5, 37], dtype);
        let target = random(12, &[5, 37], dtype);
        let run = |device: &Device| {
            let var = Var::from_tensor(&start.to_device(device).expect("copy")).expect("var");
            let target = target.to_device(device).expect("copy");
            let config = AdamWConfig {
                weight_decay: 0.01,
                ..AdamWConfig::default()
            };
            let mut opt = AdamW::new(vec![("w".into(), var.clone())], config).expect("adamw");
            for _ in 0..3 {
                let loss = (var.as_tensor() - &target)
                    .and_then(|d| d.sqr())
                    .and_then(|d| d.sum_all())
                    .expect("loss");
                opt.step(&loss.backward().expect("backward"), 0.05)
                    .expect("step");
            }
            var.as_tensor().clone()
        };
        let (cpu, gpu) = (run(&Device::Cpu), run(&gpu()));
        assert!(gpu.device().is_cuda(), "the parameter left the GPU");
        let e = rel_err(&gpu, &cpu);
        assert!(e < TOL, "AdamW {dtype:?}: rel. error {e}");
    }
}
