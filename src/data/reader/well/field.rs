//! One field of a Well file: its name, tensor order, which axes it
//! stores and its channels.
use serde::Serialize;

/// One field of `t0_fields`, `t1_fields` or `t2_fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WellField {
    /// Its name in `field_names`.
    pub name: String,
    /// Tensor order: 0 scalar, 1 vector, 2 matrix.
    pub order: usize,
    /// Stored per trajectory (else one copy shared by all).
    pub sample_varying: bool,
    /// Stored per frame (else constant in time: an input channel).
    pub time_varying: bool,
    /// Stored along each spatial axis (else constant along it).
    pub dim_varying: Vec<bool>,
    /// Its channels: the name, or one per component (`velocity_x`,
    /// `velocity_y`, ...; `stress_xy` in row-major order for order 2).
    pub channels: Vec<String>,
}

impl WellField {
    /// The dataset's path inside the file.
    pub fn dataset(&self) -> String {
        format!("t{}_fields/{}", self.order, self.name)
    }

    /// Components per grid point (`D^order` for `D` spatial axes).
    pub fn components(&self) -> usize {
        self.channels.len()
    }
}
