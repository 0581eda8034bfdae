//! Checking one value of a config file or variable: seconds and counts in
//! range, never panicking on `1e300`, `-5`, `nan` or a string, with a
//! message that names the key and shows the value (shortened). Shared by
//! the daemon's settings and the webhook settings.

use std::time::Duration;

/// The largest number of seconds any setting takes (a year): beyond any
/// sensible value, and small enough that no arithmetic on it overflows.
pub(crate) const MAX_SECS: u64 = 365 * 24 * 60 * 60;

/// Whether zero seconds is allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Floor {
    Zero,
    AboveZero,
}

/// The range a setting takes, for messages.
pub(crate) fn range(floor: Floor) -> String {
    match floor {
        Floor::Zero => format!("0 to {MAX_SECS}"),
        Floor::AboveZero => format!("above 0, up to {MAX_SECS}"),
    }
}

/// Checks a number of seconds and makes it a `Duration`, never panicking:
/// `NAME: SHOWN is out of range (0 to MAX)` otherwise.
pub(crate) fn checked_secs(
    name: &str,
    shown: &str,
    value: f64,
    floor: Floor,
) -> Result<Duration, String> {
    let range = range(floor);
    if value.is_nan() {
        return Err(format!("{name}: {shown} is not a number ({range})"));
    }
    let out_of_range = || format!("{name}: {shown} is out of range ({range})");
    if !(0.0..=MAX_SECS as f64).contains(&value) {
        return Err(out_of_range());
    }
    let duration = Duration::try_from_secs_f64(value).map_err(|_| out_of_range())?;
    if floor == Floor::AboveZero && duration.is_zero() {
        return Err(out_of_range());
    }
    Ok(duration)
}

/// A float as TOML spells it, short (`1e300`, not 301 digits).
pub(crate) fn show_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else if f != 0.0 && (f.abs() >= 1e16 || f.abs() < 1e-4) {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}

/// A TOML value that should be a number of seconds, checked.
pub(crate) fn toml_secs(name: &str, value: &toml::Value, floor: Floor) -> Result<Duration, String> {
    match value {
        toml::Value::Integer(n) => checked_secs(name, &n.to_string(), *n as f64, floor),
        toml::Value::Float(f) => checked_secs(name, &show_float(*f), *f, floor),
        other => {
            let shown: String = other.to_string().chars().take(40).collect();
            Err(format!(
                "{name}: {shown} is not a number of seconds ({})",
                range(floor)
            ))
        }
    }
}

/// A whole number within `min..=max` (`NAME: SHOWN is out of range (MIN to
/// MAX)` otherwise), never panicking.
pub(crate) fn checked_count(
    name: &str,
    value: &toml::Value,
    min: u64,
    max: u64,
) -> Result<u64, String> {
    let range = format!("a whole number from {min} to {max}");
    match value {
        toml::Value::Integer(n) => u64::try_from(*n)
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| format!("{name}: {n} is out of range ({range})")),
        toml::Value::Float(f) => Err(format!("{name}: {} is not {range}", show_float(*f))),
        other => {
            let shown: String = other.to_string().chars().take(40).collect();
            Err(format!("{name}: {shown} is not {range}"))
        }
    }
}
