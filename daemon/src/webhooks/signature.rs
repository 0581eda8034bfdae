//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>).
//!
//! A receiver checks three headers: `webhook-id` (the same on every attempt
//! of one message, so it can de-duplicate), `webhook-timestamp` (Unix
//! seconds of this attempt, so it can refuse replays) and
//! `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
//! `{id}.{timestamp}.{body}`, keyed with the secret's bytes. A secret is
//! `whsec_` and base64 of 24 to 64 random bytes; mws makes 32.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use mws_ipc::Secret;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The prefix of every Standard Webhooks secret.
pub(crate) const PREFIX: &str = "whsec_";
/// The key sizes the spec allows, in bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Why a secret cannot sign.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum SecretError {
    #[error("a webhook secret starts with 'whsec_'")]
    NoPrefix,
    #[error("a webhook secret is 'whsec_' and base64 (the part after 'whsec_' is not base64)")]
    NotBase64,
    #[error("a webhook secret's key is 24 to 64 bytes (this one has {0})")]
    WrongSize(usize),
}

/// A signing key, checked, zeroed on drop.
pub(crate) struct Key(Zeroizing<Vec<u8>>);

impl Key {
    /// The key of a `whsec_…` secret.
    pub(crate) fn from_secret(secret: &Secret) -> Result<Self, SecretError> {
        let encoded = secret
            .expose()
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SecretError::NoPrefix)?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| SecretError::NotBase64)?,
        );
        if !KEY_BYTES.contains(&bytes.len()) {
            return Err(SecretError::WrongSize(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The `webhook-signature` header's value for one attempt.
    pub(crate) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key size");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// A new random secret (32 bytes from the OS's generator).
pub(crate) fn generate() -> Secret {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::fill(&mut bytes[..]);
    Secret::new(format!("{PREFIX}{}", STANDARD.encode(&bytes[..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the Standard Webhooks spec (and its reference
    /// libraries' tests).
    #[test]
    fn the_specs_example_signs_alike() {
        let key = Key::from_secret(&Secret::new(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        ))
        .unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn bad_secrets_are_named() {
        let err = |s: &str| Key::from_secret(&Secret::new(s.into())).err();
        assert_eq!(
            err("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Some(SecretError::NoPrefix)
        );
        assert_eq!(err("whsec_***"), Some(SecretError::NotBase64));
        assert_eq!(err("whsec_AAAA"), Some(SecretError::WrongSize(3)));
        let made = generate();
        assert!(made.expose().starts_with(PREFIX));
        assert!(Key::from_secret(&made).is_ok());
        assert_ne!(made.expose(), generate().expose());
    }
}
