//! /Bulk: operations in order, bulkId references, failOnErrors, limits.

use serde_json::{Value, json};

use crate::common::{Scim, assert_scim_error};

fn bulk(ops: Value, fail_on_errors: Option<u64>) -> Option<Value> {
    let mut body = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops });
    if let Some(n) = fail_on_errors {
        body["failOnErrors"] = json!(n);
    }
    Some(body)
}

#[tokio::test]
async fn bulk_creates_references_and_updates_in_order() {
    let s = Scim::start().await;
    let r = s
        .call(
            "POST",
            "/Bulk",
            bulk(
                json!([
                    { "method": "POST", "path": "/Users", "bulkId": "u1", "data": { "userName": "bulk1@x.org", "name": { "givenName": "B", "familyName": "One" } } },
                    { "method": "POST", "path": "/Users", "bulkId": "u2", "data": { "userName": "bulk2@x.org" } },
                    { "method": "POST", "path": "/Groups", "bulkId": "g1", "data": { "displayName": "Bulk group", "members": [{ "value": "bulkId:u1" }, { "value": "bulkId:u2" }] } },
                    { "method": "PATCH", "path": "/Users/bulkId:u2", "data": { "Operations": [{ "op": "replace", "path": "active", "value": false }] } },
                    { "method": "DELETE", "path": "/Users/bulkId:u1" }
                ]),
                None,
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    let ops = r.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "201", "200", "204"], "{}", r.body);
    assert_eq!(ops[0]["bulkId"], "u1");
    assert!(
        ops[0]["location"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/Users/", s.base))
    );
    assert_eq!(ops[0]["version"], "W/\"1\"");
    let group = ops[2]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let u2 = ops[1]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r = s.call("GET", &format!("/Groups/{group}"), None).await;
    let members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [u2.as_str()], "u1 was deleted, so only u2 is left");
    let r = s.call("GET", &format!("/Users/{u2}"), None).await;
    assert_eq!(r.body["active"], false);
}

#[tokio::test]
async fn fail_on_errors_stops_and_errors_are_per_operation() {
    let s = Scim::start().await;
    s.create_user("taken@x.org", "T", "T").await;
    let r = s
        .call(
            "POST",
            "/Bulk",
            bulk(
                json!([
                    { "method": "POST", "path": "/Users", "bulkId": "a", "data": { "userName": "taken@x.org" } },
                    { "method": "POST", "path": "/Groups", "bulkId": "g", "data": { "displayName": "G", "members": [{ "value": "bulkId:nope" }] } },
                    { "method": "POST", "path": "/Users", "bulkId": "c", "data": { "userName": "new@x.org" } }
                ]),
                Some(2),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2, "stopped after two errors: {}", r.body);
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    assert_eq!(ops[1]["status"], "409");
    let r = s
        .call("GET", "/Users?filter=userName%20eq%20%22new@x.org%22", None)
        .await;
    assert_eq!(r.body["totalResults"], 0, "the third operation never ran");

    let r = s.call("POST", "/Bulk", bulk(json!([{ "method": "GET", "path": "/Users" }, { "method": "POST", "path": "/Bulk", "bulkId": "x", "data": {} }]), None)).await;
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "400");
    assert_eq!(ops[1]["status"], "400");
    assert_eq!(ops[1]["response"]["scimType"], "invalidPath");

    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({ "method": "DELETE", "path": format!("/Users/{i}") }))
        .collect();
    let r = s
        .call("POST", "/Bulk", bulk(Value::Array(too_many), None))
        .await;
    assert_scim_error(&r, 413, Some("tooMany"));
    let r = s.call("GET", "/ServiceProviderConfig", None).await;
    assert_eq!(
        r.body["bulk"],
        json!({ "supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576 })
    );
}
