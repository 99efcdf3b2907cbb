//! Claimed domains: a workspace's IdP speaks only for the addresses of the domains its
//! workspace has proven it owns. Claims are verified through a real DNS server (the tests' own,
//! whose records change during a test); another workspace's key renames nobody of a verified
//! domain, reads nothing its IdP stored, and its IdP signs none of its addresses in.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use scim_gateway::entities::{account, activity, workspace_domain};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::common::{
    CONFIGURE_SAML, ENABLE_SCIM_WITH_KEY, TestApp, certificate_pem, enable_scim, error_code,
    scim_credentials,
};
use crate::dns_server::DnsServer;
use crate::isolation::call;
use crate::sso::Sso;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const FIELDS: &str = "domain asciiDomain status txtName txtValue verifiedAt verifiedBy lastCheckedAt lastError missingSince nextCheckAt";
const VALUE_PREFIX: &str = "scim-gateway-verification=";

fn claim_mutation() -> String {
    format!("mutation($d: String!) {{ claimDomain(domain: $d) {{ {FIELDS} }} }}")
}

fn check_mutation() -> String {
    format!("mutation($d: String!) {{ checkDomain(domain: $d) {{ {FIELDS} }} }}")
}

/// An app that looks domains up at `dns` and runs its background rounds every 100 ms.
async fn app_with_dns(dns: &DnsServer) -> TestApp {
    let addr = dns.addr;
    TestApp::spawn_with(move |settings| {
        settings
            .with_dns_server(Some(addr))
            .with_domain_check_every(Duration::from_millis(100))
    })
    .await
}

async fn claim(app: &TestApp, token: &str, domain: &str) -> Value {
    let body = app
        .gql(Some(token), &claim_mutation(), json!({ "d": domain }))
        .await;
    body["data"]["claimDomain"].clone()
}

async fn check(app: &TestApp, token: &str, domain: &str) -> Value {
    let body = app
        .gql(Some(token), &check_mutation(), json!({ "d": domain }))
        .await;
    body["data"]["checkDomain"].clone()
}

async fn domains(app: &TestApp, token: &str) -> Vec<Value> {
    let body = app
        .gql(
            Some(token),
            &format!("{{ workspace {{ domains {{ {FIELDS} }} }} }}"),
            json!({}),
        )
        .await;
    body["data"]["workspace"]["domains"]
        .as_array()
        .unwrap()
        .clone()
}

/// Publishes a claim's record, its value split in two character-strings, beside another TXT
/// record of the name (an SPF record, say).
fn publish(dns: &DnsServer, claim: &Value) {
    let value = claim["txtValue"].as_str().unwrap();
    let (head, tail) = value.split_at(value.len() / 2);
    dns.set_txt(
        claim["txtName"].as_str().unwrap(),
        &[&["v=spf1 -all"], &[head, tail]],
    );
}

