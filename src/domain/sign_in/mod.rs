//! Signing in through the workspace's IdP. `begin` remembers an AuthnRequest (single use, ten
//! minutes, in the database so any replica can receive the answer) and gives the IdP URL;
//! `complete` verifies the answer (`saml::verify`), consumes the request, remembers the
//! assertion's ID until it expires (replays are refused), and signs in the active member whose
//! userName or e-mail is the asserted subject. SCIM is how people arrive: nobody else gets in.
//! A test sign-in (an admin's) runs the same checks and stores a report instead of a session.
//!
//! Everything here answers anyone on the internet: an SP-initiated answer is accepted only in
//! the browser that started it (`requests`), an IdP-initiated one only where the workspace allows
//! it, and the refusals of one client are folded into one activity entry a minute.

use chrono::TimeDelta;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};

use crate::domain::activity::{self, NewEntry};
use crate::domain::admin::{self, Principal};
use crate::domain::roles::Role;
use crate::domain::saml::verify::{self, Check, Refusal, TrustedIdp, VerifiedAssertion};
use crate::domain::saml::{self, ServiceProvider};
use crate::domain::sessions::{self, NewSession};
use crate::domain::{Error, Result, Store, now, workspaces};
use crate::entities::saml_assertion_seen;

mod people;
mod report;
mod requests;

pub use people::{NOT_A_MEMBER, find_workspace};
use people::{Person, domain_check, find_person, person_detail};
pub use report::{CheckResult, TestReport, refused_report, test_report_for};
use report::{store_report, test_report};
pub mod state;

pub use requests::{REQUEST_TTL, Started};
use requests::{consume_request, remember_test, start_sign_in};

/// Longest `return_to` path kept with a request.
pub const MAX_RETURN_TO: usize = 512;

/// The service provider's metadata of an existing workspace, as its IdP fetches it.
pub async fn metadata(store: &Store, sp: &ServiceProvider, workspace_id: &str) -> Result<String> {
    workspaces::get(store.pool(), workspace_id).await?;
    Ok(sp.metadata_xml())
}

/// Starts an SP-initiated sign-in: the URL to send the browser to, and the cookie that holds
/// the request (the answer is accepted only with it). Stores nothing.
pub async fn begin(
    store: &Store,
    sp: &ServiceProvider,
    workspace_id: &str,
    return_to: Option<&str>,
) -> Result<Started> {
    let return_to = return_to.and_then(local_path);
    start_sign_in(store, sp, workspace_id, return_to).await
}

/// Starts an admin's test sign-in: the URL to open. No session comes of it, only a report.
pub async fn begin_test(
    store: &Store,
    sp: &ServiceProvider,
    principal: &Principal,
) -> Result<String> {
    let db = store.writes();
    admin::require_admin(db, principal).await?;
    remember_test(db, sp, &principal.workspace_id, &principal.account_id)
        .await
        .map(|started| started.url)
}

/// A relative path of this site to return to, or `None`: never another origin (`//evil`,
/// `/\evil`, `https:`), never control characters.
pub fn local_path(candidate: &str) -> Option<String> {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && candidate.len() <= MAX_RETURN_TO
        && !candidate
            .chars()
            .any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| candidate.to_string())
}

/// How an answer at the ACS ended (no Debug: it holds the new session's secret).
pub enum Outcome {
    SignedIn {
        session: NewSession,
        return_to: String,
    },
    /// An admin's test sign-in: the report is stored under this request id.
    Tested {
        request_id: String,
    },
    Refused(Refusal),
}

/// What arrived at the ACS.
pub struct Answer {
    pub saml_response: String,
    pub relay_state: Option<String>,
    /// The sign-in cookie of the browser that posted it, if it has one.
    pub browser_binding: Option<String>,
    /// Who posted it (`client_address::budget_key`), for the activity log.
    pub client: String,
}

/// Verifies an answer posted to the ACS and acts on it.
pub async fn complete(
    store: &Store,
    sp: &ServiceProvider,
    workspace_id: &str,
    answer: Answer,
    session_ttl: TimeDelta,
) -> Result<Outcome> {
    let db = store.writes();
    let Answer {
        saml_response,
        relay_state,
        browser_binding,
        client,
    } = answer;
    workspaces::get(db, workspace_id).await?;
    let Some(config) = saml::get_in(db, workspace_id).await? else {
        return refused(
            db,
            workspace_id,
            &client,
            Refusal::new(Check::Format, "this workspace has no SAML configuration"),
        )
        .await;
    };
    let allow_idp_initiated = config.allow_idp_initiated;
    let verified = {
        let sp = sp.clone();
        tokio::task::spawn_blocking(move || {
            let idp = TrustedIdp {
                entity_id: &config.idp_entity_id,
                certificates: config.trusted_certificates(),
            };
            verify::verify(&saml_response, &sp, &idp)
        })
        .await
        .map_err(|e| Error::Internal(sea_orm::DbErr::Custom(format!("SAML verification: {e}"))))?
    };
    match verified {
        Ok(verified) => {
            let pending = match &browser_binding {
                Some(cookie) => state::open(&store.sign_in_key().await?, workspace_id, cookie),
                None => None,
            };
            let context = Context {
                workspace_id,
                client: &client,
                allow_idp_initiated,
                pending,
            };
            accept(db, &context, verified, relay_state, session_ttl).await
        }
        Err(refusal) => refuse_unverified(db, workspace_id, &client, refusal, relay_state).await,
    }
}

