//! Value parsers for numeric flags. Each refuses a value outside the
//! flag's meaning while the command line is parsed, so clap's message
//! names the flag and the value and the exit code is 2.

/// A count of at least 1.
pub(crate) fn at_least_one(text: &str) -> Result<usize, String> {
    let value = whole(text)?;
    if value == 0 {
        return Err("0: must be at least 1".into());
    }
    Ok(value)
}

/// A number of spatial axes: 1, 2 or 3.
pub(crate) fn axes(text: &str) -> Result<usize, String> {
    let value = whole(text)?;
    if !(1..=3).contains(&value) {
        return Err(format!("{value}: must be 1, 2 or 3"));
    }
    Ok(value)
}

fn whole(text: &str) -> Result<usize, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number ≥ 0"))
}

/// A finite number > 0.
pub(crate) fn positive(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(format!("{value} is not a finite number > 0"))
    }
}

/// A finite number ≥ 0.
pub(crate) fn non_negative(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("{value} is not a finite number ≥ 0"))
    }
}

fn number(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("{value} is not a finite number"))
    }
}

/// A worker-thread count from 1 to the cores available.
pub(crate) fn threads(text: &str) -> Result<usize, String> {
    let value = whole(text)?;
    if value == 0 {
        return Err("0: must be at least 1 (leave the flag out to use every core)".into());
    }
    within_cores(value)?;
    Ok(value)
}

/// Refuses more threads than the cores this process may run on: every
/// pool thread spins while it waits for work, so extra threads only take
/// turns on the cores and can bring the machine to a halt.
pub(crate) fn within_cores(threads: usize) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads > cores {
        return Err(format!(
            "{threads} threads asked for but only {cores} cores are available"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_refuse_values_outside_their_meaning() {
        assert_eq!(positive("1e-3"), Ok(1e-3));
        for bad in ["0", "-1", "nan", "inf", "-inf", "x", ""] {
            assert!(positive(bad).is_err(), "{bad}");
        }
        assert_eq!(non_negative("0"), Ok(0.0));
        for bad in ["-0.1", "NaN", "infinity", "1e400"] {
            assert!(non_negative(bad).is_err(), "{bad}");
        }
        assert_eq!(at_least_one("1"), Ok(1));
        assert!(at_least_one("0").unwrap_err().contains("at least 1"));
        assert!(at_least_one("-1").is_err());
        assert_eq!(axes("3"), Ok(3));
        assert!(axes("4").is_err() && axes("0").is_err());
        assert_eq!(threads("1"), Ok(1));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let err = threads(&(cores + 1).to_string()).unwrap_err();
        assert!(err.contains(&cores.to_string()), "{err}");
        assert!(threads("0").is_err());
        assert!(threads("-1").is_err());
    }
}
