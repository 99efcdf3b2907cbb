use async_graphql::{Context, Object};

use crate::domain;
use crate::graphql::caller::principal;
use crate::graphql::error::GqlResultExt;
use crate::graphql::types::{GroupRoleMappingInput, Me, RoleChange, SamlTestReport, Workspace};
use crate::state::AppState;

pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// Who is signed in (by SSO session or admin token): any active member of the workspace.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let state = ctx.data::<AppState>()?;
        let me = domain::admin::me(&state.store, principal(ctx)?)
            .await
            .gql()?;
        Ok(Me(me))
    }

    /// The report of a test sign-in started with `startSamlTest` (admins; null while the IdP
    /// has not answered).
    async fn saml_test_report(
        &self,
        ctx: &Context<'_>,
        id: async_graphql::ID,
    ) -> async_graphql::Result<Option<SamlTestReport>> {
        let state = ctx.data::<AppState>()?;
        let report = domain::sign_in::test_report_for(&state.store, principal(ctx)?, &id)
            .await
            .gql()?;
        Ok(report.map(Into::into))
    }

    /// The workspace of the admin token in use.
    async fn workspace(&self, ctx: &Context<'_>) -> async_graphql::Result<Workspace> {
        let state = ctx.data::<AppState>()?;
        let principal = principal(ctx)?;
        let ws = domain::admin::workspace_of(&state.store, principal)
            .await
            .gql()?;
        Ok(Workspace(ws))
    }

    /// Members whose effective role would change if `mappings` replaced the current table:
    /// from, to, and the group that decides. Nothing is saved.
    async fn preview_group_role_mappings(
        &self,
        ctx: &Context<'_>,
        mappings: Vec<GroupRoleMappingInput>,
    ) -> async_graphql::Result<Vec<RoleChange>> {
        let state = ctx.data::<AppState>()?;
        let principal = principal(ctx)?;
        let rows: Vec<_> = mappings.into_iter().map(Into::into).collect();
        let changes = domain::mappings::preview(&state.store, principal, &rows)
            .await
            .gql()?;
        Ok(changes.into_iter().map(RoleChange::from_domain).collect())
    }
}
