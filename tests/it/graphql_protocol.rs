//! The GraphQL transport: authentication, error codes, limits, WebSocket, health.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::common::{TestApp, error_code};

const WORKSPACE: &str = "{ workspace { id slug name saml { configured idpEntityId ssoUrl certificateExpiresAt } scim { enabled baseUrl } apiKeys { id name prefix createdAt expiresAt lastUsedAt revokedAt } groupRoleMappings { groupName role } } }";

#[tokio::test]
async fn workspace_query_answers_the_contract_shape() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let body = app.gql(Some(&token), WORKSPACE, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let ws = &body["data"]["workspace"];
    assert_eq!(ws["slug"], "acme");
    assert_eq!(
        ws["saml"],
        json!({ "configured": false, "idpEntityId": null, "ssoUrl": null, "certificateExpiresAt": null })
    );
    let id = ws["id"].as_str().unwrap();
    assert_eq!(ws["scim"]["enabled"], false);
    assert_eq!(
        ws["scim"]["baseUrl"],
        format!("{}/api/teams/{id}/scim/v2", app.url)
    );
    assert_eq!(ws["apiKeys"], json!([]));
    assert_eq!(ws["groupRoleMappings"], json!([]));
}

#[tokio::test]
async fn missing_or_invalid_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let real = app.admin_token("acme", "owner@acme.test").await;
    let body = app.gql_errors(None, WORKSPACE, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(body["data"], Value::Null);
    for bad in ["sgat_not-a-real-token", "", &real[..real.len() - 1]] {
        let body = app.gql_errors(Some(bad), WORKSPACE, json!({})).await;
        assert_eq!(
            error_code(&body),
            "UNAUTHENTICATED",
            "token {bad:?}: {body}"
        );
    }
    let body = app
        .gql_errors(
            None,
            "mutation { generateApiKey(name: \"x\") { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn bare_authorization_header_is_accepted_too() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let response = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("Authorization", token)
        .json(&json!({ "query": "{ workspace { slug } }" }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["workspace"]["slug"], "acme", "{body}");
}

#[tokio::test]
async fn a_token_only_sees_its_own_workspace() {
    let app = TestApp::spawn().await;
    let a = app.admin_token("alpha", "owner@alpha.test").await;
    let b = app.admin_token("beta", "owner@beta.test").await;
    let key_b = app
        .gql(
            Some(&b),
            "mutation { generateApiKey(name: \"beta key\") { apiKey { id } } }",
            json!({}),
        )
        .await;
    let key_b_id = key_b["data"]["generateApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = app.gql(Some(&a), WORKSPACE, json!({})).await;
    assert_eq!(body["data"]["workspace"]["slug"], "alpha");
    assert_eq!(body["data"]["workspace"]["apiKeys"], json!([]));
    let body = app
        .gql_errors(
            Some(&a),
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": key_b_id }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    // B's key is still there, unrevoked and active.
    let body = app
        .gql(
            Some(&b),
            "{ workspace { apiKeys { id name revokedAt status } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["workspace"]["apiKeys"],
        json!([{ "id": key_b_id, "name": "beta key", "revokedAt": null, "status": "ACTIVE" }]),
        "{body}"
    );
}

#[tokio::test]
async fn non_admin_members_are_forbidden() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token("acme", "owner@acme.test").await;
    let ws = app.workspace_id(&owner).await;
    app.add_member(&ws, "labeler@acme.test", None).await;
    let token = app.admin_token("acme", "labeler@acme.test").await;
    for query in [
        "{ workspace { slug } }",
        "mutation { enableScim { enabled } }",
        "mutation { generateApiKey(name: \"k\") { secret } }",
        "mutation { setGroupRoleMappings(mappings: []) { mappings { groupName } } }",
        "{ previewGroupRoleMappings(mappings: []) { userName } }",
    ] {
        let body = app.gql_errors(Some(&token), query, json!({})).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
    }
}

#[tokio::test]
async fn malformed_requests_get_graphql_errors_with_codes() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let response = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "VALIDATION");

    for query in [
        "{ workspace { ",
        "{ workspace { nope } }",
        "mutation { generateApiKey(name: 5) { secret } }",
    ] {
        let (status, body) = app.gql_raw(Some(&token), query, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(error_code(&body), "VALIDATION", "{query}: {body}");
    }

    let huge = "x".repeat(scim_gateway::graphql::BODY_LIMIT + 10);
    let (status, body) = app.gql_raw(Some(&token), &huge, json!({})).await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&body), "VALIDATION");
}

#[tokio::test]
async fn depth_limit_refuses_deep_queries_but_allows_introspection() {
    let app = TestApp::spawn().await;
    let full_introspection = r#"query { __schema { queryType { name } types { name kind fields(includeDeprecated: true) { name args { name type { ...T } } type { ...T } } inputFields { name type { ...T } } } } }
        fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }"#;
    let body = app.gql(None, full_introspection, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 10);

    let mut deep = String::from("kind");
    for _ in 0..20 {
        deep = format!("ofType {{ {deep} }}");
    }
    let query = format!("{{ __type(name: \"Workspace\") {{ fields {{ type {{ {deep} }} }} }} }}");
    let body = app.gql_errors(None, &query, json!({})).await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("deep"),
        "{body}"
    );
}

#[tokio::test]
async fn complexity_limit_refuses_wide_queries() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let fields: String = (0..400)
        .map(|i| format!("w{i}: workspace {{ id slug name scim {{ enabled baseUrl }} }} "))
        .collect();
    let body = app
        .gql_errors(Some(&token), &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{body}"
    );
    assert_eq!(body["data"], Value::Null);
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection, initialised with `payload` and acknowledged.
pub async fn ws_connect(app: &TestApp, payload: Value) -> Socket {
    let mut request = format!("{}/graphql", app.url.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    ws_send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket
}

pub async fn ws_send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn graphql_over_websocket_authenticates_with_connection_init() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let subscribe =
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ workspace { slug } }" } });

    let mut socket = ws_connect(&app, json!({ "Authorization": format!("Bearer {token}") })).await;
    ws_send(&mut socket, subscribe.clone()).await;
    let next = next_json(&mut socket).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["payload"]["data"]["workspace"]["slug"], "acme");

    // Without a token the same operation is refused with the usual code.
    let mut anon = ws_connect(&app, json!({})).await;
    ws_send(&mut anon, subscribe).await;
    let next = next_json(&mut anon).await;
    assert_eq!(
        next["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{next}"
    );
}

pub async fn next_json<S>(socket: &mut S) -> Value
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .expect("message");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    app.db.clone().close().await.unwrap();
    let ready = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn browsers_on_graphql_get_the_playground() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/graphql", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/graphql/playground");
}
