//! `/Users`: SCIM users are the workspace's members.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::domain::api_keys::ScimPrincipal;
use crate::domain::attributes::Resource;
use crate::domain::keyset::Position;
use crate::domain::users::{self, User};
use crate::scim::auth::Caller;
use crate::scim::json_out::JsonOut;
use crate::scim::list::{ListParams, QueryParams, list_response, list_response_with};
use crate::scim::paths::ResourceId;
use crate::scim::resource::Projection;
use crate::scim::user_json::UserJson;
use crate::scim::user_resource::{location, parse, present, render};
use crate::scim::{
    IfNoneMatch, ScimBody, ScimError, ScimResult, if_match, not_modified_response, patch,
};
use crate::state::AppState;

fn resource_response(
    status: StatusCode,
    user: &User,
    base: &str,
    projection: &Projection,
) -> Response {
    let location = location(base, &user.id);
    if projection.is_default() {
        let mut body = Vec::with_capacity(crate::scim::ANSWER_BYTES);
        UserJson { user, base }.write(&mut JsonOut::new(&mut body));
        return crate::scim::resource_response_written(status, body, user.version, &location);
    }
    let body = present(user, base, projection);
    crate::scim::resource_response(status, body, user.version, &location)
}

pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    axum::extract::Query(query): QueryParams,
) -> ScimResult<Response> {
    let params = ListParams::from_query(&query)?;
    run_list(&state, &p, params).await
}

pub async fn search(
    State(state): State<AppState>,
    Caller(p): Caller,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let params = ListParams::from_body(&body)?;
    run_list(&state, &p, params).await
}

async fn run_list(
    state: &AppState,
    p: &ScimPrincipal,
    mut params: ListParams,
) -> ScimResult<Response> {
    let binding = params.bind_cursor(&p.workspace_id, "User")?;
    let page = users::list(&state.store, &p.workspace_id, &params.query).await?;
    let paging = params.paging_of(binding.as_ref(), &page.items, page.more, |u| Position {
        id: u.id.clone(),
        created_at: u.created_at,
    });
    let base = state.settings.scim_base_url(&p.workspace_id);
    if params.projection.is_default() {
        let write_users = |json: &mut JsonOut| {
            for user in &page.items {
                json.element();
                UserJson { user, base: &base }.write(json);
            }
        };
        return Ok(list_response_with(
            page.total,
            &params.query,
            paging,
            page.items.len(),
            write_users,
        ));
    }
    let resources: Vec<Value> = page
        .items
        .iter()
        .map(|u| present(u, &base, &params.projection))
        .collect();
    Ok(list_response(page.total, &params.query, paging, resources))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(id): ResourceId,
    if_none_match: IfNoneMatch,
    axum::extract::Query(query): QueryParams,
) -> ScimResult<Response> {
    let user = users::get(&state.store, &p.workspace_id, &id).await?;
    if if_none_match.names(user.version) {
        return Ok(not_modified_response(user.version));
    }
    let projection = ListParams::from_query(&query)?.projection;
    let base = state.settings.scim_base_url(&p.workspace_id);
    Ok(resource_response(StatusCode::OK, &user, &base, &projection))
}

pub async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    axum::extract::Query(query): QueryParams,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let projection = ListParams::from_query(&query)?.projection;
    let user = users::create(&state.store, &p, parse(body)?).await?;
    let base = state.settings.scim_base_url(&p.workspace_id);
    Ok(resource_response(
        StatusCode::CREATED,
        &user,
        &base,
        &projection,
    ))
}

pub async fn replace(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    axum::extract::Query(query): QueryParams,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let projection = ListParams::from_query(&query)?.projection;
    let input = parse(body)?;
    let version = if_match(&headers)?;
    let user = users::update(&state.store, &p, &id, version, |_| {
        Ok::<_, ScimError>(input.clone())
    })
    .await?;
    let base = state.settings.scim_base_url(&p.workspace_id);
    Ok(resource_response(StatusCode::OK, &user, &base, &projection))
}

pub async fn patch(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    axum::extract::Query(query): QueryParams,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let projection = ListParams::from_query(&query)?.projection;
    let ops = patch::parse(body)?;
    patch::check_value_counts(&ops, Resource::User)?;
    let version = if_match(&headers)?;
    let base = state.settings.scim_base_url(&p.workspace_id);
    let user = users::update(&state.store, &p, &id, version, |current| {
        let Value::Object(map) = patch::apply(render(current, &base), &ops, Resource::User)? else {
            return Err(ScimError::invalid_value(
                "the patched user is not an object",
            ));
        };
        parse(map)
    })
    .await?;
    Ok(resource_response(StatusCode::OK, &user, &base, &projection))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
) -> ScimResult<Response> {
    users::delete(&state.store, &p, &id, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
