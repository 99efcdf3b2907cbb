//! Small values every rule uses: new ids, the time as stored, and case-insensitive keys.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// A fresh random identifier for a new row.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Now, at millisecond precision so that a timestamp reads back equal from SQLite and PostgreSQL.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(now)
}

/// `text` starts with `prefix`, ASCII case-insensitively. Safe on any text: slicing `text` at
/// `prefix.len()` would panic inside a multi-byte character (found by fuzzing the filter parser).
pub fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Normalised form used for case-insensitive uniqueness of e-mails and user names.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An address as single sign-on compares it: the local part lowercased in ASCII only (Unicode
/// case folding would make the Kelvin sign `K` a `k`, so `Kate@` a second name for `kate@`), the
/// domain in its IDNA ASCII form (so `bücher.example` and `xn--bcher-kva.example` are one
/// domain). Only ASCII whitespace is trimmed. A domain must already be in the form IDNA maps to,
/// up to ASCII case: IDNA's mapping would also fold full-width letters, drop zero-width and soft
/// hyphen characters and turn `。` into `.`, each a second spelling of someone else's address.
/// `None` when the domain is not such a name. A name without `@` (a NameID that is not an
/// address) is lowercased in ASCII as a whole.
pub fn sign_in_identity(address: &str) -> Option<String> {
    let address = address.trim_matches(|c: char| c.is_ascii_whitespace());
    match address.rsplit_once('@') {
        None => Some(address.to_ascii_lowercase()),
        Some((local, domain)) => {
            let ascii = canonical_domain(domain)?;
            if local.is_empty() {
                return None;
            }
            Some(format!("{}@{ascii}", local.to_ascii_lowercase()))
        }
    }
}

/// The domain of an address in the form claimed domains are stored in (IDNA ASCII, lowercase,
/// as `sign_in_identity` compares it); `None` for a name without `@` or a domain that is not
/// in the form IDNA maps it to. One trailing dot is dropped.
pub fn email_domain(address: &str) -> Option<String> {
    let address = address.trim_matches(|c: char| c.is_ascii_whitespace());
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() {
        return None;
    }
    canonical_domain(domain.strip_suffix('.').unwrap_or(domain))
}

/// The domain an account is filed under: the IDNA ASCII form of its `email_key`'s domain, with
/// IDNA's mapping. Accounts are found by `email_key` (Unicode lowercase), which already merges
/// spellings such as the Kelvin sign with `k`; the domain is taken from that same key, so an
/// account one workspace creates under an odd spelling of `bank.test` is still `bank.test`'s,
/// and its global profile the verified workspace's to write. `None` without a domain.
pub fn account_domain(email: &str) -> Option<String> {
    let key = email_key(email);
    let (local, domain) = key.rsplit_once('@')?;
    if local.is_empty() {
        return None;
    }
    let ascii = idna::domain_to_ascii(domain.strip_suffix('.').unwrap_or(domain)).ok()?;
    (!ascii.is_empty()).then_some(ascii)
}

/// The IDNA ASCII form of `domain` when `domain` is already what IDNA maps it to (up to ASCII
/// case); `None` otherwise.
fn canonical_domain(domain: &str) -> Option<String> {
    let ascii = idna::domain_to_ascii_strict(domain).ok()?;
    if ascii.is_empty() {
        return None;
    }
    let written = domain.to_ascii_lowercase();
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    let round_trips = result.is_ok() && (written == ascii || written == unicode);
    round_trips.then_some(ascii)
}

/// The stored keys (`email_key`) under which an address that sign-in compares equal to
/// `address` can be filed: as given, with its domain in ASCII form, and with it in Unicode form.
/// Only a lookup: every candidate is then compared with `sign_in_identity`.
pub fn sign_in_candidate_keys(address: &str) -> Vec<String> {
    let address = address.trim();
    let mut keys = vec![email_key(address)];
    if let Some((local, domain)) = address.rsplit_once('@')
        && let Ok(ascii) = idna::domain_to_ascii_strict(domain)
    {
        keys.push(email_key(&format!("{local}@{ascii}")));
        let (unicode, result) = idna::domain_to_unicode(&ascii);
        if result.is_ok() {
            keys.push(email_key(&format!("{local}@{unicode}")));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod sign_in_identity_tests {
    use super::*;

    #[test]
    fn ascii_case_and_idna_domains_compare_equal_and_nothing_else_does() {
        let same = |a: &str, b: &str| sign_in_identity(a) == sign_in_identity(b);
        assert!(same("Kate@Example.TEST", "kate@example.test"));
        assert!(same(" kate@example.test ", "kate@example.test"));
        assert!(same("jo@Bücher.example", "jo@xn--bcher-kva.example"));
        assert!(same("jo@Bücher.example", "JO@bücher.EXAMPLE"));
        // The Kelvin sign (U+212A) lowercases to `k` in Unicode, not in ASCII.
        assert!(!same("\u{212A}ate@example.test", "kate@example.test"));
        // Other Unicode case pairs in the local part stay apart too.
        assert!(!same("JÖ@example.test", "jö@example.test"));
        assert!(!same("jane@example.test", "jane.doe@example.test"));
        assert_eq!(sign_in_identity("jdoe").as_deref(), Some("jdoe"));
        assert_eq!(sign_in_identity("JDoe").as_deref(), Some("jdoe"));
        assert_eq!(sign_in_identity("@example.test"), None);
        assert_eq!(sign_in_identity("a@exa mple.test"), None);
        // Spellings IDNA would map onto someone else's domain are nobody's.
        for other in [
            "admin@exa\u{200b}mple.com",
            "admin@exam\u{ad}ple.com",
            "admin@\u{ff45}\u{ff58}\u{ff41}\u{ff4d}\u{ff50}\u{ff4c}\u{ff45}.com",
            "admin@example\u{3002}com",
            "admin@example.com\u{a0}",
            "\u{2003}admin@example.com",
            "jo@BÜCHER.example",
        ] {
            assert_ne!(
                sign_in_identity(other),
                sign_in_identity("admin@example.com"),
                "{other:?}"
            );
            assert!(
                sign_in_identity(other).is_none() || other.starts_with('\u{2003}'),
                "{other:?} has an identity: {:?}",
                sign_in_identity(other)
            );
        }
    }

    #[test]
    fn an_address_domain_is_its_canonical_ascii_form() {
        assert_eq!(email_domain("Kate@Acme.TEST").as_deref(), Some("acme.test"));
        assert_eq!(
            email_domain("kate@acme.test.").as_deref(),
            Some("acme.test")
        );
        assert_eq!(
            email_domain("jo@Bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(email_domain("jdoe"), None);
        assert_eq!(email_domain("@acme.test"), None);
        // A look-alike spelling IDNA would map is nobody's domain.
        assert_eq!(email_domain("admin@exa\u{200b}mple.com"), None);
    }

    #[test]
    fn an_account_is_filed_under_the_domain_of_its_key() {
        // The Kelvin sign lowercases to `k`: the key is kate@bank.test, and so is the domain.
        assert_eq!(
            account_domain("kate@ban\u{212A}.test").as_deref(),
            Some("bank.test")
        );
        assert_eq!(
            account_domain("jo@BÜCHER.test").as_deref(),
            Some("xn--bcher-kva.test")
        );
        assert_eq!(
            account_domain("Kate@Acme.TEST.").as_deref(),
            Some("acme.test")
        );
        assert_eq!(account_domain("jdoe"), None);
    }

    #[test]
    fn candidate_keys_cover_both_forms_of_a_domain() {
        let keys = sign_in_candidate_keys("Jo@Bücher.example");
        assert!(keys.contains(&"jo@bücher.example".to_string()), "{keys:?}");
        assert!(
            keys.contains(&"jo@xn--bcher-kva.example".to_string()),
            "{keys:?}"
        );
        let keys = sign_in_candidate_keys("jo@xn--bcher-kva.example");
        assert!(keys.contains(&"jo@bücher.example".to_string()), "{keys:?}");
    }
}
