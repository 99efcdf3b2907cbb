//! Secrets (API keys, admin tokens): 256 bits from the operating system's CSPRNG, shown once,
//! stored only as a SHA-256 hash. A hash of a 256-bit random value needs no salt or slow KDF: it
//! cannot be guessed, only stolen, and the hash alone does not authenticate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The last-used time of a key or token is written at most this often (per secret, across
/// replicas), so authentication does not write on every request.
pub const LAST_USED_GRANULARITY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Characters of a secret shown in lists to tell keys apart (the kind tag included).
const PREFIX_LEN: usize = 12;

pub struct NewSecret {
    /// The whole secret: returned to the caller once, never stored.
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

/// A new secret `<kind>_<43 base64url characters>`.
pub fn generate(kind: &str) -> NewSecret {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator failed");
    let secret = format!("{kind}_{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = secret.chars().take(PREFIX_LEN).collect();
    let hash = hash(&secret);
    NewSecret {
        secret,
        prefix,
        hash,
    }
}

pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// Compares a stored hash with the hash of a presented secret without leaking where they differ.
pub fn hash_matches(stored_hash: &str, presented: &str) -> bool {
    stored_hash
        .as_bytes()
        .ct_eq(hash(presented).as_bytes())
        .into()
}

/// The secret in an `Authorization` value: what follows `Bearer ` (any case), or the bare value
/// (Okta's header mode sends the key alone).
pub fn from_authorization(value: &str) -> &str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_prefixed_and_hashed() {
        let a = generate("scim");
        let b = generate("scim");
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("scim_"));
        assert_eq!(a.secret.len(), "scim_".len() + 43);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.prefix.len(), PREFIX_LEN);
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.secret));
        assert!(hash_matches(&a.hash, &a.secret));
        assert!(!hash_matches(&a.hash, &b.secret));
    }

    /// Hashes stored by earlier versions must still match: lower-case hex of SHA-256.
    #[test]
    fn the_hash_is_lowercase_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
