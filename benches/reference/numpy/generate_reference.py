"""The solvers of `fno generate burgers` and `fno generate ns`, in numpy.

The same algorithms written the usual vectorised way, to time against
`fno generate` (BENCHMARKS.md, "Data generation"):

- Burgers: u_t + (u^2/2)_x = eps u_xx on [0, 1), eps = Nu/pi (the file's
  `convention` pdebench, the default) or Nu (plain). Pseudo-spectral with
  `np.fft.rfft`, the state kept on the 2/3-rule modes k < n/3, viscosity by
  an integrating factor, RK4 for the rest; each output interval split into
  equal steps from its starting max|u| (advective CFL number `cfl`).
- Navier-Stokes (vorticity form, FNO paper's problem): w_t + u.grad w =
  nu Lap w + f on the periodic square, -Lap psi = w, u = (psi_y, -psi_x).
  Pseudo-spectral with `np.fft.rfft2` on the 2/3-rule modes, Crank-Nicolson
  for the viscosity and Heun for the advection; each interval's step from
  the CFL number and the bound that keeps viscous damping ahead of Heun's
  growth at the highest kept mode, with max|u| of the last advection
  evaluation, as fno does.

Both start from frame 0 of a sample of a file written by `fno generate`
(whose frame 0 is already the projected initial condition), read the
settings from the file's attributes, solve to the last frame and report the
relative L2 difference from the file's last frame (float32 rounding, about
3e-8, when both do the same work) and the per-sample wall and CPU times.

Usage:
    python generate_reference.py burgers 1D_Burgers_Sols_Nu0.01.hdf5 RUNS [--sample I]
    python generate_reference.py ns 2D_NS_Nu0.001.hdf5 RUNS [--sample I]

RUNS solves of the sample are timed; the minimum per sample is reported.
"""

import argparse
import math
import time

import h5py
import numpy as np


def substeps(interval, max_dt):
    """Equal steps of at most `max_dt` that split `interval` (at least one)."""
    return max(1, math.ceil(interval / max_dt))


def text_attr(attrs, name, default):
    value = attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def burgers_settings(f, sample):
    """(u0, eps, tmax, nt, cfl, last frame) of one Burgers sample."""
    series = f["tensor"]
    nt = series.shape[1] - 1
    nu = float(f.attrs["Nu"])
    plain = text_attr(f.attrs, "convention", "pdebench").startswith("plain")
    eps = nu if plain else nu / math.pi
    tmax = float(f.attrs["tmax"]) if "tmax" in f.attrs else float(f["t-coordinate"][nt])
    cfl = float(f.attrs.get("cfl", 0.5))
    frames = series[sample].astype(np.float64)
    return frames[0], eps, tmax, nt, cfl, frames[-1]


def solve_burgers(u0, eps, tmax, nt, cfl):
    """The last frame of the integrating-factor RK4 solve from `u0`."""
    n = u0.size
    kept = (n - 1) // 3 + 1
    k = 2 * np.pi * np.arange(kept)
    linear = -eps * k**2
    flux_symbol = -1j * k  # (u^2/2)_x enters as -ik (u^2/2)^

    def nonlinear(v):
        u = np.fft.irfft(v, n)
        return flux_symbol * np.fft.rfft(0.5 * u * u)[:kept]

    v = np.fft.rfft(u0)[:kept]
    interval, dx = tmax / nt, 1.0 / n
    for _ in range(nt):
        umax = np.abs(np.fft.irfft(v, n)).max()
        count = substeps(interval, cfl * dx / umax) if umax > 0 else 1
        dt = interval / count
        half, full = np.exp(0.5 * dt * linear), np.exp(dt * linear)
        for _ in range(count):
            k1 = nonlinear(v)
            k2 = nonlinear(half * (v + 0.5 * dt * k1))
            k3 = nonlinear(half * v + 0.5 * dt * k2)
            k4 = nonlinear(full * v + dt * half * k3)
            v = full * v + dt / 6 * (full * k1 + 2 * half * (k2 + k3) + k4)
    return np.fft.irfft(v, n)


