//! `fno inspect`: describe a PDEBench file without reading all of it.
use anyhow::Context;
use clap::Args;
use fno::data::stats::{inspect, Inspection};
use fno::data::{BoundaryKind, PdebenchFile, WellInfo};
use std::path::PathBuf;

/// Arguments of `fno inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The HDF5 file to describe, or a folder of The Well's files (a data
    /// set's root with `data/{train,valid,test}`, or one split folder).
    pub file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Compute statistics over every sample instead of a subset.
    ///
    /// Reading everything takes as long as reading the whole file.
    #[arg(long)]
    pub all: bool,
    /// Number of samples, spread over the file, used for statistics.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = super::numeric::at_least_one)]
    pub stat_samples: usize,
}

/// Runs `fno inspect`.
pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let file = PdebenchFile::open(&args.file)?;
    let limit = if args.all {
        0
    } else {
        args.stat_samples.max(1)
    };
    let report = inspect(&file, limit)
        .with_context(|| format!("computing statistics of {}", args.file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Integers and moderate values as written; very small or large ones in
/// scientific notation.
fn short_number(v: f64) -> String {
    let integer = v == v.trunc() && v.abs() < 1e9;
    if integer || (1e-3..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// The Well's metadata: data set, files, boundaries, fields, scalars, stats.
fn print_well(w: &WellInfo) {
    println!(
        "well      {} ({} grid, axes {:?}), {} file(s)",
        w.dataset_name,
        w.grid_type,
        w.spatial_dims,
        w.files.len()
    );
    if let Some(s) = &w.splits {
        println!(
            "splits    train {:?}  valid {:?}  test {:?}",
            s.train, s.valid, s.test
        );
    }
    for b in &w.boundaries {
        let kind = |k: BoundaryKind| format!("{k:?}").to_lowercase();
        println!(
            "bc        {:<10} {} / {}{}",
            b.axis,
            kind(b.lower),
            kind(b.upper),
            if b.is_periodic() {
                "  (no padding)"
            } else {
                ""
            }
        );
    }
    for f in &w.fields {
        let stored: Vec<&str> = w
            .spatial_dims
            .iter()
            .zip(&f.dim_varying)
            .filter(|(_, &v)| v)
            .map(|(d, _)| d.as_str())
            .collect();
        println!(
            "field     {:<16} t{}  {}{}space {:?}  -> {}",
            f.name,
            f.order,
            if f.sample_varying {
                "per-sample "
            } else {
                "shared "
            },
            if f.time_varying {
                "time-varying "
            } else {
                "constant-in-time "
            },
            stored,
            f.channels.join(", ")
        );
    }
    for s in &w.scalars {
        let value = s.value.map_or_else(
            || {
                format!(
                    "{}{}",
                    if s.sample_varying { "per-sample " } else { "" },
                    if s.time_varying { "per-frame" } else { "" }
                )
            },
            short_number,
        );
        println!("scalar    {:<16} {}", s.name, value.trim_end());
    }
    if let Some(stats) = &w.stats {
        println!("stats     {} (normalises training)", stats.path.display());
    }
}

fn print_table(r: &Inspection) {
    let i = &r.info;
    println!("file      {}", i.path.display());
    println!("layout    {:?}", i.layout);
    println!(
        "family    {} (pde: {})",
        i.family.as_deref().unwrap_or("unknown"),
        i.pde.as_deref().unwrap_or("unknown")
    );
    if !i.params.is_empty() {
        let params: Vec<String> = i
            .params
            .iter()
            .map(|(k, v)| format!("{k}={}", short_number(*v)))
            .collect();
        println!("params    {}", params.join(", "));
    }
    if let Some(b) = i.boundary {
        println!("boundary  {b:?}");
    }
    println!("domain    {:?}", i.domain);
    if let Some(n) = &i.notes {
        println!("notes     {n}");
    }
    println!(
        "samples   {}  frames {}  grid {:?}  fields {:?}{}",
        i.num_samples,
        i.num_frames,
        i.spatial_shape,
        i.fields,
        if i.input_fields.is_empty() {
            String::new()
        } else {
            format!("  inputs {:?}", i.input_fields)
        }
    );
    if let Some(w) = &i.well {
        print_well(w);
    }
    println!();
    println!(
        "{:<28} {:<20} {:<8} {:<14} {:<16} {:>12}",
        "dataset", "shape", "dtype", "filters", "chunks", "bytes"
    );
    for d in &i.datasets {
        println!(
            "{:<28} {:<20} {:<8} {:<14} {:<16} {:>12}",
            d.name,
            format!("{:?}", d.shape),
            d.dtype,
            if d.filters.is_empty() {
                "-".to_string()
            } else {
                d.filters.join("+")
            },
            d.chunks
                .as_ref()
                .map_or("contiguous".to_string(), |c| format!("{c:?}")),
            d.storage_bytes
        );
    }
    println!();
    println!(
        "statistics over {} of {} samples",
        r.stats_samples, i.num_samples
    );
    println!(
        "{:<12} {:>12} {:>12} {:>12} {:>12} {:>8} {:>8}",
        "field", "min", "max", "mean", "std", "NaN", "Inf"
    );
    for s in &r.stats {
        println!(
            "{:<12} {:>12.5e} {:>12.5e} {:>12.5e} {:>12.5e} {:>8} {:>8}",
            s.name, s.min, s.max, s.mean, s.std, s.nan_count, s.inf_count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: InspectArgs,
    }

    #[test]
    fn defaults_and_overrides() {
        let w = Wrap::try_parse_from(["x", "f.h5"]).unwrap();
        assert_eq!(w.args.stat_samples, 8);
        assert!(!w.args.json && !w.args.all);
        let w =
            Wrap::try_parse_from(["x", "f.h5", "--json", "--all", "--stat-samples", "3"]).unwrap();
        assert!(w.args.json && w.args.all);
        assert_eq!(w.args.stat_samples, 3);
    }
}
