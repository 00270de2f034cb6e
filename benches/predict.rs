//! `Predictor::predict` of a trained Darcy FNO (configs/darcy.toml's
//! model: width 20, modes 12, 4 layers) on 64 inputs at 64x64, timed the
//! way python/benches/predict_speed.py times the Python package's
//! `Run.predict` on the same run and inputs: the two medians give the
//! bindings' overhead (BENCHMARKS.md, "Python bindings").
//!
//! `cargo bench --bench predict -- DIR` generates the data and trains the
//! run into DIR the first time (target/predict-bench by default), then
//! prints the median, minimum and maximum of 20 timed calls, after 3
//! untimed ones. Each call builds the input tensor from a slice and reads
//! the output back into a Vec, as the bindings do with NumPy arrays.
use candle_core::{Device, Tensor};
use fno::data::{PdebenchFile, Resolution};
use fno::rundir::Weights;
use fno::solvers::darcy::{Coefficient, DarcyConfig};
use fno::solvers::GenerateSpec;
use fno::train::config::RunConfig;
use fno::train::run::Predictor;
use fno::train::train;
use fno::train::trainer::{Silent, Start};
use std::path::{Path, PathBuf};
use std::time::Instant;

const BATCH: usize = 64;
const GRID: usize = 64;
const WARMUP: usize = 3;
const TIMED: usize = 20;

/// The Darcy file and a one-epoch run on it, made once per directory.
fn prepare(dir: &Path) -> anyhow::Result<PathBuf> {
    let data_dir = dir.join("data");
    let existing = std::fs::read_dir(&data_dir)
        .ok()
        .and_then(|mut entries| entries.next())
        .transpose()?;
    let data = match existing {
        Some(entry) => entry.path(),
        None => {
            let spec = GenerateSpec::Darcy(DarcyConfig {
                samples: BATCH + 16,
                nx: GRID,
                ny: GRID,
                coefficient: Coefficient::Fno,
                seed: 0,
                ..DarcyConfig::default()
            });
            fno::solvers::generate(&spec, &data_dir, &|_| {})?
        }
    };
    let run = dir.join("run");
    if !run.join("config.toml").exists() {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/darcy.toml");
        let overrides = [
            format!("data.train={:?}", data.display().to_string()),
            "train.epochs=1".to_string(),
            "train.batch_size=16".to_string(),
        ];
        let cfg = RunConfig::from_toml(
            &std::fs::read_to_string(&config)?,
            &config.display().to_string(),
            &overrides,
        )?;
        train(&cfg, &run, Start::Overwrite, &Device::Cpu, &mut Silent)?;
    }
    Ok(data)
}

fn main() -> anyhow::Result<()> {
    fno::device::candle_pool_default();
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map_or_else(|| PathBuf::from("target/predict-bench"), PathBuf::from);
    let data = prepare(&dir)?;
    let predictor = Predictor::load(&dir.join("run"), Weights::Best, &Device::Cpu)?;
    let file = PdebenchFile::open(&data)?;
    let mut values = Vec::with_capacity(BATCH * GRID * GRID);
    for i in 0..BATCH {
        let sample = file.read_sample(i, &Resolution::default())?;
        let input = sample
            .input
            .ok_or_else(|| anyhow::anyhow!("{}: no input field", data.display()))?;
        values.extend(input.iter().copied());
    }
    let mut seconds = Vec::with_capacity(TIMED);
    for call in 0..WARMUP + TIMED {
        let start = Instant::now();
        let x = Tensor::from_slice(&values, (BATCH, 1, GRID, GRID), &Device::Cpu)?;
        let y = predictor.predict(&x, 1)?;
        let out = y.flatten_all()?.to_vec1::<f32>()?;
        std::hint::black_box(out);
        if call >= WARMUP {
            seconds.push(start.elapsed().as_secs_f64());
        }
    }
    seconds.sort_by(f64::total_cmp);
    println!(
        "rust predict {BATCH}x{GRID}x{GRID}: median {:.2} ms, min {:.2} ms, max {:.2} ms ({TIMED} calls)",
        seconds[TIMED / 2] * 1e3,
        seconds[0] * 1e3,
        seconds[TIMED - 1] * 1e3
    );
    Ok(())
}
