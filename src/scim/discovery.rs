//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7643 §5–7): exactly what this
//! server supports, nothing more.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::domain::users;
use crate::scim::auth::Caller;
use crate::scim::resource::{
    ENTERPRISE_USER, GROUP_SCHEMA, LIST_RESPONSE, USER_SCHEMA, WORKSPACE_USER,
};
use crate::scim::routes::ResourceId;
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
        "bulk": { "supported": true, "maxOperations": crate::scim::bulk::MAX_OPERATIONS, "maxPayloadSize": crate::scim::MAX_BODY },
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

/// One attribute definition, in the order RFC 7643 §7 lists its characteristics.
#[allow(clippy::too_many_arguments)]
fn attr(
    name: &str,
    kind: &str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &str,
    returned: &str,
    uniqueness: &str,
    description: &str,
) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "description": description,
        "required": required, "caseExact": case_exact, "mutability": mutability,
        "returned": returned, "uniqueness": uniqueness
    })
}

fn string(name: &str, description: &str) -> Value {
    attr(
        name,
        "string",
        false,
        false,
        false,
        "readWrite",
        "default",
        "none",
        description,
    )
}

/// The sub-attribute `sub` of attribute `name` in a list of definitions.
fn sub_attr<'a>(attrs: &'a mut [Value], name: &str, sub: &str) -> &'a mut Value {
    let parent = attrs
        .iter_mut()
        .find(|a| a["name"] == name)
        .expect("attribute defined above");
    let subs = parent["subAttributes"]
        .as_array_mut()
        .expect("complex attribute");
    subs.iter_mut()
        .find(|a| a["name"] == sub)
        .expect("sub-attribute defined above")
}

fn with_subs(mut a: Value, subs: Vec<Value>) -> Value {
    a["subAttributes"] = Value::Array(subs);
    a
}

