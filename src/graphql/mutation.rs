use async_graphql::{Context, ID, Object};

use crate::domain;
use crate::graphql::caller::principal;
use crate::graphql::domains::Domain;
use crate::graphql::error::GqlResultExt;
use crate::graphql::types::{
    AdminToken, ApiKey, GeneratedApiKey, GroupRoleMapping, GroupRoleMappingInput, RoleChange, Saml,
    SamlInput, ScimStatus, SetGroupRoleMappingsPayload,
};
use crate::state::AppState;

pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Ends the caller's SSO session and removes its cookie (with an admin token: nothing to end).
    async fn sign_out(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let state = ctx.data::<AppState>()?;
        let p = principal(ctx)?;
        if let domain::admin::Credential::Session { id } = &p.credential {
            domain::sessions::end_by_id(&state.store, id).await.gql()?;
            ctx.append_http_header(
                axum::http::header::SET_COOKIE,
                crate::sso::clear_session_cookie(&state.settings),
            );
        }
        Ok(true)
    }

    /// Starts a test sign-in: open the returned URL, sign in at the IdP, and the IdP's answer is
    /// checked like a real sign-in, with a report (`samlTestReport`) instead of a session.
    async fn start_saml_test(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let state = ctx.data::<AppState>()?;
        let p = principal(ctx)?;
        let sp = state.settings.saml_service_provider(&p.workspace_id);
        domain::sign_in::begin_test(&state.store, &sp, p)
            .await
            .gql()
    }

    /// Configures SAML from IdP metadata XML or from the three fields.
    async fn configure_saml(
        &self,
        ctx: &Context<'_>,
        input: SamlInput,
    ) -> async_graphql::Result<Saml> {
        let state = ctx.data::<AppState>()?;
        let p = principal(ctx)?;
        let config = domain::saml::configure(&state.store, p, input.into())
            .await
            .gql()?;
        Ok(Saml(
            Some(config),
            state.settings.saml_service_provider(&p.workspace_id),
        ))
    }

    /// Allows or refuses IdP-initiated sign-in (IdP tiles); needs a SAML configuration
    /// (`SAML_REQUIRED` otherwise). SP-initiated sign-in always works.
    async fn set_allow_idp_initiated(
        &self,
        ctx: &Context<'_>,
        allowed: bool,
    ) -> async_graphql::Result<Saml> {
        let state = ctx.data::<AppState>()?;
        let p = principal(ctx)?;
        let config = domain::saml::set_idp_initiated(&state.store, p, allowed)
            .await
            .gql()?;
        Ok(Saml(
            Some(config),
            state.settings.saml_service_provider(&p.workspace_id),
        ))
    }

    /// Turns SCIM provisioning on; needs a SAML configuration (`SAML_REQUIRED` otherwise).
    async fn enable_scim(&self, ctx: &Context<'_>) -> async_graphql::Result<ScimStatus> {
        let state = ctx.data::<AppState>()?;
        let p = principal(ctx)?;
        let status = domain::scim_settings::enable(&state.store, p).await.gql()?;
        Ok(ScimStatus::new(state, &p.workspace_id, status))
    }

    /// Turns SCIM provisioning off; users, groups and keys are kept.
    async fn disable_scim(&self, ctx: &Context<'_>) -> async_graphql::Result<ScimStatus> {
        let state = ctx.data::<AppState>()?;
        let p = principal(ctx)?;
        let status = domain::scim_settings::disable(&state.store, p)
            .await
            .gql()?;
        Ok(ScimStatus::new(state, &p.workspace_id, status))
    }

    /// Replaces the whole group-to-role mapping and recomputes the roles it changes, atomically.
    async fn set_group_role_mappings(
        &self,
        ctx: &Context<'_>,
        mappings: Vec<GroupRoleMappingInput>,
    ) -> async_graphql::Result<SetGroupRoleMappingsPayload> {
        let state = ctx.data::<AppState>()?;
        let rows: Vec<_> = mappings.into_iter().map(Into::into).collect();
        let (saved, changes) = domain::mappings::replace(&state.store, principal(ctx)?, &rows)
            .await
            .gql()?;
        Ok(SetGroupRoleMappingsPayload {
            mappings: saved.into_iter().map(GroupRoleMapping::from).collect(),
            changes: changes.into_iter().map(RoleChange::from_domain).collect(),
        })
    }

    /// Generates an API key for the IdP. `expiresInDays` omitted or null: never expires. The
    /// secret is in this response only.
    async fn generate_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
        expires_in_days: Option<i32>,
    ) -> async_graphql::Result<GeneratedApiKey> {
        let state = ctx.data::<AppState>()?;
        let generated = domain::api_keys::generate(
            &state.store,
            principal(ctx)?,
            &name,
            expires_in_days.map(i64::from),
        )
        .await
        .gql()?;
        Ok(GeneratedApiKey {
            secret: generated.secret,
            api_key: ApiKey(generated.key),
        })
    }

    /// Revokes a key: SCIM requests with it are refused from then on.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKey> {
        let state = ctx.data::<AppState>()?;
        let key = domain::api_keys::revoke(&state.store, principal(ctx)?, &id)
            .await
            .gql()?;
        Ok(ApiKey(key))
    }

    /// Claims an e-mail domain for the workspace (admins only): a pending claim with the TXT
    /// record to publish. `VALIDATION` names why a name can't be claimed (a public suffix, a
    /// consumer mail domain…); `DOMAIN_TAKEN` when another workspace has verified it. Claiming
    /// a domain the workspace already claims returns that claim.
    async fn claim_domain(
        &self,
        ctx: &Context<'_>,
        domain: String,
    ) -> async_graphql::Result<Domain> {
        let state = ctx.data::<AppState>()?;
        let claim = domain::domains::claim(&state.store, principal(ctx)?, &domain)
            .await
            .gql()?;
        Ok(Domain(claim))
    }

    /// Looks the domain's TXT record up now (admins only; a few at once per workspace, then
    /// one every 10 seconds: `RATE_LIMITED`). DNS trouble changes no status: `lastError` says
    /// what happened. `DOMAIN_TAKEN` when the record is there but another workspace verified
    /// the domain first.
    async fn check_domain(
        &self,
        ctx: &Context<'_>,
        domain: String,
    ) -> async_graphql::Result<Domain> {
        let state = ctx.data::<AppState>()?;
        let checks = &state.domain_checks;
        let claim = domain::domains::check_now(&state.store, checks, principal(ctx)?, &domain)
            .await
            .gql()?;
        Ok(Domain(claim))
    }

    /// Removes the workspace's claim of a domain (admins only): a verified one stops speaking
    /// for its addresses at once. Returns the claim as it was.
    async fn remove_domain(
        &self,
        ctx: &Context<'_>,
        domain: String,
    ) -> async_graphql::Result<Domain> {
        let state = ctx.data::<AppState>()?;
        let claim = domain::domains::remove(&state.store, principal(ctx)?, &domain)
            .await
            .gql()?;
        Ok(Domain(claim))
    }

    /// Revokes an admin token of the workspace: requests with it are refused from then on, on
    /// every replica (tokens are checked against the database on every request), and live
    /// subscriptions opened with it end.
    async fn revoke_admin_token(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<AdminToken> {
        let state = ctx.data::<AppState>()?;
        let token = domain::admin_tokens::revoke(&state.store, principal(ctx)?, &id)
            .await
            .gql()?;
        Ok(AdminToken(token))
    }
}
