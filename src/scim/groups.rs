//! `/Groups`: push groups. Member changes go to the domain as set operations on the members
//! named, so a 100-member PATCH costs the same in a group of 10 or of 100,000.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::domain::api_keys::ScimPrincipal;
use crate::domain::attributes::Resource;
use crate::domain::filter::{CompValue, CompareOp, Filter};
use crate::domain::groups::{self, Group, GroupChange, GroupInput};
use crate::domain::keyset::Position;
use crate::scim::auth::Caller;
use crate::scim::list::{ListParams, QueryParams, list_response};
use crate::scim::patch::{self, OpKind, PatchOp, PatchPath};
use crate::scim::paths::ResourceId;
use crate::scim::resource::{
    GROUP_SCHEMA, Projection, Url, many, meta, opt_string, require_core_schema, strict_string, take,
};
use crate::scim::{IfNoneMatch, ScimBody, ScimError, ScimResult, if_match, not_modified_response};
use crate::state::AppState;

/// Member ids from `members` values: `[{"value": id}]`, or leniently bare ids.
fn member_ids(value: Option<Value>) -> ScimResult<Vec<String>> {
    many(value)
        .into_iter()
        .map(|item| match item {
            Value::String(id) => Ok(id),
            Value::Object(mut m) => strict_string(take(&mut m, "value"), "members.value")?
                .ok_or_else(|| {
                    ScimError::invalid_value("every member needs a value (the user's id)")
                }),
            other => Err(ScimError::invalid_value(format!(
                "members must hold objects, not {other}"
            ))),
        })
        .collect()
}

pub fn parse(mut body: Map<String, Value>) -> ScimResult<GroupInput> {
    require_core_schema(&body, GROUP_SCHEMA)?;
    let display_name = strict_string(take(&mut body, "displayName"), "displayName")?
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    let external_id = opt_string(take(&mut body, "externalId"), "externalId")?;
    let members = member_ids(take(&mut body, "members"))?;
    for attr in Resource::Group.ignored_on_write() {
        take(&mut body, attr);
    }
    Ok(GroupInput {
        display_name,
        external_id,
        attributes: body,
        members,
    })
}

pub fn location(base: &str, id: &str) -> String {
    Url::group(base, id).to_string()
}

/// The group as a response shows it: members' `display` (returned on request) only when
/// `attributes` names it, then the projection.
pub fn present(group: &Group, base: &str, projection: &Projection) -> Value {
    let mut value = render(group, base);
    let with_display = projection
        .attributes
        .iter()
        .any(|a| a.eq_ignore_ascii_case("members.display"));
    if with_display
        && let (Some(Value::Array(list)), Some(members)) =
            (value.get_mut("members"), &group.members)
    {
        for (item, member) in list.iter_mut().zip(members) {
            item["display"] = json!(member.user_name);
        }
    }
    projection.apply_for(value, Resource::Group)
}

pub fn render(group: &Group, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), json!(group.id));
    if let Some(e) = &group.external_id {
        out.insert("externalId".into(), json!(e));
    }
    for (k, v) in &group.attributes {
        out.insert(k.clone(), v.clone());
    }
    out.insert("displayName".into(), json!(group.display_name));
    if let Some(members) = &group.members {
        let list: Vec<Value> = members
            .iter()
            .map(|m| json!({ "value": m.id, "type": "User", "$ref": Url::user(base, &m.id).to_string() }))
            .collect();
        out.insert("members".into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        meta(
            "Group",
            location(base, &group.id),
            group.created_at,
            group.updated_at,
            group.version,
        ),
    );
    Value::Object(out)
}

fn resource_response(
    status: StatusCode,
    group: &Group,
    base: &str,
    projection: &Projection,
) -> Response {
    let body = present(group, base, projection);
    crate::scim::resource_response(status, body, group.version, &location(base, &group.id))
}

pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    axum::extract::Query(query): QueryParams,
) -> ScimResult<Response> {
    run_list(&state, &p, ListParams::from_query(&query)?).await
}

pub async fn search(
    State(state): State<AppState>,
    Caller(p): Caller,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    run_list(&state, &p, ListParams::from_body(&body)?).await
}

async fn run_list(
    state: &AppState,
    p: &ScimPrincipal,
    mut params: ListParams,
) -> ScimResult<Response> {
    let binding = params.bind_cursor(&p.workspace_id, "Group")?;
    let with_members = params.projection.wants("members");
    let page = groups::list(&state.store, &p.workspace_id, &params.query, with_members).await?;
    let paging = params.paging_of(binding.as_ref(), &page.items, page.more, |g| Position {
        id: g.id.clone(),
        created_at: g.created_at,
    });
    let base = state.settings.scim_base_url(&p.workspace_id);
    let resources = page
        .items
        .iter()
        .map(|g| present(g, &base, &params.projection))
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
    let projection = ListParams::from_query(&query)?.projection;
    let group = groups::get(
        &state.store,
        &p.workspace_id,
        &id,
        projection.wants("members"),
    )
    .await?;
    if if_none_match.names(group.version) {
        return Ok(not_modified_response(group.version));
    }
    let base = state.settings.scim_base_url(&p.workspace_id);
    Ok(resource_response(
        StatusCode::OK,
        &group,
        &base,
        &projection,
    ))
}

pub async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let group = groups::create(&state.store, &p, parse(body)?).await?;
    let base = state.settings.scim_base_url(&p.workspace_id);
    Ok(resource_response(
        StatusCode::CREATED,
        &group,
        &base,
        &Projection::default(),
    ))
}

