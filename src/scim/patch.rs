//! PATCH (RFC 7644 §3.5.2): operations parsed once, then applied to a resource's JSON document —
//! every path form (`attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`, URN-prefixed, none
//! with a value object) — with the IdP dialects accepted: `op` in any case, `add` ≡ `replace` on
//! singular attributes, `Remove` of `members` with a value list, dotted and URN-prefixed keys in a
//! path-less value, booleans as strings. A value filter is evaluated on the one resource's
//! multi-valued attribute, never on a workspace.

use crate::domain::attributes::{self, Attribute, Resource};
use crate::domain::starts_with_ignore_case;
use serde_json::{Map, Value};

use crate::domain::filter::{self, AttrPath, CompValue, CompareOp, Filter};
use crate::scim::resource::{GROUP_SCHEMA, USER_SCHEMA, find_key, split_urn, take};
use crate::scim::{ScimError, ScimResult};

/// Most operations in one PATCH request.
pub const MAX_OPERATIONS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// `[urn:]attr[[filter]][.sub]`
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub urn: Option<String>,
    pub attr: String,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

impl PatchPath {
    pub fn parse(text: &str) -> ScimResult<PatchPath> {
        let text = text.trim();
        let bad = || ScimError::invalid_path(format!("{text:?} is not a valid attribute path"));
        if text.is_empty() {
            return Err(bad());
        }
        if let Some(open) = text.find('[') {
            let close = text.rfind(']').filter(|c| *c > open).ok_or_else(bad)?;
            let head = &text[..open];
            let (urn, attr) = split_urn(head);
            let filter = filter::parse(&text[open + 1..close]).map_err(|e| {
                ScimError::invalid_path(format!("the filter in {text:?} is invalid: {e}"))
            })?;
            let rest = &text[close + 1..];
            let sub = match rest.strip_prefix('.') {
                Some(s) if !s.is_empty() => Some(s.to_string()),
                None if rest.is_empty() => None,
                _ => return Err(bad()),
            };
            AttrPath::parse(attr).ok_or_else(bad)?;
            return Ok(PatchPath {
                urn: urn.map(str::to_string),
                attr: attr.to_string(),
                filter: Some(filter),
                sub,
            });
        }
        let (urn, rest) = split_urn(text);
        if urn.is_none() && rest.len() > 4 && starts_with_ignore_case(rest, "urn:") {
            // The whole extension object, e.g. `urn:…:enterprise:2.0:User`.
            return Ok(PatchPath {
                urn: None,
                attr: rest.to_string(),
                filter: None,
                sub: None,
            });
        }
        let parsed = AttrPath::parse(rest).ok_or_else(bad)?;
        Ok(PatchPath {
            urn: urn.map(str::to_string),
            attr: parsed.name,
            filter: None,
            sub: parsed.sub,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A PatchOp request body.
pub fn parse(mut body: Map<String, Value>) -> ScimResult<Vec<PatchOp>> {
    // A missing `schemas` is tolerated (IdPs omit it); one naming another message is a client
    // sending the wrong body (a User to PATCH, say).
    if let Some(schemas) = take(&mut body, "schemas") {
        let names_patch_op = |v: &Value| {
            v.as_str()
                .is_some_and(|s| s.trim().eq_ignore_ascii_case(PATCH_OP))
        };
        let ok = match &schemas {
            Value::Null => true,
            Value::Array(items) => items.is_empty() || items.iter().any(names_patch_op),
            single => names_patch_op(single),
        };
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "a PATCH body's schemas must be [\"{PATCH_OP}\"], not {schemas}"
            )));
        }
    }
    let Some(Value::Array(ops)) = take(&mut body, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body needs an \"Operations\" array",
        ));
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("\"Operations\" is empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            Some("tooMany"),
            format!("at most {MAX_OPERATIONS} operations per PATCH"),
        ));
    }
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| {
            let Value::Object(mut op) = op else {
                return Err(ScimError::invalid_syntax(format!(
                    "operation {i} is not an object"
                )));
            };
            let kind = match take(&mut op, "op")
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => OpKind::Add,
                Some("replace") => OpKind::Replace,
                Some("remove") => OpKind::Remove,
                Some(other) => {
                    return Err(ScimError::invalid_syntax(format!(
                        "operation {i}: op {other:?} is not add, replace or remove"
                    )));
                }
                None => {
                    return Err(ScimError::invalid_syntax(format!(
                        "operation {i} has no \"op\""
                    )));
                }
            };
            let path = match take(&mut op, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(PatchPath::parse(&p)?),
                Some(other) => {
                    return Err(ScimError::invalid_path(format!(
                        "operation {i}: path must be a string, not {other}"
                    )));
                }
            };
            let value = take(&mut op, "value");
            if kind != OpKind::Remove && value.is_none() {
                return Err(ScimError::invalid_value(format!(
                    "operation {i} ({kind:?}) needs a value"
                )));
            }
            if kind == OpKind::Remove && path.is_none() {
                return Err(ScimError::no_target(format!(
                    "operation {i}: remove needs a path"
                )));
            }
            Ok(PatchOp {
                op: kind,
                path,
                value,
            })
        })
        .collect()
}

