"""Memory traffic of the spectral convolution's grid transforms on CUDA,
per training step, for the two paths of `--cuda-transforms`: the bytes
each kernel reads and writes at least, its launches, and the direct path's
FLOPs, with the time the traffic takes at a GPU's peak HBM bandwidth.

cufft: the last axis as a real-to-complex cuFFT of all n/2 + 1 bins, then
our kernel keeping the kept bins; every other axis as our gather kernel
(moving the axis last), a complex cuFFT of full length and our scatter
kernel keeping the kept bins. Synthesis mirrors it with zero padding
(gather), full-length inverse FFTs and a padded half spectrum before the
complex-to-real FFT.

direct: the last axis as one GEMM with a [n, 2 kept] (analysis) or
[2 kept, n] (synthesis) matrix; every other axis as one kernel applying a
[kept, n] or [n, kept] complex factor matrix, reading the axis once and
writing only what is kept (analysis) or the grid points (synthesis).

Each kernel is counted as reading its input once and writing its output
once (f32: 4 bytes a real, 8 a complex value); caches that keep a reread
on chip only help, so these are the least each path moves. Per Fourier
block a training step transforms four times: the block input and the
output gradient forward (analysis), the mixed modes and the input
gradient's modes back (synthesis); the weight gradient reuses the kept
input spectrum. FLOPs of the direct path: 2 per real multiply-add of the
GEMMs, 8 per complex multiply-add of the axis kernels; cuFFT's FLOPs are
not counted (both paths are memory-bound at these sizes on an H100).

Usage: python benches/transforms_traffic.py    (prints BENCHMARKS.md's table)
"""

CASES = [
    # name, dims, size, batch, width, modes, layers
    ("FNO-2D bench: 64^2, width 32, modes 12, 4 layers, batch 128", 2, 64, 128, 32, 12, 4),
    ("FNO-3D: 64^3, width 32, modes 12, 4 layers, batch 8", 3, 64, 8, 32, 12, 4),
]

BANDWIDTH = {"H100 SXM": 3.35e12, "H200 SXM": 4.8e12}
REAL, COMPLEX = 4, 8


def kept_per_axis(dims, n, modes):
    """Kept indices per axis: 2 m on the complex axes, m on the last
    (clipped to the grid as fno does)."""
    last = min(modes, n // 2 + 1)
    return [min(2 * modes, n)] * (dims - 1) + [last]


def transform(dims, n, fields, kept, path, synthesis):
    """(bytes, launches, flops) of one analysis or synthesis of `fields`
    fields."""
    rows = fields * n ** (dims - 1)
    half, k_last = n // 2 + 1, kept[-1]
    traffic, launches, flops = 0, 0, 0
    # The last (real) axis.
    if path == "cufft":
        if synthesis:
            # pad (kept -> half spectrum), C2R (half spectrum -> points)
            traffic += rows * k_last * COMPLEX + 2 * rows * half * COMPLEX + rows * n * REAL
        else:
            # R2C (points -> half spectrum), take (kept bins -> kept)
            traffic += rows * n * REAL + rows * half * COMPLEX + 2 * rows * k_last * COMPLEX
        launches += 2
    else:
        traffic += rows * n * REAL + rows * k_last * COMPLEX
        launches += 1
        flops += 2 * rows * n * 2 * k_last
    # The other axes: [outer, n or kept, inner] with inner = the kept
    # indices of the axes after it.
    for ax in range(dims - 1):
        outer = fields * n ** ax
        inner = 1
        for k in kept[ax + 1:]:
            inner *= k
        full = outer * n * inner * COMPLEX
        small = outer * kept[ax] * inner * COMPLEX
        if path == "cufft":
            # gather, C2C, scatter, with full-length rows in between;
            # the analysis's scatter reads only the kept bins.
            if synthesis:
                traffic += (small + full) + 2 * full + 2 * full
            else:
                traffic += 2 * full + 2 * full + 2 * small
            launches += 3
        else:
            traffic += full + small
            launches += 1
            flops += 8 * outer * inner * n * kept[ax]
    return traffic, launches, flops


def step(dims, size, batch, width, modes, layers, path):
    kept = kept_per_axis(dims, size, modes)
    fields = batch * width
    total = [0, 0, 0]
    for synthesis in (False, True):
        b, l, f = transform(dims, size, fields, kept, path, synthesis)
        # Two analyses and two syntheses per block and step.
        for i, v in enumerate((b, l, f)):
            total[i] += 2 * layers * v
    return total


def main():
    print("| case | path | bytes | launches | FLOPs | at HBM peak: H100 / H200 |")
    print("|---|---|---|---|---|---|")
    for name, *cfg in CASES:
        for path in ("cufft", "direct"):
            b, l, f = step(*cfg, path)
            times = " / ".join(f"{b / bw * 1e3:.2f} ms" for bw in BANDWIDTH.values())
            flops = f"{f / 1e9:.1f} GFLOP" if path == "direct" else "(cuFFT)"
            print(f"| {name} | {path} | {b / 1e9:.2f} GB | {l} | {flops} | {times} |")


if __name__ == "__main__":
    main()
