//! Any text as a PATCH path (`emails[type eq "work"].value`): parsing never panics, and a path
//! that parses can be used in an operation on a user without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::patch::{self, PatchPath};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if PatchPath::parse(text).is_err() {
        return;
    }
    let user = json!({
        "userName": "a@b.c",
        "name": { "givenName": "A", "familyName": "B" },
        "emails": [{ "value": "a@b.c", "type": "work", "primary": true }],
        "members": [{ "value": "1" }, { "value": "2" }]
    });
    for op in ["add", "replace", "remove"] {
        let body = json!({ "Operations": [{ "op": op, "path": text, "value": "x" }] });
        if let serde_json::Value::Object(body) = body
            && let Ok(ops) = patch::parse(body)
        {
            let _ = patch::apply(
                user.clone(),
                &ops,
                scim_gateway::domain::attributes::Resource::User,
            );
        }
    }
});