def ns_settings(f, sample):
    """(w0, nu, length, forcing kind, tmax, nt, cfl, last frame) of one NS sample."""
    nu = float(f.attrs["nu"])
    length = float(f.attrs.get("length", 1.0))
    kolmogorov = text_attr(f.attrs, "forcing", "0.1").startswith("-4")
    tmax = float(f.attrs["tmax"])
    cfl = float(f.attrs.get("cfl", 0.25))
    w0 = f["a"][sample].astype(np.float64)
    frames = f["u"][sample]
    return w0, nu, length, kolmogorov, tmax, frames.shape[-1], cfl, frames[..., -1]


def solve_ns(w0, nu, length, kolmogorov, tmax, nt, cfl):
    """The last frame of the Crank-Nicolson + Heun solve from `w0` ([x, y])."""
    n = w0.shape[0]
    modes_x = np.fft.fftfreq(n, 1.0 / n)[:, None]
    modes_y = np.arange(n // 2 + 1)[None, :]
    kept = (3 * np.abs(modes_x) < n) & (3 * modes_y < n)
    kx, ky = 2 * np.pi / length * modes_x, 2 * np.pi / length * modes_y
    k2 = kx**2 + ky**2
    inverse_k2 = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    shape = (n, n)

    centres = (np.arange(n) + 0.5) * length / n
    x, y = centres[:, None], centres[None, :]
    if kolmogorov:
        forcing = np.broadcast_to(-4.0 * np.cos(4.0 * y), (n, n))
    else:
        forcing = 0.1 * (np.sin(2 * np.pi * (x + y)) + np.cos(2 * np.pi * (x + y)))
    f_hat = np.fft.rfft2(forcing) * kept

    def advection(w_hat):
        """-(u.grad w)^ on the kept modes, and max(|u|, |v|) on the grid."""
        psi = w_hat * inverse_k2
        u = np.fft.irfft2(1j * ky * psi, shape)
        v = np.fft.irfft2(-1j * kx * psi, shape)
        w_x = np.fft.irfft2(1j * kx * w_hat, shape)
        w_y = np.fft.irfft2(1j * ky * w_hat, shape)
        speed = max(np.abs(u).max(), np.abs(v).max())
        return -np.fft.rfft2(u * w_x + v * w_y) * kept, speed

    w_hat = np.fft.rfft2(w0) * kept
    w_hat[0, 0] = 0.0  # a periodic flow has no mean vorticity
    interval, dx = tmax / nt, length / n
    kmax = math.sqrt(2) * 2 * np.pi / length * ((n - 1) // 3)
    _, umax = advection(w_hat)
    for _ in range(nt):
        if umax > 0:
            heun = (8 * nu / (umax**4 * kmax**2)) ** (1 / 3)
            count = substeps(interval, min(cfl * dx / umax, heun))
        else:
            count = 1
        dt = interval / count
        explicit = 1 - 0.5 * nu * dt * k2
        implicit = 1 / (1 + 0.5 * nu * dt * k2)
        for _ in range(count):
            f1, _ = advection(w_hat)
            predictor = (explicit * w_hat + dt * (f1 + f_hat)) * implicit
            f2, umax = advection(predictor)
            w_hat = (explicit * w_hat + dt * (0.5 * (f1 + f2) + f_hat)) * implicit
    return np.fft.irfft2(w_hat, shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pde", choices=["burgers", "ns"])
    parser.add_argument("file")
    parser.add_argument("runs", type=int)
    parser.add_argument("--sample", type=int, default=0)
    args = parser.parse_args()

    with h5py.File(args.file, "r") as f:
        if args.pde == "burgers":
            *settings, expected = burgers_settings(f, args.sample)
            solve = solve_burgers
        else:
            *settings, expected = ns_settings(f, args.sample)
            solve = solve_ns

    times = []
    for _ in range(args.runs):
        wall, cpu = time.perf_counter(), time.process_time()
        last = solve(*settings)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    difference = np.linalg.norm(last - expected) / np.linalg.norm(expected)
    runs = ", ".join(f"{w:.3f}/{c:.3f}" for w, c in times)
    print(f"{args.pde} numpy per sample: wall min {min(w for w, _ in times):.3f} s, "
          f"cpu min {min(c for _, c in times):.3f} s (runs: {runs}) "
          f"relative L2 vs fno last frame: {difference:.2e}")


if __name__ == "__main__":
    main()
