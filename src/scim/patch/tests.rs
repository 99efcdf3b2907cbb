//! The PATCH engine on plain JSON documents: path forms, IdP dialects, value filters.

use super::*;
use serde_json::json;

fn run(doc: Value, ops: Value) -> ScimResult<Value> {
    let Value::Object(body) = json!({ "Operations": ops }) else {
        unreachable!()
    };
    apply(doc, &parse(body)?, Resource::User)
}

fn user() -> Value {
    json!({
        "userName": "jane@x.org",
        "name": { "givenName": "Jane", "familyName": "Doe" },
        "active": true,
        "emails": [{ "value": "jane@x.org", "type": "work", "primary": true }, { "value": "j@home.org", "type": "home" }]
    })
}

#[test]
fn entra_style_replace_with_case_insensitive_op_and_string_boolean() {
    let out = run(
        user(),
        json!([{ "op": "Replace", "path": "active", "value": "False" }]),
    )
    .unwrap();
    assert_eq!(out["active"], "False");
    let out = run(
        user(),
        json!([{ "op": "replace", "path": "name.givenName", "value": "Janet" }]),
    )
    .unwrap();
    assert_eq!(
        out["name"],
        json!({ "givenName": "Janet", "familyName": "Doe" })
    );
}

#[test]
fn value_filter_paths_target_matching_elements() {
    let out = run(user(), json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": "jane@new.org" }])).unwrap();
    assert_eq!(out["emails"][0]["value"], "jane@new.org");
    assert_eq!(out["emails"][1]["value"], "j@home.org");
    let out = run(
        user(),
        json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]),
    )
    .unwrap();
    assert_eq!(values(&out, "emails"), ["jane@x.org"]);
    // No match: Entra expects the value to be added.
    let out = run(
        user(),
        json!([{ "op": "replace", "path": "emails[type eq \"other\"].value", "value": "o@x.org" }]),
    )
    .unwrap();
    assert_eq!(
        out["emails"][2],
        json!({ "type": "other", "value": "o@x.org" })
    );
}

#[test]
fn pathless_values_with_dotted_and_urn_keys() {
    let out = run(
        user(),
        json!([{ "op": "replace", "value": {
            "name.familyName": "Smith",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
            "displayName": "Jane Smith"
        } }]),
    )
    .unwrap();
    assert_eq!(out["name"]["familyName"], "Smith");
    assert_eq!(out["name"]["givenName"], "Jane");
    assert_eq!(out["displayName"], "Jane Smith");
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({ "department": "R&D" })
    );
}

#[test]
fn add_appends_to_multi_valued_and_sets_singular() {
    let out = run(user(), json!([{ "op": "add", "path": "emails", "value": [{ "value": "x@y.z", "type": "other" }] }])).unwrap();
    assert_eq!(out["emails"].as_array().unwrap().len(), 3);
    let out = run(user(), json!([{ "op": "Add", "path": "title", "value": "Engineer" }, { "op": "add", "path": "title", "value": "Lead" }])).unwrap();
    assert_eq!(out["title"], "Lead");
}

#[test]
fn remove_with_value_list_removes_only_those() {
    let group = json!({ "displayName": "g", "members": [{ "value": "a" }, { "value": "b" }, { "value": "c" }] });
    let out = run(group, json!([{ "op": "Remove", "path": "members", "value": [{ "value": "a" }, { "value": "c" }] }])).unwrap();
    assert_eq!(out["members"], json!([{ "value": "b" }]));
}

#[test]
fn bad_operations_are_rejected_with_scim_types() {
    let err = run(user(), json!([{ "op": "remove" }])).unwrap_err();
    assert_eq!(err.scim_type, Some("noTarget"));
    let err = run(
        user(),
        json!([{ "op": "jump", "path": "active", "value": 1 }]),
    )
    .unwrap_err();
    assert_eq!(err.scim_type, Some("invalidSyntax"));
    let err = run(
        user(),
        json!([{ "op": "replace", "path": "emails[type eq]", "value": 1 }]),
    )
    .unwrap_err();
    assert_eq!(err.scim_type, Some("invalidPath"));
    let err = run(user(), json!([{ "op": "replace", "path": "active" }])).unwrap_err();
    assert_eq!(err.scim_type, Some("invalidValue"));
    let Value::Object(body) = json!({ "Operations": [] }) else {
        unreachable!()
    };
    assert_eq!(parse(body).unwrap_err().scim_type, Some("invalidSyntax"));
}

