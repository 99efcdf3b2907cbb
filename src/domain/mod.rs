//! The one place for every business rule. GraphQL resolvers and SCIM handlers call these
//! functions with the `Store` (they never choose a pool, a reader or a cache), the acting
//! principal and a domain input; each does its checks, writes, role recomputation, activity
//! record and cache invalidation, the writes in one transaction. Helpers a rule calls inside its
//! transaction take that transaction (a read used both ways has an `_in` twin).

pub mod access;
pub mod activity;
pub mod admin;
pub mod admin_tokens;
pub mod api_keys;
pub mod attributes;
pub mod directory;
pub mod domain_names;
pub mod domains;
mod error;
pub mod filter;
pub mod filter_sql;
pub mod groups;
pub mod keyset;
pub mod mappings;
pub mod outages;
pub mod rate_limit;
pub mod request_log;
pub mod roles;
pub mod saml;
pub mod scim_settings;
pub mod secrets;
pub mod sessions;
pub mod sign_in;
mod store;
pub mod users;
mod values;
pub mod workspaces;

pub use error::{Error, Failure, Result};
pub use store::Store;
pub use values::{
    account_domain, email_domain, email_key, new_id, now, sign_in_candidate_keys, sign_in_identity,
    starts_with_ignore_case,
};
