//! SAML single sign-on against the real server: a test IdP signs real responses (see
//! `saml_idp`), the browser's part is played with plain HTTP (no redirects followed), and every
//! refusal is checked for what matters: no cookie and no session row.

use std::io::Read;

use reqwest::StatusCode;
use scim_gateway::entities::{activity, session};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::common::{Scim, TestApp, error_code};
use crate::saml_idp::{Assertion, IDP_ENTITY_ID, encode, foreign_key, idp_key, next_key};

const COOKIE: &str = "scimgw_session";
pub const BINDING_COOKIE: &str = "scimgw_sso";
const IDP_SSO_URL: &str = "http://localhost:9/idp/sso";
const ME: &str = "{ me { userName role roleSource signedInWithSso workspace { slug name } } }";

pub struct Sso {
    pub app: TestApp,
    pub admin: String,
    pub workspace_id: String,
    pub sp_entity_id: String,
    pub acs_url: String,
    /// A browser that does not follow redirects, so each step is seen.
    pub browser: reqwest::Client,
    /// The sign-in cookie the last `login` set, which `post_acs` sends back as a browser would.
    pub binding: std::sync::Mutex<Option<String>>,
}

impl Sso {
    pub async fn start() -> Sso {
        let app = TestApp::spawn().await;
        let admin = app.admin_token("acme", "owner@acme.test").await;
        Self::on(app, admin).await
    }

    /// Configures `app`'s workspace (of `admin`) to trust the test IdP.
    pub async fn on(app: TestApp, admin: String) -> Sso {
        app.vouch_admin_domain(&admin).await;
        let body = app
            .gql(
                Some(&admin),
                "mutation($input: SamlInput!) { configureSaml(input: $input) { spEntityId acsUrl } }",
                json!({ "input": {
                    "idpEntityId": IDP_ENTITY_ID,
                    "ssoUrl": IDP_SSO_URL,
                    "certificatePem": idp_key().certificate_pem,
                }}),
            )
            .await;
        let saml = &body["data"]["configureSaml"];
        let workspace_id = app.workspace_id(&admin).await;
        Sso {
            sp_entity_id: saml["spEntityId"].as_str().unwrap().to_string(),
            acs_url: saml["acsUrl"].as_str().unwrap().to_string(),
            workspace_id,
            admin,
            binding: std::sync::Mutex::new(None),
            browser: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            app,
        }
    }

    pub fn assertion(&self, name_id: &str) -> Assertion {
        Assertion::new(&self.sp_entity_id, &self.acs_url, name_id)
    }

    /// GET …/saml/login: the IdP URL it redirects to, and the AuthnRequest's ID.
    pub async fn login(&self, return_to: Option<&str>) -> (url::Url, String) {
        let mut url = format!(
            "{}/api/teams/{}/saml/login",
            self.app.url, self.workspace_id
        );
        if let Some(path) = return_to {
            url.push_str(&format!(
                "?return_to={}",
                url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
            ));
        }
        let response = self.browser.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        *self.binding.lock().unwrap() = Some(
            cookie_set(&response, BINDING_COOKIE).expect("the sign-in cookie is set by /login"),
        );
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        let request = authn_request(&location);
        let doc = roxmltree::Document::parse(&request).unwrap();
        let id = doc.root_element().attribute("ID").unwrap().to_string();
        (location, id)
    }

    pub async fn post_acs(&self, xml: &str, relay_state: Option<&str>) -> reqwest::Response {
        let binding = self.binding.lock().unwrap().clone();
        self.post_acs_from(xml, relay_state, binding.as_deref())
            .await
    }

