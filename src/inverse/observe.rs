//! Which points of the output field are observed, and the noise on them.
//!
//! A points file is plain text with one observed point per line: its grid
//! indices on the model's grid (after `reduced_resolution`), separated by
//! commas or whitespace (`i` in 1D, `i, j` in 2D). Blank lines and text after
//! `#` are ignored, so a CSV header can be written as a comment.
use super::InverseError;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// How the output field is observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Observe {
    /// Every grid point.
    Full,
    /// A seeded random fraction of the grid points, in (0, 1].
    Sparse(f64),
    /// The grid points listed in a file.
    Points(PathBuf),
}

impl FromStr for Observe {
    type Err = String;

    /// Parses `full`, `sparse:FRACTION` or `points:FILE`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "full" {
            return Ok(Self::Full);
        }
        if let Some(f) = s.strip_prefix("sparse:") {
            let fraction: f64 = f
                .parse()
                .map_err(|_| format!("`{f}` in `{s}` is not a number"))?;
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(format!(
                    "the fraction in `{s}` must lie in (0, 1], e.g. sparse:0.1"
                ));
            }
            return Ok(Self::Sparse(fraction));
        }
        if let Some(p) = s.strip_prefix("points:") {
            if p.is_empty() {
                return Err("`points:` needs a file, e.g. points:obs.csv".into());
            }
            return Ok(Self::Points(PathBuf::from(p)));
        }
        Err(format!(
            "`{s}`: expected full, sparse:FRACTION or points:FILE"
        ))
    }
}

impl std::fmt::Display for Observe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => write!(f, "full"),
            Self::Sparse(x) => write!(f, "sparse:{x}"),
            Self::Points(p) => write!(f, "points:{}", p.display()),
        }
    }
}

/// The observed points of a row-major grid of shape `grid`, as a 0/1 mask
/// of `grid.iter().product()` entries. `seed` draws the sparse points.
pub fn mask(observe: &Observe, grid: &[usize], seed: u64) -> Result<Vec<f32>, InverseError> {
    let n: usize = grid.iter().product();
    let mut mask = vec![0.0f32; n];
    match observe {
        Observe::Full => mask.fill(1.0),
        Observe::Sparse(fraction) => {
            let k = ((fraction * n as f64).round() as usize).clamp(1, n);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for i in sample(&mut rng, n, k) {
                mask[i] = 1.0;
            }
        }
        Observe::Points(path) => {
            for i in read_points(path, grid)? {
                mask[i] = 1.0;
            }
        }
    }
    Ok(mask)
}

/// Reads a points file into flat row-major indices of `grid`.
fn read_points(path: &Path, grid: &[usize]) -> Result<Vec<usize>, InverseError> {
    let text = std::fs::read_to_string(path).map_err(|source| InverseError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |line: usize, reason: String| InverseError::Points {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut points = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = number + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        if fields.len() != grid.len() {
            return Err(bad(
                line,
                format!(
                    "expected {} grid indices for a {:?} grid, found {}",
                    grid.len(),
                    grid,
                    fields.len()
                ),
            ));
        }
        let mut flat = 0usize;
        for (axis, (field, &size)) in fields.iter().zip(grid).enumerate() {
            let i: usize = field
                .parse()
                .map_err(|_| bad(line, format!("`{field}` is not a grid index")))?;
            if i >= size {
                return Err(bad(
                    line,
                    format!("index {i} on axis {axis} is outside the grid of {size} points"),
                ));
            }
            flat = flat * size + i;
        }
        points.push(flat);
    }
    if points.is_empty() {
        return Err(bad(0, "the file lists no points".into()));
    }
    Ok(points)
}

/// Adds seeded Gaussian noise of standard deviation `sigma × std(values)`.
pub fn add_noise(values: &mut [f32], sigma: f64, seed: u64) {
    if sigma == 0.0 || values.is_empty() {
        return;
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let scale = sigma * var.sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for v in values.iter_mut() {
        let e: f64 = StandardNormal.sample(&mut rng);
        *v += (scale * e) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form_and_rejects_bad_fractions() {
        assert_eq!("full".parse::<Observe>(), Ok(Observe::Full));
        assert_eq!("sparse:0.1".parse::<Observe>(), Ok(Observe::Sparse(0.1)));
        assert_eq!(
            "points:a.csv".parse::<Observe>(),
            Ok(Observe::Points("a.csv".into()))
        );
        for bad in [
            "sparse:0",
            "sparse:1.5",
            "sparse:x",
            "sparse:-0.1",
            "some",
            "points:",
        ] {
            assert!(bad.parse::<Observe>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sparse_masks_have_the_fraction_and_depend_on_the_seed() {
        let a = mask(&Observe::Sparse(0.1), &[20, 10], 3).unwrap();
        assert_eq!(a.iter().filter(|&&m| m == 1.0).count(), 20);
        assert_eq!(a, mask(&Observe::Sparse(0.1), &[20, 10], 3).unwrap());
        assert_ne!(a, mask(&Observe::Sparse(0.1), &[20, 10], 4).unwrap());
        // A tiny fraction still observes one point.
        let b = mask(&Observe::Sparse(1e-9), &[8], 0).unwrap();
        assert_eq!(b.iter().sum::<f32>(), 1.0);
        assert!(mask(&Observe::Full, &[4, 4], 0)
            .unwrap()
            .iter()
            .all(|&m| m == 1.0));
    }

    #[test]
    fn points_files_are_read_row_major_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, "# i, j\n0, 1\n\n2 3 # comment\n").unwrap();
        let m = mask(&Observe::Points(path.clone()), &[3, 4], 0).unwrap();
        let on: Vec<usize> = (0..12).filter(|&i| m[i] == 1.0).collect();
        assert_eq!(on, vec![1, 11]);
        std::fs::write(&path, "0, 4\n").unwrap();
        let err = mask(&Observe::Points(path.clone()), &[3, 4], 0).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        std::fs::write(&path, "1\n").unwrap();
        assert!(mask(&Observe::Points(path), &[3, 4], 0).is_err());
    }

    #[test]
    fn noise_has_the_requested_size() {
        let clean: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.01).sin()).collect();
        let mut noisy = clean.clone();
        add_noise(&mut noisy, 0.05, 1);
        let n = clean.len() as f64;
        let std = (clean.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n).sqrt();
        let err = (clean
            .iter()
            .zip(&noisy)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!((err / std - 0.05).abs() < 0.005, "{}", err / std);
        let mut same = clean.clone();
        add_noise(&mut same, 0.0, 1);
        assert_eq!(same, clean);
    }
}
