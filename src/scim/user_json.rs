//! A user's default SCIM representation written straight to the response, without building a
//! `serde_json::Value` first: a page of 100 users was mostly map inserts and clones. It writes
//! exactly what `users::present` gives with no `attributes`/`excludedAttributes` (a unit test
//! compares the two), and falls back to it for a kept attribute it does not expect.
//!
//! Hand-written for speed, on purpose (figures in `json_out`). Pinned to the general path by
//! `writes_what_the_general_path_writes` below, over users with every kind of attribute.

use serde_json::{Map, Value};

use crate::domain::users::User;
use crate::scim::json_out::JsonOut;
use crate::scim::resource::{
    ENTERPRISE_USER, Projection, Timestamp, USER_SCHEMA, Url, WORKSPACE_USER, find_key,
};
use crate::scim::user_resource as users;

pub struct UserJson<'a> {
    pub user: &'a User,
    pub base: &'a str,
}

impl UserJson<'_> {
    /// Kept attributes as `users::parse` stores them: core attributes taken out, `name` an
    /// object. Anything else is written the slow way.
    fn is_plain(&self) -> bool {
        self.user
            .attributes
            .get("name")
            .is_none_or(Value::is_object)
    }

    /// Writes the user where `json` stands (an answer, or an element of a list).
    pub fn write(&self, json: &mut JsonOut) {
        let user = self.user;
        if !self.is_plain() {
            json.serde(&users::present(user, self.base, &Projection::default()));
            return;
        }
        let attributes = &user.attributes;
        let workspace_key = find_key(attributes, WORKSPACE_USER);
        let workspace = workspace_key
            .as_ref()
            .and_then(|k| attributes.get(k))
            .and_then(Value::as_object)
            .filter(|kept| !kept.is_empty());

        json.open('{');
        json.key("schemas");
        json.open('[');
        json.element();
        json.string(USER_SCHEMA);
        if find_key(attributes, ENTERPRISE_USER).is_some() {
            json.element();
            json.string(ENTERPRISE_USER);
        }
        if workspace.is_some() {
            json.element();
            json.string(WORKSPACE_USER);
        }
        json.close(']');
        json.key("id");
        json.string(&user.id);
        if let Some(e) = &user.external_id {
            json.key("externalId");
            json.string(e);
        }
        json.key("userName");
        json.string(&user.user_name);
        for (key, value) in attributes {
            if Some(key) == workspace_key.as_ref() {
                continue;
            }
            json.key_of(key);
            if key == "name" {
                write_name(json, user);
            } else {
                json.serde(value);
            }
        }
        if !attributes.contains_key("name") && !name_is_empty(user) {
            json.key("name");
            write_name(json, user);
        }
        if let Some(d) = &user.display_name {
            json.key("displayName");
            json.string(d);
        }
        json.key("active");
        json.bool(user.active);
        if !user.emails.is_empty() {
            json.key("emails");
            json.open('[');
            for email in &user.emails {
                json.element();
                json.open('{');
                json.key("value");
                json.string(&email.value);
                if let Some(kind) = &email.kind {
                    json.key("type");
                    json.string(kind);
                }
                json.key("primary");
                json.bool(email.primary);
                json.close('}');
            }
            json.close(']');
        }
        if let Some(role) = user.direct_role
            && !attributes.contains_key("roles")
        {
            json.key("roles");
            json.open('[');
            json.element();
            json.open('{');
            json.key("value");
            json.string(role.as_str());
            json.close('}');
            json.close(']');
        }
        if !user.groups.is_empty() {
            json.key("groups");
            json.open('[');
            for group in &user.groups {
                json.element();
                json.open('{');
                json.key("value");
                json.string(&group.id);
                json.key("display");
                json.string(&group.display_name);
                json.key("$ref");
                write_url(json, Url::group(self.base, &group.id));
                json.close('}');
            }
            json.close(']');
        }
        if let Some(kept) = workspace {
            json.key(WORKSPACE_USER);
            json.serde(kept);
        }
        json.key("meta");
        json.open('{');
        json.key("resourceType");
        json.string("User");
        json.key("created");
        json.display(Timestamp(user.created_at));
        json.key("lastModified");
        json.display(Timestamp(user.updated_at));
        json.key("location");
        write_url(json, Url::user(self.base, &user.id));
        json.key("version");
        // `W/"7"` as `resource::ETag` writes it, its quotes escaped.
        json.raw("\"W/\\\"");
        json.number(user.version);
        json.raw("\\\"\"");
        json.close('}');
        json.close('}');
    }
}

