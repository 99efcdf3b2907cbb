//! GraphQL object and input types: domain values as the settings page sees them.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::{self, roles};
use crate::graphql::error::GqlResultExt;
pub use crate::graphql::role::GqlRole;
use crate::state::AppState;

/// The caller's workspace and its SAML & SCIM settings.
pub struct Workspace(pub domain::workspaces::Workspace);

#[Object]
impl Workspace {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn saml(&self, ctx: &Context<'_>) -> async_graphql::Result<Saml> {
        let state = ctx.data::<AppState>()?;
        let config = domain::saml::get(&state.store, &self.0.id).await.gql()?;
        Ok(Saml(
            config,
            state.settings.saml_service_provider(&self.0.id),
        ))
    }

    async fn scim(&self, ctx: &Context<'_>) -> async_graphql::Result<ScimStatus> {
        let state = ctx.data::<AppState>()?;
        let status = domain::scim_settings::status(&state.store, &self.0.id)
            .await
            .gql()?;
        Ok(ScimStatus::new(state, &self.0.id, status))
    }

    /// Every key of the workspace, newest first, revoked and expired ones included.
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKey>> {
        let state = ctx.data::<AppState>()?;
        let keys = domain::api_keys::list(&state.store, &self.0.id)
            .await
            .gql()?;
        Ok(keys.into_iter().map(ApiKey).collect())
    }

    /// The e-mail domains the workspace claims, by domain: its IdP signs in and renames only
    /// people of its verified ones.
    async fn domains(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::domains::Domain>> {
        let state = ctx.data::<AppState>()?;
        let claims = domain::domains::list(&state.store, &self.0.id)
            .await
            .gql()?;
        Ok(claims
            .into_iter()
            .map(crate::graphql::domains::Domain)
            .collect())
    }

    /// Every admin token of the workspace, newest first, revoked and expired ones included.
    async fn admin_tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AdminToken>> {
        let state = ctx.data::<AppState>()?;
        let tokens = domain::admin_tokens::list(&state.store, &self.0.id)
            .await
            .gql()?;
        Ok(tokens.into_iter().map(AdminToken).collect())
    }

    /// Members (SCIM users and everyone else in the workspace), by userName; `search` matches
    /// userName, names and display name.
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> async_graphql::Result<crate::graphql::directory::MemberConnection> {
        crate::graphql::directory::members(ctx, first, after, search).await
    }

    /// Groups pushed by the IdP, by name, with the role their name maps to.
    async fn groups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> async_graphql::Result<crate::graphql::directory::GroupConnection> {
        crate::graphql::directory::groups(ctx, first, after, search).await
    }

    /// The provisioning and settings log, newest first.
    async fn activity(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<crate::graphql::directory::ActivityConnection> {
        crate::graphql::directory::activity(ctx, first, after).await
    }

    /// The group-to-role mapping, in the order the admin saved it.
    async fn group_role_mappings(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<GroupRoleMapping>> {
        let state = ctx.data::<AppState>()?;
        let rows = domain::mappings::list(&state.store, &self.0.id)
            .await
            .gql()?;
        Ok(rows.into_iter().map(GroupRoleMapping::from).collect())
    }
}

/// SAML status. Unconfigured: `configured` is false and the IdP's fields are null; the
/// service provider's own values (what the admin pastes into the IdP) are always there.
pub struct Saml(
    pub Option<domain::saml::SamlConfig>,
    pub domain::saml::ServiceProvider,
);

#[Object]
impl Saml {
    async fn configured(&self) -> bool {
        self.0.is_some()
    }

    /// This workspace's SP entity ID ("Audience URI" in Okta, "Identifier" in Entra).
    async fn sp_entity_id(&self) -> &str {
        &self.1.entity_id
    }

    /// Where the IdP posts its answer ("Single sign-on URL" in Okta, "Reply URL" in Entra).
    async fn acs_url(&self) -> &str {
        &self.1.acs_url
    }

    /// The SP metadata document, for IdPs that import it (the same URL as the entity ID).
    async fn sp_metadata_url(&self) -> &str {
        &self.1.entity_id
    }

    async fn idp_entity_id(&self) -> Option<&str> {
        self.0.as_ref().map(|c| c.idp_entity_id.as_str())
    }

    async fn sso_url(&self) -> Option<&str> {
        self.0.as_ref().map(|c| c.sso_url.as_str())
    }

    async fn certificate_subject(&self) -> Option<&str> {
        self.0.as_ref().map(|c| c.certificate_subject.as_str())
    }

    async fn certificate_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.as_ref().map(|c| c.certificate_expires_at)
    }

    /// True when the signing certificate expires within 30 days: SSO breaks when it does.
    async fn certificate_expires_soon(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|c| c.certificate_expires_soon(domain::now()))
    }

    /// The next certificate, accepted beside the current one during a rotation.
    async fn next_certificate_subject(&self) -> Option<&str> {
        self.next().map(|c| c.subject.as_str())
    }

    async fn next_certificate_expires_at(&self) -> Option<DateTime<Utc>> {
        self.next().map(|c| c.not_after)
    }

    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.as_ref().map(|c| c.updated_at)
    }

