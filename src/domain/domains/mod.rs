//! A workspace's claimed e-mail domains. A workspace claims a domain, publishes the TXT record
//! it is given at `_scim-gateway.<domain>`, and the domain is verified when the record is seen;
//! from then on its IdP may sign in and rename the people of that domain, and no other
//! workspace's may (one workspace at a time holds a domain verified: pending claims coexist and
//! the first to verify wins). The operator can vouch for a domain without DNS.
//!
//! The schedule (`Schedule`): a pending claim is looked up every 10 minutes and fails after 72
//! hours without its record; a verified domain is looked up daily, hourly once its record is
//! missing, and lapses after 7 days without it; a lapsed or failed domain is looked up daily
//! (lapsed) or only when an admin asks (failed), and verifies again when the record is back. A
//! lookup that cannot say (timeout, SERVFAIL) changes no status: the reason is shown. Every
//! change of status is an activity entry. DNS is looked up by the background checks and by
//! `check_now` only, never on a SCIM or sign-in request.

pub mod dns;
mod transitions;

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};

use crate::domain::activity::{self, NewEntry};
use crate::domain::admin::{self, Principal};
use crate::domain::domain_names::DomainName;
use crate::domain::rate_limit::RateLimiter;
use crate::domain::{Error, Result, Store, new_id, now};
use crate::entities::{account, workspace, workspace_domain};
use dns::{TxtAnswer, TxtResolver};
pub use transitions::{Schedule, Seen, Status, Transition, Verifier, next_state};

/// The name the TXT record is published under, below the domain.
pub const RECORD_LABEL: &str = "_scim-gateway";
/// What the record's value starts with (the rest is 160 random bits in hex).
pub const VALUE_PREFIX: &str = "scim-gateway-verification=";
/// Claims one workspace may hold: a bound on what it stores and the background checks it asks.
pub const MAX_CLAIMS: u64 = 50;
/// Lookups one background round makes at most (the rest wait for the next round).
const ROUND_SIZE: u64 = 20;

/// A claim as the settings page shows it.
#[derive(Clone, Debug)]
pub struct DomainClaim {
    /// ASCII form (an IDN as `xn--…`).
    pub domain: String,
    pub status: Status,
    pub txt_value: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_by: Option<Verifier>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub missing_since: Option<DateTime<Utc>>,
    pub next_check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl DomainClaim {
    /// As people read it: an IDN in Unicode.
    pub fn domain_unicode(&self) -> String {
        idna::domain_to_unicode(&self.domain).0
    }

    /// When a pending claim fails, or a verified domain whose record is missing lapses, unless
    /// the record is seen first; `None` otherwise.
    pub fn deadline(&self, schedule: &Schedule) -> Option<DateTime<Utc>> {
        match (self.status, self.missing_since) {
            (Status::Pending, _) => Some(self.created_at + schedule.pending_for),
            (Status::Verified, Some(since)) => Some(since + schedule.lapse_after),
            _ => None,
        }
    }

    /// The name the TXT record goes under.
    pub fn txt_name(&self) -> String {
        record_name(&self.domain)
    }
}

impl From<workspace_domain::Model> for DomainClaim {
    fn from(m: workspace_domain::Model) -> Self {
        DomainClaim {
            domain: m.domain,
            status: Status::parse(&m.status),
            txt_value: m.txt_value,
            verified_at: m.verified_at,
            verified_by: m.verified_by.as_deref().map(Verifier::parse),
            last_checked_at: m.last_checked_at,
            last_error: m.last_error,
            missing_since: m.missing_since,
            next_check_at: m.next_check_at,
            created_at: m.created_at,
        }
    }
}

pub fn record_name(domain: &str) -> String {
    format!("{RECORD_LABEL}.{domain}")
}

/// A fresh record value: the prefix and 160 bits from the operating system's CSPRNG.
fn new_record_value() -> String {
    use rand::TryRngCore;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator failed");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{VALUE_PREFIX}{hex}")
}

/// What checks a domain's DNS: the resolver (or why there is none) and the budget of "Check now".
pub struct DomainChecks {
    resolver: std::result::Result<TxtResolver, String>,
    /// "Check now" per workspace: a few at once, then one every 10 seconds.
    budget: RateLimiter,
    pub schedule: Schedule,
}