fn write_url(json: &mut JsonOut, Url(base, collection, id): Url) {
    json.string_of(&[base, collection, id]);
}

fn kept_name(user: &User) -> Option<&Map<String, Value>> {
    user.attributes.get("name").and_then(Value::as_object)
}

fn name_is_empty(user: &User) -> bool {
    kept_name(user).is_none_or(Map::is_empty)
        && user.given_name.is_none()
        && user.family_name.is_none()
}

/// The kept `name` object with the account's given and family names: a kept key of the same
/// name is replaced in place, as a map insert would.
fn write_name(json: &mut JsonOut, user: &User) {
    let kept = kept_name(user);
    let given = user.given_name.as_ref();
    let family = user.family_name.as_ref();
    json.open('{');
    for (key, value) in kept.into_iter().flatten() {
        json.key_of(key);
        match (key.as_str(), given, family) {
            ("givenName", Some(given), _) => json.string(given),
            ("familyName", _, Some(family)) => json.string(family),
            _ => json.serde(value),
        }
    }
    let has = |k: &str| kept.is_some_and(|m| m.contains_key(k));
    if let Some(g) = given
        && !has("givenName")
    {
        json.key("givenName");
        json.string(g);
    }
    if let Some(f) = family
        && !has("familyName")
    {
        json.key("familyName");
        json.string(f);
    }
    json.close('}');
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::domain::roles::Role;
    use crate::domain::users::{Email, GroupRef, User};

    fn user(attributes: Value) -> User {
        User {
            id: "u1".into(),
            workspace_id: "w".into(),
            account_id: "a".into(),
            user_name: "jane@example.com".into(),
            external_id: Some("ext-1".into()),
            display_name: Some("Jane".into()),
            given_name: Some("Jane".into()),
            family_name: None,
            active: true,
            direct_role: Some(Role::Reviewer),
            effective_role: Role::Reviewer,
            is_owner: false,
            emails: vec![
                Email {
                    value: "jane@example.com".into(),
                    kind: Some("work".into()),
                    primary: true,
                },
                Email {
                    value: "j@home.example".into(),
                    kind: None,
                    primary: false,
                },
            ],
            groups: vec![GroupRef {
                id: "g1".into(),
                display_name: "QA".into(),
            }],
            attributes: attributes.as_object().cloned().unwrap_or_default(),
            version: 7,
            created_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            updated_at: Utc.with_ymd_and_hms(2026, 2, 3, 4, 5, 6).unwrap(),
        }
    }

    /// Byte for byte what the general path writes, key order included.
    fn assert_same(user: &User) {
        let base = "http://gw/api/teams/w/scim/v2";
        let mut fast = Vec::new();
        UserJson { user, base }.write(&mut JsonOut::new(&mut fast));
        let fast = String::from_utf8(fast).unwrap();
        let general = users::present(user, base, &Projection::default()).to_string();
        assert_eq!(fast, general);
    }

    #[test]
    fn writes_what_the_general_path_writes() {
        assert_same(&user(json!({})));
        assert_same(&user(json!({
            "nickName": "JJ",
            "name": { "middleName": "Q", "formatted": "Jane Q" },
            "phoneNumbers": [{ "value": "+1 555", "type": "work" }],
            ENTERPRISE_USER: { "department": "Ops", "manager": { "value": "m1" } },
            "roles": [{ "value": "reviewer", "primary": true }],
        })));
        assert_same(&user(json!({
            "urn:scim-gateway:schemas:extension:WORKSPACE:2.0:User": { "team": "blue" },
            "title": "Lead",
        })));
        assert_same(&user(json!({ WORKSPACE_USER: {} })));
        assert_same(&user(json!({ "name": "not an object" })));

        let mut bare = user(json!({}));
        bare.external_id = None;
        bare.display_name = None;
        bare.given_name = None;
        bare.direct_role = None;
        bare.emails.clear();
        bare.groups.clear();
        bare.active = false;
        assert_same(&bare);
        bare.family_name = Some("Doe".into());
        assert_same(&bare);
    }
}
