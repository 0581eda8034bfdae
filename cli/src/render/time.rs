//! Timestamps as the official CLI shows them, in the user's time zone.
//!
//! Modal sends `double` Unix seconds; `<= 0` means unset. The official client
//! turns them into Python datetimes (rounding to the microsecond, ties to
//! even) and prints whole seconds (the fraction is dropped, not rounded):
//!
//! * JSON: `YYYY-MM-DD HH:MM:SS+HH:MM`
//! * tables: `YYYY-MM-DD HH:MM <zone abbreviation>` (`+0545` style where the
//!   zone has no letters)
//!
//! One deliberate difference: the official client applies *today's* UTC
//! offset to every date, which is an hour off across a DST change. We use the
//! offset (and abbreviation) in force at each instant.
//!
//! Functions take the [`TimeZone`] explicitly so tests need not touch `TZ`;
//! the binary passes [`local_zone`], which honours `TZ` like the C library.

use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The user's time zone: `TZ` (an IANA name looked up under `TZDIR` or
/// `/usr/share/zoneinfo`, a `:`-prefixed or absolute TZif path, or a POSIX
/// rule), else `/etc/localtime`, else UTC.
///
/// The zone file is read directly: `TimeZone::system()` would first list the
/// whole tz database (dozens of folders), which is most of a warm call's cost.
pub fn local_zone() -> TimeZone {
    let from_file = |name: &str, path: &Path| -> Option<TimeZone> {
        let data = std::fs::read(path).ok()?;
        TimeZone::tzif(name, &data).ok()
    };
    match std::env::var("TZ") {
        Ok(tz) if tz.is_empty() => TimeZone::UTC,
        Ok(tz) => {
            let name = tz.strip_prefix(':').unwrap_or(&tz);
            let path = if name.starts_with('/') {
                PathBuf::from(name)
            } else {
                let dir = std::env::var_os("TZDIR")
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| "/usr/share/zoneinfo".into());
                Path::new(&dir).join(name)
            };
            from_file(name, &path).unwrap_or_else(TimeZone::system)
        }
        Err(_) => from_file("Local", Path::new("/etc/localtime")).unwrap_or_else(TimeZone::system),
    }
}

/// Whole Unix seconds of a Modal timestamp as Python sees it, or `None` when
/// it is unset (`<= 0`), not a number, or out of range.
pub fn whole_seconds(ts: f64) -> Option<i64> {
    if !ts.is_finite() {
        return None;
    }
    // CPython's datetime.fromtimestamp: split, scale the fraction to
    // microseconds, round half to even, carry.
    let mut int = ts.trunc();
    let mut micros = ((ts - int) * 1e6).round_ties_even();
    if micros >= 1e6 {
        micros -= 1e6;
        int += 1.0;
    } else if micros < 0.0 {
        micros += 1e6;
        int -= 1.0;
    }
    if int < 0.0 || (int == 0.0 && micros == 0.0) {
        return None;
    }
    if int > Timestamp::MAX.as_second() as f64 {
        return None;
    }
    Some(int as i64)
}

fn local(ts: f64, tz: &TimeZone) -> Option<(jiff::civil::DateTime, Offset, String)> {
    let seconds = whole_seconds(ts)?;
    let timestamp = Timestamp::from_second(seconds).ok()?;
    let info = tz.to_offset_info(timestamp);
    let offset = info.offset();
    let datetime = offset.to_datetime(timestamp);
    Some((datetime, offset, info.abbreviation().to_owned()))
}

/// `YYYY-MM-DD HH:MM:SS+HH:MM` (Python's `isoformat(" ", "seconds")`), or
/// `None` for an unset timestamp.
pub fn json_timestamp(ts: f64, tz: &TimeZone) -> Option<String> {
    let (dt, offset, _) = local(ts, tz)?;
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let total = offset.seconds();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60);
    if abs % 60 != 0 {
        let _ = write!(out, ":{:02}", abs % 60);
    }
    Some(out)
}

