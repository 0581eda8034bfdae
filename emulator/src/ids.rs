//! Random identifiers and secrets.
//!
//! Every id and secret the emulator hands out comes from here so that there is
//! one place to check the randomness source and the format. Ids look like
//! Modal's: a short type prefix, a dash and 22 base62 characters (about 131
//! bits). Secrets use the same shape with their own prefix (`as-`, `ws-`).
//! The generator is `rand::rng()`, a CSPRNG (ChaCha) seeded from the OS.

use rand::Rng;
use sha2::{Digest, Sha256};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Number of random characters after the prefix.
pub const RANDOM_LEN: usize = 22;

/// `prefix` followed by [`RANDOM_LEN`] random base62 characters.
pub fn random_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut out = String::with_capacity(prefix.len() + RANDOM_LEN);
    out.push_str(prefix);
    for _ in 0..RANDOM_LEN {
        let i = rng.random_range(0..BASE62.len());
        out.push(BASE62[i] as char);
    }
    out
}

pub fn api_token_id() -> String {
    random_id("ak-")
}
pub fn api_token_secret() -> String {
    random_id("as-")
}
pub fn proxy_token_id() -> String {
    random_id("wk-")
}
pub fn proxy_token_secret() -> String {
    random_id("ws-")
}
pub fn environment_id() -> String {
    random_id("en-")
}
pub fn member_id() -> String {
    random_id("mb-")
}
pub fn user_id() -> String {
    random_id("us-")
}
pub fn service_user_id() -> String {
    random_id("su-")
}
pub fn workspace_id() -> String {
    random_id("ac-")
}

/// SHA-256 of a secret. Secrets are 131-bit random strings, so a fast hash
/// without salt or stretching is enough to make a stolen database useless for
/// authentication; only this digest is stored.
pub fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `s` has the shape of an id we issue: `prefix` then base62 only.
/// Used to decide whether a presented value is safe to log.
pub fn looks_like(prefix: &str, s: &str) -> bool {
    s.len() <= prefix.len() + 64
        && s.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let id = proxy_token_id();
        assert!(id.starts_with("wk-"));
        assert_eq!(id.len(), 3 + RANDOM_LEN);
        assert!(looks_like("wk-", &id));
        assert_ne!(proxy_token_id(), id);
    }

    #[test]
    fn looks_like_rejects_other_shapes() {
        assert!(!looks_like("ak-", "as-abc"));
        assert!(!looks_like("ak-", "ak-"));
        assert!(!looks_like("ak-", "ak-a b"));
        assert!(!looks_like("ak-", &format!("ak-{}", "a".repeat(100))));
    }
}
