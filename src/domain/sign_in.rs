//! Signing in through the workspace's IdP. `begin` remembers an AuthnRequest (single use, ten
//! minutes, in the database so any replica can receive the answer) and gives the IdP URL;
//! `complete` verifies the answer (`saml::verify`), consumes the request, remembers the
//! assertion's ID until it expires (replays are refused), and signs in the active member whose
//! userName or e-mail is the asserted subject. SCIM is how people arrive: nobody else gets in.
//! A test sign-in (an admin's) runs the same checks and stores a report instead of a session.

use chrono::TimeDelta;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::domain::activity::{self, NewEntry};
use crate::domain::admin::{self, Principal};
use crate::domain::roles::Role;
use crate::domain::saml::verify::{self, Check, Refusal, TrustedIdp, VerifiedAssertion};
use crate::domain::saml::{self, ServiceProvider};
use crate::domain::sessions::{self, NewSession};
use crate::domain::{Error, Result, email_key, now, workspaces};
use crate::entities::{account, member, member_email, saml_assertion_seen, saml_request};

/// How long the IdP has to answer a request.
pub const REQUEST_TTL: TimeDelta = TimeDelta::minutes(10);
/// What a person who may not sign in is told (details go to the activity log, not to them).
pub const NOT_A_MEMBER: &str =
    "not a member of this workspace: ask your admin to assign you in your identity provider";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Test,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Test => "test",
        }
    }
}

/// Starts an SP-initiated sign-in: the URL to send the browser to.
pub async fn begin(
    db: &(impl TransactionTrait + ConnectionTrait),
    sp: &ServiceProvider,
    workspace_id: &str,
    return_to: Option<&str>,
) -> Result<String> {
    let return_to = return_to.and_then(local_path);
    remember_request(db, sp, workspace_id, Purpose::SignIn, return_to, None).await
}

/// Starts an admin's test sign-in: the URL to open. No session comes of it, only a report.
pub async fn begin_test(
    db: &(impl TransactionTrait + ConnectionTrait),
    sp: &ServiceProvider,
    principal: &Principal,
) -> Result<String> {
    admin::require_admin(db, principal).await?;
    remember_request(
        db,
        sp,
        &principal.workspace_id,
        Purpose::Test,
        None,
        Some(&principal.account_id),
    )
    .await
}

