//! Checks the official CLI makes before it sends anything, with its wording.

/// Why an environment name was refused; the text is the official CLI's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "Invalid Environment name: '{0}'.\n\nEnvironment names must be 1-64 characters, can only \
     start with alphanumeric characters, may contain only alphanumeric characters, dashes, and \
     underscores, and cannot start with 'en-'."
)]
pub struct InvalidEnvironmentName(pub String);

/// Accepts what the official client accepts when it looks an environment up:
/// 1–64 characters, `^[a-zA-Z0-9][a-zA-Z0-9-_.]*$`, not starting with `en-`
/// in any case (that prefix is for environment ids). Periods are allowed
/// because some existing environments have them.
pub fn environment_name(name: &str) -> Result<(), InvalidEnvironmentName> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let reserved = name.len() >= 3 && name.as_bytes()[..3].eq_ignore_ascii_case(b"en-");
    if first_ok && rest_ok && name.len() <= 64 && !reserved {
        Ok(())
    } else {
        Err(InvalidEnvironmentName(name.to_owned()))
    }
}

/// Why `--expires-in` was refused; the texts are the official CLI's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidExpiry {
    /// Neither an integer nor `<digits><s|m|h|d>` (modal's `parse_duration`).
    #[error("Invalid duration: '{0}'")]
    Duration(String),
    #[error("Value passed to `--expires-in` must be a positive integer.")]
    NotPositive,
}

/// `--expires-in` in seconds, as the official CLI reads it: Python's
/// `int()` first (surrounding whitespace, a sign and `_` between digits
/// allowed), else `parse_duration` (`30m`, `12h`, `7d`; a final newline
/// tolerated, as by Python's `$`); then it must be positive.
pub fn expires_in(text: &str) -> Result<i64, InvalidExpiry> {
    let seconds = match python_int(text) {
        Some(n) => n,
        None => parse_duration(text).ok_or_else(|| InvalidExpiry::Duration(text.to_owned()))?,
    };
    if seconds <= 0 {
        return Err(InvalidExpiry::NotPositive);
    }
    Ok(seconds)
}

/// Python's `int(text)` for ASCII digits; `None` when Python would raise
/// (or the value does not fit in 64 bits, which Modal's API cannot carry).
fn python_int(text: &str) -> Option<i64> {
    let text = text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty()
        || !bytes[0].is_ascii_digit()
        || !bytes[bytes.len() - 1].is_ascii_digit()
        || bytes.windows(2).any(|w| w == b"__")
        || !bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
    {
        return None;
    }
    let value: i64 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -value } else { value })
}

/// modal's `parse_duration`: `^(\d+)(s|m|h|d)$`.
fn parse_duration(text: &str) -> Option<i64> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let unit = match text.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in ["prod", "a", "main-2", "my_env", "v1.2", &"x".repeat(64)] {
            assert_eq!(environment_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn refuses_invalid_names() {
        for name in [
            "",
            "-prod",
            "_x",
            ".x",
            "en-123",
            "EN-abc",
            "has space",
            "ünï",
            "a/b",
            &"x".repeat(65),
            "prod\n",
        ] {
            assert!(environment_name(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn message_matches_the_official_cli() {
        let err = environment_name("en-x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid Environment name: 'en-x'.\n\nEnvironment names must be 1-64 characters, \
             can only start with alphanumeric characters, may contain only alphanumeric \
             characters, dashes, and underscores, and cannot start with 'en-'."
        );
    }

    #[test]
    fn expires_in_reads_like_the_official_cli() {
        for (text, seconds) in [
            ("3600", 3600),
            ("90s", 90),
            ("30m", 1800),
            ("12h", 43_200),
            ("7d", 604_800),
            ("365d", 31_536_000),
            (" 42 ", 42),
            ("+5", 5),
            ("1_000", 1000),
            ("2h\n", 7200),
            ("007", 7),
        ] {
            assert_eq!(expires_in(text), Ok(seconds), "{text:?}");
        }
    }

    #[test]
    fn expires_in_refusals_use_the_official_words() {
        for text in [
            "5x", "1.5h", "h", "", "1w", "1 h", "-5m", "1__0", "_1", "1h1",
        ] {
            assert_eq!(
                expires_in(text),
                Err(InvalidExpiry::Duration(text.into())),
                "{text:?}"
            );
        }
        for text in ["0", "-5", "0s", "0d", "-0"] {
            assert_eq!(
                expires_in(text),
                Err(InvalidExpiry::NotPositive),
                "{text:?}"
            );
        }
        assert_eq!(
            expires_in("5x").unwrap_err().to_string(),
            "Invalid duration: '5x'"
        );
        assert_eq!(
            expires_in("0").unwrap_err().to_string(),
            "Value passed to `--expires-in` must be a positive integer."
        );
    }
}