/// Moves a claim's times, as if the claim (or a missing record) were older.
async fn age(app: &TestApp, domain: &str, column: workspace_domain::Column, by: TimeDelta) {
    workspace_domain::Entity::update_many()
        .col_expr(column, Expr::value(Some(Utc::now() - by)))
        .filter(workspace_domain::Column::Domain.eq(domain))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn actions(app: &TestApp, action: &str) -> Vec<activity::Model> {
    activity::Entity::find()
        .filter(activity::Column::Action.eq(action))
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_claim_verifies_once_its_record_is_published_in_dns() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    let admin = app.admin_token("acme", "owner@acme.test").await;

    // Upper case and a trailing dot are normalised; the record has a dedicated name and a
    // value of 160 random bits.
    let pending = claim(&app, &admin, "Acme.TEST.").await;
    assert_eq!(pending["domain"], "acme.test", "{pending}");
    assert_eq!(pending["status"], "PENDING");
    assert_eq!(pending["txtName"], "_scim-gateway.acme.test");
    let value = pending["txtValue"].as_str().unwrap();
    let random = value.strip_prefix(VALUE_PREFIX).expect("the prefix");
    assert!(
        random.len() == 40 && random.chars().all(|c| c.is_ascii_hexdigit()),
        "{value}"
    );
    assert_ne!(
        claim(&app, &admin, "other.test").await["txtValue"],
        pending["txtValue"],
        "each claim has a value of its own"
    );
    // Claiming it again returns the same claim.
    assert_eq!(claim(&app, &admin, "acme.test").await["txtValue"], value);

    // SAML waits for a verified domain.
    let saml_input = json!({ "input": {
        "idpEntityId": "http://www.okta.com/exk1test",
        "ssoUrl": "https://example.okta.com/app/sso/saml",
        "certificatePem": certificate_pem(365),
    }});
    let body = app
        .gql_errors(Some(&admin), CONFIGURE_SAML, saml_input.clone())
        .await;
    assert_eq!(error_code(&body), "DOMAIN_REQUIRED", "{body}");

    // Not published yet: still pending, with the reason.
    let checked = check(&app, &admin, "acme.test").await;
    assert_eq!(checked["status"], "PENDING", "{checked}");
    assert!(
        checked["lastError"]
            .as_str()
            .unwrap()
            .contains("no TXT record at _scim-gateway.acme.test"),
        "{checked}"
    );
    assert!(checked["lastCheckedAt"].is_string());

    // Another value at the name is not this claim's.
    dns.set_txt(
        "_scim-gateway.acme.test",
        &[&["scim-gateway-verification=0"]],
    );
    let checked = check(&app, &admin, "acme.test").await;
    assert_eq!(checked["status"], "PENDING", "{checked}");
    assert!(
        checked["lastError"]
            .as_str()
            .unwrap()
            .contains("none holds the value"),
        "{checked}"
    );

    publish(&dns, &pending);
    let checked = check(&app, &admin, "acme.test").await;
    assert_eq!(checked["status"], "VERIFIED", "{checked}");
    assert_eq!(checked["verifiedBy"], "DNS");
    assert!(checked["verifiedAt"].is_string());
    assert!(checked["lastError"].is_null());
    let verified = actions(&app, "domain.verified").await;
    assert_eq!(verified.len(), 1, "{verified:?}");
    assert!(verified[0].summary.contains("acme.test verified"));
    assert_eq!(actions(&app, "domain.claim").await.len(), 2);

    app.gql(Some(&admin), CONFIGURE_SAML, saml_input).await;
}

#[tokio::test]
async fn the_background_verifies_a_published_claim_and_lapses_a_record_gone_for_a_week() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    let admin = app.admin_token("acme", "owner@acme.test").await;
    let pending = claim(&app, &admin, "acme.test").await;
    publish(&dns, &pending);
    // Due now rather than in 30 s.
    age(
        &app,
        "acme.test",
        workspace_domain::Column::NextCheckAt,
        TimeDelta::seconds(1),
    )
    .await;
    let verified = wait_for_status(&app, &admin, "VERIFIED").await;
    assert!(
        verified["nextCheckAt"].is_string(),
        "re-checked daily: {verified}"
    );
    let entry = &actions(&app, "domain.verified").await[0];
    assert_eq!(entry.actor, "DNS check");

    // The record goes: the domain stays verified while the grace period lasts, and says so.
    dns.remove("_scim-gateway.acme.test");
    age(
        &app,
        "acme.test",
        workspace_domain::Column::NextCheckAt,
        TimeDelta::seconds(1),
    )
    .await;
    let missing = wait_for(&app, &admin, |d| d["missingSince"].is_string()).await;
    assert_eq!(missing["status"], "VERIFIED", "{missing}");
    assert_eq!(actions(&app, "domain.record_missing").await.len(), 1);

    // Gone for a week: lapsed, and the workspace speaks for the domain no more.
    age(
        &app,
        "acme.test",
        workspace_domain::Column::MissingSince,
        TimeDelta::days(8),
    )
    .await;
    age(
        &app,
        "acme.test",
        workspace_domain::Column::NextCheckAt,
        TimeDelta::seconds(1),
    )
    .await;
    let lapsed = wait_for_status(&app, &admin, "LAPSED").await;
    assert!(
        lapsed["lastError"]
            .as_str()
            .unwrap()
            .contains("no TXT record")
    );
    assert_eq!(actions(&app, "domain.lapsed").await.len(), 1);
    let holder = workspace_domain::Entity::find()
        .filter(workspace_domain::Column::Status.eq("VERIFIED"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(holder.is_empty());

    // Back: verified again.
    publish(&dns, &pending);
    let back = check(&app, &admin, "acme.test").await;
    assert_eq!(back["status"], "VERIFIED", "{back}");
    assert!(back["missingSince"].is_null());
}

async fn wait_for(app: &TestApp, admin: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let claims = domains(app, admin).await;
        if let Some(found) = claims.iter().find(|d| done(d)) {
            return found.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the background never got there: {:?}",
        domains(app, admin).await
    );
}

async fn wait_for_status(app: &TestApp, admin: &str, status: &str) -> Value {
    wait_for(app, admin, |d| d["status"] == status).await
}

#[tokio::test]
async fn dns_trouble_keeps_a_claim_pending_and_only_a_missing_record_fails_it() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    let admin = app.admin_token("acme", "owner@acme.test").await;
    claim(&app, &admin, "acme.test").await;
    // Claimed 100 hours ago: past the 72 hours a claim waits for its record.
    age(
        &app,
        "acme.test",
        workspace_domain::Column::CreatedAt,
        TimeDelta::hours(100),
    )
    .await;

    dns.fail_with_servfail(true);
    let checked = check(&app, &admin, "acme.test").await;
    assert_eq!(checked["status"], "PENDING", "{checked}");
    assert!(
        checked["lastError"].as_str().unwrap().contains("SERVFAIL"),
        "{checked}"
    );
    dns.fail_with_servfail(false);
    dns.stay_silent(true);
    let checked = check(&app, &admin, "acme.test").await;
    assert_eq!(checked["status"], "PENDING", "{checked}");
    assert!(
        checked["lastError"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{checked}"
    );
    dns.stay_silent(false);

    let failed = check(&app, &admin, "acme.test").await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert!(
        failed["nextCheckAt"].is_null(),
        "no more background lookups"
    );
    assert!(failed["lastError"].as_str().unwrap().contains("72 hours"));
    assert_eq!(actions(&app, "domain.failed").await.len(), 1);

    // "Check now" is budgeted per workspace.
    let body = app
        .gql_errors(Some(&admin), &check_mutation(), json!({ "d": "acme.test" }))
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
}

#[tokio::test]
async fn a_failed_claim_verifies_when_its_record_appears() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    let admin = app.admin_token("acme", "owner@acme.test").await;
    let pending = claim(&app, &admin, "acme.test").await;
    age(
        &app,
        "acme.test",
        workspace_domain::Column::CreatedAt,
        TimeDelta::hours(73),
    )
    .await;
    assert_eq!(check(&app, &admin, "acme.test").await["status"], "FAILED");
    publish(&dns, &pending);
    assert_eq!(check(&app, &admin, "acme.test").await["status"], "VERIFIED");
}

#[tokio::test]
async fn the_first_workspace_to_verify_a_domain_holds_it() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    let a = app.admin_token("acme", "owner@acme.test").await;
    let b = app.admin_token("globex", "owner@globex.test").await;
    // Pending claims coexist.
    let claim_a = claim(&app, &a, "shared.test").await;
    let claim_b = claim(&app, &b, "shared.test").await;
    let (value_a, value_b) = (
        claim_a["txtValue"].as_str().unwrap(),
        claim_b["txtValue"].as_str().unwrap(),
    );
    dns.set_txt("_scim-gateway.shared.test", &[&[value_a], &[value_b]]);
    assert_eq!(check(&app, &a, "shared.test").await["status"], "VERIFIED");

    let body = app
        .gql_errors(Some(&b), &check_mutation(), json!({ "d": "shared.test" }))
        .await;
    assert_eq!(error_code(&body), "DOMAIN_TAKEN", "{body}");
    let b_claim = &domains(&app, &b).await[0];
    assert_eq!(b_claim["status"], "PENDING");
    assert!(
        b_claim["lastError"]
            .as_str()
            .unwrap()
            .contains("another workspace verified this domain first"),
        "{b_claim}"
    );
    // Held elsewhere, B's claim stays what it was (never verified), and still fails on time.
    assert!(
        b_claim["verifiedAt"].is_null() && b_claim["verifiedBy"].is_null(),
        "{b_claim}"
    );
    age(
        &app,
        "shared.test",
        workspace_domain::Column::CreatedAt,
        TimeDelta::hours(100),
    )
    .await;
    workspace_domain::Entity::update_many()
        .col_expr(workspace_domain::Column::CreatedAt, Expr::value(Utc::now()))
        .filter(workspace_domain::Column::Status.eq("VERIFIED"))
        .exec(&app.db)
        .await
        .unwrap();
    let body = app
        .gql_errors(Some(&b), &check_mutation(), json!({ "d": "shared.test" }))
        .await;
    assert_eq!(error_code(&body), "DOMAIN_TAKEN", "{body}");
    let b_claim = &domains(&app, &b).await[0];
    assert_eq!(b_claim["status"], "FAILED", "{b_claim}");
    assert!(b_claim["verifiedAt"].is_null(), "{b_claim}");
    // A new claim of a verified domain is refused at once, and the operator can't vouch for it.
    let c = app.admin_token("initech", "owner@initech.test").await;
    let body = app
        .gql_errors(Some(&c), &claim_mutation(), json!({ "d": "SHARED.test" }))
        .await;
    assert_eq!(error_code(&body), "DOMAIN_TAKEN", "{body}");
    let vouched = scim_gateway::domain::domains::vouch(&app.db, "globex", "shared.test").await;
    assert!(
        matches!(vouched, Err(scim_gateway::domain::Error::DomainTaken(_))),
        "{vouched:?}"
    );

    // A removes it: B verifies (a failed claim, checked now).
    app.gql(
        Some(&a),
        "mutation { removeDomain(domain: \"shared.test\") { status } }",
        json!({}),
    )
    .await;
    assert_eq!(actions(&app, "domain.remove").await.len(), 1);
    assert_eq!(check(&app, &b, "shared.test").await["status"], "VERIFIED");
}

