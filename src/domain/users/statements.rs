//! A user write's hot statements built once per backend (see `db::prepared`): the member's
//! insert, its version-checked update, and the account's names (written only by the workspace
//! that verified the account's domain). Building them per request was a seventh of a profile
//! update's instructions. Each is pinned to what the query builder makes by the tests below.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter,
    QueryTrait, Statement, Value,
};

use crate::db::prepared::{PerBackend, Template, marked, marker_time};
use crate::entities::{account, member};

/// A member's new values in a PUT or PATCH, and the version it was read at.
pub(super) struct MemberChange<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub read_version: i64,
    pub user_name: &'a str,
    pub user_name_key: &'a str,
    pub external_id: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub active: bool,
    pub direct_role: Option<&'a str>,
    pub attributes: &'a str,
    pub emails: &'a str,
    pub updated_at: DateTime<Utc>,
    /// The account's new names, when they change (the member's copy is set with the rest).
    pub names: Option<(Option<&'a str>, Option<&'a str>)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Change {
    Id,
    Workspace,
    ReadVersion,
    UserName,
    UserNameKey,
    ExternalId,
    DisplayName,
    Active,
    DirectRole,
    Attributes,
    Emails,
    UpdatedAt,
    GivenName,
    FamilyName,
}

/// The member's update: it returns the new version only while the version is still the one read.
pub(super) fn member_update(backend: DbBackend, change: &MemberChange) -> Statement {
    static SQL: [PerBackend<Template<Change>>; 2] = [PerBackend::new(), PerBackend::new()];
    let with_names = change.names.is_some();
    let template = SQL[usize::from(with_names)].get_or_init(backend, || {
        let text = |name: &'static str| format!("\u{1}{name}");
        let (id, workspace, user_name, key) =
            (text("id"), text("workspace"), text("userName"), text("key"));
        let (external, display, role) = (text("externalId"), text("displayName"), text("role"));
        let (attributes, emails) = (text("attributes"), text("emails"));
        let (given, family) = (text("givenName"), text("familyName"));
        let markers = MemberChange {
            id: &id,
            workspace_id: &workspace,
            read_version: 0x5c1e_0003,
            user_name: &user_name,
            user_name_key: &key,
            external_id: Some(&external),
            display_name: Some(&display),
            active: true,
            direct_role: Some(&role),
            attributes: &attributes,
            emails: &emails,
            updated_at: marker_time(),
            names: with_names.then_some((Some(given.as_str()), Some(family.as_str()))),
        };
        let slots = marked(&CHANGES, |kind| change_value(&markers, kind));
        Template::new(member_update_built(backend, &markers), &slots)
    });
    template.statement(backend, |kind| change_value(change, kind))
}

fn change_value(change: &MemberChange, kind: Change) -> Value {
    let (given, family) = change.names.unwrap_or_default();
    match kind {
        Change::Id => change.id.into(),
        Change::Workspace => change.workspace_id.into(),
        Change::ReadVersion => change.read_version.into(),
        Change::UserName => change.user_name.into(),
        Change::UserNameKey => change.user_name_key.into(),
        Change::ExternalId => change.external_id.into(),
        Change::DisplayName => change.display_name.into(),
        Change::Active => change.active.into(),
        Change::DirectRole => change.direct_role.into(),
        Change::Attributes => change.attributes.into(),
        Change::Emails => change.emails.into(),
        Change::UpdatedAt => change.updated_at.into(),
        Change::GivenName => given.into(),
        Change::FamilyName => family.into(),
    }
}

const CHANGES: [Change; 14] = [
    Change::Id,
    Change::Workspace,
    Change::ReadVersion,
    Change::UserName,
    Change::UserNameKey,
    Change::ExternalId,
    Change::DisplayName,
    Change::Active,
    Change::DirectRole,
    Change::Attributes,
    Change::Emails,
    Change::UpdatedAt,
    Change::GivenName,
    Change::FamilyName,
];

