//! A live activity subscription ends with the access it was opened with: a SCIM deactivation,
//! a sign-out, a session's expiry, a revoked admin token, a token whose person is deactivated,
//! a demotion. Each time the client gets one error with `extensions.code`, then `complete`, and
//! no entry after it, though new entries are written.

use std::time::Duration;

use chrono::TimeDelta;
use futures_util::StreamExt;
use scim_gateway::domain;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::common::{Scim, error_code};
use crate::graphql_protocol::{Socket, next_json, ws_connect, ws_send};

const SUBSCRIBE: &str = "subscription { activity { action summary } }";
const COOKIE: &str = "scimgw_session";

/// An admin of `s`'s workspace other than its owner, made by SCIM with the direct role admin;
/// returns the member's id.
async fn scim_admin(s: &Scim, email: &str) -> String {
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "active": true,
                "roles": [{ "value": "admin" }]
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// A signed-in session of `member_id`, lasting `ttl`, as a sign-in starts it; the cookie value.
async fn session(s: &Scim, member_id: &str, ttl: TimeDelta) -> String {
    domain::sessions::start(&s.app.db, &s.workspace_id(), member_id, ttl)
        .await
        .expect("start a session")
        .token
}

/// A graphql-transport-ws connection made with the session cookie (same origin), acknowledged.
async fn ws_connect_with_cookie(s: &Scim, cookie: &str) -> Socket {
    let mut request = format!("{}/graphql", s.app.url.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    headers.insert("Cookie", format!("{COOKIE}={cookie}").parse().unwrap());
    headers.insert("Origin", s.app.url.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    ws_send(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket
}

/// Subscribes to the activity and checks that it streams: a SCIM create arrives.
async fn subscribed(s: &Scim, socket: &mut Socket) {
    ws_send(
        socket,
        json!({ "id": "live", "type": "subscribe", "payload": { "query": SUBSCRIBE } }),
    )
    .await;
    // Let the subscription start before the change it should see.
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.create_user("before@x.org", "Before", "End").await;
    let next = next_json(socket).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["data"]["activity"]["summary"], "added before@x.org as Labeler",
        "{next}"
    );
}

/// The next message is the stream's one error, with `code`, then `complete`, then nothing
/// more while another entry is written.
async fn ends_with(s: &Scim, socket: &mut Socket, code: &str, within: Duration) {
    let message = tokio::time::timeout(within, next_json(socket))
        .await
        .unwrap_or_else(|_| panic!("no {code} error within {within:?}"));
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["data"],
        Value::Null,
        "an entry delivered after the access ended: {message}"
    );
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], code,
        "{message}"
    );
    let complete = next_json(socket).await;
    assert_eq!(complete["type"], "complete", "{complete}");
    assert_eq!(complete["id"], "live", "{complete}");
    s.create_user("after-end@x.org", "After", "End").await;
    assert_silent(socket, Duration::from_millis(1500)).await;
}

/// Nothing but pings arrives for `wait`.
async fn assert_silent(socket: &mut Socket, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    matches!(message["type"].as_str(), Some("ping" | "pong")),
                    "a message after the stream ended: {message}"
                );
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the socket failed: {other:?}"),
        }
    }
}

/// A new entry written right after the access ended is not delivered: the stream ends first.
const SOON: Duration = Duration::from_secs(3);
/// With no entry written, the stream ends at its next periodic check (every 5 s) and a poll.
const IDLE: Duration = Duration::from_secs(7);

fn deactivate() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "path": "active", "value": false }]
    })
}

#[tokio::test]
async fn scim_deactivating_the_subscriber_ends_the_stream() {
    let s = Scim::start().await;
    let member = scim_admin(&s, "live-admin@x.org").await;
    let cookie = session(&s, &member, TimeDelta::hours(1)).await;
    let mut socket = ws_connect_with_cookie(&s, &cookie).await;
    subscribed(&s, &mut socket).await;

    s.ok("PATCH", &format!("/Users/{member}"), Some(deactivate()))
        .await;
    s.create_user("new-hire@x.org", "New", "Hire").await;
    ends_with(&s, &mut socket, "UNAUTHENTICATED", SOON).await;
}

