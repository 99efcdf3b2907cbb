//! Any bytes as a SCIM request body: read as a user, a group and a PATCH request (applied to a
//! user), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::{groups, patch, user_resource as users};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = users::parse(body.clone());
    let _ = groups::parse(body.clone());
    if let Ok(ops) = patch::parse(body) {
        let user = json!({ "userName": "a@b.c", "emails": [{ "value": "a@b.c" }] });
        let _ = patch::apply(user, &ops, scim_gateway::domain::attributes::Resource::User);
    }
});
