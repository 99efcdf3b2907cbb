//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7643 §5–7): exactly what this
//! server supports, nothing more.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::domain::attributes::{self, Attribute};
use crate::domain::users;
use crate::scim::auth::Caller;
use crate::scim::paths::ResourceId;
use crate::scim::resource::{
    ENTERPRISE_USER, GROUP_SCHEMA, LIST_RESPONSE, USER_SCHEMA, WORKSPACE_USER,
};
use crate::scim::{ScimError, ScimResult, respond};
use crate::state::AppState;

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub async fn service_provider_config(State(state): State<AppState>, Caller(p): Caller) -> Response {
    let base = state.settings.scim_base_url(&p.workspace_id);
    let body = json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": format!("{}/", state.settings.public_url),
        "patch": { "supported": true },
        "bulk": { "supported": true, "maxOperations": crate::scim::MAX_BULK_OPERATIONS, "maxPayloadSize": crate::scim::MAX_BODY },
        "filter": { "supported": true, "maxResults": users::MAX_PAGE },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        // RFC 9865: cursors (keyset positions) beside startIndex, which stays the default.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": users::DEFAULT_PAGE,
            "maxPageSize": users::MAX_PAGE,
            "cursorTimeout": crate::scim::cursor::TIMEOUT.num_seconds()
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "An API key of the workspace, generated in its SAML & SCIM settings, as Authorization: Bearer <key> (or the bare key).",
            "primary": true
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") }
    });
    respond(StatusCode::OK, body, HeaderMap::new())
}

fn resource_type_list(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User", "name": "User", "endpoint": "/Users",
            "description": "A member of the workspace",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                { "schema": ENTERPRISE_USER, "required": false },
                { "schema": WORKSPACE_USER, "required": false }
            ],
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") }
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "A group pushed by the identity provider; its name can map to a workspace role",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") }
        }),
    ]
}

fn list(resources: Vec<Value>) -> Response {
    let n = resources.len();
    respond(
        StatusCode::OK,
        json!({ "schemas": [LIST_RESPONSE], "totalResults": n, "startIndex": 1, "itemsPerPage": n, "Resources": resources }),
        HeaderMap::new(),
    )
}

pub async fn resource_types(State(state): State<AppState>, Caller(p): Caller) -> Response {
    list(resource_type_list(
        &state.settings.scim_base_url(&p.workspace_id),
    ))
}

pub async fn resource_type(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(name): ResourceId,
) -> ScimResult<Response> {
    by_id(
        resource_type_list(&state.settings.scim_base_url(&p.workspace_id)),
        &name,
        "resource type",
    )
}

/// The entry of a discovery list whose `id` is `id` (case-insensitive), or a SCIM 404.
fn by_id(list: Vec<Value>, id: &str, what: &str) -> ScimResult<Response> {
    list.into_iter()
        .find(|entry| {
            entry["id"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(id))
        })
        .map(|entry| respond(StatusCode::OK, entry, HeaderMap::new()))
        .ok_or_else(|| ScimError::not_found(format!("no {what} {id}")))
}

/// An attribute's definition as RFC 7643 §7 writes it, from the attribute table.
fn attribute_json(a: &Attribute) -> Value {
    let mut out = json!({
        "name": a.name, "type": a.kind.as_str(), "multiValued": a.multi_valued,
        "description": a.description, "required": a.required, "caseExact": a.case_exact,
        "mutability": a.mutability.as_str(), "returned": a.returned.as_str(),
        "uniqueness": a.uniqueness.as_str()
    });
    if !a.sub_attributes.is_empty() {
        out["subAttributes"] = a.sub_attributes.iter().map(attribute_json).collect();
    }
    if !a.canonical_values.is_empty() {
        out["canonicalValues"] = json!(a.canonical_values);
    }
    if !a.reference_types.is_empty() {
        out["referenceTypes"] = json!(a.reference_types);
    }
    out
}

fn schema_list(base: &str) -> Vec<Value> {
    [
        &attributes::USER,
        &attributes::GROUP,
        &attributes::ENTERPRISE_USER,
        &attributes::WORKSPACE_USER,
    ]
    .iter()
    .map(|schema| {
        json!({
            "schemas": [SCHEMA_SCHEMA], "id": schema.id, "name": schema.name,
            "description": schema.description,
            "attributes": schema.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", schema.id) }
        })
    })
    .collect()
}

pub async fn schemas(State(state): State<AppState>, Caller(p): Caller) -> Response {
    list(schema_list(&state.settings.scim_base_url(&p.workspace_id)))
}

pub async fn schema(
    State(state): State<AppState>,
    Caller(p): Caller,
    ResourceId(urn): ResourceId,
) -> ScimResult<Response> {
    by_id(
        schema_list(&state.settings.scim_base_url(&p.workspace_id)),
        &urn,
        "schema",
    )
}