    /// Whether an answer the IdP sends unasked (an Okta or MyApps tile) signs people in. Such an
    /// answer can't be tied to the browser it arrives in, so another site could post one and sign
    /// a visitor in as someone else; off, everyone starts from the sign-in page. Null until SAML
    /// is configured.
    async fn allow_idp_initiated(&self) -> Option<bool> {
        self.0.as_ref().map(|c| c.allow_idp_initiated)
    }
}

impl Saml {
    fn next(&self) -> Option<&domain::saml::Certificate> {
        self.0.as_ref().and_then(|c| c.next_certificate.as_ref())
    }
}

#[derive(SimpleObject)]
pub struct ScimStatus {
    pub enabled: bool,
    /// What the admin pastes into Okta ("SCIM connector base URL") or Entra ("Tenant URL").
    pub base_url: String,
}

impl ScimStatus {
    pub fn new(
        state: &AppState,
        workspace_id: &str,
        status: domain::scim_settings::ScimStatus,
    ) -> Self {
        ScimStatus {
            enabled: status.enabled,
            base_url: state.settings.scim_base_url(workspace_id),
        }
    }
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeyStatus {
    Active,
    Expired,
    Revoked,
}

pub struct ApiKey(pub domain::api_keys::ApiKey);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The visible start of the secret, to tell keys apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Null: never expires.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }

    /// True when the key expires within 14 days.
    async fn expires_soon(&self) -> bool {
        self.0.expires_soon(domain::now())
    }

    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    /// `Okta`, `Entra` or `Other`, from the User-Agent of the last request.
    async fn last_used_client(&self) -> Option<&str> {
        self.0.last_used_client.as_deref()
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    async fn status(&self) -> ApiKeyStatus {
        let at = domain::now();
        if self.0.revoked_at.is_some() {
            ApiKeyStatus::Revoked
        } else if self.0.is_expired(at) {
            ApiKeyStatus::Expired
        } else {
            ApiKeyStatus::Active
        }
    }
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminTokenStatus {
    Active,
    Expired,
    Revoked,
}

/// An admin token of the workspace (made with `scim-gateway admin-token`): whose it is, its
/// dates. Never the token itself.
pub struct AdminToken(pub domain::admin_tokens::AdminToken);

#[Object]
impl AdminToken {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The visible start of the token, to tell tokens apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// The e-mail of the account the token acts as.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// That account's name, when it has one.
    async fn name(&self) -> Option<String> {
        self.0.name()
    }

    /// True for the token this request is made with.
    async fn current(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let principal = crate::graphql::caller::principal(ctx)?;
        Ok(domain::admin_tokens::is_current(principal, &self.0.id))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    /// Null: never expires.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }

    /// True when the token expires within 7 days.
    async fn expires_soon(&self) -> bool {
        self.0.expires_soon(domain::now())
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    async fn status(&self) -> AdminTokenStatus {
        if self.0.revoked_at.is_some() {
            AdminTokenStatus::Revoked
        } else if self.0.is_expired(domain::now()) {
            AdminTokenStatus::Expired
        } else {
            AdminTokenStatus::Active
        }
    }
}

#[derive(SimpleObject)]
pub struct GeneratedApiKey {
    /// The key to paste into the IdP. Shown this once: only its hash is stored.
    pub secret: String,
    pub api_key: ApiKey,
}

#[derive(SimpleObject)]
pub struct GroupRoleMapping {
    pub group_name: String,
    pub role: GqlRole,
}

impl From<domain::mappings::Mapping> for GroupRoleMapping {
    fn from(m: domain::mappings::Mapping) -> Self {
        GroupRoleMapping {
            group_name: m.group_name,
            role: m.role.into(),
        }
    }
}

#[derive(InputObject)]
pub struct GroupRoleMappingInput {
    pub group_name: String,
    pub role: GqlRole,
}

impl From<GroupRoleMappingInput> for domain::mappings::Mapping {
    fn from(m: GroupRoleMappingInput) -> Self {
        domain::mappings::Mapping {
            group_name: m.group_name,
            role: m.role.into(),
        }
    }
}

/// A member whose effective role changes (or would change).
#[derive(SimpleObject)]
pub struct RoleChange {
    pub member_id: ID,
    pub user_name: String,
    pub active: bool,
    pub from: GqlRole,
    pub to: GqlRole,
    /// The group whose mapping decides the new role; null when it is decided by the IdP's direct
    /// role, the owner rule or the default.
    pub group_name: Option<String>,
    /// The deciding source in words: "via group Administrator", "by default", ...
    pub reason: String,
}

impl RoleChange {
    pub fn from_domain(c: roles::RoleChange) -> Self {
        RoleChange {
            member_id: ID(c.member_id),
            user_name: c.user_name,
            active: c.active,
            from: c.from.into(),
            to: c.to.into(),
            group_name: c.decided_by.group_name().map(str::to_string),
            reason: c.decided_by.describe(),
        }
    }
}

#[derive(SimpleObject)]
pub struct SetGroupRoleMappingsPayload {
    pub mappings: Vec<GroupRoleMapping>,
    /// The role changes the save applied.
    pub changes: Vec<RoleChange>,
}

/// Either `metadataXml`, or `idpEntityId` + `ssoUrl` + `certificatePem`.
#[derive(InputObject)]
pub struct SamlInput {
    /// The IdP's SAML 2.0 metadata document.
    pub metadata_xml: Option<String>,
    pub idp_entity_id: Option<String>,
    pub sso_url: Option<String>,
    /// The IdP's signing certificate, PEM (or its base64 body).
    pub certificate_pem: Option<String>,
    /// The IdP's next signing certificate during a rotation: signatures by either are accepted.
    /// With metadata XML it overrides a second certificate listed there.
    pub next_certificate_pem: Option<String>,
}

impl From<SamlInput> for domain::saml::SamlInput {
    fn from(i: SamlInput) -> Self {
        domain::saml::SamlInput {
            metadata_xml: i.metadata_xml,
            idp_entity_id: i.idp_entity_id,
            sso_url: i.sso_url,
            certificate_pem: i.certificate_pem,
            next_certificate_pem: i.next_certificate_pem,
        }
    }
}

/// The signed-in person: any active member of the workspace.
pub struct Me(pub domain::admin::Me);

#[Object]
impl Me {
    async fn user_name(&self) -> &str {
        &self.0.user_name
    }

    async fn given_name(&self) -> Option<&str> {
        self.0.given_name.as_deref()
    }

    async fn family_name(&self) -> Option<&str> {
        self.0.family_name.as_deref()
    }

    /// The effective role, read on every request: a group push or mapping edit applies at once.
    async fn role(&self) -> GqlRole {
        self.0.role.into()
    }

    /// Where the role comes from, in words ("via group Reviewers", "by default").
    async fn role_source(&self) -> String {
        self.0.role_source.describe()
    }

    /// True for a session started by SSO, false for an admin token.
    async fn signed_in_with_sso(&self) -> bool {
        self.0.signed_in_with_sso
    }

    async fn workspace(&self) -> MeWorkspace {
        MeWorkspace {
            id: ID(self.0.workspace.id.clone()),
            slug: self.0.workspace.slug.clone(),
            name: self.0.workspace.name.clone(),
        }
    }
}

/// The signed-in person's workspace, as any member may see it (settings are `workspace`, for
/// admins).
#[derive(SimpleObject)]
pub struct MeWorkspace {
    pub id: ID,
    pub slug: String,
    pub name: String,
}

/// One check of a test sign-in.
#[derive(SimpleObject)]
pub struct SamlCheck {
    /// FORMAT, STATUS, SIGNATURE, ISSUER, AUDIENCE, RECIPIENT, VALIDITY, REQUEST, REPLAY, DOMAIN, PERSON.
    pub check: String,
    pub label: String,
    /// Null when not checked because an earlier check failed.
    pub passed: Option<bool>,
    pub detail: String,
}

/// What a test sign-in found, check by check. No session was started.
#[derive(SimpleObject)]
pub struct SamlTestReport {
    pub succeeded: bool,
    pub checks: Vec<SamlCheck>,
    /// Who the IdP said signed in, when its signature held.
    pub subject: Option<String>,
    pub member_user_name: Option<String>,
    pub role: Option<String>,
}

impl From<domain::sign_in::TestReport> for SamlTestReport {
    fn from(r: domain::sign_in::TestReport) -> Self {
        SamlTestReport {
            succeeded: r.succeeded,
            checks: r
                .checks
                .into_iter()
                .map(|c| SamlCheck {
                    check: c.check,
                    label: c.label,
                    passed: c.passed,
                    detail: c.detail,
                })
                .collect(),
            subject: r.subject,
            member_user_name: r.member_user_name,
            role: r.role,
        }
    }
}