    /// POSTs to the ACS from a browser holding `binding` as its sign-in cookie (or none).
    pub async fn post_acs_from(
        &self,
        xml: &str,
        relay_state: Option<&str>,
        binding: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("SAMLResponse", encode(xml))];
        if let Some(relay) = relay_state {
            form.push(("RelayState", relay.to_string()));
        }
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let mut request = self
            .browser
            .post(&self.acs_url)
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(binding) = binding {
            request = request.header("Cookie", format!("{BINDING_COOKIE}={binding}"));
        }
        request.body(body).send().await.unwrap()
    }

    /// A full SP-initiated sign-in of `name_id`; the session cookie's value.
    pub async fn sign_in(&self, name_id: &str) -> String {
        let (_, request_id) = self.login(None).await;
        let mut assertion = self.assertion(name_id);
        assertion.in_response_to = Some(request_id);
        let response = self.post_acs(&assertion.signed(), None).await;
        let status = response.status();
        let cookie = session_cookie(&response);
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        cookie.unwrap_or_else(|| panic!("no session cookie: {body}"))
    }

    /// The summary of the newest refusal in the activity log.
    pub async fn latest_refusal(&self) -> String {
        activity::Entity::find()
            .filter(activity::Column::Action.eq("sso.refused"))
            .order_by_desc(activity::Column::Id)
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("an activity entry for the refusal")
            .summary
    }

    /// Posts `signed`, which must sign in, then drops the session (so a later refusal is seen
    /// as "no session").
    pub async fn accept_once(&self, signed: &str) {
        let response = self.post_acs(signed, None).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "the untouched response is accepted"
        );
        session::Entity::delete_many()
            .exec(&self.app.db)
            .await
            .unwrap();
    }

    pub async fn sessions(&self) -> u64 {
        session::Entity::find().count(&self.app.db).await.unwrap()
    }

    /// POST /graphql with the session cookie (same origin, as the page sends it).
    pub async fn gql_cookie(&self, cookie: &str, query: &str) -> (StatusCode, Value) {
        let response = self
            .browser
            .post(format!("{}/graphql", self.app.url))
            .header("Cookie", format!("{COOKIE}={cookie}"))
            .header("Origin", &self.app.url)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    pub async fn me(&self, cookie: &str) -> Value {
        let (status, body) = self.gql_cookie(cookie, ME).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Asserts that `response` refused the sign-in with no cookie, whatever sessions exist.
    pub async fn assert_refused_keeping_sessions(
        &self,
        response: reqwest::Response,
        why: &str,
    ) -> String {
        let status = response.status();
        let cookie = session_cookie(&response);
        let body = response.text().await.unwrap();
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{why}: expected a refusal: {body}"
        );
        assert!(cookie.is_none(), "{why}: a session cookie was set");
        body
    }

    /// Asserts that `response` refused the sign-in: 403 (or 400), no cookie, no session row.
    pub async fn assert_refused(&self, response: reqwest::Response, why: &str) -> String {
        let status = response.status();
        let cookie = session_cookie(&response);
        let body = response.text().await.unwrap();
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
            "{why}: expected a refusal, got {status}: {body}"
        );
        assert!(cookie.is_none(), "{why}: a session cookie was set");
        assert_eq!(self.sessions().await, 0, "{why}: a session row exists");
        body
    }
}

/// The Set-Cookie value of the session cookie, if the response sets one (not a removal).
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    cookie_set(response, COOKIE)
}

