//! Shared pieces of the SCIM wire format: schema URNs, `meta`, lenient reading of IdP JSON
//! (case-insensitive keys, booleans as strings), and `attributes`/`excludedAttributes`.

use crate::domain::starts_with_ignore_case;
use std::fmt;

use crate::domain::attributes::Resource;
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::scim::error::{ScimError, ScimResult};

pub use crate::domain::attributes::{
    ENTERPRISE_USER_URN as ENTERPRISE_USER, GROUP_URN as GROUP_SCHEMA, USER_URN as USER_SCHEMA,
    WORKSPACE_USER_URN as WORKSPACE_USER,
};
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub fn timestamp(at: DateTime<Utc>) -> String {
    Timestamp(at).to_string()
}

/// A time as SCIM `meta` writes it, `2026-01-23T04:56:22.123Z` (RFC 3339, milliseconds, UTC),
/// written where it goes: every rendered resource has two.
pub struct Timestamp(pub DateTime<Utc>);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.0;
        let (year, nanos) = (at.year(), at.nanosecond());
        // Years of other than four digits and leap seconds: as chrono writes them.
        if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
            return f.write_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |end: usize, mut n: u32| {
            let mut i = end;
            while n > 0 {
                i -= 1;
                out[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(4, year.unsigned_abs());
        put(7, at.month());
        put(10, at.day());
        put(13, at.hour());
        put(16, at.minute());
        put(19, at.second());
        put(23, nanos / 1_000_000);
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `W/"<version>"`.
pub fn etag(version: i64) -> String {
    ETag(version).to_string()
}

/// A resource's weak ETag, `W/"3"`, written where it goes.
pub struct ETag(pub i64);

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "W/\"{}\"", self.0)
    }
}

impl Serialize for ETag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A resource's URL, `{base}{collection}{id}` (`…/scim/v2` + `/Users/` + id), written where it
/// goes.
pub struct Url<'a>(pub &'a str, pub &'static str, pub &'a str);

impl<'a> Url<'a> {
    pub fn user(base: &'a str, id: &'a str) -> Self {
        Url(base, "/Users/", id)
    }

    pub fn group(base: &'a str, id: &'a str) -> Self {
        Url(base, "/Groups/", id)
    }
}

impl fmt::Display for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)?;
        f.write_str(self.1)?;
        f.write_str(self.2)
    }
}

impl Serialize for Url<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

pub fn meta(
    resource_type: &str,
    location: String,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    version: i64,
) -> Value {
    json!({
        "resourceType": resource_type,
        "created": timestamp(created),
        "lastModified": timestamp(modified),
        "location": location,
        "version": etag(version),
    })
}

/// The key of `map` equal to `name` ignoring case.
/// A body's `schemas`, when sent, must name the resource's core schema: a body of another
/// resource, or of a schema this server doesn't know, is refused rather than read as this one.
/// Extension schemas beside the core one are fine.
pub fn require_core_schema(body: &Map<String, Value>, core: &str) -> ScimResult<()> {
    let Some(key) = find_key(body, "schemas") else {
        return Ok(());
    };
    let names_core = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case(core))
    };
    match &body[&key] {
        Value::Null => Ok(()),
        Value::Array(items) if items.is_empty() || items.iter().any(names_core) => Ok(()),
        single if names_core(single) => Ok(()),
        other => Err(crate::scim::ScimError::invalid_value(format!(
            "schemas must include {core}, not only {other}"
        ))),
    }
}

pub fn find_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Removes and returns `name` (case-insensitive).
pub fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = find_key(map, name)?;
    map.remove(&key)
}

/// A string attribute: string, number (as text) or null/absent.
pub fn opt_string(value: Option<Value>, attr: &str) -> ScimResult<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(ScimError::invalid_value(format!(
            "{attr} must be a string, not {other}"
        ))),
    }
}

/// A string attribute that keys or names something (`userName`, group `displayName`,
/// `members.value`, `emails.value`): a number, boolean, object or array there is a broken IdP
/// mapping, refused rather than stored as its text.
pub fn strict_string(value: Option<Value>, attr: &str) -> ScimResult<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => {
            let kind = match other {
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                Value::Array(_) => "an array",
                _ => "an object",
            };
            Err(ScimError::invalid_value(format!(
                "{attr} must be a string, not {kind} ({other}): check the IdP's attribute mapping"
            )))
        }
    }
}

