//! NCCL against a single GPU (feature `nccl`, a GPU at run time). At
//! world size 1 NCCL's sum of a buffer must be the buffer, and training
//! steps whose gradients go through NCCL must equal steps without it. Run
//! with `cargo test --features nccl --test integration -- --ignored cuda`.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use fno::bench::{optimizer, train_step, LEARNING_RATE};
use fno::dist::{Communicator, NcclOver, Single};
use fno::model::{Fno, ModelConfig};
use fno::train::init::seeded_var_builder;

fn gpu() -> Device {
    Device::new_cuda(0).expect("CUDA device 0")
}

/// The model's weights after three training steps on `gpu` with the
/// gradients summed by `comm`, flattened in name order.
fn three_steps(device: &Device, comm: &dyn Communicator) -> Vec<f32> {
    let cfg = ModelConfig {
        dims: 2,
        modes: vec![6, 6],
        width: 8,
        layers: 2,
        in_channels: 1,
        out_channels: 1,
        ..ModelConfig::default()
    };
    let map = VarMap::new();
    let model = Fno::new(&cfg, seeded_var_builder(&map, 3, DType::F32, device)).expect("model");
    let mut named: Vec<(String, Var)> = map
        .data()
        .lock()
        .expect("varmap")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let vars: Vec<Var> = named.iter().map(|(_, v)| v.clone()).collect();
    let mut opt = optimizer(&map).expect("AdamW");
    let x = Tensor::randn(0f32, 1.0, (4, 1, 16, 16), &Device::Cpu).expect("x");
    let y = (x.sin().expect("sin") * 0.5).expect("y");
    let (x, y) = (
        x.to_device(device).expect("x"),
        y.to_device(device).expect("y"),
    );
    for _ in 0..3 {
        train_step(&model, &mut opt, &vars, LEARNING_RATE, &x, &y, comm).expect("step");
    }
    vars.iter()
        .flat_map(|v| {
            v.as_tensor()
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .expect("weights")
        })
        .collect()
}

/// NCCL's communicator of one rank sums a buffer into itself, reports
/// itself as the backend, and three training steps through it leave the
/// same weights as three without it (to 1e-5, relative).
#[test]
#[ignore = "needs a CUDA GPU and NCCL: cargo test --features nccl -- --ignored"]
fn cuda_nccl_at_world_size_one_matches_one_gpu() {
    let device = gpu();
    let nccl = NcclOver::join(&Single, &device).expect("NCCL of one rank");
    assert_eq!(nccl.backend(&device), "nccl");
    let buf = Tensor::randn(0f32, 1.0, 1000, &device).expect("buffer");
    let sum = nccl.all_reduce_sum_tensor(&buf).expect("NCCL sum");
    assert!(sum.device().is_cuda(), "the sum left the GPU");
    assert_eq!(
        sum.to_vec1::<f32>().expect("sum"),
        buf.to_vec1::<f32>().expect("buffer")
    );
    let (plain, through) = (three_steps(&device, &Single), three_steps(&device, &nccl));
    let diff: f64 = plain
        .iter()
        .zip(&through)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum();
    let norm: f64 = plain.iter().map(|a| f64::from(*a).powi(2)).sum();
    let rel = (diff / norm).sqrt();
    assert!(rel < 1e-5, "weights after NCCL steps differ by {rel:e}");
}
