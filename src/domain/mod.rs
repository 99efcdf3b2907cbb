//! The one place for every business rule. GraphQL resolvers and SCIM handlers call these
//! functions; each takes a connection (or the caller's transaction), the acting principal and a
//! domain input, and does its checks, writes, role recomputation and activity record in one
//! transaction.

pub mod activity;
pub mod admin;
pub mod api_keys;
pub mod directory;
mod error;
pub mod filter;
pub mod filter_sql;
pub mod groups;
pub mod mappings;
pub mod roles;
pub mod saml;
pub mod scim_settings;
pub mod secrets;
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

/// Normalised form used for case-insensitive uniqueness of e-mails and user names.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}
