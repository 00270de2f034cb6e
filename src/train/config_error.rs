//! [`ConfigError`]: why a run configuration cannot be used. It sits below
//! the config sections (schedule, optimiser, run config) so that each can
//! check its own settings.

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The user's TOML text does not parse or does not fit the schema. The
    /// parser's message carries the line and column in that text and names
    /// the key; it is part of this message, not a separate source, so that
    /// an error chain prints it once.
    #[error("{origin}: {message}")]
    Parse {
        /// Where the text came from (a path).
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// An override is not `section.key=value`, or it sets a key below a
    /// value that is not a table.
    #[error("{given:?} is not section.key=value (e.g. train.epochs=10)")]
    BadOverride {
        /// What was given.
        given: String,
    },
    /// The configuration with these overrides applied does not fit the
    /// schema although the text alone does: the overrides are to blame.
    #[error("override {}: {message}", quoted(given))]
    Override {
        /// The override(s) to blame: one when it fails on its own, else all.
        given: Vec<String>,
        /// The deserialiser's message (names the key).
        message: String,
    },
    /// A value is out of range.
    #[error("invalid setting `{field}`: {reason}")]
    Invalid {
        /// The setting, as `section.key`.
        field: &'static str,
        /// Why, with the value.
        reason: String,
    },
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for `field`, saying why.
pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Refuses a count below 1.
pub(crate) fn at_least_one(field: &'static str, value: usize) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(invalid(field, "0: must be at least 1"));
    }
    Ok(())
}

/// Refuses a NaN, an infinity or a negative number.
pub(crate) fn non_negative(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(invalid(
            field,
            format!("{value}: must be a finite number ≥ 0"),
        ));
    }
    Ok(())
}

/// Refuses a NaN, an infinity, zero or a negative number.
pub(crate) fn positive(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if !(value.is_finite() && value > 0.0) {
        return Err(invalid(
            field,
            format!("{value}: must be a finite number > 0"),
        ));
    }
    Ok(())
}
