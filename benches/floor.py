"""The floor of one FNO training step on a GPU: the bytes its kernels must
move at least, the FLOPs they must do, and the time each takes at a GPU's
peak memory bandwidth and arithmetic throughput.

A step is forward, backward and the AdamW update of fno's FNO (lifting MLP,
`layers` Fourier blocks `sigma(K v + W v + b)`, projection MLP), on
`batch` samples of `size^dims` points, f32 activations (4 bytes) or bf16
(2 bytes) with f32 weights, gradients and AdamW moments.

What "at least" means here: every tensor as large as the grid (batch x
channels x points) that has to cross from one kernel to another is
written once and read once by each kernel that needs it, and nothing else
as large is ever materialised. That is what a fully fused implementation
reaches: a transform that keeps only the kept modes, the mode mixing in
the kernel that produces them, the inverse transform fused with the 1x1
skip, bias and GELU; MLPs whose hidden layer never leaves the chip.
Per Fourier block, in grid-sized tensors (B x C x P values):

  forward   read v for the transform (1), read v for the skip (1),
            write the pre-activation z (1; GELU is applied by whoever
            reads z next)                                           3
  backward  read dy, z and v, write dv_skip with the spectrum of dz
            (4); read dv_skip, add the inverse transform of the mixed
            spectrum, write dv (2)                                   6

The lifting MLP writes v0 (1) and reads dv0 (1); the projection reads
v_L (1) forward and (1) backward and writes dv_L (1). Spectra (B x C x K
complex, K kept modes), weights, their gradients and AdamW's update
(read weight, gradient, two moments; write weight and moments) are added
exactly; they are small against the grid-sized tensors.

FLOPs: 2 per multiply-add of every 1x1 layer (forward; twice that
backward: input and weight gradients), 8 per complex multiply-add of the
mode mixing (forward; twice that backward), 2.5 N log2 N per real FFT of
N points (each block transforms forward and inverse in the forward pass,
and again in the backward pass), counted for the full transform (pruning
removes part of it). GELU and the loss are not counted (a few per value).

Usage: python benches/floor.py    (prints the tables of BENCHMARKS.md)
"""

import math

# Peak figures from NVIDIA's data sheets (SXM parts): HBM bandwidth in
# bytes/s, dense FP32 (CUDA cores) and dense BF16 tensor-core FLOP/s.
GPUS = {
    "H100 SXM": {"bandwidth": 3.35e12, "fp32": 67e12, "bf16": 989e12},
    "H200 SXM": {"bandwidth": 4.8e12, "fp32": 67e12, "bf16": 989e12},
}

CASES = [
    # name, dims, size, batch, width, modes, layers
    ("FNO-2D bench: 64^2, width 32, modes 12, 4 layers, batch 128", 2, 64, 128, 32, 12, 4),
    ("FNO-3D: 64^3, width 32, modes 12, 4 layers, batch 8", 3, 64, 8, 32, 12, 4),
]


def step_cost(dims, size, batch, width, modes, layers, act_bytes):
    """(bytes, flops, rows): the step's minimum traffic and arithmetic,
    with a row per kernel group (name, bytes, flops)."""
    points = size ** dims
    c = width
    grid = batch * c * points  # one grid-sized tensor, in values
    kept = (2 * modes) ** (dims - 1) * modes
    spectrum = 2 * batch * c * kept  # complex values as two reals
    c_in = 1 + dims  # one input field and the grid channels
    hidden = 2 * c
    w_bytes = 4
    spectral_weights = 2 * c * c * kept
    pointwise_weights = c * c + c
    lifting_weights = c_in * hidden + hidden + hidden * c + c
    projection_weights = c * hidden + hidden + hidden + 1
    params = layers * (spectral_weights + pointwise_weights) + lifting_weights + projection_weights
    fft = 2.5 * points * math.log2(points) * batch * c

    rows = []
    # Lifting: read the input, write v0; backward reads dv0 and the input.
    x = batch * c_in * points
    rows.append((
        "lifting MLP (fwd + bwd)",
        act_bytes * (x + grid) + act_bytes * (grid + x),
        3 * 2 * batch * points * (c_in * hidden + hidden * c),
    ))
    block_bytes = act_bytes * 9 * grid + 4 * (4 * spectrum)
    block_flops = (
        3 * 2 * batch * points * c * c  # the 1x1 skip
        + 3 * 8 * batch * c * c * kept  # mode mixing
        + 4 * fft  # forward and inverse, forward and backward pass
    )
    rows.append((f"{layers} Fourier blocks (fwd + bwd)", layers * block_bytes, layers * block_flops))
    rows.append((
        "projection MLP (fwd + bwd)",
        act_bytes * 3 * grid + act_bytes * 3 * batch * points,
        3 * 2 * batch * points * (c * hidden + hidden),
    ))
    # Weights: read in the forward and backward passes, gradients written;
    # AdamW reads weight, gradient and two moments and writes three.
    rows.append(("weights, gradients, AdamW", w_bytes * params * (2 + 1 + 7), 12 * params))
    total_bytes = sum(r[1] for r in rows)
    total_flops = sum(r[2] for r in rows)
    return total_bytes, total_flops, rows, params, layers * 4 * fft


def main():
    for name, dims, size, batch, width, modes, layers in CASES:
        print(f"## {name}")
        for precision, act_bytes, peak in [("f32", 4, "fp32"), ("bf16 activations", 2, "bf16")]:
            total_bytes, total_flops, rows, params, fft_flops = step_cost(
                dims, size, batch, width, modes, layers, act_bytes)
            print(f"\n{precision}: {params:,} parameters")
            print("| kernels | bytes | FLOPs |")
            print("|---|---|---|")
            for kernel, b, f in rows:
                print(f"| {kernel} | {b / 1e9:.3f} GB | {f / 1e9:.2f} GFLOP |")
            print(f"| **step** | **{total_bytes / 1e9:.3f} GB** | **{total_flops / 1e9:.2f} GFLOP** |")
            for gpu, spec in GPUS.items():
                t_mem = total_bytes / spec["bandwidth"] * 1e3
                # bf16 tensor cores speed the 1x1 layers and the mixing, not
                # the FFTs (f32 in either precision): those stay at the FP32 rate.
                t_flop = ((total_flops - fft_flops) / spec[peak]
                          + fft_flops / spec["fp32"]) * 1e3
                print(f"- {gpu}: memory {t_mem:.3f} ms, arithmetic {t_flop:.3f} ms "
                      f"({'FP32' if peak == 'fp32' else 'BF16 tensor cores, FFTs FP32'}), "
                      f"floor {max(t_mem, t_flop):.3f} ms")
        print()


if __name__ == "__main__":
    main()