#[tokio::test]
async fn what_nobody_can_own_is_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("acme", "owner@acme.test").await;
    for (input, words) in [
        ("gmail.com", "consumer mail domain"),
        ("mail.Outlook.com", "consumer mail domain"),
        ("co.uk", "public suffix"),
        ("github.io", "public suffix"),
        ("10.0.0.1", "IP address"),
        ("*.acme.test", "wildcard"),
        ("localhost", "single label"),
        ("owner@acme.test", "e-mail address"),
        (&format!("{}.test", "a".repeat(250)), "253"),
    ] {
        let body = app
            .gql_errors(Some(&admin), &claim_mutation(), json!({ "d": input }))
            .await;
        assert_eq!(error_code(&body), "VALIDATION", "{input}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(words), "{input}: {message}");
    }
    // An IDN is stored in ASCII and shown in Unicode.
    let idn = claim(&app, &admin, "Bücher.test").await;
    assert_eq!(idn["domain"], "bücher.test", "{idn}");
    assert_eq!(idn["asciiDomain"], "xn--bcher-kva.test");
    assert_eq!(idn["txtName"], "_scim-gateway.xn--bcher-kva.test");

    // Admins only.
    let workspace = app.workspace_id(&admin).await;
    app.add_member(&workspace, "labeler@acme.test", None).await;
    let labeler = app.admin_token("acme", "labeler@acme.test").await;
    for query in [
        claim_mutation(),
        check_mutation(),
        "mutation($d: String!) { removeDomain(domain: $d) { status } }".to_string(),
    ] {
        let body = app
            .gql_errors(Some(&labeler), &query, json!({ "d": "bücher.test" }))
            .await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
        let body = app
            .gql_errors(None, &query, json!({ "d": "bücher.test" }))
            .await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{query}: {body}");
    }
    let body = app
        .gql_errors(
            Some(&labeler),
            "{ workspace { domains { domain } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(domains(&app, &admin).await.len(), 1);
}

/// The three findings: workspace B, with its own key and IdP, against A's people.
#[tokio::test]
async fn another_workspace_renames_nobody_reads_nothing_and_signs_in_no_one_of_a_verified_domain() {
    let app = TestApp::spawn().await;
    // A: acme.test verified, SCIM on; A's IdP names its owner and Alice.
    let admin_a = app.admin_token("acme", "owner@acme.test").await;
    let (base_a, key_a) = enable_scim(&app, &admin_a).await;
    let owner = scim_find(&app, &base_a, &key_a, "owner@acme.test").await;
    let owner_id = owner["id"].as_str().unwrap().to_string();
    let (status, _) = call(&app, &base_a, &key_a, "PATCH", &format!("/Users/{owner_id}"),
        Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "name", "value": { "givenName": "Olive", "familyName": "Owner" } }] })),
    ).await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, &base_a, &key_a, "POST", "/Users",
        Some(json!({ "schemas": [USER], "userName": "alice@acme.test", "name": { "givenName": "Alice", "familyName": "Liddell" } })),
    ).await;
    assert_eq!(status, 201);
    let owner_before = scim_find(&app, &base_a, &key_a, "owner@acme.test").await;
    assert_eq!(owner_before["name"]["givenName"], "Olive");
    assert_eq!(
        account_of(&app.db, "owner@acme.test")
            .await
            .given_name
            .as_deref(),
        Some("Olive"),
        "the owning workspace writes the global profile"
    );
    let workspace_a = app.workspace_id(&admin_a).await;
    let a_entries = activity::Entity::find()
        .filter(activity::Column::WorkspaceId.eq(workspace_a.as_str()))
        .all(&app.db)
        .await
        .unwrap()
        .len();

    // B: globex.test verified, SAML with the test IdP, SCIM on.
    let admin_b = app.admin_token("globex", "owner@globex.test").await;
    let sso = Sso::on(app, admin_b).await;
    let app = &sso.app;
    let answer = app
        .gql(Some(&sso.admin), ENABLE_SCIM_WITH_KEY, json!({}))
        .await;
    let (base_b, key_b) = scim_credentials(&answer);

    // 1. B's key "renames" A's owner: B's own member says so, nothing of A's does.
    let (status, in_b) = call(app, &base_b, &key_b, "POST", "/Users",
        Some(json!({ "schemas": [USER], "userName": "owner@acme.test", "name": { "givenName": "Pwned-by-globex", "familyName": "<img src=x onerror=alert(1)>" } })),
    ).await;
    assert_eq!(
        status, 201,
        "inviting someone of another domain is a membership: {in_b}"
    );
    assert_eq!(in_b["name"]["givenName"], "Pwned-by-globex");
    let owner_after = scim_find(app, &base_a, &key_a, "owner@acme.test").await;
    assert_eq!(owner_after["name"], owner_before["name"], "{owner_after}");
    assert_eq!(
        owner_after["meta"]["version"], owner_before["meta"]["version"],
        "A's member did not change"
    );
    assert_eq!(
        account_of(&app.db, "owner@acme.test")
            .await
            .given_name
            .as_deref(),
        Some("Olive")
    );
    let members = app
        .gql(
            Some(&admin_a),
            "{ workspace { members { nodes { userName givenName familyName } } } }",
            json!({}),
        )
        .await;
    let text = members.to_string();
    assert!(
        !text.contains("Pwned") && !text.contains("onerror"),
        "{text}"
    );
    assert!(text.contains("Olive"), "{text}");
    let me = app
        .gql(Some(&admin_a), "{ me { givenName familyName } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["givenName"], "Olive", "{me}");
    assert_eq!(me["data"]["me"]["familyName"], "Owner");
    // B's later renames reach no further.
    let b_owner = in_b["id"].as_str().unwrap();
    let (status, _) = call(app, &base_b, &key_b, "PUT", &format!("/Users/{b_owner}"),
        Some(json!({ "schemas": [USER], "userName": "owner@acme.test", "name": { "givenName": "Again" } })),
    ).await;
    assert_eq!(status, 200);
    assert_eq!(
        account_of(&app.db, "owner@acme.test")
            .await
            .given_name
            .as_deref(),
        Some("Olive")
    );
    let a_entries_now = activity::Entity::find()
        .filter(activity::Column::WorkspaceId.eq(workspace_a.as_str()))
        .all(&app.db)
        .await
        .unwrap()
        .len();
    assert_eq!(a_entries_now, a_entries, "nothing happened in A");

    // 2. B links Alice without naming her: it reads back nothing A's IdP stored.
    let (status, alice_b) = call(
        app,
        &base_b,
        &key_b,
        "POST",
        "/Users",
        Some(json!({ "schemas": [USER], "userName": "alice@acme.test" })),
    )
    .await;
    assert_eq!(status, 201);
    assert!(alice_b.get("name").is_none(), "{alice_b}");
    let (_, read) = call(
        app,
        &base_b,
        &key_b,
        "GET",
        &format!("/Users/{}", alice_b["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert!(read.get("name").is_none(), "{read}");
    assert!(!read.to_string().contains("Liddell"), "{read}");

    // 3. B's IdP signs none of acme.test in, member of B or not; its own people, yes.
    for who in ["owner@acme.test", "alice@acme.test", "nobody@acme.test"] {
        let body = sso
            .assert_refused(sso.post_acs(&sso.assertion(who).signed(), None).await, who)
            .await;
        assert!(
            body.contains("acme.test is not a verified domain of this workspace"),
            "{who}: {body}"
        );
    }
    assert_eq!(sso.sessions().await, 0);
    let (status, _) = call(
        app,
        &base_b,
        &key_b,
        "POST",
        "/Users",
        Some(json!({ "schemas": [USER], "userName": "gina@globex.test" })),
    )
    .await;
    assert_eq!(status, 201);
    sso.sign_in("gina@globex.test").await;
}

async fn account_of(db: &sea_orm::DatabaseConnection, email: &str) -> account::Model {
    account::Entity::find()
        .filter(account::Column::EmailKey.eq(email))
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

async fn scim_find(app: &TestApp, base: &str, key: &str, user_name: &str) -> Value {
    let filter: String =
        url::form_urlencoded::byte_serialize(format!("userName eq \"{user_name}\"").as_bytes())
            .collect();
    let (status, list) = call(
        app,
        base,
        key,
        "GET",
        &format!("/Users?filter={filter}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["totalResults"], 1, "{list}");
    list["Resources"][0].clone()
}

#[tokio::test]
async fn removing_a_verified_domain_stops_its_sign_ins_at_once() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let alice = sso.sign_in("alice@acme.test").await;
    sso.app
        .gql(
            Some(&sso.admin),
            "mutation { removeDomain(domain: \"acme.test\") { status } }",
            json!({}),
        )
        .await;
    // The sessions its IdP opened for the domain's people end with it.
    assert_eq!(sso.sessions().await, 0);
    let (_, me) = sso.gql_cookie(&alice, "{ me { userName } }").await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED", "{me}");
    let response = sso
        .post_acs(&sso.assertion("alice@acme.test").signed(), None)
        .await;
    let body = sso.assert_refused(response, "domain removed").await;
    assert!(body.contains("not a verified domain"), "{body}");
    assert!(
        sso.latest_refusal()
            .await
            .contains("Address in a verified domain:")
    );
    // And the workspace is no longer found by it.
    let response = sso
        .browser
        .get(format!("{}/api/sso?who=alice%40acme.test", sso.app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["location"],
        "/?ssoError=no_workspace",
        "no verified domain, no workspace"
    );
    // What an upgrade leaves a workspace in: SAML configured, no verified domain; named for
    // the operator.
    let told = scim_gateway::domain::domains::saml_without_verified_domain(&sso.app.db)
        .await
        .unwrap();
    assert_eq!(told, vec!["acme".to_string()]);
}

#[tokio::test]
async fn accounts_stored_before_claimed_domains_get_their_domain_filled() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token("acme", "owner@acme.test").await;
    let workspace = app.workspace_id(&admin).await;
    app.add_member(&workspace, "Jo@Bücher.test", None).await;
    // As the migration leaves them.
    account::Entity::update_many()
        .col_expr(
            account::Column::EmailDomain,
            Expr::value(Option::<String>::None),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let filled = scim_gateway::domain::domains::fill_account_domains(&app.db)
        .await
        .unwrap();
    assert_eq!(filled, 2);
    let domain_of = async |key: &str| {
        account::Entity::find()
            .filter(account::Column::EmailKey.eq(key))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .email_domain
    };
    assert_eq!(
        domain_of("owner@acme.test").await.as_deref(),
        Some("acme.test")
    );
    assert_eq!(
        domain_of("jo@bücher.test").await.as_deref(),
        Some("xn--bcher-kva.test")
    );
    assert_eq!(
        scim_gateway::domain::domains::fill_account_domains(&app.db)
            .await
            .unwrap(),
        0,
        "once"
    );
}

#[tokio::test]
async fn an_account_made_under_another_spelling_of_a_domain_is_still_that_domains() {
    let app = TestApp::spawn().await;
    let admin_a = app.admin_token("acme", "owner@acme.test").await;
    let (base_a, key_a) = enable_scim(&app, &admin_a).await;
    app.vouch(&app.workspace_id(&admin_a).await, "bank.test")
        .await;
    let admin_b = app.admin_token("globex", "owner@globex.test").await;
    let (base_b, key_b) = enable_scim(&app, &admin_b).await;
    // B files Kate first, with the Kelvin sign (U+212A) for the k of bank.test: the same key.
    let (status, _) = call(&app, &base_b, &key_b, "POST", "/Users",
        Some(json!({ "schemas": [USER], "userName": "kate@ban\u{212A}.test", "name": { "givenName": "Squat" } })),
    ).await;
    assert_eq!(status, 201);
    let (status, _) = call(&app, &base_a, &key_a, "POST", "/Users",
        Some(json!({ "schemas": [USER], "userName": "kate@bank.test", "name": { "givenName": "Kate", "familyName": "Bank" } })),
    ).await;
    assert_eq!(status, 201);
    let account = account_of(&app.db, "kate@bank.test").await;
    assert_eq!(account.email_domain.as_deref(), Some("bank.test"));
    assert_eq!(
        account.given_name.as_deref(),
        Some("Kate"),
        "the verified workspace writes the profile"
    );
}