/// `YYYY-MM-DD HH:MM ZONE` for tables, or `None` for an unset timestamp.
pub fn table_timestamp(ts: f64, tz: &TimeZone) -> Option<String> {
    let (dt, offset, abbreviation) = local(ts, tz)?;
    let zone = if abbreviation.is_empty() {
        let total = offset.seconds();
        let sign = if total < 0 { '-' } else { '+' };
        let abs = total.unsigned_abs();
        format!("{sign}{:02}{:02}", abs / 3600, abs / 60 % 60)
    } else {
        abbreviation
    };
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02} {zone}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap_or_else(|e| panic!("time zone {name}: {e} (install tzdata)"))
    }

    // 2024-01-15 12:34:56.789 UTC
    const WINTER: f64 = 1_705_322_096.789;
    // 2024-07-15 12:34:56 UTC
    const SUMMER: f64 = 1_721_046_896.0;

    #[test]
    fn utc() {
        let tz = TimeZone::UTC;
        assert_eq!(
            json_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 12:34:56+00:00")
        );
        assert_eq!(
            table_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 12:34 UTC")
        );
    }

    #[test]
    fn kolkata_half_hour_offset() {
        let tz = zone("Asia/Kolkata");
        assert_eq!(
            json_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 18:04:56+05:30")
        );
        assert_eq!(
            table_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 18:04 IST")
        );
    }

    #[test]
    fn kathmandu_has_no_abbreviation_letters() {
        let tz = zone("Asia/Kathmandu");
        assert_eq!(
            table_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 18:19 +0545")
        );
    }

    #[test]
    fn phoenix_has_no_dst() {
        let tz = zone("America/Phoenix");
        assert_eq!(
            json_timestamp(SUMMER, &tz).as_deref(),
            Some("2024-07-15 05:34:56-07:00")
        );
        assert_eq!(
            table_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 05:34 MST")
        );
    }

    #[test]
    fn dst_uses_each_dates_own_offset() {
        let tz = zone("America/New_York");
        assert_eq!(
            json_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 07:34:56-05:00")
        );
        assert_eq!(
            json_timestamp(SUMMER, &tz).as_deref(),
            Some("2024-07-15 08:34:56-04:00")
        );
        assert_eq!(
            table_timestamp(SUMMER, &tz).as_deref(),
            Some("2024-07-15 08:34 EDT")
        );
        assert_eq!(
            table_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 07:34 EST")
        );
    }

    #[test]
    fn fractions_are_truncated_after_microsecond_rounding() {
        let tz = TimeZone::UTC;
        assert_eq!(
            json_timestamp(59.999_999, &tz).as_deref(),
            Some("1970-01-01 00:00:59+00:00")
        );
        // Rounds to the next microsecond, which is the next second.
        assert_eq!(
            json_timestamp(59.999_999_7, &tz).as_deref(),
            Some("1970-01-01 00:01:00+00:00")
        );
        assert_eq!(whole_seconds(1.5), Some(1));
    }

    #[test]
    fn zone_files_load_directly() {
        let data = std::fs::read("/usr/share/zoneinfo/Asia/Kolkata").expect("install tzdata");
        let tz = TimeZone::tzif("Asia/Kolkata", &data).unwrap();
        assert_eq!(
            table_timestamp(WINTER, &tz).as_deref(),
            Some("2024-01-15 18:04 IST")
        );
    }

    #[test]
    fn unset_timestamps() {
        let tz = TimeZone::UTC;
        for ts in [0.0, -1.0, -0.5, 0.000_000_1, f64::NAN, f64::INFINITY, 1e300] {
            assert_eq!(json_timestamp(ts, &tz), None, "{ts}");
        }
        // One microsecond after the epoch is set.
        assert_eq!(
            json_timestamp(0.000_001, &tz).as_deref(),
            Some("1970-01-01 00:00:00+00:00")
        );
    }
}