/// The `value`s of a multi-valued attribute, in order (`[]` when it is gone).
fn values(doc: &Value, attr: &str) -> Vec<String> {
    doc[attr]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| match i.get("value").unwrap_or(i) {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What a `remove` of `attr[filter]` leaves of `doc`'s `attr`.
fn left_after_removing(doc: Value, attr: &str, filter: &str) -> Vec<String> {
    let out = run(
        doc,
        json!([{ "op": "remove", "path": format!("{attr}[{filter}]") }]),
    )
    .unwrap_or_else(|e| panic!("{attr}[{filter}]: {}", e.detail));
    values(&out, attr)
}

#[test]
fn malformed_paths_are_invalid_paths() {
    for path in [
        "emails[type eq \"work\"].",
        "emails[type eq \"work\"]value",
        "urn:",
        "emails]type eq \"work\"[",
    ] {
        let err =
            run(user(), json!([{ "op": "add", "path": path, "value": "x" }])).expect_err(path);
        assert_eq!(err.scim_type, Some("invalidPath"), "{path}");
    }
    // A blank path is no path: the value object is applied as it is.
    let out = run(
        user(),
        json!([{ "op": "replace", "path": "  ", "value": { "displayName": "J" } }]),
    )
    .unwrap();
    assert_eq!(out["displayName"], "J");
}

#[test]
fn at_most_max_operations() {
    let op = json!({ "op": "replace", "path": "title", "value": "x" });
    let body = |n: usize| {
        let Value::Object(body) = json!({ "Operations": vec![op.clone(); n] }) else {
            unreachable!()
        };
        body
    };
    assert_eq!(parse(body(MAX_OPERATIONS)).unwrap().len(), MAX_OPERATIONS);
    let err = parse(body(MAX_OPERATIONS + 1)).unwrap_err();
    assert_eq!(err.scim_type, Some("tooMany"));
}

#[test]
fn core_schema_urns_address_the_resource_itself() {
    let out = run(
        user(),
        json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "J" }]),
    )
    .unwrap();
    assert_eq!(out["displayName"], "J");
    assert!(
        out.get("urn:ietf:params:scim:schemas:core:2.0:User")
            .is_none()
    );
    let group = json!({ "displayName": "g" });
    let out = run(
        group,
        json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "h" }]),
    )
    .unwrap();
    assert_eq!(out, json!({ "displayName": "h" }));
}

#[test]
fn extension_objects_are_made_only_to_hold_a_value() {
    let ext = "urn:example:ext:1.0:User";
    // Removing from an extension the user doesn't have leaves the user as it was.
    let out = run(
        user(),
        json!([{ "op": "remove", "path": format!("{ext}:department") }]),
    )
    .unwrap();
    assert_eq!(out, user());
    // An extension key that holds no object: replaced by one to add to, left alone by a remove.
    let mut odd = user();
    odd[ext] = json!("not an object");
    let out = run(
        odd.clone(),
        json!([{ "op": "remove", "path": format!("{ext}:department") }]),
    )
    .unwrap();
    assert_eq!(out, odd);
    let out = run(
        odd,
        json!([{ "op": "add", "path": format!("{ext}:department"), "value": "R&D" }]),
    )
    .unwrap();
    assert_eq!(out[ext], json!({ "department": "R&D" }));
}

#[test]
fn removing_a_sub_attribute_from_an_object_or_from_every_element() {
    let out = run(
        user(),
        json!([{ "op": "remove", "path": "name.givenName" }]),
    )
    .unwrap();
    assert_eq!(out["name"], json!({ "familyName": "Doe" }));
    let out = run(user(), json!([{ "op": "remove", "path": "emails.type" }])).unwrap();
    assert_eq!(
        out["emails"],
        json!([{ "value": "jane@x.org", "primary": true }, { "value": "j@home.org" }])
    );
}