/// A boolean attribute, also as the strings "True"/"False" Entra sends.
pub fn opt_bool(value: Option<Value>, attr: &str) -> ScimResult<Option<bool>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(ScimError::invalid_value(format!(
            "{attr} must be true or false, not {other}"
        ))),
    }
}

/// A multi-valued attribute: an array, or leniently a single object or scalar.
pub fn many(value: Option<Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.into_iter().filter(|v| !v.is_null()).collect(),
        Some(one) => vec![one],
    }
}

/// `attributes` / `excludedAttributes` of a request, as lists of paths.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl Projection {
    /// No `attributes` or `excludedAttributes`: the default representation.
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Projection {
        let split = |s: Option<&str>| {
            s.map(|s| {
                s.split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        };
        Projection {
            attributes: split(attributes),
            excluded: split(excluded),
        }
    }

    /// Whether `attr` (top level) is wanted: for expensive attributes like `members`.
    pub fn wants(&self, attr: &str) -> bool {
        let names = |list: &[String]| list.iter().any(|a| top_level(a).eq_ignore_ascii_case(attr));
        if !self.attributes.is_empty() {
            return names(&self.attributes);
        }
        !self.excluded.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }

    /// Applies the projection to a rendered resource of type `resource`: `schemas`, `id`, `meta`
    /// and the attributes the attribute table marks `returned: "always"` stay.
    pub fn apply_for(&self, resource: Value, resource_type: Resource) -> Value {
        let always: Vec<&str> = resource_type.always_returned().collect();
        self.apply_keeping(resource, &always)
    }

    /// Applies the projection, keeping `schemas`, `id`, `meta` and `always_returned`.
    fn apply_keeping(&self, mut resource: Value, always_returned: &[&str]) -> Value {
        let Some(map) = resource.as_object_mut() else {
            return resource;
        };
        if !self.attributes.is_empty() {
            let mut kept = Map::new();
            for always in ["schemas", "id", "meta"].iter().chain(always_returned) {
                if let Some(key) = find_key(map, always)
                    && let Some(v) = map.remove(&key)
                {
                    kept.insert(key, v);
                }
            }
            for path in &self.attributes {
                copy_path(map, &mut kept, path);
            }
            *map = kept;
        }
        for path in &self.excluded {
            if always_returned.iter().any(|a| a.eq_ignore_ascii_case(path)) {
                continue;
            }
            let (urn, rest) = split_urn(path);
            let target = match urn {
                Some(urn) => match find_key(map, urn)
                    .and_then(|k| map.get_mut(&k))
                    .and_then(Value::as_object_mut)
                {
                    Some(ext) => ext,
                    None => continue,
                },
                None => &mut *map,
            };
            remove_path(target, rest);
        }
        resource
    }
}

fn top_level(path: &str) -> &str {
    let (_, rest) = split_urn(path);
    rest.split('.').next().unwrap_or(rest)
}

/// `urn:…:Resource:attr.sub` → (Some(urn), "attr.sub"); a plain path → (None, path).
pub fn split_urn(path: &str) -> (Option<&str>, &str) {
    if path.len() > 4 && starts_with_ignore_case(path, "urn:") {
        match path.rfind(':') {
            Some(i) => {
                let (urn, rest) = (&path[..i], &path[i + 1..]);
                // `urn:…:enterprise:2.0:User` itself names the extension object.
                if rest.contains('.') || !rest.chars().next().is_some_and(char::is_uppercase) {
                    (Some(urn), rest)
                } else {
                    (None, path)
                }
            }
            None => (None, path),
        }
    } else {
        (None, path)
    }
}

/// `name.sub` → ("name", Some("sub")); a bare URN (which has dots in its version) is one name.
fn split_sub(path: &str) -> (&str, Option<&str>) {
    if path.len() > 4 && starts_with_ignore_case(path, "urn:") {
        return (path, None);
    }
    match path.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (path, None),
    }
}

