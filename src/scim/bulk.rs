//! `/Bulk` (RFC 7644 §3.7): operations run in order, each exactly as the same request sent on
//! its own (same routes, same authentication, same activity entries), each in its own
//! transaction. `bulkId:` references in paths and data resolve to the ids of resources created
//! earlier in the request; `failOnErrors` stops after that many errors.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::scim::auth::Caller;
use crate::scim::resource::{find_key, take};
use crate::scim::{MAX_BULK_OPERATIONS, ScimBody, ScimError, ScimResult, respond};
use crate::state::AppState;

const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Replaces every `bulkId:<id>` string (whole value) with the id it was given.
fn resolve(value: &mut Value, ids: &HashMap<String, String>) -> Result<(), String> {
    match value {
        Value::String(s) => {
            if let Some(reference) = s.strip_prefix("bulkId:") {
                match ids.get(reference) {
                    Some(id) => *s = id.clone(),
                    None => {
                        return Err(format!(
                            "bulkId {reference:?} does not name a resource created earlier in this request"
                        ));
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                resolve(item, ids)?;
            }
        }
        Value::Object(map) => {
            for (_, v) in map.iter_mut() {
                resolve(v, ids)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The result of an operation refused before it ran: its status and a SCIM error body.
fn failed(
    mut entry: Map<String, Value>,
    status: StatusCode,
    scim_type: Option<&str>,
    detail: String,
) -> Value {
    entry.insert("status".into(), json!(status.as_u16().to_string()));
    entry.insert("response".into(), op_error(status, scim_type, detail));
    Value::Object(entry)
}

fn op_error(status: StatusCode, scim_type: Option<&str>, detail: String) -> Value {
    let mut body = json!({
        "schemas": [crate::scim::error::ERROR_SCHEMA],
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    body
}

pub async fn bulk(
    State(state): State<AppState>,
    Caller(p): Caller,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    ScimBody(mut body): ScimBody,
) -> ScimResult<Response> {
    let fail_on_errors =
        match take(&mut body, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                ScimError::invalid_value("failOnErrors must be a positive integer")
            })?),
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "failOnErrors must be a positive integer, not {other}"
                )));
            }
        };
    let Some(Value::Array(operations)) = take(&mut body, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "a Bulk request needs an \"Operations\" array",
        ));
    };
    if operations.len() > MAX_BULK_OPERATIONS {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("tooMany"),
            format!("at most {MAX_BULK_OPERATIONS} operations per Bulk request"),
        ));
    }
    // Operations go through the same routes as single requests.
    let base_path = uri.path().trim_end_matches("/Bulk").to_string();
    let authorization = headers.get(header::AUTHORIZATION).cloned();
    let user_agent = headers.get(header::USER_AGENT).cloned();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::new();
    let mut errors = 0u64;
    for (i, op) in operations.into_iter().enumerate() {
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        let Value::Object(mut op) = op else {
            return Err(ScimError::invalid_syntax(format!(
                "operation {i} is not an object"
            )));
        };
        let method_text = take(&mut op, "method")
            .and_then(|m| m.as_str().map(str::to_ascii_uppercase))
            .unwrap_or_default();
        let bulk_id = take(&mut op, "bulkId").and_then(|b| b.as_str().map(str::to_string));
        let mut path = take(&mut op, "path")
            .and_then(|p| p.as_str().map(str::to_string))
            .unwrap_or_default();
        let version = take(&mut op, "version").and_then(|v| v.as_str().map(str::to_string));
        let mut data = take(&mut op, "data");
        let mut entry = Map::new();
        entry.insert("method".into(), json!(method_text));
        if let Some(b) = &bulk_id {
            entry.insert("bulkId".into(), json!(b));
        }
        let method = match method_text.as_str() {
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            _ => {
                errors += 1;
                results.push(failed(
                    entry,
                    StatusCode::BAD_REQUEST,
                    Some("invalidSyntax"),
                    format!("operation {i}: method must be POST, PUT, PATCH or DELETE"),
                ));
                continue;
            }
        };
        if method == Method::POST && bulk_id.is_none() {
            errors += 1;
            results.push(failed(
                entry,
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                format!("operation {i}: a POST needs a bulkId"),
            ));
            continue;
        }
        // Resolve references in the path and the data.
        let mut resolved = Ok(());
        if let Some(rest) = path.split('/').find_map(|seg| seg.strip_prefix("bulkId:")) {
            match ids.get(rest) {
                Some(id) => path = path.replace(&format!("bulkId:{rest}"), id),
                None => {
                    resolved = Err(format!(
                        "bulkId {rest:?} does not name a resource created earlier in this request"
                    ))
                }
            }
        }
        if resolved.is_ok()
            && let Some(d) = data.as_mut()
        {
            resolved = resolve(d, &ids);
        }
        let valid_path = {
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            matches!(segments.as_slice(), ["Users" | "Groups"] if method == Method::POST)
                || matches!(segments.as_slice(), ["Users" | "Groups", id] if method != Method::POST && !id.is_empty())
        };
        if let Err(reason) = resolved {
            errors += 1;
            results.push(failed(
                entry,
                StatusCode::CONFLICT,
                Some("invalidValue"),
                reason,
            ));
            continue;
        }
        if !valid_path {
            errors += 1;
            results.push(failed(entry, StatusCode::BAD_REQUEST, Some("invalidPath"), format!("operation {i}: {method} {path:?} is not /Users, /Groups or one of their resources")));
            continue;
        }
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{base_path}{path}"));
        if let Some(a) = &authorization {
            request = request.header(header::AUTHORIZATION, a.clone());
        }
        if let Some(ua) = &user_agent {
            request = request.header(header::USER_AGENT, ua.clone());
        }
        if let Some(v) = &version {
            request = request.header(header::IF_MATCH, v.as_str());
        }
        let body = match &data {
            Some(d) => {
                request = request.header(header::CONTENT_TYPE, crate::scim::SCIM_CONTENT_TYPE);
                Body::from(d.to_string())
            }
            None => Body::empty(),
        };
        let Ok(request) = request.body(body) else {
            return Err(ScimError::invalid_value(format!(
                "operation {i}: the path is not a valid URI"
            )));
        };
        let response = crate::scim::routes::serve_one(state.clone(), request).await;
        let status = response.status();
        entry.insert("status".into(), json!(status.as_u16().to_string()));
        if let Some(location) = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
        {
            entry.insert("location".into(), json!(location));
        }
        if let Some(etag) = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
        {
            entry.insert("version".into(), json!(etag));
        }
        let bytes = axum::body::to_bytes(response.into_body(), crate::scim::MAX_BODY * 4)
            .await
            .unwrap_or_default();
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            if method == Method::POST
                && let (Some(b), Some(id)) = (
                    &bulk_id,
                    parsed
                        .as_ref()
                        .and_then(|v| v.get("id"))
                        .and_then(Value::as_str),
                )
            {
                ids.insert(b.clone(), id.to_string());
            }
            if !entry.contains_key("location") && method != Method::DELETE {
                let location = parsed
                    .as_ref()
                    .and_then(|v| v.get("meta"))
                    .and_then(|m| m.as_object())
                    .and_then(|m| find_key(m, "location").and_then(|k| m.get(&k).cloned()));
                if let Some(l) = location {
                    entry.insert("location".into(), l);
                } else {
                    entry.insert(
                        "location".into(),
                        json!(format!(
                            "{}{path}",
                            state.settings.scim_base_url(&p.workspace_id)
                        )),
                    );
                }
            }
        } else {
            errors += 1;
            if let Some(err) = parsed {
                entry.insert("response".into(), err);
            }
        }
        results.push(Value::Object(entry));
    }
    Ok(respond(
        StatusCode::OK,
        json!({ "schemas": [BULK_RESPONSE], "Operations": results }),
        HeaderMap::new(),
    ))
}