#[test]
fn adding_a_sub_attribute_to_an_empty_or_a_full_list() {
    let mut empty = user();
    empty["emails"] = json!([]);
    let out = run(
        empty,
        json!([{ "op": "add", "path": "emails.value", "value": "new@x.org" }]),
    )
    .unwrap();
    assert_eq!(out["emails"], json!([{ "value": "new@x.org" }]));
    let out = run(
        user(),
        json!([{ "op": "add", "path": "emails.primary", "value": false }]),
    )
    .unwrap();
    assert_eq!(values(&out, "emails"), ["jane@x.org", "j@home.org"]);
    assert_eq!(out["emails"][0]["primary"], false);
    assert_eq!(out["emails"][1]["primary"], false);
}

#[test]
fn filtered_paths_on_a_missing_or_singular_attribute() {
    // Nothing to remove from: noTarget; something to add: the element the filter describes.
    let err = run(
        user(),
        json!([{ "op": "remove", "path": "phoneNumbers[type eq \"work\"]" }]),
    )
    .unwrap_err();
    assert_eq!(err.scim_type, Some("noTarget"));
    let out = run(
        user(),
        json!([{ "op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555" }]),
    )
    .unwrap();
    assert_eq!(
        out["phoneNumbers"],
        json!([{ "type": "work", "value": "+1 555" }])
    );
    // A single object where a list belongs is treated as a list of one.
    let mut single = user();
    single["emails"] = json!({ "value": "jane@x.org", "type": "work" });
    let out = run(
        single,
        json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": "j2@x.org" }]),
    )
    .unwrap();
    assert_eq!(
        out["emails"],
        json!([{ "value": "j2@x.org", "type": "work" }])
    );
}

#[test]
fn elements_made_from_a_filter_take_only_plain_equalities() {
    let out = run(
        user(),
        json!([{ "op": "replace", "path": "phoneNumbers[type eq \"work\" and primary eq true].value", "value": "+1 555" }]),
    )
    .unwrap();
    assert_eq!(
        out["phoneNumbers"],
        json!([{ "type": "work", "primary": true, "value": "+1 555" }])
    );
    for filter in [
        "type eq \"work\" and value co \"5\"",
        "type.kind eq \"work\"",
        "type eq \"work\" or type eq \"home\"",
        "value eq null",
    ] {
        let err = run(
            user(),
            json!([{ "op": "replace", "path": format!("phoneNumbers[{filter}].value"), "value": "+1" }]),
        )
        .expect_err(filter);
        assert_eq!(err.scim_type, Some("noTarget"), "{filter}");
    }
}

#[test]
fn removing_listed_values_compares_their_value_only() {
    let out = run(
        user(),
        json!([{ "op": "remove", "path": "emails", "value": [{ "value": "j@home.org", "type": "ignored", "display": "x" }] }]),
    )
    .unwrap();
    assert_eq!(values(&out, "emails"), ["jane@x.org"]);
    // Elements without a `value` (addresses) are the same only when wholly equal.
    let doc = json!({ "addresses": [{ "type": "work", "locality": "A" }, { "type": "home", "locality": "B" }] });
    let out = run(
        doc,
        json!([{ "op": "remove", "path": "addresses", "value": [{ "type": "home", "locality": "B" }] }]),
    )
    .unwrap();
    assert_eq!(
        out["addresses"],
        json!([{ "type": "work", "locality": "A" }])
    );
    // Adding a value already there (by value) adds nothing.
    let out = run(
        user(),
        json!([{ "op": "add", "path": "emails", "value": [{ "value": "jane@x.org", "type": "other" }] }]),
    )
    .unwrap();
    assert_eq!(values(&out, "emails"), ["jane@x.org", "j@home.org"]);
}

