//! An admin's test sign-in: the report of each check, stored on its request for the page.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::people::{Person, person_detail};
use super::requests::Purpose;
use crate::domain::admin::{self, Principal};
use crate::domain::roles::Role;
use crate::domain::saml::verify::{self, Check, Refusal, VerifiedAssertion};
use crate::domain::{Error, Result, Store};
use crate::entities::saml_request;

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

pub(super) fn test_report(
    verified: &VerifiedAssertion,
    domain: &std::result::Result<String, String>,
    person: &Person,
) -> TestReport {
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
    let domain_line = checks
        .iter_mut()
        .find(|c| c.check == Check::Domain.as_str())
        .expect("Domain is one of the checks");
    (domain_line.passed, domain_line.detail) = match domain {
        Ok(detail) => (Some(true), detail.clone()),
        Err(why) => (Some(false), why.clone()),
    };
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
        succeeded: domain.is_ok() && matches!(person, Person::Active(_)),
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

pub(super) async fn store_report(
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

/// A test sign-in's report, for the admin who may read the workspace's settings.
pub async fn test_report_for(
    store: &Store,
    principal: &Principal,
    request_id: &str,
) -> Result<Option<TestReport>> {
    let db = store.pool();
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
