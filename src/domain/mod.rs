//! The one place for every business rule. GraphQL resolvers and SCIM handlers call these
//! functions; each takes a connection (or the caller's transaction), the acting principal and a
//! domain input, and does its checks, writes, role recomputation and activity record in one
//! transaction.

pub mod access;
pub mod activity;
pub mod admin;
pub mod api_keys;
pub mod attributes;
pub mod directory;
mod error;
pub mod filter;
pub mod filter_sql;
pub mod groups;
pub mod keyset;
pub mod mappings;
pub mod outages;
pub mod rate_limit;
pub mod roles;
pub mod saml;
pub mod scim_settings;
pub mod secrets;
pub mod sessions;
pub mod sign_in;
pub mod users;
pub mod workspaces;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub use error::{Error, Result};

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
