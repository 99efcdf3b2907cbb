//! Admin access to the settings API: bearer admin tokens bound to one workspace and one account,
//! and the rule that only the workspace's active admins may read or change its settings.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionSession, TransactionTrait,
};

use crate::domain::roles::Role;
use crate::domain::{Error, Result, Store, secrets, workspaces};
use crate::entities::{account, admin_token, member, session, workspace};

/// Who is calling the admin API: the holder of an admin token, or a member signed in by SSO.
/// Either way the membership (active, role) is read again on every request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub credential: Credential,
    pub workspace_id: String,
    pub account_id: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    AdminToken { id: String },
    Session { id: String },
}

impl Principal {
    /// How the activity log names this caller.
    pub fn actor(&self) -> String {
        match self.credential {
            Credential::AdminToken { .. } => format!("admin {}", self.email),
            Credential::Session { .. } => format!("{} (SSO)", self.email),
        }
    }
}

/// The principal for a presented admin token; any failure is `Unauthenticated`, with no hint of
/// which check failed.
pub async fn authenticate(store: &Store, token: &str) -> Result<Principal> {
    let db = store.pool();
    let token = token.trim();
    if token.is_empty() || token.len() > 512 {
        return Err(Error::Unauthenticated);
    }
    let hash = secrets::hash(token);
    let Some((row, account)) = admin_token::Entity::find()
        .filter(admin_token::Column::TokenHash.eq(hash))
        .find_also_related(account::Entity)
        .one(db)
        .await?
    else {
        return Err(Error::Unauthenticated);
    };
    let Some(account) = account else {
        return Err(Error::Unauthenticated);
    };
    let now = crate::domain::now();
    if !token_is_live(&row, now) || !secrets::hash_matches(&row.token_hash, token) {
        return Err(Error::Unauthenticated);
    }
    if row
        .last_used_at
        .is_none_or(|at| now - at >= secrets::LAST_USED_GRANULARITY)
    {
        // Conditional, so concurrent requests and replicas write at most once per granule.
        admin_token::Entity::update_many()
            .col_expr(admin_token::Column::LastUsedAt, Expr::value(now))
            .filter(admin_token::Column::Id.eq(row.id.clone()))
            .filter(Expr::col(admin_token::Column::LastUsedAt).is_null().or(
                Expr::col(admin_token::Column::LastUsedAt).lt(now - secrets::LAST_USED_GRANULARITY),
            ))
            .exec(db)
            .await?;
    }
    Ok(Principal {
        credential: Credential::AdminToken { id: row.id },
        workspace_id: row.workspace_id,
        account_id: row.account_id,
        email: account.email,
    })
}

/// The caller's membership, if it is an active admin of its workspace; `Forbidden` otherwise.
pub async fn require_admin(
    db: &impl ConnectionTrait,
    principal: &Principal,
) -> Result<member::Model> {
    admitted(membership(db, principal).await?)
}

/// The caller's membership of its workspace, if any.
async fn membership(
    db: &impl ConnectionTrait,
    principal: &Principal,
) -> Result<Option<member::Model>> {
    Ok(member::Entity::find()
        .filter(member::Column::WorkspaceId.eq(principal.workspace_id.clone()))
        .filter(member::Column::AccountId.eq(principal.account_id.clone()))
        .one(db)
        .await?)
}

/// The membership, if it is an active admin's; `Forbidden` saying why not otherwise.
fn admitted(member: Option<member::Model>) -> Result<member::Model> {
    match member {
        Some(m) if m.active && Role::from_stored(&m.effective_role) == Role::Admin => Ok(m),
        Some(m) if !m.active => Err(Error::Forbidden(
            "your membership of this workspace is deactivated".into(),
        )),
        Some(_) => Err(Error::Forbidden(
            "only the workspace's admins may manage its SAML & SCIM settings".into(),
        )),
        None => Err(Error::Forbidden(
            "you are no longer a member of this workspace".into(),
        )),
    }
}

/// What a principal established earlier (when a WebSocket connection was opened) may still do
/// now: its credential still holds (the admin token not revoked or expired; the session not
/// ended or expired and its member active, else `Unauthenticated`) and, when `need_admin`, it
/// is still an active admin of the workspace (`Forbidden` otherwise). One query for the
/// credential and one for the membership (none for a token when `need_admin` is false).
pub async fn recheck(store: &Store, principal: &Principal, need_admin: bool) -> Result<()> {
    let db = store.pool();
    let at = crate::domain::now();
    let live = match &principal.credential {
        Credential::AdminToken { id } => admin_token::Entity::find_by_id(id.clone())
            .one(db)
            .await?
            .is_some_and(|row| token_is_live(&row, at)),
        Credential::Session { id } => session::Entity::find_by_id(id.clone())
            .filter(session::Column::ExpiresAt.gt(at))
            .one(db)
            .await?
            .is_some(),
    };
    if !live {
        return Err(Error::Unauthenticated);
    }
    let session = matches!(principal.credential, Credential::Session { .. });
    if !session && !need_admin {
        return Ok(());
    }
    let member = membership(db, principal).await?;
    // A session lasts while its member is active (as `sessions::authenticate` reads it).
    if session && !member.as_ref().is_some_and(|m| m.active) {
        return Err(Error::Unauthenticated);
    }
    if need_admin {
        admitted(member)?;
    }
    Ok(())
}