/// The value a response sets for cookie `name` (not a removal).
pub fn cookie_set(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, value)| *n == name && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// The AuthnRequest XML in an HTTP-Redirect URL (base64 of raw DEFLATE).
fn authn_request(location: &url::Url) -> String {
    let encoded = location
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .expect("SAMLRequest in the redirect")
        .1
        .to_string();
    use base64::Engine;
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

#[tokio::test]
async fn sp_initiated_sign_in_starts_a_session_with_the_members_role() {
    let sso = Sso::start().await;
    sso.app
        .add_member(
            &sso.workspace_id,
            "alice@acme.test",
            Some(scim_gateway::domain::roles::Role::Reviewer),
        )
        .await;

    let (location, request_id) = sso.login(Some("/reports?x=1")).await;
    assert!(location.as_str().starts_with(IDP_SSO_URL), "{location}");
    let relay = location
        .query_pairs()
        .find(|(k, _)| k == "RelayState")
        .unwrap()
        .1
        .to_string();
    let request = authn_request(&location);
    let doc = roxmltree::Document::parse(&request).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "AuthnRequest");
    assert_eq!(root.attribute("Destination"), Some(IDP_SSO_URL));
    assert_eq!(
        root.attribute("AssertionConsumerServiceURL"),
        Some(sso.acs_url.as_str())
    );
    let issuer = root
        .descendants()
        .find(|n| n.has_tag_name("Issuer"))
        .unwrap();
    assert_eq!(issuer.text(), Some(sso.sp_entity_id.as_str()));

    let mut assertion = sso.assertion("Alice@Acme.test");
    assertion.in_response_to = Some(request_id);
    let response = sso.post_acs(&assertion.signed(), Some(&relay)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/reports?x=1");
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "http public URL: {set_cookie}"
    );
    let cookie = session_cookie(&response).unwrap();

    // Only a hash of the cookie is stored.
    let rows = session::Entity::find().all(&sso.app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].token_hash, cookie);
    assert!(!rows[0].token_hash.contains(&cookie));

    let me = sso.me(&cookie).await;
    assert_eq!(me["data"]["me"]["userName"], "alice@acme.test", "{me}");
    assert_eq!(me["data"]["me"]["role"], "REVIEWER");
    assert_eq!(me["data"]["me"]["roleSource"], "as the IdP's direct role");
    assert_eq!(me["data"]["me"]["signedInWithSso"], true);
    assert_eq!(me["data"]["me"]["workspace"]["slug"], "acme");

    // A reviewer is no admin: the settings stay closed.
    let (_, body) = sso.gql_cookie(&cookie, "{ workspace { id } }").await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");

    let entries = activity::Entity::find()
        .filter(activity::Column::Action.eq("sso.sign_in"))
        .all(&sso.app.db)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0]
            .summary
            .contains("alice@acme.test signed in through SSO as Reviewer"),
        "{}",
        entries[0].summary
    );
}

#[tokio::test]
async fn idp_initiated_sign_in_is_accepted_and_relay_state_must_be_a_local_path() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;

    let response = sso
        .post_acs(&sso.assertion("alice@acme.test").signed(), Some("/members"))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/members");
    assert!(session_cookie(&response).is_some());

    for evil in [
        "https://evil.test/",
        "//evil.test/x",
        "/\\evil.test",
        "javascript:alert(1)",
    ] {
        let response = sso
            .post_acs(&sso.assertion("alice@acme.test").signed(), Some(evil))
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{evil}");
        assert_eq!(response.headers()["location"], "/", "{evil}");
    }
    // return_to on the login link is held to the same rule.
    let (_, request_id) = sso.login(Some("//evil.test/")).await;
    let mut assertion = sso.assertion("alice@acme.test");
    assertion.in_response_to = Some(request_id);
    let response = sso.post_acs(&assertion.signed(), None).await;
    assert_eq!(response.headers()["location"], "/");
}

#[tokio::test]
async fn the_next_certificate_of_a_rotation_is_trusted_too() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let signed_by_next = sso.assertion("alice@acme.test").signed_by(next_key());
    sso.assert_refused(
        sso.post_acs(&signed_by_next, None).await,
        "next key before it is configured",
    )
    .await;

    let body = sso
        .app
        .gql(
            Some(&sso.admin),
            "mutation($input: SamlInput!) { configureSaml(input: $input) { nextCertificateSubject } }",
            json!({ "input": {
                "idpEntityId": IDP_ENTITY_ID,
                "ssoUrl": IDP_SSO_URL,
                "certificatePem": idp_key().certificate_pem,
                "nextCertificatePem": next_key().certificate_pem,
            }}),
        )
        .await;
    assert!(
        body["data"]["configureSaml"]["nextCertificateSubject"]
            .as_str()
            .unwrap()
            .contains("next")
    );
    for key in [idp_key(), next_key()] {
        let response = sso
            .post_acs(&sso.assertion("alice@acme.test").signed_by(key), None)
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(session_cookie(&response).is_some());
    }
}

