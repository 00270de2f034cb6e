//! Predictions averaged over symmetries of the equation
//! (`inference.symmetries`).
//!
//! For each element `g` of the group the listed symmetries generate, the
//! input is transformed by `g`, predicted, and the prediction mapped back
//! by `g⁻¹`; the answer is the mean. It is exactly equivariant under the
//! group, whatever the network learned (its grid channels and padding
//! break the symmetry of the bare layers), and the transformed predictions
//! err partly independently, so their mean errs less: on Burgers the
//! reflection alone takes 15–20% off the test error (BENCHMARKS.md). Each
//! element costs one model call.
//!
//! The transforms act on physical values `[B, C, X...]` (a reflection that
//! negates `u` is not a negation of the normalised field), as the training
//! augmentation of [`crate::data::augment`] does; the names are the same.
use crate::data::Augmentation;
use candle_core::{Result, Tensor};

/// One element of the group: the spatial axes put in `order`, then the
/// axes marked in `flips` reversed, then every field negated if `negate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The new order of the spatial axes (0-based among the spatial axes).
    order: Vec<usize>,
    /// Which spatial axes (after reordering) are reversed.
    flips: Vec<bool>,
    /// Whether the values change sign.
    negate: bool,
}

/// A symmetry list that cannot act on the samples' grid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "inference.symmetries = \"transpose\" needs two or more spatial axes of one length; \
     the grid is {grid:?}"
)]
pub struct UnfitGrid {
    /// The spatial extents of the input.
    pub grid: Vec<usize>,
}

/// Every element of the group `symmetries` generate on `spatial` axes, the
/// identity first. Transposes give every order of the axes, flips every
/// subset of reversed axes, the odd reflection a sign change with all axes
/// reversed; combinations that coincide are listed once.
pub fn group(symmetries: &[Augmentation], spatial: usize) -> Vec<Element> {
    let mut orders = vec![(0..spatial).collect::<Vec<_>>()];
    if symmetries.contains(&Augmentation::Transpose) {
        orders = permutations(spatial);
    }
    let mut flip_sets = vec![vec![false; spatial]];
    if symmetries.contains(&Augmentation::Flip) {
        flip_sets = (0..1usize << spatial)
            .map(|bits| (0..spatial).map(|axis| bits >> axis & 1 == 1).collect())
            .collect();
    }
    let mut out: Vec<Element> = Vec::new();
    for order in &orders {
        for flips in &flip_sets {
            let plain = Element {
                order: order.clone(),
                flips: flips.clone(),
                negate: false,
            };
            let mut members = vec![plain.clone()];
            if symmetries.contains(&Augmentation::OddReflection) {
                members.push(Element {
                    flips: plain.flips.iter().map(|f| !f).collect(),
                    negate: true,
                    ..plain
                });
            }
            for member in members {
                if !out.contains(&member) {
                    out.push(member);
                }
            }
        }
    }
    out
}

/// Every order of `0..n`, the identity first.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for _ in 0..n {
        let mut longer = Vec::new();
        for prefix in &out {
            for next in (0..n).filter(|i| !prefix.contains(i)) {
                let mut order = prefix.clone();
                order.push(next);
                longer.push(order);
            }
        }
        out = longer;
    }
    out
}

impl Element {
    /// The element that changes nothing.
    pub fn identity(spatial: usize) -> Self {
        Self {
            order: (0..spatial).collect(),
            flips: vec![false; spatial],
            negate: false,
        }
    }

    /// Transforms `x` `[B, C, X...]` by this element.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let mut dims: Vec<usize> = vec![0, 1];
        dims.extend(self.order.iter().map(|&a| a + 2));
        self.flip_and_negate(&x.permute(dims)?)
    }

    /// Maps a prediction of the transformed input back: the inverse of
    /// [`Element::apply`].
    pub fn undo(&self, y: &Tensor) -> Result<Tensor> {
        let y = self.flip_and_negate(y)?;
        let mut inverse = vec![0; self.order.len()];
        for (at, &axis) in self.order.iter().enumerate() {
            inverse[axis] = at;
        }
        let mut dims: Vec<usize> = vec![0, 1];
        dims.extend(inverse.iter().map(|&a| a + 2));
        y.permute(dims)?.contiguous()
    }

    /// The extents of `grid` after this element's reordering; axes past
    /// the spatial ones (a space-time run's time) keep their place.
    pub fn grid(&self, grid: &[usize]) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .order
            .iter()
            .filter_map(|&a| grid.get(a).copied())
            .collect();
        out.extend(grid.iter().skip(self.order.len()));
        out
    }

    fn flip_and_negate(&self, x: &Tensor) -> Result<Tensor> {
        let axes: Vec<usize> = (0..self.flips.len())
            .filter(|&a| self.flips[a])
            .map(|a| a + 2)
            .collect();
        let mut y = if axes.is_empty() {
            x.contiguous()?
        } else {
            x.contiguous()?.flip(&axes)?
        };
        if self.negate {
            y = y.neg()?;
        }
        Ok(y)
    }
}

/// Checks that `symmetries` can act on an input of spatial extents `grid`.
pub fn check_grid(
    symmetries: &[Augmentation],
    grid: &[usize],
) -> std::result::Result<(), UnfitGrid> {
    let square = grid.len() >= 2 && grid.iter().all(|&n| n == grid[0]);
    if symmetries.contains(&Augmentation::Transpose) && !square {
        return Err(UnfitGrid {
            grid: grid.to_vec(),
        });
    }
    Ok(())
}