/// How long a token made without `--expires-in-days` lives.
pub const DEFAULT_LIFETIME_DAYS: i64 = 30;
/// The longest lifetime a token can be given in days (a token that never expires is asked for
/// with `--never-expires`).
pub const MAX_LIFETIME_DAYS: i64 = 3650;

/// How long a new admin token lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    Days(i64),
    /// Break-glass tokens an operator keeps offline: asked for explicitly.
    Never,
}

impl Default for Lifetime {
    fn default() -> Self {
        Lifetime::Days(DEFAULT_LIFETIME_DAYS)
    }
}

impl Lifetime {
    /// `days` days, if within 1..=`MAX_LIFETIME_DAYS`.
    pub fn days(days: i64) -> Result<Lifetime> {
        if (1..=MAX_LIFETIME_DAYS).contains(&days) {
            Ok(Lifetime::Days(days))
        } else {
            Err(Error::invalid(
                "expiresInDays",
                format!(
                    "an admin token lives 1 to {MAX_LIFETIME_DAYS} days (or use --never-expires)"
                ),
            ))
        }
    }

    /// When a token made at `at` expires.
    pub fn expires_at(self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Lifetime::Days(days) => Some(at + TimeDelta::days(days)),
            Lifetime::Never => None,
        }
    }
}

/// Whether a stored token may still be used at `at`: not revoked, not expired.
pub fn token_is_live(row: &admin_token::Model, at: DateTime<Utc>) -> bool {
    row.revoked_at.is_none() && row.expires_at.is_none_or(|e| e > at)
}

