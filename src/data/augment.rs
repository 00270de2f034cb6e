//! Symmetries of the equation applied to training samples (`train.augment`).
//!
//! A transform maps one solution of the equation to another (a transposed
//! Darcy problem is solved by the transposed solution), so a training pair
//! transformed the same way on both sides is one more true example. Each
//! sample of each epoch draws its transforms from a generator seeded by the
//! run's seed, the epoch and the sample's index alone: a resumed run, and a
//! run at another world size, sees the same transformed samples. Only the
//! training batches are transformed; validation and evaluation never are.
use crate::seeds::mix;
use ndarray::{ArrayD, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One symmetry a training sample may be transformed by. Which ones hold
/// depends on the equation, its forcing and its boundaries: the user names
/// them, fno does not guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Augmentation {
    /// The spatial axes in a random order (each order equally likely): the
    /// symmetry of an isotropic problem on a square grid with the same
    /// boundary on every side, such as PDEBench's Darcy flow. Needs two or
    /// more spatial axes of one length.
    Transpose,
    /// Each spatial axis reversed with probability 1/2, values kept: mirror
    /// symmetry of scalar fields on a grid symmetric about its centre.
    Flip,
    /// With probability 1/2, every spatial axis reversed and every field
    /// negated together (x → −x, u → −u): the symmetry of Burgers' equation.
    OddReflection,
}

impl Augmentation {
    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            Augmentation::Transpose => "transpose",
            Augmentation::Flip => "flip",
            Augmentation::OddReflection => "odd_reflection",
        }
    }
}

/// A transform that the samples cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AugmentError {
    /// `transpose` on a grid whose spatial axes are not all one length, or
    /// with a single spatial axis.
    #[error(
        "train.augment = \"transpose\" needs two or more spatial axes of one length; \
         the samples' spatial grid is {grid:?}"
    )]
    Transpose {
        /// The spatial extents of the samples.
        grid: Vec<usize>,
    },
    /// Input and target disagree on the spatial grid, so one transform
    /// cannot apply to both.
    #[error(
        "train.augment: input and target have different spatial grids ({input:?} and {target:?})"
    )]
    Grids {
        /// The input's spatial extents.
        input: Vec<usize>,
        /// The target's spatial extents.
        target: Vec<usize>,
    },
}

/// The transforms of one epoch's training batches.
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// The symmetries to draw from, applied in this order.
    pub transforms: Vec<Augmentation>,
    /// The run's seed.
    pub seed: u64,
    /// The epoch, mixed into every sample's draw.
    pub epoch: usize,
}