impl DomainChecks {
    /// Over the resolver at `server` (`host:port`), or the system's when `None`.
    pub fn new(server: Option<std::net::SocketAddr>) -> Self {
        let resolver = TxtResolver::new(server).map_err(|e| {
            tracing::warn!(error = %e, "no DNS resolver: domain checks will report it");
            e.to_string()
        });
        DomainChecks {
            resolver,
            budget: RateLimiter::new(0.1, 3),
            schedule: Schedule::default(),
        }
    }

    async fn look_up(&self, domain: &str) -> TxtAnswer {
        match &self.resolver {
            Ok(resolver) => resolver.txt(&record_name(domain)).await,
            Err(reason) => TxtAnswer::Unavailable(format!("no DNS resolver: {reason}")),
        }
    }
}

/// A workspace's claims, domains in order (for its settings, read by its admins).
pub async fn list(store: &Store, workspace_id: &str) -> Result<Vec<DomainClaim>> {
    list_of(store.pool(), workspace_id).await
}

pub async fn list_of(db: &impl ConnectionTrait, workspace_id: &str) -> Result<Vec<DomainClaim>> {
    Ok(workspace_domain::Entity::find()
        .filter(workspace_domain::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(workspace_domain::Column::Domain)
        .limit(MAX_CLAIMS)
        .all(db)
        .await?
        .into_iter()
        .map(DomainClaim::from)
        .collect())
}

/// The workspace's verified domains (ASCII), for the SAML section and sign-in.
pub async fn verified_domains(
    db: &impl ConnectionTrait,
    workspace_id: &str,
) -> Result<Vec<String>> {
    Ok(list_of(db, workspace_id)
        .await?
        .into_iter()
        .filter(|c| c.status == Status::Verified)
        .map(|c| c.domain)
        .collect())
}

/// The workspace that has verified `domain` (ASCII), if any.
pub async fn verified_by_workspace(
    db: &impl ConnectionTrait,
    domain: &str,
) -> Result<Option<String>> {
    Ok(workspace_domain::Entity::find()
        .filter(workspace_domain::Column::Domain.eq(domain))
        .filter(workspace_domain::Column::Status.eq(Status::Verified.as_str()))
        .one(db)
        .await?
        .map(|row| row.workspace_id))
}

/// `workspace_id` has verified `domain` (ASCII).
pub async fn is_verified_by(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    domain: &str,
) -> Result<bool> {
    Ok(verified_by_workspace(db, domain).await?.as_deref() == Some(workspace_id))
}

/// Someone else holds the domain verified: what an admin is told (never which workspace).
fn taken(domain: &str) -> Error {
    Error::DomainTaken(format!(
        "{domain} is verified by another workspace; ask its admins to remove it, or contact support"
    ))
}

/// Claims `input` for the caller's workspace (admins only): a pending claim with the TXT record
/// to publish, looked up in the background within a minute. Claiming a domain the workspace
/// already claims returns that claim as it is.
pub async fn claim(store: &Store, principal: &Principal, input: &str) -> Result<DomainClaim> {
    let name = DomainName::parse(input)?;
    let domain = name.ascii();
    let txn = crate::db::begin_write(store.writes()).await?;
    admin::require_admin(&txn, principal).await?;
    let ws = &principal.workspace_id;
    if let Some(existing) = find(&txn, ws, domain).await? {
        return Ok(existing.into());
    }
    if let Some(holder) = verified_by_workspace(&txn, domain).await?
        && holder != *ws
    {
        return Err(taken(&name.unicode()));
    }
    let held = workspace_domain::Entity::find()
        .filter(workspace_domain::Column::WorkspaceId.eq(ws.as_str()))
        .count(&txn)
        .await?;
    if held >= MAX_CLAIMS {
        return Err(Error::invalid(
            "domain",
            format!("a workspace claims at most {MAX_CLAIMS} domains; remove one first"),
        ));
    }
    let model = new_claim(ws, domain, now());
    workspace_domain::Entity::insert(model.clone().into_active_model().reset_all())
        .exec(&txn)
        .await
        .map_err(|e| match Error::from(e) {
            // The same claim made twice at once: the other one stored it.
            Error::Conflict(_) => Error::Conflict(format!("{domain} is being claimed; reload")),
            other => other,
        })?;
    activity::record(
        &txn,
        NewEntry::settings(
            ws,
            principal.actor(),
            "domain.claim",
            format!(
                "claimed {} (pending: publish TXT {} with the value shown)",
                name.unicode(),
                record_name(domain)
            ),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

/// A new pending claim, its record value fresh, looked up first 30 s after it is made.
fn new_claim(workspace_id: &str, domain: &str, at: DateTime<Utc>) -> workspace_domain::Model {
    workspace_domain::Model {
        id: new_id(),
        workspace_id: workspace_id.to_string(),
        domain: domain.to_string(),
        status: Status::Pending.as_str().into(),
        txt_value: new_record_value(),
        verified_at: None,
        verified_by: None,
        last_checked_at: None,
        last_error: None,
        missing_since: None,
        next_check_at: Some(at + TimeDelta::seconds(30)),
        created_at: at,
    }
}

async fn find(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    domain: &str,
) -> Result<Option<workspace_domain::Model>> {
    Ok(workspace_domain::Entity::find()
        .filter(workspace_domain::Column::WorkspaceId.eq(workspace_id))
        .filter(workspace_domain::Column::Domain.eq(domain))
        .one(db)
        .await?)
}

/// The caller's claim of `input`, or `NotFound`.
async fn claimed(
    db: &impl ConnectionTrait,
    principal: &Principal,
    input: &str,
) -> Result<workspace_domain::Model> {
    let name = DomainName::parse(input)?;
    find(db, &principal.workspace_id, name.ascii())
        .await?
        .ok_or_else(|| Error::NotFound(format!("a claim of {} in this workspace", name.unicode())))
}

/// "Check now": looks the record up at once (admins only; a few at once per workspace, then
/// one every 10 seconds) and applies what was seen. `DomainTaken` when the record is there but
/// another workspace verified the domain first.
pub async fn check_now(
    store: &Store,
    checks: &DomainChecks,
    principal: &Principal,
    input: &str,
) -> Result<DomainClaim> {
    admin::require_admin(store.pool(), principal).await?;
    let row = claimed(store.pool(), principal, input).await?;
    if Verifier::parse(row.verified_by.as_deref().unwrap_or("")) == Verifier::Operator
        && row.status == Status::Verified.as_str()
    {
        // Vouched for by the operator: nothing to look up.
        return Ok(row.into());
    }
    if let Err(wait) = checks.budget.take(&principal.workspace_id, Instant::now()) {
        return Err(Error::RateLimited(format!(
            "domains were checked moments ago; check again in {} s (they are also checked in the background)",
            std::cmp::max(wait.as_secs(), 1)
        )));
    }
    let answer = checks.look_up(&row.domain).await;
    let actor = principal.actor();
    match apply(store, &checks.schedule, row, &answer, &actor).await? {
        Applied::Stored(claim) => Ok(claim),
        Applied::Taken => Err(taken(&DomainName::parse(input)?.unicode())),
        Applied::Raced => {
            let row = claimed(store.pool(), principal, input).await?;
            Ok(row.into())
        }
    }
}

/// Removes the caller's claim of `input` (admins only). A verified domain stops speaking for
/// its addresses at once: its IdP signs none of them in, and renames none.
pub async fn remove(store: &Store, principal: &Principal, input: &str) -> Result<DomainClaim> {
    let txn = crate::db::begin_write(store.writes()).await?;
    admin::require_admin(&txn, principal).await?;
    let row = claimed(&txn, principal, input).await?;
    workspace_domain::Entity::delete_by_id(row.id.clone())
        .exec(&txn)
        .await?;
    if row.status == workspace_domain::VERIFIED {
        end_sessions_of(&txn, &principal.workspace_id, &row.domain).await?;
    }
    let claim = DomainClaim::from(row);
    activity::record(
        &txn,
        NewEntry::settings(
            &principal.workspace_id,
            principal.actor(),
            "domain.remove",
            format!(
                "removed the claim of {} (it was {})",
                claim.domain_unicode(),
                claim.status.as_str().to_lowercase()
            ),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(claim)
}

/// The operator vouches for `input` on behalf of workspace `workspace` (its slug or id): the
/// domain is verified without DNS and never looked up. `DomainTaken` when another workspace
/// holds it verified.
pub async fn vouch(
    db: &impl TransactionTrait,
    workspace: &str,
    input: &str,
) -> Result<DomainClaim> {
    let name = DomainName::parse(input)?;
    for _ in 0..3 {
        match vouch_once(db, workspace, &name).await {
            Ok(Some(claim)) => return Ok(claim),
            // A check stored its result meanwhile: read the claim again.
            Ok(None) => continue,
            Err(Error::Conflict(_)) => return Err(taken(&name.unicode())),
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict(format!(
        "{} is being checked right now; run the command again",
        name.unicode()
    )))
}

/// One attempt of `vouch`: `None` when the claim changed between its read and its update.
async fn vouch_once(
    db: &impl TransactionTrait,
    workspace: &str,
    name: &DomainName,
) -> Result<Option<DomainClaim>> {
    let domain = name.ascii();
    let txn = crate::db::begin_write(db).await?;
    let ws = workspace::Entity::find()
        .filter(
            workspace::Column::Slug
                .eq(workspace.to_lowercase())
                .or(workspace::Column::Id.eq(workspace)),
        )
        .one(&txn)
        .await?
        .ok_or_else(|| Error::NotFound(format!("workspace {workspace:?}")))?;
    if let Some(holder) = verified_by_workspace(&txn, domain).await?
        && holder != ws.id
    {
        return Err(taken(&name.unicode()));
    }
    let at = now();
    let vouched = Transition {
        status: Status::Verified,
        verified_at: Some(at),
        verified_by: Some(Verifier::Operator),
        last_error: None,
        missing_since: None,
        next_check_at: None,
    };
    let (stored, was) = match find(&txn, &ws.id, domain).await? {
        // Stored as a check's result is: a check that read the claim before stores nothing.
        Some(row) => match store_transition(&txn, &row, &vouched, at).await? {
            Some(claim) => (claim, Some(Status::parse(&row.status))),
            None => return Ok(None),
        },
        None => {
            let row = workspace_domain::Model {
                status: vouched.status.as_str().into(),
                verified_at: vouched.verified_at,
                verified_by: vouched.verified_by.map(|v| v.as_str().into()),
                last_checked_at: Some(at),
                next_check_at: None,
                ..new_claim(&ws.id, domain, at)
            };
            workspace_domain::Entity::insert(row.clone().into_active_model().reset_all())
                .exec(&txn)
                .await?;
            (row.into(), None)
        }
    };
    if was != Some(Status::Verified) {
        activity::record(
            &txn,
            NewEntry::settings(
                &ws.id,
                "operator (scim-gateway domains verify)".into(),
                "domain.verified",
                format!("{} verified: the operator vouched for it", name.unicode()),
            ),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Some(stored))
}

/// What storing a check gave.
enum Applied {
    Stored(DomainClaim),
    /// The record is there, but another workspace holds the domain verified.
    Taken,
    /// Another check (a replica, the background) stored its result first.
    Raced,
}

/// Stores what a lookup of `row` saw: the new status, the times, the reason, and an activity
/// entry when the status changes; only if the claim is still as read (else `Raced`). A record
/// seen for a domain another workspace holds counts as missing, with that reason (a pending
/// claim still fails when its time is up).
async fn apply(
    store: &Store,
    schedule: &Schedule,
    row: workspace_domain::Model,
    answer: &TxtAnswer,
    actor: &str,
) -> Result<Applied> {
    let at = now();
    let seen = Seen::of(answer, &row.txt_value, &record_name(&row.domain));
    let transition = next_state(&row, &seen, at, schedule);
    let stored = store_with_event(store, schedule, &row, &transition, at, actor).await;
    Ok(match stored {
        // The verified index: another workspace verified it first.
        Err(Error::Conflict(_)) if transition.status == Status::Verified => {
            let held = Seen::Missing(
                "the record is published, but another workspace verified this domain first".into(),
            );
            let kept = next_state(&row, &held, at, schedule);
            match store_with_event(store, schedule, &row, &kept, at, actor).await? {
                Some(_) => Applied::Taken,
                None => Applied::Raced,
            }
        }
        other => match other? {
            Some(claim) => Applied::Stored(claim),
            None => Applied::Raced,
        },
    })
}

/// One transaction: the conditional update, the activity entry of a change of status, and, when
/// the domain lapses, the end of the sessions of its people in the workspace.
async fn store_with_event(
    store: &Store,
    schedule: &Schedule,
    row: &workspace_domain::Model,
    transition: &Transition,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<Option<DomainClaim>> {
    let txn = crate::db::begin_write(store.writes()).await?;
    let Some(claim) = store_transition(&txn, row, transition, at).await? else {
        return Ok(None);
    };
    if let Some(event) = transition.event(row, &claim.domain_unicode(), schedule) {
        activity::record(
            &txn,
            NewEntry::settings(
                &row.workspace_id,
                actor.to_string(),
                event.action,
                event.summary,
            ),
        )
        .await?;
    }
    if transition.status == Status::Lapsed && Status::parse(&row.status) == Status::Verified {
        end_sessions_of(&txn, &row.workspace_id, &row.domain).await?;
    }
    txn.commit().await?;
    Ok(Some(claim))
}

/// Ends the workspace's sessions of people whose account is of `domain`: the IdP no longer
/// speaks for them, so what it signed them in to ends too (open subscriptions re-check their
/// session and close).
async fn end_sessions_of(
    txn: &impl ConnectionTrait,
    workspace_id: &str,
    domain: &str,
) -> Result<u64> {
    use crate::entities::{member, session};
    use sea_orm::sea_query::Query;
    let of_domain = Query::select()
        .column((member::Entity, member::Column::Id))
        .from(member::Entity)
        .inner_join(
            account::Entity,
            Expr::col((account::Entity, account::Column::Id))
                .equals((member::Entity, member::Column::AccountId)),
        )
        .and_where(Expr::col((member::Entity, member::Column::WorkspaceId)).eq(workspace_id))
        .and_where(Expr::col((account::Entity, account::Column::EmailDomain)).eq(domain))
        .to_owned();
    let ended = session::Entity::delete_many()
        .filter(session::Column::WorkspaceId.eq(workspace_id))
        .filter(session::Column::MemberId.in_subquery(of_domain))
        .exec(txn)
        .await?;
    Ok(ended.rows_affected)
}

/// The claim is as `row` read it: every write of a claim (a check, the operator's vouch) sets
/// `last_checked_at`, so a check or vouch that read it before another write stores nothing.
fn unchanged_since_read(row: &workspace_domain::Model) -> sea_orm::Condition {
    use workspace_domain::Column as C;
    sea_orm::Condition::all()
        .add(C::Id.eq(row.id.as_str()))
        .add(C::Status.eq(row.status.as_str()))
        .add(match row.last_checked_at {
            Some(checked) => Expr::col(C::LastCheckedAt).eq(checked),
            None => Expr::col(C::LastCheckedAt).is_null(),
        })
        .add(match &row.verified_by {
            Some(by) => Expr::col(C::VerifiedBy).eq(by.as_str()),
            None => Expr::col(C::VerifiedBy).is_null(),
        })
}

/// The conditional update: `None` when the claim changed (or went) since it was read.
async fn store_transition(
    txn: &impl ConnectionTrait,
    row: &workspace_domain::Model,
    t: &Transition,
    at: DateTime<Utc>,
) -> Result<Option<DomainClaim>> {
    use workspace_domain::Column as C;
    let updated = workspace_domain::Entity::update_many()
        .col_expr(C::Status, Expr::value(t.status.as_str()))
        .col_expr(C::VerifiedAt, Expr::value(t.verified_at))
        .col_expr(
            C::VerifiedBy,
            Expr::value(t.verified_by.map(Verifier::as_str)),
        )
        .col_expr(C::LastCheckedAt, Expr::value(Some(at)))
        .col_expr(C::LastError, Expr::value(t.last_error.clone()))
        .col_expr(C::MissingSince, Expr::value(t.missing_since))
        .col_expr(C::NextCheckAt, Expr::value(t.next_check_at))
        .filter(unchanged_since_read(row))
        .exec(txn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Some(DomainClaim {
        status: t.status,
        verified_at: t.verified_at,
        verified_by: t.verified_by,
        last_checked_at: Some(at),
        last_error: t.last_error.clone(),
        missing_since: t.missing_since,
        next_check_at: t.next_check_at,
        ..DomainClaim::from(row.clone())
    }))
}

/// One background round: the claims due for a lookup (at most `ROUND_SIZE`), each taken by
/// moving its next check forward (so another replica's round skips it), looked up and stored.
/// Returns how many were looked up.
pub async fn run_due(store: &Store, checks: &DomainChecks) -> Result<usize> {
    use workspace_domain::Column as C;
    let at = now();
    let due = workspace_domain::Entity::find()
        .filter(C::NextCheckAt.lte(at))
        .order_by_asc(C::NextCheckAt)
        .limit(ROUND_SIZE)
        .all(store.pool())
        .await?;
    // Each due claim is taken by moving its next check forward (another replica's round then
    // skips it), then all taken ones are looked up at once: one round lasts one lookup's bound
    // (5 s), however many name servers stay silent.
    let hold = at + TimeDelta::minutes(5);
    let mut taken_rows = Vec::new();
    for row in due {
        let taken = workspace_domain::Entity::update_many()
            .col_expr(C::NextCheckAt, Expr::value(Some(hold)))
            .filter(C::Id.eq(row.id.as_str()))
            .filter(C::NextCheckAt.eq(row.next_check_at))
            .exec(store.writes())
            .await?;
        if taken.rows_affected == 1 {
            taken_rows.push(workspace_domain::Model {
                next_check_at: Some(hold),
                ..row
            });
        }
    }
    let looked_up = taken_rows.len();
    let checks_done = taken_rows.into_iter().map(|row| async move {
        let answer = checks.look_up(&row.domain).await;
        let domain = row.domain.clone();
        match apply(store, &checks.schedule, row, &answer, "DNS check").await {
            Ok(Applied::Raced) => {
                tracing::info!(%domain, "a domain check lost to another writer; it runs again later")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%domain, error = %e, "storing a domain check failed; it runs again later"),
        }
    });
    futures_util::future::join_all(checks_done).await;
    Ok(looked_up)
}

/// The background checks: a round every `every`, until the handle is aborted.
pub fn spawn_checks(
    store: Store,
    checks: std::sync::Arc<DomainChecks>,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = run_due(&store, &checks).await {
                tracing::warn!(error = %e, "domain checks could not run; next round later");
            }
        }
    })
}

/// Slugs of the workspaces with SAML configured and no verified domain: their IdP signs in
/// nobody until a domain is verified (what an upgrade leaves workspaces configured before
/// claimed domains existed in; the operator is told at start).
pub async fn saml_without_verified_domain(db: &impl ConnectionTrait) -> Result<Vec<String>> {
    use sea_orm::sea_query::Query;
    let verified = Query::select()
        .column(workspace_domain::Column::WorkspaceId)
        .from(workspace_domain::Entity)
        .and_where(workspace_domain::Column::Status.eq(workspace_domain::VERIFIED))
        .to_owned();
    let with_saml = Query::select()
        .column(crate::entities::saml_config::Column::WorkspaceId)
        .from(crate::entities::saml_config::Entity)
        .to_owned();
    Ok(workspace::Entity::find()
        .filter(workspace::Column::Id.in_subquery(with_saml))
        .filter(workspace::Column::Id.not_in_subquery(verified))
        .order_by_asc(workspace::Column::Slug)
        .all(db)
        .await?
        .into_iter()
        .map(|w| w.slug)
        .collect())
}

/// Fills `accounts.email_domain` where it is empty (accounts stored before claimed domains
/// existed), in batches; an address without a domain gets `""` (it matches no claim).
pub async fn fill_account_domains(db: &impl TransactionTrait) -> Result<u64> {
    let mut filled = 0;
    loop {
        // One transaction per batch: one commit (one flush to disk) per 500 accounts.
        let txn = crate::db::begin_write(db).await?;
        let batch = account::Entity::find()
            .filter(account::Column::EmailDomain.is_null())
            .limit(500)
            .all(&txn)
            .await?;
        if batch.is_empty() {
            return Ok(filled);
        }
        for row in batch {
            let domain = crate::domain::account_domain(&row.email).unwrap_or_default();
            account::Entity::update_many()
                .col_expr(account::Column::EmailDomain, Expr::value(domain))
                .filter(account::Column::Id.eq(row.id))
                .filter(account::Column::EmailDomain.is_null())
                .exec(&txn)
                .await?;
            filled += 1;
        }
        txn.commit().await?;
    }
}