/// The mean over the group of `symmetries` of `g⁻¹ predict(g x, g)` for a
/// physical input `x` `[B, C, X...]`; `predict` maps a physical input to a
/// physical prediction and is told the element (to reorder an output
/// grid). With no symmetries this is `predict(x)`, one call.
pub fn averaged<E>(
    symmetries: &[Augmentation],
    x: &Tensor,
    predict: impl Fn(&Tensor, &Element) -> std::result::Result<Tensor, E>,
) -> std::result::Result<Tensor, E>
where
    E: From<candle_core::Error> + From<UnfitGrid>,
{
    let grid = x.dims().get(2..).unwrap_or(&[]);
    if symmetries.is_empty() {
        return predict(x, &Element::identity(grid.len()));
    }
    check_grid(symmetries, grid)?;
    let elements = group(symmetries, grid.len());
    let mut sum: Option<Tensor> = None;
    for g in &elements {
        let y = g.undo(&predict(&g.apply(x)?, g)?)?;
        sum = Some(match sum {
            None => y,
            Some(s) => (s + y)?,
        });
    }
    let sum = sum.ok_or_else(|| candle_core::Error::Msg("a group holds its identity".into()))?;
    Ok((sum / elements.len() as f64)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::max_abs_diff as max_diff;
    use candle_core::{DType, Device, D};
    use Augmentation::{Flip, OddReflection, Transpose};

    fn random(shape: &[usize]) -> Tensor {
        Tensor::randn(0f64, 1.0, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn the_groups_have_their_orders() {
        assert_eq!(group(&[], 2).len(), 1);
        assert_eq!(group(&[OddReflection], 1).len(), 2);
        assert_eq!(group(&[Flip], 2).len(), 4);
        assert_eq!(group(&[Transpose], 3).len(), 6);
        assert_eq!(group(&[Transpose, Flip], 2).len(), 8);
        // The reflection's axis reversal is a flip already: only the sign doubles.
        assert_eq!(group(&[Flip, OddReflection], 2).len(), 8);
        assert_eq!(group(&[Transpose], 2)[0], Element::identity(2));
    }

    #[test]
    fn undo_inverts_apply_and_elements_differ() {
        let x = random(&[2, 3, 4, 4, 4]);
        let elements = group(&[Transpose, Flip, OddReflection], 3);
        assert_eq!(elements.len(), 96);
        let mut seen: Vec<Vec<f64>> = Vec::new();
        for g in &elements {
            let moved = g.apply(&x).unwrap();
            assert_eq!(max_diff(&g.undo(&moved).unwrap(), &x), 0.0, "{g:?}");
            let flat = moved.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            assert!(!seen.contains(&flat), "{g:?} repeats another element");
            seen.push(flat);
        }
    }

    #[test]
    fn the_odd_reflection_reverses_and_negates() {
        let x = Tensor::new(&[[[1f64, 2.0, 3.0]]], &Device::Cpu).unwrap();
        let g = &group(&[OddReflection], 1)[1];
        let moved = g.apply(&x).unwrap().to_vec3::<f64>().unwrap();
        assert_eq!(moved, vec![vec![vec![-3.0, -2.0, -1.0]]]);
    }

    /// A map with no symmetry at all (it weights each point by its
    /// position and adds a constant), averaged, commutes with every
    /// element of the group.
    #[test]
    fn the_average_is_equivariant() {
        let x = random(&[2, 1, 5, 5]);
        let weights = random(&[1, 1, 5, 5]);
        let lopsided = |x: &Tensor, _: &Element| -> Result<Tensor> {
            (x.broadcast_mul(&weights)?
                + x.sqr()?.sum_keepdim(D::Minus1)?.broadcast_as(x.shape())?)?
                + 0.5
        };
        let symmetries = [Transpose, Flip, OddReflection];
        let plain = averaged(&symmetries, &x, |x, g| -> std::result::Result<_, Error> {
            Ok(lopsided(x, g)?)
        })
        .unwrap();
        assert!(max_diff(&plain, &lopsided(&x, &Element::identity(2)).unwrap()) > 1e-3);
        for g in group(&symmetries, 2) {
            let moved = averaged(
                &symmetries,
                &g.apply(&x).unwrap(),
                |x, g| -> std::result::Result<_, Error> { Ok(lopsided(x, g)?) },
            )
            .unwrap();
            assert!(max_diff(&moved, &g.apply(&plain).unwrap()) < 1e-12, "{g:?}");
        }
        assert_eq!(x.dtype(), DType::F64);
    }

    #[test]
    fn an_element_reorders_a_grid_of_any_length() {
        let swap = &group(&[Transpose], 2)[1];
        assert_eq!(swap.grid(&[4, 6]), vec![6, 4]);
        assert_eq!(swap.grid(&[4, 6, 9]), vec![6, 4, 9]);
        assert_eq!(swap.grid(&[4]), vec![4]);
    }

    #[test]
    fn a_transpose_needs_a_square_grid() {
        assert!(check_grid(&[Transpose], &[4, 4]).is_ok());
        assert!(check_grid(&[Flip], &[4, 6]).is_ok());
        let err = check_grid(&[Transpose], &[4, 6]).unwrap_err();
        assert!(err.to_string().contains("inference.symmetries"), "{err}");
        assert!(check_grid(&[Transpose], &[8]).is_err());
    }

    /// Errors of the test closures.
    #[derive(Debug)]
    struct Error;

    impl From<candle_core::Error> for Error {
        fn from(_: candle_core::Error) -> Self {
            Error
        }
    }

    impl From<UnfitGrid> for Error {
        fn from(_: UnfitGrid) -> Self {
            Error
        }
    }
}
