//! Who an assertion names: the active member of the workspace whose current userName or one of
//! whose current e-mails is the asserted subject, compared as `sign_in_identity` says (ASCII
//! case, IDNA domains; no Unicode folding), and the workspace someone means on the sign-in
//! screen. Never the account's first e-mail: a member renamed from `jane@` to `jane.doe@` is no
//! longer named by `jane@`.

use std::collections::HashMap;

use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::domain::roles::Role;
use crate::domain::{
    Result, Store, domains, email_domain, sign_in_candidate_keys, sign_in_identity,
};
use crate::entities::{member, member_email, saml_config, workspace};

/// What a person who may not sign in is told (details go to the activity log, not to them).
pub const NOT_A_MEMBER: &str =
    "not a member of this workspace: ask your admin to assign you in your identity provider";

/// The most members one subject is looked up among (a subject names one person; the bound keeps
/// a hostile one from loading many rows).
const MAX_CANDIDATES: u64 = 16;

/// Members of `workspace_id` filed under one of `keys` (userName or a current e-mail): the
/// index lookup, before the exact comparison.
fn filed_under(keys: &[String], workspace_id: &str) -> Condition {
    let by_email: SelectStatement = Query::select()
        .column(member_email::Column::MemberId)
        .from(member_email::Entity)
        .and_where(member_email::Column::ValueKey.is_in(keys.iter().cloned()))
        .and_where(member_email::Column::WorkspaceId.eq(workspace_id))
        .to_owned();
    Condition::any()
        .add(member::Column::UserNameKey.is_in(keys.iter().cloned()))
        .add(member::Column::Id.in_subquery(by_email))
}

/// The members of `workspace_id` that `subject` names, each with whether it is by userName
/// (rather than by an e-mail).
async fn members_named(
    db: &impl ConnectionTrait,
    subject: &str,
    workspace_id: &str,
) -> Result<Vec<(member::Model, bool)>> {
    let Some(identity) = sign_in_identity(subject) else {
        return Ok(Vec::new());
    };
    let keys = sign_in_candidate_keys(subject);
    let candidates = member::Entity::find()
        .filter(filed_under(&keys, workspace_id))
        .filter(member::Column::WorkspaceId.eq(workspace_id))
        .limit(MAX_CANDIDATES)
        .all(db)
        .await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // Their current e-mails under those keys, compared as written, not by key.
    let mut emails: HashMap<String, Vec<String>> = HashMap::new();
    for row in member_email::Entity::find()
        .filter(member_email::Column::MemberId.is_in(candidates.iter().map(|m| m.id.clone())))
        .filter(member_email::Column::ValueKey.is_in(keys.iter().cloned()))
        .all(db)
        .await?
    {
        emails.entry(row.member_id).or_default().push(row.value);
    }
    let is_identity = |value: &str| sign_in_identity(value).as_deref() == Some(identity.as_str());
    Ok(candidates
        .into_iter()
        .filter_map(|m| {
            let by_user_name = is_identity(&m.user_name);
            let by_email = emails
                .get(&m.id)
                .is_some_and(|values| values.iter().any(|v| is_identity(v)));
            (by_user_name || by_email).then_some((m, by_user_name))
        })
        .collect())
}

pub(super) enum Person {
    Active(member::Model),
    Deactivated(member::Model),
    Unknown,
}

/// The member of `workspace_id` whose current userName or e-mail is `subject`; a userName match
/// wins over an e-mail match, an active member over a deactivated one.
pub(super) async fn find_person(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    subject: &str,
) -> Result<Person> {
    let mut found = members_named(db, subject, workspace_id).await?;
    found.sort_by_key(|(m, by_user_name)| (!m.active, !by_user_name, m.created_at));
    Ok(match found.into_iter().next() {
        Some((m, _)) if m.active => Person::Active(m),
        Some((m, _)) => Person::Deactivated(m),
        None => Person::Unknown,
    })
}

pub(super) fn person_detail(person: &Person) -> String {
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

/// Whether `workspace_id` may sign `subject` in: the address's domain must be one the workspace
/// has verified. `Err` says why not, in words for the activity log and the test report.
pub(super) async fn domain_check(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    subject: &str,
) -> Result<std::result::Result<String, String>> {
    let Some(domain) = email_domain(subject) else {
        return Ok(Err(format!(
            "the IdP named {subject:?}, which is not an e-mail address: this workspace's IdP signs in only addresses in its verified domains (send the e-mail address as NameID)"
        )));
    };
    let shown = idna::domain_to_unicode(&domain).0;
    Ok(
        if domains::is_verified_by(db, workspace_id, &domain).await? {
            Ok(format!("{shown} is verified by this workspace"))
        } else {
            Err(format!(
                "{shown} is not a verified domain of this workspace: its IdP signs in only addresses of domains the workspace has verified (Settings → Domains)"
            ))
        },
    )
}

/// The workspace someone means on the sign-in screen: its slug, or the workspace with SAML
/// that has verified their e-mail's domain. The same answer for a member and a stranger of
/// that domain: whether someone is a member is told by their IdP, not by this route.
pub async fn find_workspace(store: &Store, who: &str) -> Result<Option<String>> {
    let db = store.pool();
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
    let Some(domain) = email_domain(who) else {
        return Ok(None);
    };
    let Some(workspace_id) = domains::verified_by_workspace(db, &domain).await? else {
        return Ok(None);
    };
    let has_saml = saml_config::Entity::find_by_id(workspace_id.clone())
        .one(db)
        .await?
        .is_some();
    Ok(has_saml.then_some(workspace_id))
}
