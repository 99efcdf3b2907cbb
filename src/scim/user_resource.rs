//! A user as a SCIM resource: the JSON an IdP sends, read leniently into the domain's input
//! (`parse`), and the JSON it gets back (`render`, and `present` for a projection).

use serde_json::{Map, Value, json};

use crate::domain::attributes::Resource;
use crate::domain::roles::Role;
use crate::domain::starts_with_ignore_case;
use crate::domain::users::{Email, User, UserInput};
use crate::scim::resource::{
    ENTERPRISE_USER, Projection, USER_SCHEMA, Url, WORKSPACE_USER, find_key, many, meta, opt_bool,
    opt_string, require_core_schema, strict_string, take,
};
use crate::scim::{ScimError, ScimResult};

/// A user from IdP JSON, leniently: keys in any case, booleans as strings, a scalar or single
/// object where an array belongs, URN-prefixed extension keys folded into their extension.
pub fn parse(mut body: Map<String, Value>) -> ScimResult<UserInput> {
    require_core_schema(&body, USER_SCHEMA)?;
    let user_name = strict_string(take(&mut body, "userName"), "userName")?
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let external_id = opt_string(take(&mut body, "externalId"), "externalId")?;
    let display_name = opt_string(take(&mut body, "displayName"), "displayName")?;
    let active = opt_bool(take(&mut body, "active"), "active")?.unwrap_or(true);
    let (mut given_name, mut family_name) = (None, None);
    let mut name_rest = Map::new();
    match take(&mut body, "name") {
        None | Some(Value::Null) => {}
        Some(Value::Object(mut name)) => {
            given_name = opt_string(take(&mut name, "givenName"), "name.givenName")?;
            family_name = opt_string(take(&mut name, "familyName"), "name.familyName")?;
            name_rest = name;
        }
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "name must be an object, not {other}"
            )));
        }
    }
    let mut emails = Vec::new();
    for item in many(take(&mut body, "emails")) {
        let email = match item {
            Value::String(value) => Email {
                value,
                kind: None,
                primary: false,
            },
            Value::Object(mut e) => Email {
                value: strict_string(take(&mut e, "value"), "emails.value")?
                    .ok_or_else(|| ScimError::invalid_value("every e-mail needs a value"))?,
                kind: opt_string(take(&mut e, "type"), "emails.type")?,
                primary: opt_bool(take(&mut e, "primary"), "emails.primary")?.unwrap_or(false),
            },
            other => {
                return Err(ScimError::invalid_value(format!(
                    "emails must hold objects, not {other}"
                )));
            }
        };
        if !email.value.trim().is_empty() {
            emails.push(email);
        }
    }
    let mut roles = Vec::new();
    let roles_sent = take(&mut body, "roles");
    let roles_kept = roles_sent
        .clone()
        .filter(|r| !r.is_null() && r.as_array().is_none_or(|a| !a.is_empty()));
    for item in many(roles_sent) {
        let value = match item {
            Value::String(s) => s,
            Value::Object(mut r) => match opt_string(take(&mut r, "value"), "roles.value")? {
                Some(v) => v,
                None => continue,
            },
            other => {
                return Err(ScimError::invalid_value(format!(
                    "roles must hold objects, not {other}"
                )));
            }
        };
        if value.trim().is_empty() {
            continue;
        }
        let role = Role::parse(&value).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "{value:?} is not a role of this workspace (admin, reviewer or labeler)"
            ))
        })?;
        roles.push(role);
    }
    for attr in Resource::User.ignored_on_write() {
        take(&mut body, attr);
    }
    // The workspace extension's effectiveRole is computed: what else a client writes there is
    // kept like any other attribute.
    if let Some(key) = find_key(&body, WORKSPACE_USER) {
        if let Some(Value::Object(ext)) = body.get_mut(&key) {
            take(ext, "effectiveRole");
        }
        if !body[&key].is_object() || body[&key].as_object().is_some_and(|o| o.is_empty()) {
            body.remove(&key);
        }
    }
    // `urn:…:enterprise:2.0:User:department` at the top level belongs in the extension object.
    // (`get` and `strip_prefix`, not slicing: any key may hold multi-byte characters there.)
    let prefixed: Vec<(String, String)> = body
        .keys()
        .filter(|k| starts_with_ignore_case(k, ENTERPRISE_USER))
        .filter_map(|k| {
            let attr = k.get(ENTERPRISE_USER.len()..)?.strip_prefix(':')?;
            (!attr.is_empty()).then(|| (k.clone(), attr.to_string()))
        })
        .collect();
    for (key, attr) in prefixed {
        let value = body.remove(&key).unwrap_or(Value::Null);
        let ext_key =
            find_key(&body, ENTERPRISE_USER).unwrap_or_else(|| ENTERPRISE_USER.to_string());
        let ext = body.entry(ext_key).or_insert_with(|| json!({}));
        if let Some(obj) = ext.as_object_mut() {
            obj.insert(attr, value);
        }
    }
    if !name_rest.is_empty() {
        body.insert("name".into(), Value::Object(name_rest));
    }
    // `roles` is echoed as the IdP sent it (with its display, type and primary).
    if let Some(roles) = roles_kept {
        body.insert("roles".into(), Value::Array(many(Some(roles))));
    }
    Ok(UserInput {
        user_name,
        external_id,
        display_name,
        given_name,
        family_name,
        active,
        emails,
        roles,
        attributes: body,
    })
}