/// What `issue_token` did.
#[derive(Debug)]
pub struct IssuedToken {
    /// The token itself: shown once, never stored.
    pub token: String,
    pub workspace_id: String,
    pub workspace_slug: String,
    pub created_workspace: bool,
    /// False when the account is a member of the workspace but not an active admin: the token
    /// then authenticates but every settings call is forbidden.
    pub is_admin: bool,
    /// None: never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Issues an admin token for `email` in the workspace `slug`, creating the workspace (with that
/// account as its owner) or the admin membership when missing. An operator's action: no principal.
pub async fn issue_token(
    db: &impl TransactionTrait,
    slug: &str,
    email: &str,
) -> Result<IssuedToken> {
    issue_token_named(
        db,
        slug,
        slug,
        email,
        &PersonName::default(),
        Lifetime::default(),
    )
    .await
}

/// A person's names, when the operator gives them (`admin-token --given-name …`).
#[derive(Clone, Debug, Default)]
pub struct PersonName {
    pub given: Option<String>,
    pub family: Option<String>,
}

/// `issue_token`, naming the workspace if it is created and the person when names are given,
/// with this lifetime.
pub async fn issue_token_named(
    db: &impl TransactionTrait,
    slug: &str,
    name: &str,
    email: &str,
    person: &PersonName,
    lifetime: Lifetime,
) -> Result<IssuedToken> {
    let email = validate_email(email)?;
    let clean = |n: &Option<String>| {
        n.as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    };
    let (given, family) = (clean(&person.given), clean(&person.family));
    let txn = crate::db::begin_write(db).await?;
    let existing = workspace::Entity::find()
        .filter(workspace::Column::Slug.eq(slug.trim().to_lowercase()))
        .one(&txn)
        .await?;
    let (ws, created_workspace) = match existing {
        Some(ws) => (ws, false),
        None => (workspaces::create(&txn, slug, name).await?, true),
    };
    let account = workspaces::find_or_create_account(&txn, &email).await?;
    let member = match member::Entity::find()
        .filter(member::Column::WorkspaceId.eq(ws.id.clone()))
        .filter(member::Column::AccountId.eq(account.id.clone()))
        .one(&txn)
        .await?
    {
        Some(m) => m,
        None => {
            let role = if created_workspace {
                None
            } else {
                Some(Role::Admin)
            };
            workspaces::add_member(&txn, &ws.id, &account, created_workspace, role).await?
        }
    };
    if given.is_some() || family.is_some() {
        // The operator names the person: the account and this workspace's member.
        workspaces::rename_account(&txn, &ws.id, account.clone(), given, family).await?;
    }
    let is_admin = member.active && Role::from_stored(&member.effective_role) == Role::Admin;
    let secret = secrets::generate("sgat");
    let created_at = crate::domain::now();
    let expires_at = lifetime.expires_at(created_at);
    admin_token::Entity::insert(admin_token::ActiveModel {
        id: Set(crate::domain::new_id()),
        workspace_id: Set(ws.id.clone()),
        account_id: Set(account.id.clone()),
        prefix: Set(secret.prefix),
        token_hash: Set(secret.hash),
        created_at: Set(created_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(IssuedToken {
        token: secret.secret,
        workspace_id: ws.id,
        workspace_slug: ws.slug,
        created_workspace,
        is_admin,
        expires_at,
    })
}

/// A plausible e-mail address, trimmed: one `@`, something on each side, no spaces.
pub fn validate_email(email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 320
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email.to_string())
    } else {
        Err(Error::invalid(
            "email",
            format!("{email:?} is not an e-mail address"),
        ))
    }
}

/// Who the caller is in their workspace: any active member may ask.
#[derive(Clone, Debug)]
pub struct Me {
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub role: Role,
    /// Where the role comes from ("via group Reviewers").
    pub role_source: crate::domain::roles::RoleSource,
    pub workspace: workspace::Model,
    pub signed_in_with_sso: bool,
}

pub async fn me(store: &Store, principal: &Principal) -> Result<Me> {
    let db = store.pool();
    use crate::domain::roles;
    let Some(member) = member::Entity::find()
        .filter(member::Column::WorkspaceId.eq(principal.workspace_id.clone()))
        .filter(member::Column::AccountId.eq(principal.account_id.clone()))
        .one(db)
        .await?
    else {
        return Err(Error::Forbidden(
            "you are no longer a member of this workspace".into(),
        ));
    };
    if !member.active {
        return Err(Error::Forbidden(
            "your membership of this workspace is deactivated".into(),
        ));
    }
    let Some(ws) = workspace::Entity::find_by_id(member.workspace_id.clone())
        .one(db)
        .await?
    else {
        return Err(Error::NotFound("workspace".into()));
    };
    let mappings = roles::load_mapping_table(db, &member.workspace_id).await?;
    let groups = roles::mapped_groups(db, std::slice::from_ref(&member.id), &mappings).await?;
    let resolution = roles::resolve(
        member.is_owner,
        member.direct_role.as_deref().and_then(Role::parse),
        groups.get(&member.id).map(Vec::as_slice).unwrap_or(&[]),
    );
    Ok(Me {
        user_name: member.user_name,
        given_name: member.given_name,
        family_name: member.family_name,
        role: Role::from_stored(&member.effective_role),
        role_source: resolution.decided_by,
        workspace: ws,
        signed_in_with_sso: matches!(principal.credential, Credential::Session { .. }),
    })
}

/// The demo workspace's slug and owner, created on the first start of an empty database.
pub const DEMO_SLUG: &str = "demo";
pub const DEMO_NAME: &str = "Demo workspace";
pub const DEMO_OWNER_EMAIL: &str = "admin@example.com";
/// The demo owner's domain, which the operator vouches for when the demo is created.
pub const DEMO_DOMAIN: &str = "example.com";
pub const DEMO_OWNER_GIVEN_NAME: &str = "Demo";
pub const DEMO_OWNER_FAMILY_NAME: &str = "Admin";

/// On an empty database, creates the demo workspace with its owner and returns a sign-in token
/// for it. Returns `None` when any workspace exists (also when another replica just created it).
pub async fn bootstrap_if_empty(
    db: &(impl ConnectionTrait + TransactionTrait),
) -> Result<Option<IssuedToken>> {
    if workspace::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let owner = PersonName {
        given: Some(DEMO_OWNER_GIVEN_NAME.into()),
        family: Some(DEMO_OWNER_FAMILY_NAME.into()),
    };
    let lifetime = Lifetime::default();
    match issue_token_named(db, DEMO_SLUG, DEMO_NAME, DEMO_OWNER_EMAIL, &owner, lifetime).await {
        Ok(issued) if issued.created_workspace => Ok(Some(issued)),
        Ok(_) | Err(Error::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The caller's workspace, for reading its settings: admins only.
pub async fn workspace_of(store: &Store, principal: &Principal) -> Result<workspaces::Workspace> {
    let db = store.pool();
    require_admin(db, principal).await?;
    workspaces::get(db, &principal.workspace_id).await
}