#[test]
fn value_filters_combine_and_negate() {
    let left = |filter: &str| left_after_removing(user(), "emails", filter);
    assert_eq!(
        left("type eq \"work\" and value eq \"j@home.org\""),
        ["jane@x.org", "j@home.org"]
    );
    assert!(left("type eq \"work\" or type eq \"HOME\"").is_empty());
    assert_eq!(left("not (type eq \"work\")"), ["jane@x.org"]);
    assert_eq!(left("type ne \"work\""), ["jane@x.org"]);
    // A missing sub-attribute equals nothing and so differs from everything.
    assert_eq!(left("primary ne true"), ["jane@x.org"]);
}

#[test]
fn present_means_a_value_that_is_neither_null_nor_empty() {
    let doc = json!({ "emails": [
        { "value": "a@x.org", "type": "work" },
        { "value": "b@x.org", "type": "" },
        { "value": "c@x.org", "type": null },
        { "value": "d@x.org" }
    ] });
    assert_eq!(
        left_after_removing(doc.clone(), "emails", "type pr"),
        ["b@x.org", "c@x.org", "d@x.org"]
    );
    assert_eq!(
        left_after_removing(doc, "emails", "not (type pr)"),
        ["a@x.org"]
    );
}

#[test]
fn string_operators_ignore_case_but_ids_and_refs_do_not() {
    let left = |filter: &str| left_after_removing(user(), "emails", filter);
    assert_eq!(left("type co \"OR\""), ["j@home.org"]);
    assert_eq!(left("type sw \"Ho\""), ["jane@x.org"]);
    assert_eq!(left("type ew \"ME\""), ["jane@x.org"]);
    // `$ref` is caseExact (RFC 7643 §2.4).
    let doc = json!({ "groups": [{ "value": "g1", "$ref": "https://x.test/Groups/AbC" }] });
    assert_eq!(
        left_after_removing(
            doc.clone(),
            "groups",
            "$ref eq \"https://x.test/groups/abc\""
        ),
        ["g1"]
    );
    assert!(left_after_removing(doc, "groups", "$ref eq \"https://x.test/Groups/AbC\"").is_empty());
}

#[test]
fn booleans_compare_with_booleans_or_their_strings() {
    let doc = json!({ "emails": [
        { "value": "a@x.org", "primary": true },
        { "value": "b@x.org", "primary": "True" },
        { "value": "c@x.org", "primary": false }
    ] });
    assert_eq!(
        left_after_removing(doc.clone(), "emails", "primary eq true"),
        ["c@x.org"]
    );
    assert_eq!(
        left_after_removing(doc.clone(), "emails", "primary eq \"TRUE\""),
        ["c@x.org"]
    );
    assert_eq!(
        left_after_removing(doc, "emails", "primary eq false"),
        ["a@x.org", "b@x.org"]
    );
}

#[test]
fn numbers_and_nulls_compare_in_order() {
    let doc =
        json!({ "scores": [{ "value": 1 }, { "value": 5 }, { "value": 9 }, { "value": null }] });
    let left = |filter: &str| left_after_removing(doc.clone(), "scores", filter);
    assert_eq!(left("value gt 5"), ["1", "5", "null"]);
    assert_eq!(left("value ge 5"), ["1", "null"]);
    assert_eq!(left("value lt 5"), ["5", "9", "null"]);
    assert_eq!(left("value le 5"), ["9", "null"]);
    assert_eq!(left("value eq 5"), ["1", "9", "null"]);
    assert_eq!(left("value ne 5"), ["5"]);
    assert_eq!(left("value eq null"), ["1", "5", "9"]);
    // A string compared with a number is not equal to it, so `ne` holds.
    assert_eq!(left("value ne \"5\""), Vec::<String>::new());
}

#[test]
fn scalar_elements_stand_for_their_value() {
    let doc = json!({ "tags": ["a", "b"] });
    assert_eq!(
        left_after_removing(doc.clone(), "tags", "value eq \"a\""),
        ["b"]
    );
    assert_eq!(
        left_after_removing(doc, "tags", "display eq \"a\""),
        ["a", "b"]
    );
}
