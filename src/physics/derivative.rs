//! Spectral derivatives of periodic fields, differentiable through candle.
//!
//! A derivative of order p along a periodic axis of length L is
//! `F⁻¹[(ik)^p F u]` with `k = 2π m / L`, built from the differentiable
//! [`crate::spectral::fft`] ops and plain candle arithmetic, so gradients
//! flow to `u` (and to whatever produced it). For odd p the Nyquist bin is
//! dropped: its derivative is not real, and [`irfft`] ignores the imaginary
//! part of that bin, which is the usual convention.
use candle_core::{Result, Tensor};

use crate::spectral::fft::{fft, ifft, irfft, rfft};

/// Wavenumbers `2π m / length` of the rfft bins `m = 0..=n/2`.
fn rfft_wavenumbers(n: usize, length: f64) -> Vec<f64> {
    (0..=n / 2)
        .map(|m| 2.0 * std::f64::consts::PI * m as f64 / length)
        .collect()
}

/// Wavenumbers `2π m / length` of the complex FFT bins in FFT order
/// (`m = 0, 1, .., n/2 − 1, −n/2, .., −1`).
fn fft_wavenumbers(n: usize, length: f64) -> Vec<f64> {
    (0..n)
        .map(|j| {
            let m = if j <= (n - 1) / 2 {
                j as f64
            } else {
                j as f64 - n as f64
            };
            2.0 * std::f64::consts::PI * m / length
        })
        .collect()
}

/// Multiplies a complex tensor `[.., k, 2]` by `i^p · factor_k` (real
/// `factor`, one entry per bin on the second-to-last axis).
fn times_i_power(spec: &Tensor, factor: &[f64], p: usize) -> Result<Tensor> {
    let k = factor.len();
    let f = Tensor::from_vec(factor.to_vec(), (k, 1), spec.device())?.to_dtype(spec.dtype())?;
    let last = spec.rank() - 1;
    let re = spec.narrow(last, 0, 1)?;
    let im = spec.narrow(last, 1, 1)?;
    // i^p (re + i im): rotate by 90° p times.
    let rotated = match p % 4 {
        0 => spec.clone(),
        1 => Tensor::cat(&[&im.neg()?, &re], last)?,
        2 => spec.neg()?,
        _ => Tensor::cat(&[&im, &re.neg()?], last)?,
    };
    rotated.broadcast_mul(&f)
}

/// Moves `axis` to the end (a no-op for the last axis).
fn to_last(u: &Tensor, axis: usize) -> Result<Tensor> {
    let last = u.rank() - 1;
    if axis == last {
        Ok(u.clone())
    } else {
        u.transpose(axis, last)?.contiguous()
    }
}

/// The `order`-th derivative of `u` along the periodic `axis` of length
/// `length`, spectrally.
///
/// # Shapes
/// - `u`: any rank, `axis < rank`; returns the same shape.
pub fn derivative(u: &Tensor, axis: usize, length: f64, order: usize) -> Result<Tensor> {
    if order == 0 {
        return Ok(u.clone());
    }
    let x = to_last(u, axis)?;
    let n = *x.dims().last().unwrap_or(&0);
    let mut factor: Vec<f64> = rfft_wavenumbers(n, length)
        .into_iter()
        .map(|k| k.powi(order as i32))
        .collect();
    if order % 2 == 1 && n % 2 == 0 {
        factor[n / 2] = 0.0;
    }
    let d = irfft(&times_i_power(&rfft(&x)?, &factor, order)?, n)?;
    let last = u.rank() - 1;
    if axis == last {
        Ok(d)
    } else {
        d.transpose(axis, last)?.contiguous()
    }
}