/// PUT: the full state, members included; the member list is applied as a difference.
pub async fn replace(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let input = parse(body)?;
    let attributes = input.attributes;
    let changes = vec![
        GroupChange::DisplayName(input.display_name),
        GroupChange::ExternalId(input.external_id),
        GroupChange::Attributes(Box::new(move |_| Ok(attributes))),
        GroupChange::SetMembers(input.members),
    ];
    let group = groups::change(&state.store, &p, &id, if_match(&headers)?, changes, true).await?;
    let base = state.settings.scim_base_url(&p.workspace_id);
    Ok(resource_response(
        StatusCode::OK,
        &group,
        &base,
        &Projection::default(),
    ))
}

/// Member ids a `members[...]` filter names: `value eq "id"` joined by `or`.
fn ids_in_filter(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.is("value", None) => Some(vec![id.clone()]),
        Filter::Or(a, b) => {
            let mut ids = ids_in_filter(a)?;
            ids.extend(ids_in_filter(b)?);
            Some(ids)
        }
        _ => None,
    }
}

fn is_attr(path: &PatchPath, name: &str) -> bool {
    path.attr.eq_ignore_ascii_case(name)
        && path
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
}

/// A PATCH as domain changes: members and names as set operations, other attributes as one edit
/// of the kept document.
fn changes(ops: Vec<PatchOp>) -> ScimResult<Vec<GroupChange>> {
    let mut out = Vec::new();
    let mut other: Vec<PatchOp> = Vec::new();
    for op in ops {
        let Some(path) = op.path.clone() else {
            let Some(Value::Object(values)) = op.value else {
                return Err(ScimError::invalid_value(
                    "an operation without a path needs an object value",
                ));
            };
            for (key, value) in values {
                let path = PatchPath::parse(&key)?;
                let single = PatchOp {
                    op: op.op,
                    path: Some(path),
                    value: Some(value),
                };
                out.extend(changes(vec![single])?);
            }
            continue;
        };
        if is_attr(&path, "members") && path.sub.is_none() {
            let change = match (op.op, &path.filter) {
                (OpKind::Add, None) => GroupChange::AddMembers(member_ids(op.value)?),
                (OpKind::Replace, None) => GroupChange::SetMembers(member_ids(op.value)?),
                (OpKind::Remove, None) if op.value.is_some() => {
                    GroupChange::RemoveMembers(member_ids(op.value)?)
                }
                (OpKind::Remove, None) => GroupChange::RemoveAllMembers,
                (OpKind::Remove, Some(filter)) => {
                    GroupChange::RemoveMembers(ids_in_filter(filter).ok_or_else(|| {
                        ScimError::bad_request(
                            "invalidFilter",
                            "a members filter names members by value: members[value eq \"id\"]",
                        )
                    })?)
                }
                (_, Some(_)) => {
                    return Err(ScimError::invalid_path(
                        "add or replace members without a filter in the path",
                    ));
                }
            };
            out.push(change);
        } else if is_attr(&path, "displayName") && path.filter.is_none() && path.sub.is_none() {
            match (op.op, op.value) {
                (OpKind::Remove, _) | (_, Some(Value::Null)) => {
                    return Err(ScimError::bad_request(
                        "mutability",
                        "displayName is required and can't be removed",
                    ));
                }
                (_, value) => {
                    let name = strict_string(value, "displayName")?.unwrap_or_default();
                    out.push(GroupChange::DisplayName(name));
                }
            }
        } else if is_attr(&path, "externalId") && path.filter.is_none() && path.sub.is_none() {
            match op.op {
                OpKind::Remove => out.push(GroupChange::ExternalId(None)),
                _ => out.push(GroupChange::ExternalId(opt_string(op.value, "externalId")?)),
            }
        } else if ["id", "meta", "schemas"].iter().any(|a| is_attr(&path, a)) {
            // Read-only attributes some clients echo back: ignored.
        } else {
            other.push(PatchOp {
                op: op.op,
                path: Some(path),
                value: op.value,
            });
        }
    }
    if !other.is_empty() {
        out.push(GroupChange::Attributes(Box::new(
            move |attributes| match patch::apply(Value::Object(attributes), &other, Resource::Group)
            {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err("the patched attributes are not an object".into()),
                Err(e) => Err(e.detail),
            },
        )));
    }
    Ok(out)
}

pub async fn patch(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    axum::extract::Query(query): QueryParams,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let changes = changes(patch::parse(body)?)?;
    let projection = ListParams::from_query(&query)?.projection;
    // A group of 100,000 is not sent back after each 100-member PATCH: 204, as RFC 7644 §3.5.2
    // allows, unless the request names the attributes it wants back.
    let asked = !projection.attributes.is_empty() || !projection.excluded.is_empty();
    let with_members = asked && projection.wants("members");
    let group = groups::change(
        &state.store,
        &p,
        &id,
        if_match(&headers)?,
        changes,
        with_members,
    )
    .await?;
    if !asked {
        return Ok(crate::scim::versioned_empty(
            StatusCode::NO_CONTENT,
            group.version,
        ));
    }
    let base = state.settings.scim_base_url(&p.workspace_id);
    Ok(resource_response(
        StatusCode::OK,
        &group,
        &base,
        &projection,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
) -> ScimResult<Response> {
    groups::delete(&state.store, &p, &id, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