pub fn location(base: &str, id: &str) -> String {
    Url::user(base, id).to_string()
}

/// The SCIM representation of a user.
pub fn render(user: &User, base: &str) -> Value {
    let mut out = Map::new();
    let mut schemas = vec![json!(USER_SCHEMA)];
    if find_key(&user.attributes, ENTERPRISE_USER).is_some() {
        schemas.push(json!(ENTERPRISE_USER));
    }
    schemas.push(json!(WORKSPACE_USER));
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(user.id));
    if let Some(e) = &user.external_id {
        out.insert("externalId".into(), json!(e));
    }
    out.insert("userName".into(), json!(user.user_name));
    // Kept attributes first, so the columns below win over a stale copy.
    for (k, v) in &user.attributes {
        out.insert(k.clone(), v.clone());
    }
    let mut name = match user.attributes.get("name") {
        Some(Value::Object(n)) => n.clone(),
        _ => Map::new(),
    };
    if let Some(g) = &user.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &user.family_name {
        name.insert("familyName".into(), json!(f));
    }
    if !name.is_empty() {
        out.insert("name".into(), Value::Object(name));
    }
    if let Some(d) = &user.display_name {
        out.insert("displayName".into(), json!(d));
    }
    out.insert("active".into(), json!(user.active));
    if !user.emails.is_empty() {
        let emails: Vec<Value> = user
            .emails
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("value".into(), json!(e.value));
                if let Some(t) = &e.kind {
                    m.insert("type".into(), json!(t));
                }
                m.insert("primary".into(), json!(e.primary));
                Value::Object(m)
            })
            .collect();
        out.insert("emails".into(), Value::Array(emails));
    }
    if let Some(role) = user.direct_role
        && !out.contains_key("roles")
    {
        out.insert("roles".into(), json!([{ "value": role.as_str() }]));
    }
    if !user.groups.is_empty() {
        let groups: Vec<Value> = user
            .groups
            .iter()
            .map(|g| json!({ "value": g.id, "display": g.display_name, "$ref": Url::group(base, &g.id).to_string() }))
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    let mut workspace =
        match find_key(&user.attributes, WORKSPACE_USER).and_then(|k| user.attributes.get(&k)) {
            Some(Value::Object(kept)) => kept.clone(),
            _ => Map::new(),
        };
    workspace.insert("effectiveRole".into(), json!(user.effective_role.as_str()));
    if let Some(key) = find_key(&out, WORKSPACE_USER) {
        out.shift_remove(&key);
    }
    out.insert(WORKSPACE_USER.into(), Value::Object(workspace));
    out.insert(
        "meta".into(),
        meta(
            "User",
            location(base, &user.id),
            user.created_at,
            user.updated_at,
            user.version,
        ),
    );
    Value::Object(out)
}

/// The user as a response shows it: `effectiveRole` (returned on request) only when
/// `attributes` names it or its extension, then the projection.
pub fn present(user: &User, base: &str, projection: &Projection) -> Value {
    let mut value = render(user, base);
    let requested = projection.attributes.iter().any(|a| {
        a.eq_ignore_ascii_case(WORKSPACE_USER)
            || a.eq_ignore_ascii_case(&format!("{WORKSPACE_USER}:effectiveRole"))
    });
    if !requested && let Some(map) = value.as_object_mut() {
        let empty = match map.get_mut(WORKSPACE_USER) {
            Some(Value::Object(ext)) => {
                ext.shift_remove("effectiveRole");
                ext.is_empty()
            }
            _ => true,
        };
        if empty {
            map.shift_remove(WORKSPACE_USER);
            if let Some(Value::Array(schemas)) = map.get_mut("schemas") {
                schemas.retain(|s| s != WORKSPACE_USER);
            }
        }
    }
    projection.apply_for(value, Resource::User)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_content_of_the_workspace_extension_is_kept_but_not_effective_role() {
        let Value::Object(body) = json!({
            "userName": "a@b.c",
            WORKSPACE_USER: { "schemas": [WORKSPACE_USER], "effectiveRole": "admin" }
        }) else {
            unreachable!()
        };
        let input = parse(body).unwrap();
        assert_eq!(
            input.attributes[WORKSPACE_USER],
            json!({ "schemas": [WORKSPACE_USER] })
        );
    }
}

#[cfg(test)]
mod patch_tests {
    use super::*;
    use crate::scim::patch;

    #[test]
    fn patching_the_workspace_extension_keeps_client_content() {
        let doc = json!({
            "schemas": [USER_SCHEMA, WORKSPACE_USER],
            "id": "1",
            "userName": "a@b.c",
            "active": true,
            WORKSPACE_USER: { "effectiveRole": "labeler" },
            "meta": {}
        });
        let Value::Object(body) = json!({ "Operations": [{ "op": "add", "path": WORKSPACE_USER, "value": { "schemas": [WORKSPACE_USER] } }] })
        else {
            unreachable!()
        };
        let ops = patch::parse(body).unwrap();
        let patched = patch::apply(doc, &ops, Resource::User).unwrap();
        assert_eq!(
            patched[WORKSPACE_USER],
            json!({ "effectiveRole": "labeler", "schemas": [WORKSPACE_USER] }),
            "{patched}"
        );
        let Value::Object(map) = patched else {
            unreachable!()
        };
        let input = parse(map).unwrap();
        assert_eq!(
            input.attributes[WORKSPACE_USER],
            json!({ "schemas": [WORKSPACE_USER] })
        );
    }
}
