"""Where the zero-shot 64² error of a Darcy run trained at 32² comes from.

Usage (after all.sh): fno predict the first 60 samples (the test set) of the
Darcy file at 32² and 64² with one run, then:
    python penalty.py darcy60.h5 p32.h5 p64.h5
darcy60.h5 holds the file's first 60 samples (h5py copy of nu, tensor and the
coordinates); p32.h5/p64.h5 are `fno predict --run runs/d-tr-pad-s0 --input
darcy60.h5 --resolution 32|64 --last` outputs.
"""
import sys

import h5py
import numpy as np


def rel(a, b):
    n = len(a)
    return np.mean(np.linalg.norm((a - b).reshape(n, -1), axis=1)
                   / np.linalg.norm(b.reshape(n, -1), axis=1))


def spectral_upsample(a):
    """Trigonometric interpolation of [N, n, n] onto [N, 2n, 2n]."""
    spectrum = np.fft.fft2(a)
    n, h = a.shape[-1], a.shape[-1] // 2
    wide = np.zeros(a.shape[:-2] + (2 * n, 2 * n), complex)
    for rows in (slice(0, h), slice(-h, None)):
        for cols in (slice(0, h), slice(-h, None)):
            wide[..., rows, cols] = spectrum[..., rows, cols]
    return np.real(np.fft.ifft2(wide)) * 4


truth = h5py.File(sys.argv[1])["tensor"][:, 0]
p32 = h5py.File(sys.argv[2])["tensor"][:, 0]
p64 = h5py.File(sys.argv[3])["tensor"][:, 0]
coarse = truth[:, ::2, ::2]
print("prediction at 32² against the 32² truth      ", rel(p32, coarse))
print("prediction at 64² against the 64² truth      ", rel(p64, truth))
print("prediction at 64², at the 32² points, vs 32² ", rel(p64[:, ::2, ::2], coarse))
print("32² prediction interpolated to 64², vs 64²   ", rel(spectral_upsample(p32), truth))
print("32² truth interpolated to 64², vs 64²        ", rel(spectral_upsample(coarse), truth))
