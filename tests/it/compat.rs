//! Replays the request sequences Okta and Entra send (tests/fixtures/idp) against the running
//! gateway and checks every response.

use std::collections::HashMap;

use serde_json::Value;

use crate::common::Scim;

fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

fn substitute_json(value: &Value, vars: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(substitute(s, vars)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| substitute_json(i, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_json(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `expected` is contained in `actual`: objects by key (with `$any` / `$absent`), arrays
/// element-wise with equal length (`{"$unordered": [...]}`: in any order), scalars equal.
fn contains(actual: Option<&Value>, expected: &Value, at: &str) -> Result<(), String> {
    if let (Some(Value::Array(wanted)), Some(actual)) = (expected.get("$unordered"), actual) {
        return contains_unordered(actual, wanted, at);
    }
    match (expected, actual) {
        (Value::String(s), None) if s == "$absent" => Ok(()),
        (Value::String(s), Some(a)) if s == "$absent" => {
            Err(format!("{at}: expected no value, found {a}"))
        }
        (Value::String(s), Some(_)) if s == "$any" => Ok(()),
        (_, None) => Err(format!("{at}: missing, expected {expected}")),
        (Value::Object(e), Some(Value::Object(a))) => {
            for (k, v) in e {
                contains(a.get(k), v, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Some(Value::Array(a))) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{at}: expected {} items, found {}: {}",
                    e.len(),
                    a.len(),
                    Value::Array(a.clone())
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                contains(Some(av), ev, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (e, Some(a)) if e == a => Ok(()),
        (e, Some(a)) => Err(format!("{at}: expected {e}, found {a}")),
    }
}

/// Each of `wanted` matches its own item of `actual`, which has no others.
fn contains_unordered(actual: &Value, wanted: &[Value], at: &str) -> Result<(), String> {
    let Value::Array(items) = actual else {
        return Err(format!("{at}: expected an array, found {actual}"));
    };
    if items.len() != wanted.len() {
        return Err(format!(
            "{at}: expected {} items, found {}: {actual}",
            wanted.len(),
            items.len()
        ));
    }
    let mut free: Vec<&Value> = items.iter().collect();
    for w in wanted {
        let Some(i) = free.iter().position(|a| contains(Some(a), w, at).is_ok()) else {
            return Err(format!("{at}: no item matches {w} in {actual}"));
        };
        free.remove(i);
    }
    Ok(())
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// Checks one answer against a step (or a step's `readBack`): status, content type, `headers`
/// and `expect`; a created resource's `Location` and any resource's `ETag` against its `meta`.
fn check(
    label: &str,
    step: &Value,
    r: &crate::common::ScimResponse,
    vars: &HashMap<String, String>,
) {
    let expected_status = step["status"]
        .as_u64()
        .unwrap_or_else(|| panic!("{label}: no status"));
    assert_eq!(
        r.status.as_u16() as u64,
        expected_status,
        "{label}: {}",
        r.body
    );
    let header = |name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_string());
    if r.status.as_u16() == 204 {
        assert_eq!(r.body, Value::Null, "{label}: a 204 with a body");
    } else {
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/scim+json"),
            "{label}"
        );
    }
    if r.status.as_u16() == 201 {
        let location = header("location");
        assert!(location.is_some(), "{label}: a 201 without Location");
        assert_eq!(
            location.as_deref(),
            r.body["meta"]["location"].as_str(),
            "{label}: Location is not the new resource's meta.location"
        );
    }
    if let Some(version) = r.body["meta"]["version"].as_str() {
        assert_eq!(header("etag").as_deref(), Some(version), "{label}: ETag");
    }
    if let Some(Value::Object(headers)) = step.get("headers") {
        for (name, value) in headers {
            let value = substitute_json(value, vars);
            let found = header(name).map(Value::String);
            if let Err(e) = contains(found.as_ref(), &value, &format!("header {name}")) {
                panic!("{label}: {e}");
            }
        }
    }
    if let Some(expect) = step.get("expect") {
        let expect = substitute_json(expect, vars);
        if let Err(e) = contains(Some(&r.body), &expect, "body") {
            panic!("{label}: {e}\nresponse: {}", r.body);
        }
    }
}

async fn replay(file: &str) {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/idp/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let script: Value = serde_json::from_str(&text).unwrap();
    let s = Scim::start().await;
    let user_agent = script["userAgent"].as_str().unwrap_or("test");
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("base".into(), s.base.clone());
    for step in script["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap();
        let label = format!("{file} / {name}");
        let path = substitute(step["path"].as_str().unwrap(), &vars);
        let body = step.get("body").map(|b| substitute_json(b, &vars));
        let r = s
            .call_with(
                step["method"].as_str().unwrap(),
                &path,
                body,
                &[("User-Agent", user_agent)],
            )
            .await;
        // Captured first, so that the step's own `headers` and `expect` can name the new id.
        if let Some(Value::Object(captures)) = step.get("capture") {
            for (var, path) in captures {
                let value = lookup(&r.body, path.as_str().unwrap())
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{label}: nothing at {path}: {}", r.body));
                vars.insert(var.clone(), value.to_string());
            }
        }
        check(&label, step, &r, &vars);
        // An answer without a body proves nothing of the write: read its effect back.
        let read_back = step.get("readBack");
        assert!(
            r.status.as_u16() != 204 || read_back.is_some(),
            "{label}: answered 204 but the fixture reads nothing back"
        );
        if let Some(read_back) = read_back {
            let path = substitute(read_back["path"].as_str().unwrap(), &vars);
            let r = s
                .call_with("GET", &path, None, &[("User-Agent", user_agent)])
                .await;
            check(&format!("{label} (read back)"), read_back, &r, &vars);
        }
    }
    // Every write and failure was recorded, attributed to the IdP by its User-Agent.
    use scim_gateway::entities::activity;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let entries = activity::Entity::find()
        .filter(activity::Column::Actor.starts_with("key "))
        .all(&s.app.db)
        .await
        .unwrap();
    assert!(!entries.is_empty());
    let client = if user_agent.contains("Okta") {
        "(Okta)"
    } else {
        "(Entra)"
    };
    assert!(
        entries.iter().all(|e| e.actor.ends_with(client)),
        "{file}: actors {:?}",
        entries.iter().map(|e| &e.actor).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn okta_app_wizard_put_sequence() {
    replay("okta-app-wizard-put.json").await;
}

#[tokio::test]
async fn okta_catalog_patch_sequence() {
    replay("okta-catalog-patch.json").await;
}

#[tokio::test]
async fn entra_default_dialect_sequence() {
    replay("entra-default.json").await;
}

#[tokio::test]
async fn entra_aadoptscim062020_sequence() {
    replay("entra-aadoptscim062020.json").await;
}