#[tokio::test]
async fn the_attack_corpus_is_refused_without_a_session() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test.evil.test", None)
        .await;
    let admin_id = "owner@acme.test";
    let valid = || sso.assertion("alice@acme.test");

    // Sanity: the unchanged assertion is what the attacks start from, and it would be accepted
    // (checked at the end, so its ID is not spent before the replay test).
    let mut cases: Vec<(&str, String)> = Vec::new();

    let a = valid();
    cases.push((
        "unsigned",
        a.response_xml(&a.assertion_xml(false, idp_key())),
    ));
    cases.push(("signed by another key", valid().signed_by(foreign_key())));
    cases.push(("foreign key with the IdP's certificate in KeyInfo", {
        let a = valid();
        foreign_key().sign(&a.response_xml(&a.assertion_xml(true, idp_key())))
    }));
    cases.push((
        "changed after signing",
        valid().signed().replace("alice@acme.test", admin_id),
    ));
    {
        let a = valid();
        let signed = a.signed();
        let mut evil = valid();
        evil.name_id = admin_id.into();
        let evil_assertion = evil.assertion_xml(false, idp_key());
        let signed_assertion = extract_assertion(&signed);
        cases.push((
            "wrapping: unsigned assertion before the signed one",
            signed.replace(
                &signed_assertion,
                &format!("{evil_assertion}{signed_assertion}"),
            ),
        ));
        cases.push((
            "wrapping: unsigned assertion after the signed one",
            signed.replace(
                &signed_assertion,
                &format!("{signed_assertion}{evil_assertion}"),
            ),
        ));
        let around = evil_assertion.replace(
            "</saml:Assertion>",
            &format!("<saml:Advice>{signed_assertion}</saml:Advice></saml:Assertion>"),
        );
        cases.push((
            "wrapping: unsigned assertion around the signed one",
            signed.replace(&signed_assertion, &around),
        ));
    }
    // One field changed before signing: the signature holds, the content must not.
    let changed = |change: &dyn Fn(&mut Assertion)| {
        let mut a = valid();
        change(&mut a);
        a.signed()
    };
    let now = chrono::Utc::now();
    let minutes = chrono::Duration::minutes;
    for (why, xml) in [
        (
            "a comment inside the signed NameID",
            changed(&|a| a.name_id = "alice@acme.test<!---->.evil.test".into()),
        ),
        (
            "wrong Issuer",
            changed(&|a| a.issuer = "http://other-idp.test".into()),
        ),
        (
            "wrong Destination",
            changed(&|a| a.destination = Some("http://elsewhere.test/acs".into())),
        ),
        (
            "wrong Recipient",
            changed(&|a| a.recipient = "http://elsewhere.test/acs".into()),
        ),
        (
            "wrong Audience",
            changed(&|a| a.audience = Some("http://other-sp.test/metadata".into())),
        ),
        ("no Audience", changed(&|a| a.audience = None)),
        (
            "expired",
            changed(&|a| {
                a.issue_instant = now - minutes(20);
                a.not_before = a.issue_instant;
                a.not_on_or_after = now - minutes(10);
            }),
        ),
        (
            "not valid yet",
            changed(&|a| a.not_before = now + minutes(10)),
        ),
        (
            "status Responder",
            changed(&|a| a.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into()),
        ),
        (
            "unknown InResponseTo",
            changed(&|a| a.in_response_to = Some("id-never-sent".into())),
        ),
    ] {
        cases.push((why, xml));
    }
    cases.push(("not XML", "not xml at all".into()));

    for (why, xml) in &cases {
        let body = sso.assert_refused(sso.post_acs(xml, None).await, why).await;
        // Refused for the right reason: the page names the check that failed.
        assert!(body.contains(expected_check(why)), "{why}: {body}");
    }
    // Every refusal is counted; one client's refusals of one kind within a minute are one entry.
    let entries = activity::Entity::find()
        .filter(activity::Column::Action.eq("sso.refused"))
        .all(&sso.app.db)
        .await
        .unwrap();
    let counted: i32 = entries.iter().map(|e| e.occurrences).sum();
    assert_eq!(counted as usize, cases.len(), "every refusal counted");
    assert!(entries.len() < cases.len(), "repeats folded: {entries:?}");
    // The log names each check that failed (under the first refusal of its kind that minute).
    for (why, _) in &cases {
        assert!(
            entries
                .iter()
                .any(|e| e.summary.contains(expected_check(why))),
            "{why}: no entry names {}",
            expected_check(why)
        );
    }

    // Replay of an IdP-initiated response (no request to consume: only the replay cache stops
    // it), of an SP-initiated one, and a request answered twice.
    let signed = valid().signed();
    sso.accept_once(&signed).await;
    sso.assert_refused(
        sso.post_acs(&signed, None).await,
        "replayed IdP-initiated response",
    )
    .await;
    assert!(
        sso.latest_refusal()
            .await
            .contains("First use of the assertion:")
    );

    let (_, request_id) = sso.login(None).await;
    let mut a = valid();
    a.in_response_to = Some(request_id.clone());
    let signed = a.signed();
    sso.accept_once(&signed).await;
    sso.assert_refused(sso.post_acs(&signed, None).await, "replayed response")
        .await;
    let mut again = valid();
    again.in_response_to = Some(request_id);
    sso.assert_refused(
        sso.post_acs(&again.signed(), None).await,
        "request answered twice",
    )
    .await;
}