/// Solves `−Δψ = ω` on the periodic box `lengths[0] × lengths[1]` spanned
/// by axes `axes.0` (first) and `axes.1` (second) of `omega`: `ψ̂ = ω̂/|k|²`,
/// with the mean of ψ set to zero.
///
/// # Shapes
/// - `omega`: any rank with the two axes distinct; returns the same shape.
pub fn inverse_laplacian_2d(
    omega: &Tensor,
    axes: (usize, usize),
    lengths: [f64; 2],
) -> Result<Tensor> {
    let last = omega.rank() - 1;
    // Bring the second axis last (rfft axis) and the first next to it.
    let mut w = to_last(omega, axes.1)?;
    let first = if axes.0 == last { axes.1 } else { axes.0 };
    if first != last - 1 {
        w = w.transpose(first, last - 1)?.contiguous()?;
    }
    let (nx, ny) = (w.dim(last - 1)?, w.dim(last)?);
    let spec = fft(&rfft(&w)?, last - 1)?; // [.., nx, ny/2+1, 2]
    let kx = fft_wavenumbers(nx, lengths[0]);
    let ky = rfft_wavenumbers(ny, lengths[1]);
    let mut inv = Vec::with_capacity(nx * ky.len());
    for &a in &kx {
        for &b in &ky {
            let k2 = a * a + b * b;
            inv.push(if k2 > 0.0 { 1.0 / k2 } else { 0.0 });
        }
    }
    let inv = Tensor::from_vec(inv, (nx, ky.len(), 1), omega.device())?.to_dtype(omega.dtype())?;
    let psi = irfft(&ifft(&spec.broadcast_mul(&inv)?, last - 1)?, ny)?;
    let psi = if first != last - 1 {
        psi.transpose(first, last - 1)?.contiguous()?
    } else {
        psi
    };
    if axes.1 != last {
        psi.transpose(axes.1, last)?.contiguous()
    } else {
        Ok(psi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use std::f64::consts::TAU;

    fn max_abs_diff(a: &Tensor, b: &[f64]) -> f64 {
        let a: Vec<f64> = a.flatten_all().unwrap().to_vec1().unwrap();
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn derivatives_of_a_trigonometric_polynomial_are_exact() {
        // u = sin(2πx/L · 3) + cos(2πx/L · 5) on a grid of 32, L = 2.
        let (n, l) = (32, 2.0);
        let x: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) * l / n as f64).collect();
        let (a, b) = (TAU * 3.0 / l, TAU * 5.0 / l);
        let u: Vec<f64> = x.iter().map(|x| (a * x).sin() + (b * x).cos()).collect();
        let t = Tensor::from_vec(u, (1, n), &Device::Cpu).unwrap();
        let d1: Vec<f64> = x
            .iter()
            .map(|x| a * (a * x).cos() - b * (b * x).sin())
            .collect();
        let d2: Vec<f64> = x
            .iter()
            .map(|x| -a * a * (a * x).sin() - b * b * (b * x).cos())
            .collect();
        let d3: Vec<f64> = x
            .iter()
            .map(|x| -a.powi(3) * (a * x).cos() + b.powi(3) * (b * x).sin())
            .collect();
        assert!(max_abs_diff(&derivative(&t, 1, l, 1).unwrap(), &d1) < 1e-10);
        assert!(max_abs_diff(&derivative(&t, 1, l, 2).unwrap(), &d2) < 1e-9);
        assert!(max_abs_diff(&derivative(&t, 1, l, 3).unwrap(), &d3) < 1e-7);
        // Along a leading axis.
        let tt = t.t().unwrap().contiguous().unwrap();
        assert!(max_abs_diff(&derivative(&tt, 0, l, 1).unwrap(), &d1) < 1e-10);
    }

    #[test]
    fn inverse_laplacian_inverts_the_laplacian() {
        let (nx, ny, lx, ly) = (16, 12, 1.0, 2.0);
        let mut w = Vec::new();
        let mut psi = Vec::new();
        for i in 0..nx {
            for j in 0..ny {
                let x = (i as f64 + 0.5) * lx / nx as f64;
                let y = (j as f64 + 0.5) * ly / ny as f64;
                let (kx, ky) = (TAU * 2.0 / lx, TAU * 1.0 / ly);
                let p = (kx * x).sin() * (ky * y).cos() + (TAU * 3.0 * y / ly).sin();
                psi.push(p);
                let k3 = TAU * 3.0 / ly;
                w.push(
                    (kx * kx + ky * ky) * (kx * x).sin() * (ky * y).cos()
                        + k3 * k3 * (k3 * y).sin(),
                );
            }
        }
        // [time, x, y] with time leading, then axes given as (1, 2).
        let w = Tensor::from_vec(w, (1, nx, ny), &Device::Cpu).unwrap();
        let got = inverse_laplacian_2d(&w, (1, 2), [lx, ly]).unwrap();
        assert!(max_abs_diff(&got, &psi) < 1e-10);
        // The same field with x and y stored the other way round and a
        // trailing axis (time last, as the space-time layout has it).
        let wt = w.permute((2, 1, 0)).unwrap().contiguous().unwrap();
        let got = inverse_laplacian_2d(&wt, (1, 0), [lx, ly]).unwrap();
        let back = got.permute((2, 1, 0)).unwrap().contiguous().unwrap();
        assert!(max_abs_diff(&back, &psi) < 1e-10);
    }
}