fn schema_list(base: &str) -> Vec<Value> {
    let mut user_attrs = vec![
        attr(
            "userName",
            "string",
            false,
            true,
            false,
            "readWrite",
            "always",
            "server",
            "The person's e-mail address; unique in the workspace, case-insensitively",
        ),
        with_subs(
            attr(
                "name",
                "complex",
                false,
                false,
                false,
                "readWrite",
                "default",
                "none",
                "The person's name; given and family names update the person's profile",
            ),
            vec![
                string("formatted", "The full name"),
                string("givenName", "Given name"),
                string("familyName", "Family name"),
                string("middleName", "Middle name"),
                string("honorificPrefix", "Prefix"),
                string("honorificSuffix", "Suffix"),
            ],
        ),
        string("displayName", "Name to display"),
        string("nickName", "Casual name"),
        string("title", "Job title"),
        string("userType", "Kind of user"),
        string("preferredLanguage", "Preferred language"),
        string("locale", "Locale"),
        string("timezone", "Time zone"),
        attr(
            "active",
            "boolean",
            false,
            false,
            false,
            "readWrite",
            "default",
            "none",
            "false deactivates the member (kept, no access); true restores it",
        ),
        with_subs(
            attr(
                "emails",
                "complex",
                true,
                false,
                false,
                "readWrite",
                "default",
                "none",
                "E-mail addresses",
            ),
            vec![
                string("value", "The address"),
                string("type", "work, home or other"),
                attr(
                    "primary",
                    "boolean",
                    false,
                    false,
                    false,
                    "readWrite",
                    "default",
                    "none",
                    "The primary address",
                ),
            ],
        ),
        with_subs(
            attr(
                "phoneNumbers",
                "complex",
                true,
                false,
                false,
                "readWrite",
                "default",
                "none",
                "Phone numbers",
            ),
            vec![
                string("value", "The number"),
                string("type", "work, mobile, ..."),
                attr(
                    "primary",
                    "boolean",
                    false,
                    false,
                    false,
                    "readWrite",
                    "default",
                    "none",
                    "The primary number",
                ),
            ],
        ),
        with_subs(
            attr(
                "roles",
                "complex",
                true,
                false,
                false,
                "readWrite",
                "default",
                "none",
                "The direct role the IdP gives: admin, reviewer or labeler",
            ),
            vec![
                string("value", "admin, reviewer or labeler (any case)"),
                string("display", "Label"),
                string("type", "Kind"),
                attr(
                    "primary",
                    "boolean",
                    false,
                    false,
                    false,
                    "readWrite",
                    "default",
                    "none",
                    "Primary",
                ),
            ],
        ),
        with_subs(
            attr(
                "groups",
                "complex",
                true,
                false,
                false,
                "readOnly",
                "default",
                "none",
                "Groups the member belongs to",
            ),
            vec![
                attr(
                    "value", "string", false, false, true, "readOnly", "default", "none",
                    "Group id",
                ),
                attr(
                    "$ref",
                    "reference",
                    false,
                    false,
                    true,
                    "readOnly",
                    "default",
                    "none",
                    "Group URI",
                ),
                attr(
                    "display",
                    "string",
                    false,
                    false,
                    false,
                    "readOnly",
                    "default",
                    "none",
                    "Group name",
                ),
            ],
        ),
        attr(
            "externalId",
            "string",
            false,
            false,
            true,
            "readWrite",
            "default",
            "none",
            "The IdP's identifier",
        ),
    ];
    let mut group_attrs = vec![
        attr(
            "displayName",
            "string",
            false,
            true,
            false,
            "readWrite",
            "always",
            "server",
            "Group name; unique in the workspace, case-insensitively",
        ),
        with_subs(
            attr(
                "members",
                "complex",
                true,
                false,
                false,
                "readWrite",
                "default",
                "none",
                "Members of the group (users of this workspace)",
            ),
            vec![
                attr(
                    "value",
                    "string",
                    false,
                    false,
                    true,
                    "immutable",
                    "default",
                    "none",
                    "User id",
                ),
                attr(
                    "$ref",
                    "reference",
                    false,
                    false,
                    true,
                    "immutable",
                    "default",
                    "none",
                    "User URI",
                ),
                attr(
                    "display",
                    "string",
                    false,
                    false,
                    false,
                    "readOnly",
                    "default",
                    "none",
                    "User name",
                ),
                attr(
                    "type",
                    "string",
                    false,
                    false,
                    false,
                    "immutable",
                    "default",
                    "none",
                    "User",
                ),
            ],
        ),
        attr(
            "externalId",
            "string",
            false,
            false,
            true,
            "readWrite",
            "default",
            "none",
            "The IdP's identifier",
        ),
    ];
    let mut enterprise_attrs = vec![
        string("employeeNumber", "Employee number"),
        string("costCenter", "Cost center"),
        string("organization", "Organization"),
        string("division", "Division"),
        string("department", "Department"),
        with_subs(
            attr(
                "manager",
                "complex",
                false,
                false,
                false,
                "readWrite",
                "default",
                "none",
                "Manager",
            ),
            vec![
                string("value", "Manager id"),
                attr(
                    "$ref",
                    "reference",
                    false,
                    false,
                    false,
                    "readWrite",
                    "default",
                    "none",
                    "Manager URI",
                ),
                attr(
                    "displayName",
                    "string",
                    false,
                    false,
                    false,
                    "readOnly",
                    "default",
                    "none",
                    "Manager name",
                ),
            ],
        ),
    ];
    let mut workspace_attrs = vec![attr(
        "effectiveRole",
        "string",
        false,
        false,
        false,
        "readOnly",
        "default",
        "none",
        "The role the member has in the workspace: the highest of its groups' mapped roles, its direct role, and labeler",
    )];
    // Every member has an active state (true unless the IdP says otherwise).
    if let Some(active) = user_attrs.iter_mut().find(|a| a["name"] == "active") {
        active["required"] = json!(true);
    }
    sub_attr(&mut user_attrs, "roles", "value")["canonicalValues"] =
        json!(["admin", "reviewer", "labeler"]);
    sub_attr(&mut user_attrs, "groups", "$ref")["referenceTypes"] = json!(["Group"]);
    sub_attr(&mut group_attrs, "members", "$ref")["referenceTypes"] = json!(["User"]);
    sub_attr(&mut group_attrs, "members", "type")["canonicalValues"] = json!(["User"]);
    // A member's name is the user's, not the group's: on request only.
    sub_attr(&mut group_attrs, "members", "display")["returned"] = json!("request");
    sub_attr(&mut enterprise_attrs, "manager", "$ref")["referenceTypes"] = json!(["User"]);
    // Computed, so only returned when asked for (`attributes=`): what a client writes into this
    // extension comes back as written.
    workspace_attrs[0]["returned"] = json!("request");
    let schema = |id: &str, name: &str, description: &str, attributes: Vec<Value>| {
        json!({
            "schemas": [SCHEMA_SCHEMA], "id": id, "name": name, "description": description, "attributes": attributes,
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{id}") }
        })
    };
    vec![
        schema(USER_SCHEMA, "User", "User Account", user_attrs),
        schema(GROUP_SCHEMA, "Group", "Group", group_attrs),
        schema(
            ENTERPRISE_USER,
            "EnterpriseUser",
            "Enterprise user",
            enterprise_attrs,
        ),
        schema(
            WORKSPACE_USER,
            "WorkspaceUser",
            "What the workspace computes for a member",
            workspace_attrs,
        ),
    ]
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