/// Applies the operations in order to a resource document of type `resource`; the caller parses
/// the result, so an operation that breaks the resource fails the whole request and nothing is
/// stored.
pub fn apply(mut doc: Value, ops: &[PatchOp], resource: Resource) -> ScimResult<Value> {
    let Value::Object(map) = &mut doc else {
        return Err(ScimError::invalid_syntax("the resource is not an object"));
    };
    for op in ops {
        match &op.path {
            Some(path) => apply_at(map, op.op, path, op.value.clone(), resource)?,
            None => {
                let Some(Value::Object(values)) = op.value.clone() else {
                    return Err(ScimError::invalid_value(
                        "an operation without a path needs an object value",
                    ));
                };
                for (key, value) in values {
                    // Path-less values may use dotted (`name.givenName`) and URN-prefixed keys.
                    let path = PatchPath::parse(&key)?;
                    apply_at(map, op.op, &path, Some(value), resource)?;
                }
            }
        }
    }
    Ok(doc)
}

/// A user PATCH's values are counted before any is applied: the values its operations give one
/// multi-valued attribute, all together, are at most `attributes::MAX_VALUES` (else applying
/// 10,000 one-value `add`s would compare each with all before the count is refused).
pub fn check_value_counts(ops: &[PatchOp], resource: Resource) -> ScimResult<()> {
    if resource != Resource::User {
        return Ok(());
    }
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut count = |attr: &str, value: &Value| -> ScimResult<()> {
        let n = match value {
            Value::Array(items) => items.len(),
            _ => 1,
        };
        let total = counts.entry(attr.to_ascii_lowercase()).or_default();
        *total += n;
        if *total > attributes::MAX_VALUES {
            return Err(ScimError::invalid_value(format!(
                "the operations give {attr} more than {} values; a user keeps at most {} per attribute",
                attributes::MAX_VALUES,
                attributes::MAX_VALUES
            )));
        }
        Ok(())
    };
    for op in ops.iter().filter(|op| op.op != OpKind::Remove) {
        match (&op.path, &op.value) {
            (Some(path), Some(value)) if path.filter.is_none() && path.sub.is_none() => {
                count(&path.attr, value)?
            }
            (None, Some(Value::Object(values))) => {
                for (key, value) in values {
                    count(key, value)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_core(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(GROUP_SCHEMA)
}

/// The object an operation works in: the resource, or an extension object in it.
fn container<'a>(
    map: &'a mut Map<String, Value>,
    urn: Option<&str>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match urn {
        None => Some(map),
        Some(urn) if is_core(urn) => Some(map),
        Some(urn) => {
            let key = match find_key(map, urn) {
                Some(k) => k,
                None if create => {
                    map.insert(urn.to_string(), Value::Object(Map::new()));
                    urn.to_string()
                }
                None => return None,
            };
            match map.get_mut(&key) {
                Some(Value::Object(ext)) => Some(ext),
                Some(slot) if create => {
                    *slot = Value::Object(Map::new());
                    slot.as_object_mut()
                }
                _ => None,
            }
        }
    }
}

/// The definition of the attribute a PATCH path names, from the attribute table.
fn definition(resource: Resource, path: &PatchPath) -> Option<&'static Attribute> {
    let schema = match path.urn.as_deref() {
        None => resource.schema(),
        Some(urn) if is_core(urn) => resource.schema(),
        Some(urn) => resource
            .extensions()
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))?,
    };
    attributes::find(schema.attributes, &path.attr)
}

fn apply_at(
    map: &mut Map<String, Value>,
    op: OpKind,
    path: &PatchPath,
    value: Option<Value>,
    resource: Resource,
) -> ScimResult<()> {
    // `replace` with null means remove (what some clients send to clear an attribute).
    let (op, value) = match (op, value) {
        (OpKind::Add | OpKind::Replace, Some(Value::Null)) => (OpKind::Remove, None),
        other => other,
    };
    let Some(target) = container(map, path.urn.as_deref(), op != OpKind::Remove) else {
        return Ok(());
    };
    let key = find_key(target, &path.attr);
    match (&path.filter, op) {
        (None, OpKind::Remove) => {
            let Some(key) = key else { return Ok(()) };
            match (&path.sub, value, target.get_mut(&key)) {
                (None, Some(values), Some(Value::Array(items))) => {
                    // Entra: remove just the listed values of a multi-valued attribute.
                    let listed: Vec<Value> = match values {
                        Value::Array(v) => v,
                        one => vec![one],
                    };
                    items.retain(|item| !listed.iter().any(|l| same_value(item, l)));
                }
                (None, _, _) => {
                    target.remove(&key);
                }
                (Some(sub), _, Some(Value::Object(obj))) => {
                    if let Some(k) = find_key(obj, sub) {
                        obj.remove(&k);
                    }
                }
                (Some(sub), _, Some(Value::Array(items))) => {
                    for item in items.iter_mut() {
                        if let Some(obj) = item.as_object_mut()
                            && let Some(k) = find_key(obj, sub)
                        {
                            obj.remove(&k);
                        }
                    }
                }
                _ => {}
            }
        }
        (None, OpKind::Add | OpKind::Replace) => {
            let value = value.unwrap_or(Value::Null);
            let key = key.unwrap_or_else(|| path.attr.clone());
            match &path.sub {
                None => set_attribute(target, key, op, value),
                Some(sub) => {
                    let slot = target
                        .entry(key)
                        .or_insert_with(|| Value::Object(Map::new()));
                    match slot {
                        Value::Object(obj) => {
                            let k = find_key(obj, sub).unwrap_or_else(|| sub.clone());
                            obj.insert(k, value);
                        }
                        Value::Array(items) if items.is_empty() => {
                            let mut obj = Map::new();
                            obj.insert(sub.clone(), value);
                            items.push(Value::Object(obj));
                        }
                        Value::Array(items) => {
                            for item in items.iter_mut() {
                                if let Some(obj) = item.as_object_mut() {
                                    let k = find_key(obj, sub).unwrap_or_else(|| sub.clone());
                                    obj.insert(k, value.clone());
                                }
                            }
                        }
                        other => {
                            let mut obj = Map::new();
                            obj.insert(sub.clone(), value);
                            *other = Value::Object(obj);
                        }
                    }
                }
            }
        }
        (Some(filter), op) => {
            let Some(key) = key.or_else(|| (op != OpKind::Remove).then(|| path.attr.clone()))
            else {
                return Err(ScimError::no_target(format!("{} has no values", path.attr)));
            };
            let slot = target
                .entry(key.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                let one = std::mem::take(slot);
                *slot = Value::Array(if one.is_null() { vec![] } else { vec![one] });
            }
            let Value::Array(items) = slot else {
                unreachable!()
            };
            let matched: Vec<usize> = items
                .iter()
                .enumerate()
                .filter(|(_, item)| matches(item, filter, definition(resource, path)))
                .map(|(i, _)| i)
                .collect();
            match op {
                OpKind::Remove => {
                    if matched.is_empty() {
                        return Ok(());
                    }
                    match &path.sub {
                        None => {
                            let mut i = 0;
                            items.retain(|_| {
                                let keep = !matched.contains(&i);
                                i += 1;
                                keep
                            });
                        }
                        Some(sub) => {
                            for i in matched {
                                if let Some(obj) = items[i].as_object_mut()
                                    && let Some(k) = find_key(obj, sub)
                                {
                                    obj.remove(&k);
                                }
                            }
                        }
                    }
                    if items.is_empty() {
                        target.remove(&key);
                    }
                }
                OpKind::Add | OpKind::Replace => {
                    let value = value.unwrap_or(Value::Null);
                    if matched.is_empty() {
                        // `replace emails[type eq "work"].value`: no work e-mail yet, so add one
                        // made of the filter's equalities (what Entra expects).
                        let Some(mut element) = element_from_filter(filter) else {
                            return Err(ScimError::no_target(format!(
                                "no value of {} matches the filter",
                                path.attr
                            )));
                        };
                        match (&path.sub, value) {
                            (Some(sub), v) => {
                                element.insert(sub.clone(), v);
                            }
                            (None, Value::Object(obj)) => element.extend(obj),
                            (None, other) => {
                                element.insert("value".into(), other);
                            }
                        }
                        items.push(Value::Object(element));
                    } else {
                        for i in matched {
                            match (&path.sub, &value, &mut items[i]) {
                                (Some(sub), v, Value::Object(obj)) => {
                                    let k = find_key(obj, sub).unwrap_or_else(|| sub.clone());
                                    obj.insert(k, v.clone());
                                }
                                (None, Value::Object(patch), Value::Object(obj)) => {
                                    for (k, v) in patch {
                                        let existing =
                                            find_key(obj, k).unwrap_or_else(|| k.clone());
                                        obj.insert(existing, v.clone());
                                    }
                                }
                                (_, v, item) => *item = v.clone(),
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// `add` appends to a multi-valued attribute and merges into a complex one; `replace` replaces a
/// multi-valued attribute and merges into a complex one; on a singular attribute both set it.
fn set_attribute(target: &mut Map<String, Value>, key: String, op: OpKind, value: Value) {
    match (op, target.get_mut(&key), value) {
        (OpKind::Add, Some(Value::Array(items)), value) => {
            let new: Vec<Value> = match value {
                Value::Array(v) => v,
                one => vec![one],
            };
            for v in new {
                if !items.iter().any(|i| same_value(i, &v)) {
                    items.push(v);
                }
            }
        }
        (_, Some(Value::Object(obj)), Value::Object(patch)) => {
            for (k, v) in patch {
                let existing = find_key(obj, &k).unwrap_or(k);
                obj.insert(existing, v);
            }
        }
        (_, _, value) => {
            target.insert(key, value);
        }
    }
}

/// Two values of a multi-valued attribute are the same when their `value`s are (or, for
/// scalars, when they are equal).
fn same_value(a: &Value, b: &Value) -> bool {
    let value_of = |v: &Value| -> Option<Value> {
        match v {
            Value::Object(o) => find_key(o, "value").map(|k| o[&k].clone()),
            other => Some(other.clone()),
        }
    };
    match (value_of(a), value_of(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The element a filter of equalities describes: `type eq "work"` → `{"type": "work"}`.
fn element_from_filter(filter: &Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    fn walk(f: &Filter, out: &mut Map<String, Value>) -> bool {
        match f {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.urn.is_none() && path.sub.is_none() => {
                let v = match value {
                    CompValue::Str(s) => Value::String(s.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Number(n) => serde_json::Number::from_f64(*n)
                        .map(Value::Number)
                        .unwrap_or(Value::Null),
                    CompValue::Null => return false,
                };
                out.insert(path.name.clone(), v);
                true
            }
            Filter::And(a, b) => walk(a, out) && walk(b, out),
            _ => false,
        }
    }
    walk(filter, &mut out).then_some(out)
}

/// Evaluates a value filter on one element of the multi-valued attribute `parent`. Strings
/// compare as its sub-attribute's `caseExact` says (case-insensitively when the attribute table
/// doesn't know it, RFC 7643's default), as the same filter does in SQL.
pub fn matches(element: &Value, filter: &Filter, parent: Option<&Attribute>) -> bool {
    match filter {
        Filter::And(a, b) => matches(element, a, parent) && matches(element, b, parent),
        Filter::Or(a, b) => matches(element, a, parent) || matches(element, b, parent),
        Filter::Not(a) => !matches(element, a, parent),
        Filter::ValuePath { .. } => false,
        Filter::Present(path) => {
            field(element, path).is_some_and(|v| !v.is_null() && v != &Value::String(String::new()))
        }
        Filter::Compare { path, op, value } => {
            let Some(actual) = field(element, path) else {
                return matches!(op, CompareOp::Ne);
            };
            let case_exact = parent
                .and_then(|p| p.sub(&path.name))
                .is_some_and(|sub| sub.case_exact);
            compare(actual, *op, value, case_exact)
        }
    }
}

fn field<'a>(element: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    match element {
        Value::Object(obj) => {
            let v = obj.get(&find_key(obj, &path.name)?)?;
            match &path.sub {
                Some(sub) => v
                    .as_object()
                    .and_then(|o| find_key(o, sub).and_then(|k| o.get(&k))),
                None => Some(v),
            }
        }
        // A scalar element stands for its own `value`.
        scalar if path.is("value", None) => Some(scalar),
        _ => None,
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue, case_exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (actual, expected) {
        (Value::String(a), CompValue::Str(b)) => {
            let (a, b) = if case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                CompareOp::Co => return a.contains(&b),
                CompareOp::Sw => return a.starts_with(&b),
                CompareOp::Ew => return a.ends_with(&b),
                _ => Some(a.cmp(&b)),
            }
        }
        (Value::Bool(a), CompValue::Bool(b)) => Some(a.cmp(b)),
        (Value::String(a), CompValue::Bool(b)) => a
            .parse::<bool>()
            .ok()
            .or_else(|| Some(a.eq_ignore_ascii_case("true")))
            .map(|a| a.cmp(b)),
        (Value::Bool(a), CompValue::Str(b)) => Some(a.cmp(&b.eq_ignore_ascii_case("true"))),
        (Value::Number(a), CompValue::Number(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
        (Value::Null, CompValue::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ordering) {
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
        (CompareOp::Ne, None) => true,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