/// Where and how a verified answer arrived.
struct Context<'a> {
    workspace_id: &'a str,
    client: &'a str,
    allow_idp_initiated: bool,
    /// The sign-in this browser started here, from its cookie, when the cookie is genuine.
    pending: Option<state::Pending>,
}

/// The request a verified answer is to.
enum Answered {
    /// An admin's test sign-in (kept in the database, for its report).
    Test(crate::entities::saml_request::Model),
    /// A sign-in this browser started.
    SignIn { return_to: Option<String> },
    /// Nobody asked: an IdP tile.
    Unsolicited,
}

/// A verified answer: the request and replay checks, then the person, in one transaction.
async fn accept(
    db: &(impl TransactionTrait + ConnectionTrait),
    context: &Context<'_>,
    verified: VerifiedAssertion,
    relay_state: Option<String>,
    session_ttl: TimeDelta,
) -> Result<Outcome> {
    let workspace_id = context.workspace_id;
    let client = context.client;
    let txn = crate::db::begin_write(db).await?;
    let answered = match &verified.in_response_to {
        Some(id) => match consume_request(&txn, workspace_id, id).await? {
            Some(test) => Answered::Test(test),
            None => match &context.pending {
                Some(pending) if pending.request_id == *id => {
                    let refusal = if pending.expires_at <= now() {
                        Some("the sign-in was started more than 10 minutes ago; start it again")
                    } else if !remember_answered(&txn, workspace_id, pending).await? {
                        Some("this sign-in was already answered; start it again")
                    } else {
                        None
                    };
                    if let Some(detail) = refusal {
                        drop(txn);
                        let refusal = Refusal::new(Check::Request, detail);
                        return refused(db, workspace_id, client, refusal).await;
                    }
                    Answered::SignIn {
                        return_to: pending.return_to.clone(),
                    }
                }
                _ => {
                    drop(txn);
                    let refusal = Refusal::new(
                        Check::Request,
                        "the answer arrived in a browser that did not start this sign-in here (a page of another site may have posted it, or the sign-in began elsewhere); start the sign-in again from the sign-in page",
                    );
                    return refused(db, workspace_id, client, refusal).await;
                }
            },
        },
        None if !context.allow_idp_initiated => {
            drop(txn);
            let refusal = Refusal::new(
                Check::Request,
                "IdP-initiated sign-in is switched off for this workspace; start from the sign-in page",
            );
            return refused(db, workspace_id, client, refusal).await;
        }
        None => Answered::Unsolicited,
    };
    if !remember_assertion(&txn, workspace_id, &verified).await? {
        drop(txn);
        let refusal = Refusal::new(
            Check::Replay,
            format!(
                "assertion {} was already used once; an assertion signs in once only",
                verified.assertion_id
            ),
        );
        return refused(db, workspace_id, client, refusal).await;
    }
    let domain = domain_check(&txn, workspace_id, &verified.subject).await?;
    let person = find_person(&txn, workspace_id, &verified.subject).await?;
    if let Answered::Test(test) = &answered {
        let report = test_report(&verified, &domain, &person);
        store_report(&txn, &test.id, &report).await?;
        let summary = match (&domain, report.succeeded) {
            (_, true) => format!("test sign-in as {} succeeded", verified.subject),
            (Err(why), false) => format!("test sign-in as {} failed: {why}", verified.subject),
            (Ok(_), false) => format!(
                "test sign-in as {} failed: {}",
                verified.subject,
                person_detail(&person)
            ),
        };
        let ok = report.succeeded;
        activity::record(
            &txn,
            entry(workspace_id, &verified.subject, "sso.test", summary, ok),
        )
        .await?;
        txn.commit().await?;
        return Ok(Outcome::Tested {
            request_id: test.id.clone(),
        });
    }
    if let Err(why) = domain {
        // Checked before the person: an address outside the workspace's domains is refused
        // whether or not a member has it, so the refusal tells nothing about membership.
        let refusal = Refusal::new(Check::Domain, why);
        let entry = refusal_entry(workspace_id, Some(&verified.subject), &refusal);
        let fold = format!("{}:{}", refusal.check.as_str(), verified.subject);
        activity::record_folded(&txn, entry, client, &fold).await?;
        txn.commit().await?;
        return Ok(Outcome::Refused(refusal));
    }
    let Person::Active(member) = &person else {
        let refusal = Refusal::new(Check::Person, person_detail(&person));
        let entry = refusal_entry(workspace_id, Some(&verified.subject), &refusal);
        // A signed answer about a person: folded per person, so each one refused is seen.
        let fold = format!("{}:{}", refusal.check.as_str(), verified.subject);
        activity::record_folded(&txn, entry, client, &fold).await?;
        txn.commit().await?;
        return Ok(Outcome::Refused(refusal));
    };
    let session = sessions::start(&txn, workspace_id, &member.id, session_ttl).await?;
    let summary = format!(
        "{} signed in through SSO as {}",
        member.user_name,
        Role::from_stored(&member.effective_role).label()
    );
    activity::record(
        &txn,
        entry(
            workspace_id,
            &verified.subject,
            "sso.sign_in",
            summary,
            true,
        ),
    )
    .await?;
    txn.commit().await?;
    let return_to = match answered {
        Answered::SignIn { return_to } => return_to,
        _ => None,
    }
    .or_else(|| relay_state.as_deref().and_then(local_path))
    .unwrap_or_else(|| "/".to_string());
    Ok(Outcome::SignedIn { session, return_to })
}

