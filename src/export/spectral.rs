//! fno's spectral weights in the layout of neuraloperator 2.0.0's
//! `SpectralConv`.
//!
//! fno keeps two real tensors `weight_re`, `weight_im` of shape
//! `[C_in, C_out, 2m_1, .., 2m_{d-1}, m_d]`; on a non-last axis index `j`
//! holds frequency `j` for `j < m` and `j - 2m` otherwise (the FFT's own
//! order), on the last axis index `k` holds frequency `k`.
//!
//! neuraloperator with `n_modes = 2m` on every axis keeps one complex
//! tensor of shape `[C_in, C_out, 2m_1, .., 2m_{d-1}, m_d + 1]`: its
//! `SpectralConv` takes `n_modes // 2 + 1 = m + 1` modes on the last (real
//! FFT) axis, and `fftshift`s the other axes so that index `j` holds
//! frequency `j - m`. The mapping is therefore a cyclic shift by `m` on
//! every non-last axis, the identity on the last, and one more last-axis
//! mode (frequency `m`) whose weight is zero, so it adds nothing.

/// Where fno's weight index `index` along one axis with `modes` kept
/// modes sits in neuraloperator's weight: shifted by `modes` (cyclically
/// in `2 * modes`) on a non-last axis, unchanged on the last.
pub fn neuralop_index(index: usize, modes: usize, last_axis: bool) -> usize {
    if last_axis {
        index
    } else {
        (index + modes) % (2 * modes)
    }
}

/// The shape of neuraloperator's spectral weight for fno's `modes`.
pub fn neuralop_shape(in_channels: usize, out_channels: usize, modes: &[usize]) -> Vec<usize> {
    let last = modes.len().saturating_sub(1);
    let mut shape = vec![in_channels, out_channels];
    shape.extend(
        modes
            .iter()
            .enumerate()
            .map(|(axis, &m)| if axis == last { m + 1 } else { 2 * m }),
    );
    shape
}

/// The shape of fno's `weight_re` and `weight_im` for `modes`.
pub(crate) fn fno_shape(in_channels: usize, out_channels: usize, modes: &[usize]) -> Vec<usize> {
    let last = modes.len().saturating_sub(1);
    let mut shape = vec![in_channels, out_channels];
    shape.extend(
        modes
            .iter()
            .enumerate()
            .map(|(axis, &m)| if axis == last { m } else { 2 * m }),
    );
    shape
}

/// fno's spectral weight (`re`, `im`, row-major in [`fno_shape`]) as
/// neuraloperator's complex weight: interleaved real and imaginary parts
/// (complex64's memory layout), row-major in [`neuralop_shape`], with
/// zeros for the extra last-axis mode.
pub fn to_neuralop(
    re: &[f32],
    im: &[f32],
    in_channels: usize,
    out_channels: usize,
    modes: &[usize],
) -> Vec<f32> {
    let from = fno_shape(in_channels, out_channels, modes);
    let to = neuralop_shape(in_channels, out_channels, modes);
    let to_strides = row_major_strides(&to);
    let last = modes.len().saturating_sub(1);
    let mut out = vec![0.0f32; 2 * to.iter().product::<usize>()];
    let mut index = vec![0usize; from.len()];
    for (flat, (&r, &i)) in re.iter().zip(im).enumerate() {
        unravel(flat, &from, &mut index);
        let target: usize = index
            .iter()
            .zip(&to_strides)
            .enumerate()
            .map(|(dim, (&j, &stride))| {
                let j = match dim {
                    0 | 1 => j,
                    _ => neuralop_index(j, modes[dim - 2], dim - 2 == last),
                };
                j * stride
            })
            .sum();
        out[2 * target] = r;
        out[2 * target + 1] = i;
    }
    out
}

fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// The multi-index of row-major position `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize], index: &mut [usize]) {
    for d in (0..shape.len()).rev() {
        index[d] = flat % shape[d];
        flat /= shape[d];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frequency neuraloperator 2.0.0's `SpectralConv.forward`
    /// multiplies weight index `k` with on an axis of `kept` weight
    /// entries, read off its slicing (no clipping: the grid holds every
    /// mode). On a non-last axis the fftshifted spectrum is sliced from
    /// `center - kept // 2`, and shifted index `s` holds frequency
    /// `s - center`; on the last axis, the real FFT's index `k` is
    /// frequency `k`.
    fn neuralop_frequency(k: usize, kept: usize, last_axis: bool) -> isize {
        if last_axis {
            k as isize
        } else {
            k as isize - (kept / 2) as isize
        }
    }

    /// fno's frequency of weight index `j` (see `spectral::modes`).
    fn fno_frequency(j: usize, modes: usize, last_axis: bool) -> isize {
        if last_axis || j < modes {
            j as isize
        } else {
            j as isize - 2 * modes as isize
        }
    }

    #[test]
    fn every_mode_lands_on_its_frequency() {
        for (modes, last_axis) in [(1, false), (4, false), (5, false), (4, true), (7, true)] {
            let kept_fno = if last_axis { modes } else { 2 * modes };
            let kept_neuralop = if last_axis { modes + 1 } else { 2 * modes };
            let mut hit = vec![false; kept_neuralop];
            for j in 0..kept_fno {
                let k = neuralop_index(j, modes, last_axis);
                assert!(k < kept_neuralop);
                assert!(!hit[k], "two fno modes on neuraloperator index {k}");
                hit[k] = true;
                assert_eq!(
                    neuralop_frequency(k, kept_neuralop, last_axis),
                    fno_frequency(j, modes, last_axis),
                    "modes {modes}, index {j}, last axis {last_axis}"
                );
            }
            // The one index no fno mode fills is the last axis's extra
            // mode, frequency m.
            let empty: Vec<usize> = (0..kept_neuralop).filter(|&k| !hit[k]).collect();
            match last_axis {
                true => assert_eq!(empty, vec![modes]),
                false => assert!(empty.is_empty()),
            }
        }
    }

    /// A 2D weight whose value encodes its (input, output, kx, ky): each
    /// lands where neuraloperator multiplies the frequencies (kx, ky), the
    /// imaginary part beside the real one, and the extra ky = m column is
    /// zero.
    #[test]
    fn weights_move_with_their_modes() {
        let (cin, cout, modes) = (2, 3, [3usize, 2]);
        let from = fno_shape(cin, cout, &modes);
        let n: usize = from.iter().product();
        let code = |i: usize, o: usize, kx: isize, ky: isize| -> f32 {
            (i * 1000 + o * 100) as f32 + (kx * 10 + ky) as f32
        };
        let mut re = vec![0.0; n];
        let mut im = vec![0.0; n];
        let mut index = vec![0; from.len()];
        for flat in 0..n {
            unravel(flat, &from, &mut index);
            let kx = fno_frequency(index[2], modes[0], false);
            let ky = fno_frequency(index[3], modes[1], true);
            re[flat] = code(index[0], index[1], kx, ky);
            im[flat] = -code(index[0], index[1], kx, ky) - 0.5;
        }
        let out = to_neuralop(&re, &im, cin, cout, &modes);
        let to = neuralop_shape(cin, cout, &modes);
        assert_eq!(to, vec![2, 3, 6, 3]);
        assert_eq!(out.len(), 2 * to.iter().product::<usize>());
        let mut index = vec![0; to.len()];
        for flat in 0..to.iter().product::<usize>() {
            unravel(flat, &to, &mut index);
            let (r, i) = (out[2 * flat], out[2 * flat + 1]);
            if index[3] == modes[1] {
                assert_eq!((r, i), (0.0, 0.0));
                continue;
            }
            let kx = neuralop_frequency(index[2], to[2], false);
            let ky = neuralop_frequency(index[3], to[3], true);
            let want = code(index[0], index[1], kx, ky);
            assert_eq!((r, i), (want, -want - 0.5), "at {index:?}");
        }
    }
}
