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