/// The update as the query builder makes it.
fn member_update_built(backend: DbBackend, change: &MemberChange) -> Statement {
    use member::Column as M;
    let mut update = member::Entity::update_many()
        .col_expr(M::UserName, Expr::value(change.user_name))
        .col_expr(M::UserNameKey, Expr::value(change.user_name_key))
        .col_expr(M::ExternalId, Expr::value(change.external_id))
        .col_expr(M::DisplayName, Expr::value(change.display_name))
        .col_expr(M::Active, Expr::value(change.active))
        .col_expr(M::DirectRole, Expr::value(change.direct_role))
        .col_expr(M::Attributes, Expr::value(change.attributes))
        .col_expr(M::Emails, Expr::value(change.emails))
        .col_expr(M::Version, Expr::col(M::Version).add(1))
        .col_expr(M::UpdatedAt, Expr::value(change.updated_at));
    if let Some((given, family)) = change.names {
        update = update
            .col_expr(M::GivenName, Expr::value(given))
            .col_expr(M::FamilyName, Expr::value(family));
    }
    let mut update = update
        .filter(M::Id.eq(change.id))
        .filter(M::WorkspaceId.eq(change.workspace_id))
        .filter(M::Version.eq(change.read_version))
        .into_query();
    // A row comes back only if the version still matched.
    update.returning_col((member::Entity, M::Version));
    backend.build(&update)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Column {
    Id,
    Workspace,
    Account,
    UserName,
    UserNameKey,
    ExternalId,
    DisplayName,
    Active,
    DirectRole,
    EffectiveRole,
    IsOwner,
    Attributes,
    GivenName,
    FamilyName,
    Emails,
    Version,
    CreatedAt,
    UpdatedAt,
}

const COLUMNS: [Column; 18] = [
    Column::Id,
    Column::Workspace,
    Column::Account,
    Column::UserName,
    Column::UserNameKey,
    Column::ExternalId,
    Column::DisplayName,
    Column::Active,
    Column::DirectRole,
    Column::EffectiveRole,
    Column::IsOwner,
    Column::Attributes,
    Column::GivenName,
    Column::FamilyName,
    Column::Emails,
    Column::Version,
    Column::CreatedAt,
    Column::UpdatedAt,
];

/// The member's insert.
pub(super) fn member_insert(backend: DbBackend, model: &member::Model) -> Statement {
    static SQL: PerBackend<Template<Column>> = PerBackend::new();
    let template = SQL.get_or_init(backend, || {
        let text = |name: &str| format!("\u{1}{name}");
        let markers = member::Model {
            id: text("id"),
            workspace_id: text("workspace"),
            account_id: text("account"),
            user_name: text("userName"),
            user_name_key: text("key"),
            external_id: Some(text("externalId")),
            display_name: Some(text("displayName")),
            active: true,
            direct_role: Some(text("role")),
            effective_role: text("effective role"),
            is_owner: false,
            attributes: text("attributes"),
            given_name: Some(text("givenName")),
            family_name: Some(text("familyName")),
            emails: text("emails"),
            version: 0x5c1e_0004,
            created_at: marker_time(),
            updated_at: marker_time() + chrono::TimeDelta::seconds(1),
        };
        let slots = marked(&COLUMNS, |kind| column_value(&markers, kind));
        Template::new(member_insert_built(backend, &markers), &slots)
    });
    template.statement(backend, |kind| column_value(model, kind))
}

fn column_value(model: &member::Model, kind: Column) -> Value {
    match kind {
        Column::Id => model.id.as_str().into(),
        Column::Workspace => model.workspace_id.as_str().into(),
        Column::Account => model.account_id.as_str().into(),
        Column::UserName => model.user_name.as_str().into(),
        Column::UserNameKey => model.user_name_key.as_str().into(),
        Column::ExternalId => model.external_id.as_deref().into(),
        Column::DisplayName => model.display_name.as_deref().into(),
        Column::Active => model.active.into(),
        Column::DirectRole => model.direct_role.as_deref().into(),
        Column::EffectiveRole => model.effective_role.as_str().into(),
        Column::IsOwner => model.is_owner.into(),
        Column::Attributes => model.attributes.as_str().into(),
        Column::GivenName => model.given_name.as_deref().into(),
        Column::FamilyName => model.family_name.as_deref().into(),
        Column::Emails => model.emails.as_str().into(),
        Column::Version => model.version.into(),
        Column::CreatedAt => model.created_at.into(),
        Column::UpdatedAt => model.updated_at.into(),
    }
}

/// The insert as the query builder makes it.
fn member_insert_built(backend: DbBackend, model: &member::Model) -> Statement {
    member::Entity::insert(model.clone().into_active_model().reset_all()).build(backend)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum AccountNames {
    Account,
    Workspace,
    UpdatedAt,
    GivenName,
    FamilyName,
}

/// Sets the account's names: each `Some` is written (`Some(None)` clears it), each `None` kept;
/// only if `workspace_id` has verified the account's e-mail domain (the global profile is the
/// owning workspace's to write: others change only their own member's names).
pub(super) fn account_names_update(
    backend: DbBackend,
    account_id: &str,
    workspace_id: &str,
    given: Option<Option<&str>>,
    family: Option<Option<&str>>,
    at: DateTime<Utc>,
) -> Statement {
    static SQL: [PerBackend<Template<AccountNames>>; 4] = [
        PerBackend::new(),
        PerBackend::new(),
        PerBackend::new(),
        PerBackend::new(),
    ];
    let shape = usize::from(given.is_some()) | usize::from(family.is_some()) << 1;
    let template = SQL[shape].get_or_init(backend, || {
        let (account, workspace, given_marker, family_marker) = (
            "\u{1}account",
            "\u{1}workspace",
            "\u{1}givenName",
            "\u{1}familyName",
        );
        let slots = marked(
            &[
                AccountNames::Account,
                AccountNames::Workspace,
                AccountNames::UpdatedAt,
                AccountNames::GivenName,
                AccountNames::FamilyName,
            ],
            |kind| match kind {
                AccountNames::Account => account.into(),
                AccountNames::Workspace => workspace.into(),
                AccountNames::UpdatedAt => marker_time().into(),
                AccountNames::GivenName => given_marker.into(),
                AccountNames::FamilyName => family_marker.into(),
            },
        );
        let built = account_names_built(
            backend,
            account,
            workspace,
            given.map(|_| Some(given_marker)),
            family.map(|_| Some(family_marker)),
            marker_time(),
        );
        Template::new(built, &slots)
    });
    template.statement(backend, |kind| match kind {
        AccountNames::Account => account_id.into(),
        AccountNames::Workspace => workspace_id.into(),
        AccountNames::UpdatedAt => at.into(),
        AccountNames::GivenName => given.flatten().into(),
        AccountNames::FamilyName => family.flatten().into(),
    })
}

/// The account's update as the query builder makes it.
fn account_names_built(
    backend: DbBackend,
    account_id: &str,
    workspace_id: &str,
    given: Option<Option<&str>>,
    family: Option<Option<&str>>,
    at: DateTime<Utc>,
) -> Statement {
    use crate::entities::workspace_domain as claim;
    let verified_here = sea_orm::sea_query::Query::select()
        .column(claim::Column::Domain)
        .from(claim::Entity)
        .and_where(claim::Column::WorkspaceId.eq(workspace_id))
        .and_where(claim::Column::Status.eq(claim::VERIFIED))
        .to_owned();
    let mut update = account::Entity::update_many()
        .col_expr(account::Column::UpdatedAt, Expr::value(at))
        .filter(account::Column::Id.eq(account_id))
        .filter(account::Column::EmailDomain.in_subquery(verified_here));
    if let Some(given) = given {
        update = update.col_expr(account::Column::GivenName, Expr::value(given));
    }
    if let Some(family) = family {
        update = update.col_expr(account::Column::FamilyName, Expr::value(family));
    }
    update.build(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKENDS: [DbBackend; 2] = [DbBackend::Sqlite, DbBackend::Postgres];

    fn change(
        names: Option<(Option<&'static str>, Option<&'static str>)>,
    ) -> MemberChange<'static> {
        MemberChange {
            id: "m1",
            workspace_id: "w1",
            read_version: 7,
            user_name: "Ann@X.test",
            user_name_key: "ann@x.test",
            external_id: None,
            display_name: Some("Ann"),
            active: false,
            direct_role: None,
            attributes: "{}",
            emails: "[]",
            updated_at: crate::domain::now(),
            names,
        }
    }

    /// Each statement made from its template is the one the query builder makes, with values
    /// present and missing, on both backends.
    #[test]
    fn the_member_update_is_the_builders() {
        for backend in BACKENDS {
            for names in [None, Some((Some("Ann"), None)), Some((None, Some("Lee")))] {
                let change = change(names);
                assert_eq!(
                    member_update(backend, &change),
                    member_update_built(backend, &change),
                    "{backend:?} {names:?}"
                );
            }
            let all = MemberChange {
                external_id: Some("ext"),
                direct_role: Some("admin"),
                active: true,
                ..change(Some((Some("Ann"), Some("Lee"))))
            };
            assert_eq!(
                member_update(backend, &all),
                member_update_built(backend, &all)
            );
        }
    }

    #[test]
    fn the_member_insert_is_the_builders() {
        let at = crate::domain::now();
        let model = member::Model {
            id: "m1".into(),
            workspace_id: "w1".into(),
            account_id: "a1".into(),
            user_name: "ann@x.test".into(),
            user_name_key: "ann@x.test".into(),
            external_id: None,
            display_name: Some("Ann".into()),
            active: true,
            direct_role: None,
            effective_role: "member".into(),
            is_owner: false,
            attributes: "{}".into(),
            given_name: Some("Ann".into()),
            family_name: None,
            emails: "[]".into(),
            version: 1,
            created_at: at,
            updated_at: at,
        };
        let other = member::Model {
            external_id: Some("e".into()),
            active: false,
            direct_role: Some("admin".into()),
            is_owner: true,
            given_name: None,
            family_name: Some("Lee".into()),
            version: 3,
            ..model.clone()
        };
        for backend in BACKENDS {
            for model in [&model, &other] {
                assert_eq!(
                    member_insert(backend, model),
                    member_insert_built(backend, model),
                    "{backend:?}"
                );
            }
        }
    }

    #[test]
    fn the_account_names_update_is_the_builders() {
        let at = crate::domain::now();
        let names = [None, Some(None), Some(Some("Ann"))];
        for backend in BACKENDS {
            for given in names {
                for family in [None, Some(None), Some(Some("Lee"))] {
                    assert_eq!(
                        account_names_update(backend, "a1", "w1", given, family, at),
                        account_names_built(backend, "a1", "w1", given, family, at),
                        "{backend:?} {given:?} {family:?}"
                    );
                }
            }
        }
    }
}