#[tokio::test]
async fn signing_out_ends_the_stream() {
    let s = Scim::start().await;
    let member = scim_admin(&s, "live-admin@x.org").await;
    let cookie = session(&s, &member, TimeDelta::hours(1)).await;
    let mut socket = ws_connect_with_cookie(&s, &cookie).await;
    subscribed(&s, &mut socket).await;

    let response = s
        .app
        .client
        .post(format!("{}/graphql", s.app.url))
        .header("Cookie", format!("{COOKIE}={cookie}"))
        .header("Origin", &s.app.url)
        .json(&json!({ "query": "mutation { signOut }" }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["signOut"], true, "{body}");
    s.create_user("new-hire@x.org", "New", "Hire").await;
    ends_with(&s, &mut socket, "UNAUTHENTICATED", SOON).await;

    // The socket itself no longer acts as the signed-out member.
    ws_send(
        &mut socket,
        json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ workspace { apiKeys { prefix } } }" } }),
    )
    .await;
    let answer = next_json(&mut socket).await;
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{answer}"
    );
}

#[tokio::test]
async fn the_session_expiring_ends_the_stream() {
    let s = Scim::start().await;
    let member = scim_admin(&s, "live-admin@x.org").await;
    let ttl = TimeDelta::seconds(3);
    let started = tokio::time::Instant::now();
    let cookie = session(&s, &member, ttl).await;
    let mut socket = ws_connect_with_cookie(&s, &cookie).await;
    subscribed(&s, &mut socket).await;

    tokio::time::sleep_until(started + Duration::from_millis(3200)).await;
    s.create_user("new-hire@x.org", "New", "Hire").await;
    ends_with(&s, &mut socket, "UNAUTHENTICATED", SOON).await;
}

#[tokio::test]
async fn revoking_the_admin_token_ends_the_stream_and_the_socket_access() {
    let s = Scim::start().await;
    scim_admin(&s, "token-admin@x.org").await;
    let token = s.app.admin_token("acme", "token-admin@x.org").await;
    let mut socket = ws_connect(
        &s.app,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await;
    subscribed(&s, &mut socket).await;

    let tokens = s
        .app
        .gql(
            Some(&s.admin),
            "{ workspace { adminTokens { id email } } }",
            json!({}),
        )
        .await;
    let id = tokens["data"]["workspace"]["adminTokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["email"] == "token-admin@x.org")
        .expect("the token is listed")["id"]
        .clone();
    s.app
        .gql(
            Some(&s.admin),
            "mutation($id: ID!) { revokeAdminToken(id: $id) { revokedAt } }",
            json!({ "id": id }),
        )
        .await;
    s.create_user("new-hire@x.org", "New", "Hire").await;
    ends_with(&s, &mut socket, "UNAUTHENTICATED", SOON).await;

    // A query on the same socket is refused too, as over HTTP.
    ws_send(
        &mut socket,
        json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ workspace { apiKeys { prefix } } }" } }),
    )
    .await;
    let answer = next_json(&mut socket).await;
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{answer}"
    );
    let (_, body) = s
        .app
        .gql_raw(Some(&token), "{ workspace { slug } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn deactivating_the_admin_tokens_person_ends_the_stream_without_any_new_entry() {
    let s = Scim::start().await;
    let member = scim_admin(&s, "token-admin@x.org").await;
    let token = s.app.admin_token("acme", "token-admin@x.org").await;
    let mut socket = ws_connect(
        &s.app,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await;
    subscribed(&s, &mut socket).await;

    // Outside SCIM: no activity entry is written, so only the periodic check can see it.
    s.app.deactivate_outside_scim(&member).await;
    ends_with(&s, &mut socket, "FORBIDDEN", IDLE).await;
}

#[tokio::test]
async fn demoting_the_subscriber_ends_the_stream() {
    let s = Scim::start().await;
    let member = scim_admin(&s, "live-admin@x.org").await;
    let cookie = session(&s, &member, TimeDelta::hours(1)).await;
    let mut socket = ws_connect_with_cookie(&s, &cookie).await;
    subscribed(&s, &mut socket).await;

    s.ok(
        "PATCH",
        &format!("/Users/{member}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "roles", "value": [{ "value": "labeler" }] }]
        })),
    )
    .await;
    s.create_user("new-hire@x.org", "New", "Hire").await;
    ends_with(&s, &mut socket, "FORBIDDEN", SOON).await;
}
