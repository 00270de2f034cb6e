//! Criterion benchmarks of the model's hot paths on the CPU.
//!
//! - `cpu_pointwise_*`, `cpu_gelu_*`: the fused ops against the plain candle
//!   ops they replace (broadcast batched matmul, `gelu_erf`), forward and
//!   backward, on the FNO-2D hidden state `[20, 32, 64, 64]`;
//! - `cpu_fno1d_*`, `cpu_fno2d_*`: forward pass and training step (forward,
//!   backward, AdamW) of FNO-1D (N = 1024, batch 20, width 64, modes 16,
//!   4 layers) and FNO-2D (64×64, batch 20, width 32, modes 12, 4 layers).
//!
//! Run with `cargo bench --bench fno`; the CPU device is synchronous, so the
//! clock stops when the last op returns. Unlike `fno bench`, this process
//! keeps glibc's default allocator thresholds.
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fno::bench::{optimizer, train_step, LEARNING_RATE};
use fno::dist::Single;
use fno::model::activation::gelu;
use fno::model::pointwise::{pointwise_linear_reference, PointwiseLinear};
use fno::model::{Fno, ModelConfig};

fn time<F: FnMut()>(iters: u64, mut f: F) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

fn hidden_state() -> Var {
    Var::randn(0f32, 1.0, (20, 32, 64, 64), &Device::Cpu).expect("random tensor")
}

fn pointwise(c: &mut Criterion) {
    let map = VarMap::new();
    let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
    let layer = PointwiseLinear::new(32, 32, vb).expect("layer");
    let x = hidden_state();
    let skip = hidden_state();
    let mut group = c.benchmark_group("cpu_pointwise");
    group.throughput(Throughput::Elements(x.elem_count() as u64));
    group.bench_function("fused_forward", |b| {
        b.iter_custom(|n| time(n, || drop(layer.forward(&x, Some(&skip)).expect("forward"))))
    });
    group.bench_function("reference_forward", |b| {
        b.iter_custom(|n| {
            time(n, || {
                let y = pointwise_linear_reference(&x, layer.weight(), layer.bias(), Some(&skip));
                drop(y.expect("forward"))
            })
        })
    });
    group.bench_function("fused_forward_backward", |b| {
        b.iter_custom(|n| {
            time(n, || {
                let y = layer.forward(&x, Some(&skip)).expect("forward");
                drop(y.sum_all().and_then(|s| s.backward()).expect("backward"))
            })
        })
    });
    group.bench_function("reference_forward_backward", |b| {
        b.iter_custom(|n| {
            time(n, || {
                let y = pointwise_linear_reference(&x, layer.weight(), layer.bias(), Some(&skip));
                let y = y.expect("forward");
                drop(y.sum_all().and_then(|s| s.backward()).expect("backward"))
            })
        })
    });
    group.finish();
}

fn activation(c: &mut Criterion) {
    let x = hidden_state();
    let mut group = c.benchmark_group("cpu_gelu");
    group.throughput(Throughput::Elements(x.elem_count() as u64));
    group.bench_function("fast_forward", |b| {
        b.iter_custom(|n| time(n, || drop(gelu(&x).expect("gelu"))))
    });
    group.bench_function("candle_erf_forward", |b| {
        b.iter_custom(|n| time(n, || drop(x.gelu_erf().expect("gelu"))))
    });
    group.bench_function("fast_forward_backward", |b| {
        b.iter_custom(|n| {
            time(n, || {
                let y = gelu(&x).expect("gelu");
                drop(y.sum_all().and_then(|s| s.backward()).expect("backward"))
            })
        })
    });
    group.bench_function("candle_erf_forward_backward", |b| {
        b.iter_custom(|n| {
            time(n, || {
                let y = x.gelu_erf().expect("gelu");
                drop(y.sum_all().and_then(|s| s.backward()).expect("backward"))
            })
        })
    });
    group.finish();
}

/// One benchmarked FNO: its config and grid size per axis.
struct Case {
    name: &'static str,
    dims: usize,
    size: usize,
    width: usize,
    modes: usize,
}

const CASES: [Case; 2] = [
    Case {
        name: "cpu_fno1d",
        dims: 1,
        size: 1024,
        width: 64,
        modes: 16,
    },
    Case {
        name: "cpu_fno2d",
        dims: 2,
        size: 64,
        width: 32,
        modes: 12,
    },
];

const BATCH: usize = 20;

fn model(c: &mut Criterion) {
    let device = Device::Cpu;
    for case in &CASES {
        let cfg = ModelConfig {
            dims: case.dims,
            modes: vec![case.modes; case.dims],
            width: case.width,
            layers: 4,
            ..ModelConfig::default()
        };
        let map = VarMap::new();
        let fno =
            Fno::new(&cfg, VarBuilder::from_varmap(&map, DType::F32, &device)).expect("model");
        let shape = [&[BATCH, 1][..], &vec![case.size; case.dims]].concat();
        let x = Tensor::randn(0f32, 1.0, shape.as_slice(), &device).expect("input");
        let y = Tensor::randn(0f32, 1.0, shape.as_slice(), &device).expect("target");
        let mut opt = optimizer(&map).expect("optimizer");
        let vars = map.all_vars();
        let mut group = c.benchmark_group(case.name);
        group.throughput(Throughput::Elements(x.elem_count() as u64));
        group.bench_function("forward", |b| {
            b.iter_custom(|n| time(n, || drop(fno.forward(&x).expect("forward"))))
        });
        group.bench_function("train_step", |b| {
            b.iter_custom(|n| {
                time(n, || {
                    train_step(&fno, &mut opt, &vars, LEARNING_RATE, &x, &y, &Single)
                        .expect("step");
                })
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = pointwise, activation, model
}
criterion_main!(benches);
