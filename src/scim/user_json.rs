//! A user's default SCIM representation written straight to the response, without building a
//! `serde_json::Value` first: a page of 100 users was mostly map inserts and clones. It writes
//! exactly what `users::present` gives with no `attributes`/`excludedAttributes` (a unit test
//! compares the two), and falls back to it for a kept attribute it does not expect.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::domain::users::User;
use crate::scim::resource::{
    ENTERPRISE_USER, ETag, Projection, Timestamp, USER_SCHEMA, Url, WORKSPACE_USER, find_key,
};
use crate::scim::users;

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
}

impl Serialize for UserJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let user = self.user;
        if !self.is_plain() {
            return users::present(user, self.base, &Projection::default()).serialize(serializer);
        }
        let attributes = &user.attributes;
        let workspace_key = find_key(attributes, WORKSPACE_USER);
        let workspace = workspace_key
            .as_ref()
            .and_then(|k| attributes.get(k))
            .and_then(Value::as_object)
            .filter(|kept| !kept.is_empty());

        let mut map = serializer.serialize_map(None)?;
        let mut schemas = vec![USER_SCHEMA];
        if find_key(attributes, ENTERPRISE_USER).is_some() {
            schemas.push(ENTERPRISE_USER);
        }
        if workspace.is_some() {
            schemas.push(WORKSPACE_USER);
        }
        map.serialize_entry("schemas", &schemas)?;
        map.serialize_entry("id", &user.id)?;
        if let Some(e) = &user.external_id {
            map.serialize_entry("externalId", e)?;
        }
        map.serialize_entry("userName", &user.user_name)?;
        let name = Name { user };
        for (key, value) in attributes {
            if Some(key) == workspace_key.as_ref() {
                continue;
            }
            if key == "name" {
                map.serialize_entry("name", &name)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        if !attributes.contains_key("name") && !name.is_empty() {
            map.serialize_entry("name", &name)?;
        }
        if let Some(d) = &user.display_name {
            map.serialize_entry("displayName", d)?;
        }
        map.serialize_entry("active", &user.active)?;
        if !user.emails.is_empty() {
            map.serialize_entry("emails", &Emails { user })?;
        }
        if let Some(role) = user.direct_role
            && !attributes.contains_key("roles")
        {
            map.serialize_entry(
                "roles",
                &[Role {
                    value: role.as_str(),
                }],
            )?;
        }
        if !user.groups.is_empty() {
            map.serialize_entry(
                "groups",
                &Groups {
                    user,
                    base: self.base,
                },
            )?;
        }
        if let Some(kept) = workspace {
            map.serialize_entry(WORKSPACE_USER, kept)?;
        }
        map.serialize_entry(
            "meta",
            &Meta {
                resource_type: "User",
                created: Timestamp(user.created_at),
                last_modified: Timestamp(user.updated_at),
                location: Url::user(self.base, &user.id),
                version: ETag(user.version),
            },
        )?;
        map.end()
    }
}

/// The kept `name` object with the account's given and family names.
struct Name<'a> {
    user: &'a User,
}

impl Name<'_> {
    fn kept(&self) -> Option<&Map<String, Value>> {
        self.user.attributes.get("name").and_then(Value::as_object)
    }

    fn is_empty(&self) -> bool {
        self.kept().is_none_or(Map::is_empty)
            && self.user.given_name.is_none()
            && self.user.family_name.is_none()
    }
}

impl Serialize for Name<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let kept = self.kept();
        let given = self.user.given_name.as_ref();
        let family = self.user.family_name.as_ref();
        // A kept key of the same name is replaced in place, as a map insert would.
        for (key, value) in kept.into_iter().flatten() {
            match key.as_str() {
                "givenName" if given.is_some() => map.serialize_entry(key, &given)?,
                "familyName" if family.is_some() => map.serialize_entry(key, &family)?,
                _ => map.serialize_entry(key, value)?,
            }
        }
        let has = |k: &str| kept.is_some_and(|m| m.contains_key(k));
        if let Some(g) = given
            && !has("givenName")
        {
            map.serialize_entry("givenName", g)?;
        }
        if let Some(f) = family
            && !has("familyName")
        {
            map.serialize_entry("familyName", f)?;
        }
        map.end()
    }
}

struct Emails<'a> {
    user: &'a User,
}

impl Serialize for Emails<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.user.emails.iter().map(|e| Email {
            value: &e.value,
            kind: e.kind.as_deref(),
            primary: e.primary,
        }))
    }
}

#[derive(serde::Serialize)]
struct Email<'a> {
    value: &'a str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    primary: bool,
}

#[derive(serde::Serialize)]
struct Role<'a> {
    value: &'a str,
}

struct Groups<'a> {
    user: &'a User,
    base: &'a str,
}

impl Serialize for Groups<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.user.groups.iter().map(|g| GroupRef {
            value: &g.id,
            display: &g.display_name,
            reference: Url::group(self.base, &g.id),
        }))
    }
}

#[derive(serde::Serialize)]
struct GroupRef<'a> {
    value: &'a str,
    display: &'a str,
    #[serde(rename = "$ref")]
    reference: Url<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    resource_type: &'static str,
    created: Timestamp,
    last_modified: Timestamp,
    location: Url<'a>,
    version: ETag,
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
        let fast = serde_json::to_string(&UserJson { user, base }).unwrap();
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