async fn remember_request(
    db: &(impl TransactionTrait + ConnectionTrait),
    sp: &ServiceProvider,
    workspace_id: &str,
    purpose: Purpose,
    return_to: Option<String>,
    requested_by: Option<&str>,
) -> Result<String> {
    workspaces::get(db, workspace_id).await?;
    let Some(config) = saml::get(db, workspace_id).await? else {
        return Err(Error::NotFound(
            "single sign-on: this workspace has no SAML configuration".into(),
        ));
    };
    // An NCName (letter first) with 244 random bits.
    let id = format!(
        "id{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let at = now();
    let url = sp.authn_request_url(&config.sso_url, &id, &id, at)?;
    let txn = crate::domain::begin_write(db).await?;
    saml_request::Entity::insert(saml_request::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace_id.to_string()),
        purpose: Set(purpose.as_str().to_string()),
        return_to: Set(return_to),
        requested_by_account_id: Set(requested_by.map(str::to_string)),
        created_at: Set(at),
        expires_at: Set(at + REQUEST_TTL),
        consumed_at: Set(None),
        report: Set(None),
    })
    .exec(&txn)
    .await?;
    // Requests nobody answered, and test reports, are kept a day at most.
    saml_request::Entity::delete_many()
        .filter(saml_request::Column::ExpiresAt.lt(at - TimeDelta::days(1)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(url)
}

/// A relative path of this site to return to, or `None`: never another origin (`//evil`,
/// `/\evil`, `https:`), never control characters.
pub fn local_path(candidate: &str) -> Option<String> {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && candidate.len() <= 2048
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

/// One line of a test sign-in's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: String,
    pub label: String,
    /// `None`: not checked, because an earlier check failed.
    pub passed: Option<bool>,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestReport {
    pub succeeded: bool,
    pub checks: Vec<CheckResult>,
    /// Who the IdP said signed in, when the signature held.
    pub subject: Option<String>,
    pub member_user_name: Option<String>,
    pub role: Option<String>,
}

/// Verifies an answer posted to the ACS and acts on it.
pub async fn complete(
    db: &(impl TransactionTrait + ConnectionTrait),
    sp: &ServiceProvider,
    workspace_id: &str,
    saml_response: String,
    relay_state: Option<String>,
    session_ttl: TimeDelta,
) -> Result<Outcome> {
    workspaces::get(db, workspace_id).await?;
    let Some(config) = saml::get(db, workspace_id).await? else {
        return refused(
            db,
            workspace_id,
            Refusal::new(Check::Format, "this workspace has no SAML configuration"),
        )
        .await;
    };
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
    let verified = match verified {
        Ok(v) => v,
        Err(refusal) => {
            // A failed test sign-in reports to the admin, found by its RelayState (the request
            // id): nothing is trusted from it but where to put the report.
            if let Some(request_id) = relay_state.as_deref() {
                let txn = crate::domain::begin_write(db).await?;
                if let Some(request) = consume_request(&txn, workspace_id, request_id).await?
                    && request.purpose == Purpose::Test.as_str()
                {
                    store_report(&txn, &request.id, &refused_report(&refusal)).await?;
                    activity::record(&txn, refusal_entry(workspace_id, None, &refusal)).await?;
                    txn.commit().await?;
                    return Ok(Outcome::Tested {
                        request_id: request.id,
                    });
                }
            }
            return refused(db, workspace_id, refusal).await;
        }
    };

    let txn = crate::domain::begin_write(db).await?;
    let request = match &verified.in_response_to {
        Some(id) => match consume_request(&txn, workspace_id, id).await? {
            Some(request) => Some(request),
            None => {
                drop(txn);
                let refusal = Refusal::new(
                    Check::Request,
                    "the answer is to a request this workspace did not send, or one already answered or expired; start the sign-in again",
                );
                return refused(db, workspace_id, refusal).await;
            }
        },
        None => None,
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
        return refused(db, workspace_id, refusal).await;
    }
    let person = find_person(&txn, workspace_id, &verified.subject).await?;
    let purpose = match request.as_ref().map(|r| r.purpose.as_str()) {
        Some("test") => Purpose::Test,
        _ => Purpose::SignIn,
    };
    if purpose == Purpose::Test {
        let request = request.expect("a test answers a request");
        let report = test_report(&verified, &person);
        store_report(&txn, &request.id, &report).await?;
        activity::record(
            &txn,
            entry(
                workspace_id,
                &verified.subject,
                "sso.test",
                if report.succeeded {
                    format!("test sign-in as {} succeeded", verified.subject)
                } else {
                    format!(
                        "test sign-in as {} failed: {}",
                        verified.subject,
                        person_detail(&person)
                    )
                },
                report.succeeded,
            ),
        )
        .await?;
        txn.commit().await?;
        return Ok(Outcome::Tested {
            request_id: request.id,
        });
    }
    let Person::Active(member) = &person else {
        let refusal = Refusal::new(Check::Person, person_detail(&person));
        activity::record(
            &txn,
            refusal_entry(workspace_id, Some(&verified.subject), &refusal),
        )
        .await?;
        txn.commit().await?;
        return Ok(Outcome::Refused(refusal));
    };
    let session = sessions::start(&txn, workspace_id, &member.id, session_ttl).await?;
    let role = Role::from_stored(&member.effective_role);
    activity::record(
        &txn,
        entry(
            workspace_id,
            &verified.subject,
            "sso.sign_in",
            format!(
                "{} signed in through SSO as {}",
                member.user_name,
                role.label()
            ),
            true,
        ),
    )
    .await?;
    txn.commit().await?;
    let return_to = request
        .and_then(|r| r.return_to)
        .or_else(|| relay_state.as_deref().and_then(local_path))
        .unwrap_or_else(|| "/".to_string());
    Ok(Outcome::SignedIn { session, return_to })
}

async fn store_report(
    db: &impl ConnectionTrait,
    request_id: &str,
    report: &TestReport,
) -> Result<()> {
    let json = serde_json::to_string(report)
        .map_err(|e| Error::Internal(sea_orm::DbErr::Custom(format!("test report: {e}"))))?;
    saml_request::Entity::update_many()
        .col_expr(saml_request::Column::Report, Expr::value(json))
        .filter(saml_request::Column::Id.eq(request_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks the request answered; `None` when it is unknown, answered already, or expired.
async fn consume_request(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    id: &str,
) -> Result<Option<saml_request::Model>> {
    let at = now();
    let updated = saml_request::Entity::update_many()
        .col_expr(saml_request::Column::ConsumedAt, Expr::value(at))
        .filter(saml_request::Column::Id.eq(id))
        .filter(saml_request::Column::WorkspaceId.eq(workspace_id))
        .filter(saml_request::Column::ConsumedAt.is_null())
        .filter(saml_request::Column::ExpiresAt.gt(at))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    Ok(saml_request::Entity::find_by_id(id.to_string())
        .one(db)
        .await?)
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
    let inserted = saml_assertion_seen::Entity::insert(saml_assertion_seen::ActiveModel {
        workspace_id: Set(workspace_id.to_string()),
        assertion_id: Set(verified.assertion_id.clone()),
        expires_at: Set(verified.accept_until.max(at)),
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

enum Person {
    Active(member::Model),
    Deactivated(member::Model),
    Unknown,
}

/// The member whose userName, e-mail or account e-mail is `subject` (case-insensitively); a
/// userName match wins over an e-mail match.
async fn find_person(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    subject: &str,
) -> Result<Person> {
    let key = email_key(subject);
    let by_email = Query::select()
        .column(member_email::Column::MemberId)
        .from(member_email::Entity)
        .and_where(member_email::Column::WorkspaceId.eq(workspace_id))
        .and_where(member_email::Column::ValueKey.eq(key.clone()))
        .to_owned();
    let by_account = Query::select()
        .column(account::Column::Id)
        .from(account::Entity)
        .and_where(account::Column::EmailKey.eq(key.clone()))
        .to_owned();
    let mut found = member::Entity::find()
        .filter(member::Column::WorkspaceId.eq(workspace_id))
        .filter(
            Condition::any()
                .add(member::Column::UserNameKey.eq(key.clone()))
                .add(member::Column::Id.in_subquery(by_email))
                .add(member::Column::AccountId.in_subquery(by_account)),
        )
        .all(db)
        .await?;
    found.sort_by_key(|m| (!m.active, m.user_name_key != key, m.created_at));
    Ok(match found.into_iter().next() {
        Some(m) if m.active => Person::Active(m),
        Some(m) => Person::Deactivated(m),
        None => Person::Unknown,
    })
}

fn person_detail(person: &Person) -> String {
    match person {
        Person::Active(m) => format!(
            "{} is an active member ({})",
            m.user_name,
            Role::from_stored(&m.effective_role).label()
        ),
        Person::Deactivated(m) => format!(
            "{} is a deactivated member of this workspace: {NOT_A_MEMBER}",
            m.user_name
        ),
        Person::Unknown => format!("nobody with that userName or e-mail: {NOT_A_MEMBER}"),
    }
}

fn test_report(verified: &VerifiedAssertion, person: &Person) -> TestReport {
    let mut checks: Vec<CheckResult> = Check::ALL
        .iter()
        .map(|&check| CheckResult {
            check: check.as_str().into(),
            label: check.label().into(),
            passed: Some(true),
            detail: match check {
                Check::Signature => "signed by the configured IdP certificate".into(),
                Check::Issuer => format!("issued by {}", verified.issuer),
                Check::Request => "answers the test sign-in started from the settings page".into(),
                Check::Validity => format!(
                    "valid until {}",
                    (verified.accept_until - verify::CLOCK_SKEW).to_rfc3339()
                ),
                _ => "ok".into(),
            },
        })
        .collect();
    let person_line = checks
        .iter_mut()
        .find(|c| c.check == Check::Person.as_str())
        .expect("Person is one of the checks");
    person_line.detail = format!(
        "the IdP says {}: {}",
        verified.subject,
        person_detail(person)
    );
    person_line.passed = Some(matches!(person, Person::Active(_)));
    let member = match person {
        Person::Active(m) | Person::Deactivated(m) => Some(m),
        Person::Unknown => None,
    };
    TestReport {
        succeeded: matches!(person, Person::Active(_)),
        checks,
        subject: Some(verified.subject.clone()),
        member_user_name: member.map(|m| m.user_name.clone()),
        role: member.map(|m| Role::from_stored(&m.effective_role).label().to_string()),
    }
}

/// The report of a refused test sign-in: what passed before the failing check.
pub fn refused_report(refusal: &Refusal) -> TestReport {
    // The envelope and the signature are checked first; after them, samael's order differs from
    // the list's, so later checks are reported as not checked rather than guessed.
    let known_first = [Check::Format, Check::Status, Check::Signature];
    let failed_at = Check::ALL.iter().position(|c| *c == refusal.check);
    let checks = Check::ALL
        .iter()
        .enumerate()
        .map(|(i, &check)| {
            let (passed, detail) = if check == refusal.check {
                (Some(false), refusal.detail.clone())
            } else if known_first.contains(&check) && failed_at.is_some_and(|f| i < f) {
                (Some(true), "ok".to_string())
            } else {
                (None, "not checked".to_string())
            };
            CheckResult {
                check: check.as_str().into(),
                label: check.label().into(),
                passed,
                detail,
            }
        })
        .collect();
    TestReport {
        succeeded: false,
        checks,
        subject: None,
        member_user_name: None,
        role: None,
    }
}

async fn refused(
    db: &(impl TransactionTrait + ConnectionTrait),
    workspace_id: &str,
    refusal: Refusal,
) -> Result<Outcome> {
    activity::record(db, refusal_entry(workspace_id, None, &refusal)).await?;
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

/// A test sign-in's report, for the admin who may read the workspace's settings.
pub async fn test_report_for(
    db: &impl ConnectionTrait,
    principal: &Principal,
    request_id: &str,
) -> Result<Option<TestReport>> {
    admin::require_admin(db, principal).await?;
    let row = saml_request::Entity::find_by_id(request_id.to_string())
        .filter(saml_request::Column::WorkspaceId.eq(principal.workspace_id.clone()))
        .filter(saml_request::Column::Purpose.eq(Purpose::Test.as_str()))
        .one(db)
        .await?;
    Ok(row
        .and_then(|r| r.report)
        .and_then(|json| serde_json::from_str(&json).ok()))
}

/// The workspace someone means on the sign-in screen: its slug, or their e-mail when exactly one
/// workspace with SAML configured has them as an active member.
pub async fn find_workspace(db: &impl ConnectionTrait, who: &str) -> Result<Option<String>> {
    use crate::entities::{saml_config, workspace};
    let who = who.trim();
    if who.is_empty() || who.len() > 320 {
        return Ok(None);
    }
    if !who.contains('@') {
        return Ok(workspace::Entity::find()
            .filter(workspace::Column::Slug.eq(who.to_lowercase()))
            .one(db)
            .await?
            .map(|w| w.id));
    }
    let key = email_key(who);
    let by_email = Query::select()
        .column(member_email::Column::MemberId)
        .from(member_email::Entity)
        .and_where(member_email::Column::ValueKey.eq(key.clone()))
        .to_owned();
    let by_account = Query::select()
        .column(account::Column::Id)
        .from(account::Entity)
        .and_where(account::Column::EmailKey.eq(key.clone()))
        .to_owned();
    let with_saml = Query::select()
        .column(saml_config::Column::WorkspaceId)
        .from(saml_config::Entity)
        .to_owned();
    let mut workspaces: Vec<String> = member::Entity::find()
        .filter(member::Column::Active.eq(true))
        .filter(member::Column::WorkspaceId.in_subquery(with_saml))
        .filter(
            Condition::any()
                .add(member::Column::UserNameKey.eq(key))
                .add(member::Column::Id.in_subquery(by_email))
                .add(member::Column::AccountId.in_subquery(by_account)),
        )
        .limit(3)
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.workspace_id)
        .collect();
    workspaces.sort();
    workspaces.dedup();
    Ok(match workspaces.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    })
}
