//! `POST /.search` at the SCIM base: users and groups in one list, users first.

use axum::extract::State;
use axum::response::Response;

use crate::domain::users::ListQuery;
use crate::domain::{self, groups, users};
use crate::scim::auth::Caller;
use crate::scim::groups as scim_groups;
use crate::scim::list::{ListParams, Paging, list_response};
use crate::scim::{ScimBody, ScimError, ScimResult, user_resource};
use crate::state::AppState;

/// `POST /.search`: users and groups together, users first.
pub async fn search_all(
    State(state): State<AppState>,
    Caller(p): Caller,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let params = ListParams::from_body(&body)?;
    if params.cursor_token.is_some() {
        return Err(ScimError::invalid_value(
            "the root /.search pages by startIndex; cursors page /Users, /Groups and their .search",
        ));
    }
    let q = &params.query;
    let base = state.settings.scim_base_url(&p.workspace_id);
    // A filter may name attributes only one of the types has: the other type then matches none.
    let unmatched = |e: &domain::Error| matches!(e, domain::Error::InvalidFilter(_));
    let count_query = ListQuery {
        count: 0,
        ..q.clone()
    };
    let users_total = match users::list(&state.store, &p.workspace_id, &count_query).await {
        Ok(page) => Some(page.total),
        Err(e) if unmatched(&e) => None,
        Err(e) => return Err(e.into()),
    };
    let groups_total = match groups::list(&state.store, &p.workspace_id, &count_query, false).await
    {
        Ok(page) => Some(page.total),
        Err(e) if unmatched(&e) => None,
        Err(e) => return Err(e.into()),
    };
    if users_total.is_none() && groups_total.is_none() {
        // Neither type understands the filter: report it.
        users::list(&state.store, &p.workspace_id, &count_query).await?;
    }
    let (users_total, groups_total) = (users_total.unwrap_or(0), groups_total.unwrap_or(0));
    let mut resources = Vec::new();
    let start = q.start_index;
    if q.count > 0 && start <= users_total {
        let page = users::list(&state.store, &p.workspace_id, q).await?;
        resources.extend(
            page.items
                .iter()
                .map(|u| user_resource::present(u, &base, &params.projection)),
        );
    }
    let left = q.count.saturating_sub(resources.len() as u64);
    if left > 0 && groups_total > 0 {
        let group_start = start.saturating_sub(users_total).max(1);
        let group_query = ListQuery {
            start_index: group_start,
            count: left,
            ..q.clone()
        };
        let page = groups::list(
            &state.store,
            &p.workspace_id,
            &group_query,
            params.projection.wants("members"),
        )
        .await?;
        resources.extend(
            page.items
                .iter()
                .map(|g| scim_groups::present(g, &base, &params.projection)),
        );
    }
    Ok(list_response(
        users_total + groups_total,
        q,
        Paging::Index(q.start_index),
        resources,
    ))
}