/// The check each attack must fail (its label in the activity entry).
fn expected_check(why: &str) -> &'static str {
    match why {
        w if w.starts_with("unsigned")
            || w.contains("key")
            || w.starts_with("changed after signing") =>
        {
            "Signature:"
        }
        w if w.starts_with("wrapping") => "exactly one is accepted",
        w if w.contains("comment") => "Signature:",
        "wrong Issuer" => "Issuer (IdP entity ID):",
        "wrong Destination" | "wrong Recipient" => "Recipient and destination (ACS URL):",
        "wrong Audience" | "no Audience" => "Audience (SP entity ID):",
        "expired" | "not valid yet" => "Validity window:",
        "status Responder" => "IdP status:",
        "unknown InResponseTo" => "Answered request:",
        "not XML" => "SAML response format:",
        other => panic!("no expected check for {other}"),
    }
}

/// The one `<saml:Assertion …>…</saml:Assertion>` of a signed response, as text.
fn extract_assertion(xml: &str) -> String {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    xml[start..end].to_string()
}

#[tokio::test]
async fn only_active_members_of_this_workspace_sign_in() {
    let sso = Sso::start().await;
    let bob = sso
        .app
        .add_member(&sso.workspace_id, "bob@acme.test", None)
        .await;
    sso.app.deactivate_outside_scim(&bob).await;
    let other_admin = sso.app.admin_token("globex", "owner@globex.test").await;
    let globex = sso.app.workspace_id(&other_admin).await;
    sso.app.add_member(&globex, "carol@globex.test", None).await;

    for (who, why) in [
        ("bob@acme.test", "deactivated"),
        ("nobody@acme.test", "unknown"),
    ] {
        let body = sso
            .assert_refused(sso.post_acs(&sso.assertion(who).signed(), None).await, why)
            .await;
        assert!(body.contains("not a member of this workspace: ask your admin to assign you in your identity provider"), "{why}: {body}");
    }
    // A member of another workspace, of a domain this one has not verified: refused for the
    // domain, before anyone is looked up.
    let body = sso
        .assert_refused(
            sso.post_acs(&sso.assertion("carol@globex.test").signed(), None)
                .await,
            "member of another workspace",
        )
        .await;
    assert!(
        body.contains("globex.test is not a verified domain of this workspace"),
        "{body}"
    );
    let entries = activity::Entity::find()
        .filter(activity::Column::Action.eq("sso.refused"))
        .all(&sso.app.db)
        .await
        .unwrap();
    assert_eq!(entries.len(), 3);
    assert!(
        entries
            .iter()
            .any(|e| e.summary.contains("bob@acme.test is a deactivated member")),
        "{entries:?}"
    );
}