fn copy_path(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &str) {
    let (urn, rest) = split_urn(path);
    if let Some(urn) = urn {
        if let Some(key) = find_key(from, urn)
            && let Some(Value::Object(ext)) = from.get(&key)
        {
            let entry = to.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if let Some(target) = entry.as_object_mut() {
                copy_path(ext, target, rest);
            }
        }
        return;
    }
    let (name, sub) = split_sub(rest);
    let Some(key) = find_key(from, name) else {
        return;
    };
    match (sub, from.get(&key)) {
        (None, Some(v)) => {
            to.insert(key, v.clone());
        }
        (Some(sub), Some(Value::Object(inner))) => {
            if let Some(sub_key) = find_key(inner, sub) {
                let entry = to.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if let Some(obj) = entry.as_object_mut() {
                    obj.insert(sub_key.clone(), inner[&sub_key].clone());
                }
            }
        }
        (Some(sub), Some(Value::Array(items))) => {
            let picked: Vec<Value> = items
                .iter()
                .filter_map(|item| {
                    let obj = item.as_object()?;
                    let k = find_key(obj, sub)?;
                    let mut one = Map::new();
                    one.insert(k.clone(), obj[&k].clone());
                    Some(Value::Object(one))
                })
                .collect();
            to.insert(key, Value::Array(picked));
        }
        _ => {}
    }
}

fn remove_path(map: &mut Map<String, Value>, path: &str) {
    let (name, sub) = split_sub(path);
    if ["id", "schemas", "meta"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(name))
        && sub.is_none()
    {
        return;
    }
    let Some(key) = find_key(map, name) else {
        return;
    };
    match sub {
        None => {
            map.remove(&key);
        }
        Some(sub) => match map.get_mut(&key) {
            Some(Value::Object(inner)) => {
                if let Some(k) = find_key(inner, sub) {
                    inner.remove(&k);
                }
            }
            Some(Value::Array(items)) => {
                for item in items {
                    if let Some(obj) = item.as_object_mut()
                        && let Some(k) = find_key(obj, sub)
                    {
                        obj.remove(&k);
                    }
                }
            }
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_keeps_always_returned_and_picks_sub_attributes() {
        let user = json!({
            "schemas": [USER_SCHEMA], "id": "1", "meta": {"version": "W/\"1\""},
            "userName": "a", "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x", "type": "work"}],
            ENTERPRISE_USER: {"department": "R&D", "costCenter": "7"}
        });
        let p = Projection::parse(
            Some(
                "userName,name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ),
            None,
        );
        let out = p.apply_keeping(user.clone(), &[]);
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA], "id": "1", "meta": {"version": "W/\"1\""},
                "userName": "a", "name": {"givenName": "A"}, "emails": [{"value": "a@x"}],
                ENTERPRISE_USER: {"department": "R&D"}
            })
        );
        let p = Projection::parse(None, Some("emails,name.familyName,id"));
        let out = p.apply_keeping(user, &[]);
        assert!(out.get("emails").is_none());
        assert_eq!(out["name"], json!({"givenName": "A"}));
        assert_eq!(out["id"], "1");
    }

    #[test]
    fn lenient_scalars() {
        assert_eq!(
            opt_bool(Some(json!("False")), "active").unwrap(),
            Some(false)
        );
        assert!(opt_bool(Some(json!("maybe")), "active").is_err());
        assert_eq!(
            opt_string(Some(json!(42)), "externalId").unwrap(),
            Some("42".into())
        );
        assert_eq!(many(Some(json!("a@x"))), vec![json!("a@x")]);
    }

    /// The hand-written timestamp equals chrono's RFC 3339 with milliseconds, over 40,000 times
    /// spread from year 0 to 9999 (and out of that range, where chrono writes it).
    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        use chrono::{DateTime, SecondsFormat};
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let earliest = -62_167_219_200_i64; // 0000-01-01
        let latest = 253_402_300_799_i64; // 9999-12-31T23:59:59
        let mut times: Vec<(i64, u32)> = (0..40_000)
            .map(|_| {
                let secs = earliest + (next() % (latest - earliest) as u64) as i64;
                (secs, (next() % 1_000_000_000) as u32)
            })
            .collect();
        times.extend([
            (0, 0),
            (earliest, 0),
            (latest, 999_999_999),
            (latest + 1, 0),
            (earliest - 1, 5),
        ]);
        for (secs, nanos) in times {
            let at = DateTime::from_timestamp(secs, nanos).unwrap();
            assert_eq!(
                Timestamp(at).to_string(),
                at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "{secs} s {nanos} ns"
            );
        }
        assert_eq!(ETag(42).to_string(), "W/\"42\"");
        assert_eq!(
            Url::user("https://x/scim/v2", "u1").to_string(),
            "https://x/scim/v2/Users/u1"
        );
    }
}