/// An answer that failed verification. A failed test sign-in reports to the admin, found by its
/// RelayState (the request id): nothing is trusted from it but where to put the report.
async fn refuse_unverified(
    db: &(impl TransactionTrait + ConnectionTrait),
    workspace_id: &str,
    client: &str,
    refusal: Refusal,
    relay_state: Option<String>,
) -> Result<Outcome> {
    if let Some(request_id) = relay_state.as_deref() {
        let txn = crate::db::begin_write(db).await?;
        if let Some(request) = consume_request(&txn, workspace_id, request_id).await? {
            store_report(&txn, &request.id, &refused_report(&refusal)).await?;
            activity::record(&txn, refusal_entry(workspace_id, None, &refusal)).await?;
            txn.commit().await?;
            return Ok(Outcome::Tested {
                request_id: request.id,
            });
        }
    }
    refused(db, workspace_id, client, refusal).await
}

/// Records the assertion's ID until it expires; false when it was seen before.
async fn remember_assertion(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    verified: &VerifiedAssertion,
) -> Result<bool> {
    let at = now();
    saml_assertion_seen::Entity::delete_many()
        .filter(saml_assertion_seen::Column::ExpiresAt.lt(at))
        .exec(db)
        .await?;
    remember_once(
        db,
        workspace_id,
        verified.assertion_id.clone(),
        verified.accept_until.max(at),
    )
    .await
}

/// Records that the sign-in `pending` was answered, until it would have expired; false when it
/// was answered before (a second answer to one request is refused, as a replay is). Kept beside
/// the assertions seen, under a name no assertion ID can have.
async fn remember_answered(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    pending: &state::Pending,
) -> Result<bool> {
    let name = format!("request {}", pending.request_id);
    remember_once(db, workspace_id, name, pending.expires_at).await
}

/// Adds `name` to the workspace's replay cache until `expires_at`; false when it is there.
async fn remember_once(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    name: String,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let inserted = saml_assertion_seen::Entity::insert(saml_assertion_seen::ActiveModel {
        workspace_id: Set(workspace_id.to_string()),
        assertion_id: Set(name),
        expires_at: Set(expires_at),
    })
    .on_conflict(
        OnConflict::columns([
            saml_assertion_seen::Column::WorkspaceId,
            saml_assertion_seen::Column::AssertionId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}

/// Records a refusal (folded with the same client's others of the minute) and says so.
async fn refused(
    db: &(impl TransactionTrait + ConnectionTrait),
    workspace_id: &str,
    client: &str,
    refusal: Refusal,
) -> Result<Outcome> {
    let entry = refusal_entry(workspace_id, None, &refusal);
    activity::record_folded(db, entry, client, refusal.check.as_str()).await?;
    Ok(Outcome::Refused(refusal))
}

fn refusal_entry(workspace_id: &str, subject: Option<&str>, refusal: &Refusal) -> NewEntry {
    entry(
        workspace_id,
        subject.unwrap_or("unknown"),
        "sso.refused",
        format!("SSO sign-in refused: {refusal}"),
        false,
    )
}

fn entry(workspace_id: &str, subject: &str, action: &str, summary: String, ok: bool) -> NewEntry {
    NewEntry {
        workspace_id: workspace_id.to_string(),
        actor: format!("SSO {subject}"),
        action: action.to_string(),
        summary,
        status: if ok { 200 } else { 403 },
        succeeded: ok,
        method: Some("POST".into()),
        path: Some("saml/acs".into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        for ok in ["/", "/members", "/reports?x=1#a", "/a/b%2F"] {
            assert_eq!(local_path(ok).as_deref(), Some(ok), "{ok}");
        }
        for evil in [
            "",
            "members",
            "//evil.test",
            "/\\evil.test",
            "https://evil.test/",
            "javascript:alert(1)",
            "/a b",
            "/a\nLocation: https://evil.test",
            "/\t/evil.test",
        ] {
            assert_eq!(local_path(evil), None, "{evil:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(3000))), None);
    }
}