impl Augment {
    /// Transforms one training pair in place. `id` is the sample's index
    /// in the plan; the arrays are `[C, X...]` with the `spatial` axes
    /// after the channel axis (a space-time target's time axis comes after
    /// them and is left alone).
    pub fn apply(
        &self,
        id: usize,
        spatial: usize,
        input: &mut ArrayD<f32>,
        target: &mut ArrayD<f32>,
    ) -> Result<(), AugmentError> {
        let grid = |a: &ArrayD<f32>| a.shape().iter().skip(1).take(spatial).copied().collect();
        let (in_grid, out_grid): (Vec<usize>, Vec<usize>) = (grid(input), grid(target));
        if in_grid != out_grid {
            return Err(AugmentError::Grids {
                input: in_grid,
                target: out_grid,
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix(&[self.seed, self.epoch as u64, id as u64]));
        for transform in &self.transforms {
            match transform {
                Augmentation::Transpose => {
                    if spatial < 2 || in_grid.iter().any(|&n| n != in_grid[0]) {
                        return Err(AugmentError::Transpose { grid: in_grid });
                    }
                    let mut order: Vec<usize> = (1..=spatial).collect();
                    order.shuffle(&mut rng);
                    permute_spatial(input, &order);
                    permute_spatial(target, &order);
                }
                Augmentation::Flip => {
                    for axis in 1..=spatial {
                        if rng.random_bool(0.5) {
                            input.invert_axis(Axis(axis));
                            target.invert_axis(Axis(axis));
                        }
                    }
                }
                Augmentation::OddReflection => {
                    if rng.random_bool(0.5) {
                        for a in [&mut *input, &mut *target] {
                            for axis in 1..=spatial {
                                a.invert_axis(Axis(axis));
                            }
                            a.mapv_inplace(|v| -v);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Puts the spatial axes `1..=order.len()` of `a` in `order`, in place and
/// in standard layout.
fn permute_spatial(a: &mut ArrayD<f32>, order: &[usize]) {
    let mut axes: Vec<usize> = vec![0];
    axes.extend_from_slice(order);
    axes.extend(order.len() + 1..a.ndim());
    let permuted = a
        .view()
        .permuted_axes(axes)
        .as_standard_layout()
        .into_owned();
    *a = permuted;
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    fn ramp(shape: &[usize]) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|v| v as f32).collect())
            .unwrap_or_else(|_| ArrayD::zeros(IxDyn(shape)))
    }

    fn augment(transforms: &[Augmentation], epoch: usize) -> Augment {
        Augment {
            transforms: transforms.to_vec(),
            seed: 7,
            epoch,
        }
    }

    /// Applies `transforms` to a ramp pair for many ids; returns the
    /// distinct inputs seen, checking that input and target always moved
    /// together (the target is the input plus 1000).
    fn outcomes(transforms: &[Augmentation], shape: &[usize], spatial: usize) -> Vec<Vec<f32>> {
        let mut seen: Vec<Vec<f32>> = Vec::new();
        for id in 0..64 {
            let mut input = ramp(shape);
            let mut target = input.mapv(|v| v + 1000.0);
            augment(transforms, 3)
                .apply(id, spatial, &mut input, &mut target)
                .expect("shapes fit");
            let sign =
                if transforms == [Augmentation::OddReflection] && input.iter().any(|&v| v < 0.0) {
                    -1.0
                } else {
                    1.0
                };
            assert_eq!(
                target.mapv(|v| v - sign * 1000.0),
                input,
                "input and target transformed differently"
            );
            let flat = input.iter().copied().collect();
            if !seen.contains(&flat) {
                seen.push(flat);
            }
        }
        seen
    }

    #[test]
    fn transpose_swaps_the_two_axes_of_a_square_grid() {
        let seen = outcomes(&[Augmentation::Transpose], &[1, 3, 3], 2);
        assert_eq!(seen.len(), 2);
        let a = ramp(&[1, 3, 3]);
        let t = a.view().permuted_axes(vec![0, 2, 1]);
        assert!(seen.contains(&t.iter().copied().collect()));
        assert!(seen.contains(&a.iter().copied().collect()));
    }

    #[test]
    fn transpose_of_three_axes_reaches_every_order() {
        let seen = outcomes(&[Augmentation::Transpose], &[2, 2, 2, 2], 3);
        assert_eq!(seen.len(), 6);
    }

    #[test]
    fn flip_reaches_all_four_mirrors_of_a_plane() {
        let seen = outcomes(&[Augmentation::Flip], &[1, 2, 3], 2);
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn odd_reflection_reverses_and_negates_together() {
        let seen = outcomes(&[Augmentation::OddReflection], &[1, 4], 1);
        assert_eq!(
            seen,
            vec![vec![0.0, 1.0, 2.0, 3.0], vec![-3.0, -2.0, -1.0, -0.0]]
        );
    }

    #[test]
    fn a_space_time_axis_is_left_alone() {
        // [C, X, T]: one spatial axis, time last.
        let seen = outcomes(&[Augmentation::Flip], &[1, 3, 2], 1);
        assert_eq!(seen.len(), 2);
        assert!(seen.contains(&vec![4.0, 5.0, 2.0, 3.0, 0.0, 1.0]));
    }

    #[test]
    fn the_draw_depends_on_seed_epoch_and_sample_only() {
        let run = |epoch: usize, id: usize| {
            let mut input = ramp(&[1, 8, 8]);
            let mut target = input.clone();
            augment(&[Augmentation::Flip, Augmentation::Transpose], epoch)
                .apply(id, 2, &mut input, &mut target)
                .expect("shapes fit");
            input
        };
        assert_eq!(run(2, 5), run(2, 5));
        let varied = (0..16).filter(|&e| run(e, 5) != run(0, 5)).count();
        assert!(varied > 0, "every epoch drew the same transform");
    }

    #[test]
    fn unfit_grids_are_errors_naming_the_setting() {
        let mut input = ramp(&[1, 4, 6]);
        let mut target = input.clone();
        let err = augment(&[Augmentation::Transpose], 0)
            .apply(0, 2, &mut input, &mut target)
            .expect_err("4 x 6 cannot be transposed");
        assert!(err.to_string().contains("train.augment"), "{err}");
        let mut line = ramp(&[1, 8]);
        let mut line_target = line.clone();
        assert!(augment(&[Augmentation::Transpose], 0)
            .apply(0, 1, &mut line, &mut line_target)
            .is_err());
        let mut other = ramp(&[1, 8, 8]);
        let mut wrong = ramp(&[1, 4, 4]);
        let err = augment(&[Augmentation::Flip], 0)
            .apply(0, 2, &mut other, &mut wrong)
            .expect_err("grids differ");
        assert!(matches!(err, AugmentError::Grids { .. }));
    }
}
