use async_graphql::{Context, Object};

use crate::domain;
use crate::graphql::error::GqlResultExt;
use crate::graphql::principal;
use crate::graphql::types::{GroupRoleMappingInput, RoleChange, Workspace};
use crate::state::AppState;

pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// The workspace of the admin token in use.
    async fn workspace(&self, ctx: &Context<'_>) -> async_graphql::Result<Workspace> {
        let state = ctx.data::<AppState>()?;
        let principal = principal(ctx)?;
        let ws = domain::workspaces::for_admin(&state.db, principal)
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
        let changes = domain::mappings::preview(&state.db, principal, &rows)
            .await
            .gql()?;
        Ok(changes.into_iter().map(RoleChange::from_domain).collect())
    }
}
