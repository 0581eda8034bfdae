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
}
