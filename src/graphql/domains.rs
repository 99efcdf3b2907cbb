//! A workspace's claimed e-mail domains as the admin API shows them.

use async_graphql::{Context, Enum, Object};
use chrono::{DateTime, Utc};

use crate::domain::domains::{self, DomainClaim};
use crate::state::AppState;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainStatus {
    /// Claimed; the TXT record has not been seen yet (looked up every 10 minutes).
    Pending,
    /// The record was seen, or the operator vouched: the workspace's IdP speaks for the domain.
    Verified,
    /// The record was not seen within 72 hours of the claim ("Check now" can still verify it).
    Failed,
    /// The record of a verified domain has been gone for 7 days: it no longer counts.
    Lapsed,
}

impl From<domains::Status> for DomainStatus {
    fn from(s: domains::Status) -> Self {
        match s {
            domains::Status::Pending => DomainStatus::Pending,
            domains::Status::Verified => DomainStatus::Verified,
            domains::Status::Failed => DomainStatus::Failed,
            domains::Status::Lapsed => DomainStatus::Lapsed,
        }
    }
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainVerifier {
    /// Its TXT record was seen.
    Dns,
    /// The operator vouched for it (`scim-gateway domains verify`).
    Operator,
}

pub struct Domain(pub DomainClaim);

/// A domain the workspace claims as its own, and where proving it stands.
#[Object]
impl Domain {
    /// The domain as people read it (an IDN in Unicode).
    async fn domain(&self) -> String {
        self.0.domain_unicode()
    }

    /// The domain as DNS knows it (an IDN as `xn--…`).
    async fn ascii_domain(&self) -> &str {
        &self.0.domain
    }

    async fn status(&self) -> DomainStatus {
        self.0.status.into()
    }

    /// Where to publish the TXT record.
    async fn txt_name(&self) -> String {
        self.0.txt_name()
    }

    /// The TXT record's value (not a secret: it is published).
    async fn txt_value(&self) -> &str {
        &self.0.txt_value
    }

    async fn verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.verified_at
    }

    async fn verified_by(&self) -> Option<DomainVerifier> {
        self.0.verified_by.map(|v| match v {
            domains::Verifier::Dns => DomainVerifier::Dns,
            domains::Verifier::Operator => DomainVerifier::Operator,
        })
    }

    async fn last_checked_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_checked_at
    }

    /// Why the last lookup did not verify it (no record, another value, DNS trouble).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// A verified domain's record first found missing (it lapses 7 days later).
    async fn missing_since(&self) -> Option<DateTime<Utc>> {
        self.0.missing_since
    }

    /// When the background looks it up next; null: only when an admin asks.
    async fn next_check_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_check_at
    }

    /// When a pending claim fails, or a verified domain whose record is missing lapses, unless
    /// the record is seen first; null otherwise.
    async fn deadline(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        let state = ctx.data::<AppState>()?;
        Ok(self.0.deadline(&state.domain_checks.schedule))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