#[tokio::test]
async fn the_email_attribute_names_the_person_when_the_name_id_is_not_an_email() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let mut a = sso.assertion("00u1abcd");
    a.name_id_format = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into();
    a.email_attribute = Some("alice@acme.test".into());
    let response = sso.post_acs(&a.signed(), None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie(&response).unwrap();
    assert_eq!(
        sso.me(&cookie).await["data"]["me"]["userName"],
        "alice@acme.test"
    );
}

/// The loop the product exists for: SCIM provisions and groups a person, the mapping gives the
/// role, SSO signs them in with it, edits apply at once, and SCIM deactivation ends the session.
#[tokio::test]
async fn scim_provisions_sso_signs_in_and_deactivation_ends_the_session() {
    let scim = Scim::start().await;
    let user = scim
        .ok(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "alice@acme.test",
                "name": { "givenName": "Alice", "familyName": "Liddell" },
                "emails": [{ "value": "alice@acme.test", "type": "work", "primary": true }],
                "active": true
            })),
        )
        .await;
    let user_id = user.body["id"].as_str().unwrap().to_string();
    scim.ok(
        "POST",
        "/Groups",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Reviewers",
            "members": [{ "value": user_id }]
        })),
    )
    .await;
    let set_mapping = |role: &str| {
        format!(
            "mutation {{ setGroupRoleMappings(mappings: [{{ groupName: \"Reviewers\", role: {role} }}]) {{ mappings {{ groupName }} }} }}"
        )
    };
    scim.app
        .gql(Some(&scim.admin), &set_mapping("REVIEWER"), json!({}))
        .await;

    let Scim {
        app,
        admin,
        key,
        base,
    } = scim;
    let sso = Sso::on(app, admin).await;
    let cookie = sso.sign_in("alice@acme.test").await;
    let me = sso.me(&cookie).await;
    assert_eq!(me["data"]["me"]["role"], "REVIEWER", "{me}");
    assert_eq!(me["data"]["me"]["roleSource"], "via group Reviewers");
    let (_, body) = sso.gql_cookie(&cookie, "{ workspace { id } }").await;
    assert_eq!(error_code(&body), "FORBIDDEN");

    sso.app
        .gql(Some(&sso.admin), &set_mapping("ADMIN"), json!({}))
        .await;
    let (_, body) = sso.gql_cookie(&cookie, "{ workspace { slug } }").await;
    assert_eq!(body["data"]["workspace"]["slug"], "acme", "{body}");
    assert_eq!(sso.me(&cookie).await["data"]["me"]["role"], "ADMIN");

    let deactivate = sso
        .app
        .client
        .patch(format!("{base}/Users/{user_id}"))
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "path": "active", "value": false }]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deactivate.status(), StatusCode::OK);
    let (_, body) = sso.gql_cookie(&cookie, ME).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn a_cookie_from_another_site_is_refused() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let cookie = sso.sign_in("alice@acme.test").await;

    let foreign = sso
        .browser
        .post(format!("{}/graphql", sso.app.url))
        .header("Cookie", format!("{COOKIE}={cookie}"))
        .header("Origin", "https://evil.test")
        .json(&json!({ "query": "mutation { signOut }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let body: Value = foreign.json().await.unwrap();
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_eq!(sso.sessions().await, 1, "the forged sign-out did nothing");

    // A form post (no preflight) can't send JSON: any other type is refused with a cookie.
    let form = sso
        .browser
        .post(format!("{}/graphql", sso.app.url))
        .header("Cookie", format!("{COOKIE}={cookie}"))
        .header("Content-Type", "text/plain")
        .body(json!({ "query": "mutation { signOut }" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(sso.sessions().await, 1);

    // A WebSocket opened from another site is refused at the upgrade.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "{}/graphql",
            sso.app.url.replace("http://", "ws://")
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("Cookie", format!("{COOKIE}={cookie}").parse().unwrap());
    request
        .headers_mut()
        .insert("Origin", "https://evil.test".parse().unwrap());
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(refused.is_err(), "the cross-site WebSocket was accepted");

    // Same origin: sign-out ends the session and clears the cookie.
    let (status, body) = sso.gql_cookie(&cookie, "mutation { signOut }").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["signOut"], true);
    assert_eq!(sso.sessions().await, 0);
    let (_, body) = sso.gql_cookie(&cookie, ME).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

const REPORT: &str = "query($id: ID!) { samlTestReport(id: $id) { succeeded subject memberUserName role checks { check passed detail } } }";

/// The admin's "Test sign-in": the same checks as a sign-in, a report, and no session.
#[tokio::test]
async fn a_test_sign_in_reports_each_check_without_a_session() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;

    let body = sso
        .app
        .gql(Some(&sso.admin), "mutation { startSamlTest }", json!({}))
        .await;
    let url = url::Url::parse(body["data"]["startSamlTest"].as_str().unwrap()).unwrap();
    assert!(url.as_str().starts_with(IDP_SSO_URL));
    let relay = url
        .query_pairs()
        .find(|(k, _)| k == "RelayState")
        .unwrap()
        .1
        .to_string();
    let request = authn_request(&url);
    let request_id = roxmltree::Document::parse(&request)
        .unwrap()
        .root_element()
        .attribute("ID")
        .unwrap()
        .to_string();
    // Not answered yet: no report.
    let body = sso
        .app
        .gql(Some(&sso.admin), REPORT, json!({ "id": request_id }))
        .await;
    assert!(body["data"]["samlTestReport"].is_null(), "{body}");

    let mut assertion = sso.assertion("alice@acme.test");
    assertion.in_response_to = Some(request_id.clone());
    let response = sso.post_acs(&assertion.signed(), Some(&relay)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        session_cookie(&response).is_none(),
        "a test starts no session"
    );
    assert_eq!(
        response.headers()["location"],
        format!("/?samlTest={request_id}#saml").as_str()
    );
    assert_eq!(sso.sessions().await, 0);
    let body = sso
        .app
        .gql(Some(&sso.admin), REPORT, json!({ "id": request_id }))
        .await;
    let report = &body["data"]["samlTestReport"];
    assert_eq!(report["succeeded"], true, "{body}");
    assert_eq!(report["memberUserName"], "alice@acme.test");
    assert_eq!(report["role"], "Labeler");
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 11);
    let domain_line = checks.iter().find(|c| c["check"] == "DOMAIN").unwrap();
    assert!(
        domain_line["detail"]
            .as_str()
            .unwrap()
            .contains("acme.test is verified by this workspace"),
        "{report}"
    );
    assert!(checks.iter().all(|c| c["passed"] == true), "{report}");

    // A failing test: signed by another key; the report says which check failed, and what
    // could not be checked after it.
    let body = sso
        .app
        .gql(Some(&sso.admin), "mutation { startSamlTest }", json!({}))
        .await;
    let url = url::Url::parse(body["data"]["startSamlTest"].as_str().unwrap()).unwrap();
    let relay = url
        .query_pairs()
        .find(|(k, _)| k == "RelayState")
        .unwrap()
        .1
        .to_string();
    let mut assertion = sso.assertion("alice@acme.test");
    assertion.in_response_to = Some(relay.clone());
    let response = sso
        .post_acs(&assertion.signed_by(foreign_key()), Some(&relay))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let body = sso
        .app
        .gql(Some(&sso.admin), REPORT, json!({ "id": relay }))
        .await;
    let report = &body["data"]["samlTestReport"];
    assert_eq!(report["succeeded"], false);
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check("FORMAT")["passed"], true, "{report}");
    assert_eq!(check("SIGNATURE")["passed"], false);
    assert!(
        check("SIGNATURE")["detail"]
            .as_str()
            .unwrap()
            .contains("not signed by the configured IdP certificate")
    );
    assert!(check("PERSON")["passed"].is_null());
    assert_eq!(sso.sessions().await, 0);

    // Only admins start tests and read reports.
    let labeler_cookie = sso.sign_in("alice@acme.test").await;
    let (_, body) = sso
        .gql_cookie(&labeler_cookie, "mutation { startSamlTest }")
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let (_, body) = sso
        .gql_cookie(
            &labeler_cookie,
            &format!("{{ samlTestReport(id: \"{relay}\") {{ succeeded }} }}"),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
}

#[tokio::test]
async fn sign_in_with_sso_finds_the_workspace_by_slug_or_email() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let find = |who: &str| {
        let url = format!(
            "{}/api/sso?who={}&return_to=%2Fmembers",
            sso.app.url,
            url::form_urlencoded::byte_serialize(who.as_bytes()).collect::<String>()
        );
        let browser = sso.browser.clone();
        async move { browser.get(url).send().await.unwrap() }
    };
    let expected = format!(
        "/api/teams/{}/saml/login?return_to=%2Fmembers",
        sso.workspace_id
    );
    // A member and a stranger of the verified domain get the same answer: the domain decides,
    // so the route tells nobody who is a member.
    for who in ["acme", "ACME ", "Alice@Acme.test", "nobody@acme.test"] {
        let response = find(who).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{who}");
        assert_eq!(response.headers()["location"], expected.as_str(), "{who}");
    }
    for who in [
        "alice@unverified.test",
        "alice@sub.acme.test",
        "no-such-workspace",
        "",
    ] {
        let response = find(who).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{who}");
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(
            location, "/?ssoError=no_workspace",
            "{who}: a code, never text"
        );
    }
    // A workspace without SAML has no sign-in to go to.
    let globex_admin = sso.app.admin_token("globex", "owner@globex.test").await;
    let globex = sso.app.workspace_id(&globex_admin).await;
    let response = sso
        .browser
        .get(format!("{}/api/teams/{globex}/saml/login", sso.app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("no SAML configuration")
    );
}

#[tokio::test]
async fn a_response_signed_as_a_whole_is_accepted_and_still_held_to_one_assertion() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let response = sso
        .post_acs(&sso.assertion("alice@acme.test").response_signed(), None)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie(&response).expect("a session");
    assert_eq!(
        sso.me(&cookie).await["data"]["me"]["userName"],
        "alice@acme.test"
    );
    session::Entity::delete_many()
        .exec(&sso.app.db)
        .await
        .unwrap();

    // A second, unsigned assertion beside the one the response signature covers.
    let signed = sso.assertion("alice@acme.test").response_signed();
    let mut evil = sso.assertion("owner@acme.test");
    evil.assertion_id = "_evil".into();
    let injected = signed.replace(
        "</samlp:Response>",
        &format!("{}</samlp:Response>", evil.assertion_xml(false, idp_key())),
    );
    sso.assert_refused(
        sso.post_acs(&injected, None).await,
        "assertion beside a signed response",
    )
    .await;
    assert!(
        sso.latest_refusal()
            .await
            .contains("exactly one is accepted")
    );
}

#[tokio::test]
async fn removing_a_member_through_scim_ends_their_session() {
    let scim = Scim::start().await;
    let user = scim
        .ok(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "bob@acme.test",
                "emails": [{ "value": "bob@acme.test", "primary": true }],
            })),
        )
        .await;
    let user_id = user.body["id"].as_str().unwrap().to_string();
    let Scim {
        app,
        admin,
        key,
        base,
    } = scim;
    let sso = Sso::on(app, admin).await;
    let cookie = sso.sign_in("bob@acme.test").await;
    assert_eq!(
        sso.me(&cookie).await["data"]["me"]["userName"],
        "bob@acme.test"
    );

    let deleted = sso
        .app
        .client
        .delete(format!("{base}/Users/{user_id}"))
        .header("Authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let (_, body) = sso.gql_cookie(&cookie, ME).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    assert_eq!(
        sso.sessions().await,
        0,
        "the member's sessions went with it"
    );
    let body = sso
        .assert_refused(
            sso.post_acs(&sso.assertion("bob@acme.test").signed(), None)
                .await,
            "removed member",
        )
        .await;
    assert!(body.contains("not a member of this workspace"), "{body}");
}
