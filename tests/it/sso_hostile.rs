//! The ACS as anyone on the internet meets it: documents built to make the verifier open files
//! and URLs, run transforms, or parse for minutes. Two walls hold each alone: the pre-check
//! refuses every signature form but the SAML profile's before xmlsec sees the document (tested
//! through HTTP), and xmlsec and libxml2 can open nothing even when the pre-check is switched off
//! (tested on the verifier itself, with a listener and a FIFO that notice any attempt).

use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use scim_gateway::domain::saml::ServiceProvider;
use scim_gateway::domain::saml::verify::{self, SignatureForms, TrustedIdp};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::common::{Scim, TestApp};
use crate::saml_idp::{Assertion, IDP_ENTITY_ID, encode, idp_key};
use crate::sso::Sso;

const EXC_C14N_TRANSFORM: &str =
    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";

/// A listener on loopback that counts the connections made to it.
struct Listener {
    url: String,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    fn start() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/key", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, until) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            while !until.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok(_) => {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(e) => panic!("listener: {e}"),
                }
            }
        });
        Listener {
            url,
            connections,
            stop,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A FIFO that records whether anyone opened it for reading: a reader's `open` blocks until a
/// writer comes, and a non-blocking open for writing succeeds only while a reader waits.
struct Fifo {
    path: std::path::PathBuf,
    opened: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl Fifo {
    fn create() -> Fifo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo");
        let opened = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, until, probe) = (opened.clone(), stop.clone(), path.clone());
        std::thread::spawn(move || {
            const O_NONBLOCK: i32 = 0o4000;
            while !until.load(Ordering::SeqCst) {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(O_NONBLOCK)
                    .open(&probe)
                {
                    // A reader was waiting; closing at once gives it end of file.
                    Ok(_) => seen.store(true, Ordering::SeqCst),
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Fifo {
            path,
            opened,
            stop,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A signed response whose assertion's signature is then changed by `change` (the signature no
/// longer matches: what matters is what the verifier does before it finds that out).
fn with_signature_changed(a: &Assertion, change: impl Fn(&str) -> String) -> String {
    change(&a.signed())
}

fn reference_to(a: &Assertion, uri: &str) -> String {
    with_signature_changed(a, |xml| {
        xml.replace(
            &format!("URI=\"#{}\"", a.assertion_id),
            &format!("URI=\"{uri}\""),
        )
    })
}

fn with_transform(a: &Assertion, transform: &str) -> String {
    with_signature_changed(a, |xml| {
        assert!(xml.contains(EXC_C14N_TRANSFORM), "{xml}");
        xml.replace(EXC_C14N_TRANSFORM, transform)
    })
}

#[tokio::test]
async fn signatures_other_than_the_profiles_same_document_form_are_refused_before_xmlsec() {
    // Without the per-client budget: every document here is to reach the checks.
    let sso = budgeted(0, false).await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let listener = Listener::start();
    let fifo = Fifo::create();
    let a = || sso.assertion("alice@acme.test");

    let mut cases: Vec<(&str, String, &str)> = vec![
        (
            "reference to /dev/zero",
            reference_to(&a(), "file:///dev/zero"),
            "only a same-document reference",
        ),
        (
            "reference to a local file",
            reference_to(&a(), &fifo.url()),
            "only a same-document reference",
        ),
        (
            "reference to a URL",
            reference_to(&a(), &listener.url),
            "only a same-document reference",
        ),
        (
            "XPointer reference",
            reference_to(&a(), "#xpointer(/)"),
            "only a same-document reference",
        ),
        (
            "whole-document reference",
            reference_to(&a(), ""),
            "only a same-document reference",
        ),
        (
            "XPath transform",
            with_transform(
                &a(),
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>count(//. | //@* | //namespace::*)</ds:XPath></ds:Transform>",
            ),
            "ds:XPath",
        ),
        (
            "XPath filter 2 transform",
            with_transform(
                &a(),
                "<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\"><f:XPath xmlns:f=\"http://www.w3.org/2002/06/xmldsig-filter2\" Filter=\"union\">//.</f:XPath></ds:Transform>",
            ),
            "is not accepted; only enveloped-signature and exclusive c14n",
        ),
        (
            "XSLT transform",
            with_transform(
                &a(),
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\"><xsl:template match=\"/\"><xsl:copy-of select=\"document('file:///etc/passwd')\"/></xsl:template></xsl:stylesheet></ds:Transform>",
            ),
            "is not accepted; only enveloped-signature and exclusive c14n",
        ),
        (
            "base64 transform",
            with_transform(
                &a(),
                "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#base64\"/>",
            ),
            "is not accepted; only enveloped-signature and exclusive c14n",
        ),
        (
            "c14n with comments",
            with_transform(
                &a(),
                "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"/>",
            ),
            "is not accepted; only enveloped-signature and exclusive c14n",
        ),
        (
            "canonicalization with comments",
            with_signature_changed(&a(), |xml| {
                xml.replacen(
                    "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
                    "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"/>",
                    1,
                )
            }),
            "only exclusive c14n without comments",
        ),
        (
            "RetrievalMethod in KeyInfo",
            with_signature_changed(&a(), |xml| {
                xml.replace(
                    "<ds:KeyInfo>",
                    &format!("<ds:KeyInfo><ds:RetrievalMethod URI=\"{}\"/>", listener.url),
                )
            }),
            "ds:RetrievalMethod",
        ),
        (
            "Object with a Manifest",
            with_signature_changed(&a(), |xml| {
                xml.replace(
                    "</ds:KeyInfo>",
                    &format!(
                        "</ds:KeyInfo><ds:Object><ds:Manifest><ds:Reference URI=\"{}\"/></ds:Manifest></ds:Object>",
                        listener.url
                    ),
                )
            }),
            "ds:Object",
        ),
        (
            "two signatures on the assertion",
            with_signature_changed(&a(), |xml| {
                let start = xml.find("<ds:Signature").unwrap();
                let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
                let signature = &xml[start..end];
                xml.replacen(signature, &format!("{signature}{signature}"), 1)
            }),
            "more than one signature",
        ),
        (
            "a second reference",
            with_signature_changed(&a(), |xml| {
                xml.replace(
                    "</ds:SignedInfo>",
                    &format!(
                        "<ds:Reference URI=\"{}\"><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>",
                        listener.url
                    ),
                )
            }),
            "exactly one Reference",
        ),
        (
            "signed with RSA-SHA1",
            a().signed_with_algorithms((
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                "http://www.w3.org/2000/09/xmldsig#sha1",
            )),
            "the signature algorithm",
        ),
    ];
    // Another encoding declared: libxml2 would read markup where the checks read text (in
    // UTF-7, `+ADw-` is `<`), so a signature hidden that way would reach xmlsec unchecked.
    for encoding in ["UTF-7", "UTF-16", "ISO-8859-1"] {
        let signed = a().signed();
        assert!(
            signed.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{signed}"
        );
        let hidden = format!(
            "<?xml version=\"1.0\" encoding=\"{encoding}\"?>{}",
            &signed["<?xml version=\"1.0\" encoding=\"UTF-8\"?>".len()..]
        )
        .replace(
            "</saml:Issuer><samlp:Status>",
            &format!(
                "</saml:Issuer>+ADw-ds:Reference URI=+ACI-{}+ACI-/+AD4-<samlp:Status>",
                listener.url
            ),
        );
        cases.push((
            "another encoding declared",
            hidden,
            "SAML responses are UTF-8",
        ));
    }
    // A DTD, which would let entities name files.
    cases.push((
        "a DTD with an external entity",
        a().signed().replacen(
            "<samlp:Response",
            "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><samlp:Response",
            1,
        ),
        "begin with its root element",
    ));
    // A second declaration (or byte order mark) behind the first: the one libxml2 would honour.
    let utf8 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    for (why, prefix) in [
        (
            "a second declaration",
            format!("{utf8}<?xml version=\"1.0\" encoding=\"UTF-7\"?>"),
        ),
        (
            "two byte order marks",
            "\u{feff}\u{feff}<?xml version=\"1.0\" encoding=\"UTF-7\"?>".to_string(),
        ),
        (
            "a byte order mark between two declarations",
            format!("{utf8}\u{feff}<?xml version=\"1.0\" encoding=\"UTF-7\"?>"),
        ),
    ] {
        let signed = a().signed();
        cases.push((
            why,
            format!("{prefix}{}", &signed[utf8.len()..]),
            "begin with its root element",
        ));
    }

    // Parse-cost bombs: nested elements each declaring one more prefix (minutes of CPU in a
    // tree parser at 8,000 levels), and plain depth.
    let mut bomb = String::new();
    for i in 0..8000 {
        bomb.push_str(&format!("<e xmlns:p{i}=\"u:{i}\">"));
    }
    bomb.push_str(&"</e>".repeat(8000));
    cases.push((
        "8,000 levels of namespace declarations",
        bomb,
        "more than 32 namespace declarations in scope",
    ));
    cases.push((
        "60,000 levels of nesting",
        format!("{}{}", "<a>".repeat(60_000), "</a>".repeat(60_000)),
        "deeper than 48 levels",
    ));

    for (why, xml, expected) in &cases {
        let body = sso.assert_refused(sso.post_acs(xml, None).await, why).await;
        let body = body.replace("&quot;", "\"");
        assert!(
            body.contains(expected),
            "{why}: refused for another reason: {body}"
        );
    }
    assert_eq!(listener.connections(), 0, "the listener was connected to");
    assert!(
        !fifo.opened.load(Ordering::SeqCst),
        "the local file was opened"
    );
    // The same IdP, the untouched form: signs in (so the refusals above are about the form).
    let response = sso.post_acs(&a().signed(), None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// The second wall alone: with the pre-check off, a reference to a URL or a local file reaches
/// xmlsec, which must open neither.
#[tokio::test]
async fn with_the_precheck_off_xmlsec_opens_no_url_and_no_file() {
    let sp = ServiceProvider::at("http://gw.test/api/teams/t/saml");
    let listener = Listener::start();
    let fifo = Fifo::create();
    let pem = idp_key().certificate_pem.clone();
    for uri in [listener.url.clone(), fifo.url(), "file:///dev/zero".into()] {
        let a = Assertion::new(&sp.entity_id, &sp.acs_url, "alice@acme.test");
        let xml = reference_to(&a, &uri);
        let (sp, pem) = (sp.clone(), pem.clone());
        let outcome = tokio::time::timeout(
            Duration::from_secs(20),
            tokio::task::spawn_blocking(move || {
                let idp = TrustedIdp {
                    entity_id: IDP_ENTITY_ID,
                    certificates: vec![&pem],
                };
                verify::verify_with(&encode(&xml), &sp, &idp, SignatureForms::UncheckedForTests)
            }),
        )
        .await
        .unwrap_or_else(|_| panic!("{uri}: the verifier did not return"))
        .unwrap();
        let refusal = outcome.expect_err("a reference elsewhere never verifies");
        assert_eq!(refusal.check, verify::Check::Signature, "{uri}: {refusal}");
    }
    // Give a late connection the time to show.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(listener.connections(), 0, "xmlsec connected to the URL");
    assert!(
        !fifo.opened.load(Ordering::SeqCst),
        "xmlsec opened the local file"
    );

    // And the algorithm list samael enforces holds without the pre-check too.
    let a = Assertion::new(&sp.entity_id, &sp.acs_url, "alice@acme.test");
    let sha1 = a.signed_with_algorithms((
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    ));
    let idp = TrustedIdp {
        entity_id: IDP_ENTITY_ID,
        certificates: vec![&pem],
    };
    let refusal = verify::verify_with(&encode(&sha1), &sp, &idp, SignatureForms::UncheckedForTests)
        .expect_err("RSA-SHA1 is refused by samael's list");
    assert_eq!(refusal.check, verify::Check::Signature, "{refusal}");
    // The same document signed with SHA-256 verifies: the refusal is the algorithm's.
    let sha256 = a.signed();
    verify::verify_with(
        &encode(&sha256),
        &sp,
        &idp,
        SignatureForms::UncheckedForTests,
    )
    .expect("an RSA-SHA256 signature verifies");
}

/// Who a NameID names: only a member's current userName or e-mails, compared in ASCII case with
/// IDNA domains. A renamed member's old address names nobody; the Kelvin sign is not a `k`.
#[tokio::test]
async fn a_name_id_names_only_a_current_address_compared_in_ascii_case() {
    let scim = Scim::start().await;
    let jane = scim.create_user("jane@acme.test", "Jane", "Doe").await;
    scim.create_user("kate@acme.test", "Kate", "Bush").await;
    scim.create_user("jo@bücher.test", "Jo", "Buch").await;
    scim.ok(
        "PATCH",
        &format!("/Users/{jane}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                { "op": "replace", "path": "userName", "value": "jane.doe@acme.test" },
                { "op": "replace", "path": "emails", "value": [
                    { "value": "jane.doe@acme.test", "type": "work", "primary": true }
                ] }
            ]
        })),
    )
    .await;
    let Scim { app, admin, .. } = scim;
    let workspace = app.workspace_id(&admin).await;
    app.vouch(&workspace, "bücher.test").await;
    let sso = Sso::on(app, admin).await;

    for name_id in [
        "jane@acme.test",
        "\u{212A}ate@acme.test",
        "kate@acme.test.",
        "Jo@B\u{dc}CHER.test",
        "kate@ac\u{200b}me.test",
        "kate@\u{ff41}cme.test",
        "kate@acme\u{3002}test",
        "\u{2003}kate@acme.test",
    ] {
        let response = sso.post_acs(&sso.assertion(name_id).signed(), None).await;
        sso.assert_refused(response, name_id).await;
        let summary = sso.latest_refusal().await;
        // Refused as nobody, or (a spelling that is no domain of the workspace's) for the
        // domain: never as someone else.
        assert!(
            summary.contains("Who signs in: nobody")
                || summary.contains("Address in a verified domain:"),
            "{name_id}: {summary}"
        );
    }
    for (name_id, user_name) in [
        ("JANE.DOE@acme.test", "jane.doe@acme.test"),
        ("kate@ACME.test", "kate@acme.test"),
        ("jo@xn--bcher-kva.test", "jo@bücher.test"),
        ("Jo@B\u{fc}cher.TEST", "jo@bücher.test"),
    ] {
        let response = sso.post_acs(&sso.assertion(name_id).signed(), None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name_id}");
        let cookie = crate::sso::session_cookie(&response).expect("a session");
        let me = sso.me(&cookie).await;
        assert_eq!(me["data"]["me"]["userName"], user_name, "{name_id}: {me}");
    }
}

/// Login CSRF: an attacker starts a sign-in, has the IdP answer it for their own account, and
/// has the victim's browser post that answer. The answer is accepted only in the browser that
/// started the sign-in (its cookie), so the victim is not signed in as the attacker.
#[tokio::test]
async fn an_answer_posted_from_a_browser_that_did_not_start_the_sign_in_is_refused() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "mallory@acme.test", None)
        .await;
    let (_, request_id) = sso.login(None).await;
    let attackers_cookie = sso.binding.lock().unwrap().clone().unwrap();
    let mut a = sso.assertion("mallory@acme.test");
    a.in_response_to = Some(request_id);
    let answer = a.signed();

    // The victim's browser: no cookie, or the cookie of a sign-in of its own.
    let body = sso
        .assert_refused(
            sso.post_acs_from(&answer, None, None).await,
            "no sign-in cookie",
        )
        .await;
    assert!(body.contains("did not start this sign-in"), "{body}");
    sso.login(None).await;
    let victims_cookie = sso.binding.lock().unwrap().clone().unwrap();
    assert_ne!(victims_cookie, attackers_cookie);
    let body = sso
        .assert_refused(
            sso.post_acs_from(&answer, None, Some(&victims_cookie))
                .await,
            "another sign-in's cookie",
        )
        .await;
    assert!(body.contains("did not start this sign-in"), "{body}");

    // The browser that started it signs in, and its sign-in cookie is cleared.
    let response = sso
        .post_acs_from(&answer, None, Some(&attackers_cookie))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(crate::sso::session_cookie(&response).is_some());
    let cleared = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.starts_with(&format!("{}=;", crate::sso::BINDING_COOKIE)) && v.contains("Max-Age=0")
        });
    assert!(cleared, "the sign-in cookie is cleared after use");
}

/// The envelope's InResponseTo must be the signed assertion's: a signed answer to one request
/// can't be passed off as the answer to another.
#[tokio::test]
async fn an_envelope_naming_another_request_than_its_signed_assertion_is_refused() {
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let (_, first) = sso.login(None).await;
    let first_browser = sso.binding.lock().unwrap().clone();
    let (_, second) = sso.login(None).await;
    let mut a = sso.assertion("alice@acme.test");
    a.in_response_to = Some(first.clone());
    let signed = a.signed();
    let envelope_for_second = signed.replacen(
        &format!("InResponseTo=\"{first}\""),
        &format!("InResponseTo=\"{second}\""),
        1,
    );
    assert_ne!(signed, envelope_for_second);
    let body = sso
        .assert_refused(
            sso.post_acs_from(&envelope_for_second, None, first_browser.as_deref())
                .await,
            "envelope",
        )
        .await;
    assert!(
        body.contains("the response and its signed assertion answer different requests"),
        "{body}"
    );
}

/// A session stops working at its expiry, whatever its cookie says.
#[tokio::test]
async fn an_expired_session_is_refused() {
    use scim_gateway::entities::session;
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let cookie = sso.sign_in("alice@acme.test").await;
    assert_eq!(
        sso.me(&cookie).await["data"]["me"]["userName"],
        "alice@acme.test"
    );
    let row = session::Entity::find()
        .one(&sso.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    row.update(&sso.app.db).await.unwrap();
    let (_, body) = sso.gql_cookie(&cookie, "{ me { userName } }").await;
    assert_eq!(
        crate::common::error_code(&body),
        "UNAUTHENTICATED",
        "{body}"
    );
}

/// An app whose public routes allow `burst` requests per client and refill slowly, behind a
/// proxy at 127.0.0.1 (the tests' own address) when `behind_proxy`.
/// A burst of 0: no budget at all.
async fn budgeted(burst: u32, behind_proxy: bool) -> Sso {
    let app = TestApp::spawn_with(|settings| {
        let limits = scim_gateway::limits::Limits {
            public_rate_per_second: if burst == 0 { 0.0 } else { 0.01 },
            public_burst: burst,
            ..settings.limits.clone()
        };
        let proxies = if behind_proxy {
            scim_gateway::client_address::parse_networks("127.0.0.1").unwrap()
        } else {
            Vec::new()
        };
        settings.with_limits(limits).with_trusted_proxies(proxies)
    })
    .await;
    let admin = app.admin_token("acme", "owner@acme.test").await;
    Sso::on(app, admin).await
}

async fn get_from(sso: &Sso, path: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = sso.browser.get(format!("{}{path}", sso.app.url));
    if let Some(client) = forwarded_for {
        request = request.header("X-Forwarded-For", client);
    }
    request.send().await.unwrap()
}

/// Each public route takes from one budget per client; past it, 429 with Retry-After before
/// anything else is done (no request stored, nothing verified).
#[tokio::test]
async fn the_public_sign_in_routes_share_a_budget_per_client() {
    use scim_gateway::entities::saml_request;
    use sea_orm::{EntityTrait, PaginatorTrait};

    let sso = budgeted(3, false).await;
    let login = format!("/api/teams/{}/saml/login", sso.workspace_id);
    assert_eq!(
        get_from(&sso, &login, None).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        get_from(&sso, "/api/sso?who=acme", None).await.status(),
        StatusCode::SEE_OTHER
    );
    let junk = sso.post_acs("not xml", None).await;
    assert_eq!(junk.status(), StatusCode::FORBIDDEN);
    let stored = saml_request::Entity::find()
        .count(&sso.app.db)
        .await
        .unwrap();

    // The budget is spent: every public route answers 429, naming when to come back.
    for over in [
        get_from(&sso, &login, None).await,
        get_from(&sso, "/api/sso?who=acme", None).await,
        sso.post_acs("not xml", None).await,
    ] {
        assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = over.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1, "{retry}");
        assert!(
            over.text()
                .await
                .unwrap()
                .contains("Too many sign-in attempts")
        );
    }
    assert_eq!(
        saml_request::Entity::find()
            .count(&sso.app.db)
            .await
            .unwrap(),
        stored,
        "a refused /login stores no request"
    );
    // The SP metadata answers anyone too, from the same budget.
    let metadata = get_from(
        &sso,
        &format!("/api/teams/{}/saml/metadata", sso.workspace_id),
        None,
    )
    .await;
    assert_eq!(metadata.status(), StatusCode::TOO_MANY_REQUESTS);
    // Not behind a listed proxy: a forged X-Forwarded-For is not another client.
    let forged = get_from(&sso, &login, Some("203.0.113.50")).await;
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Behind a listed proxy, each address the proxy forwards has a budget of its own, and the
/// activity log folds one client's repeated refusals into one entry with a count.
#[tokio::test]
async fn behind_a_listed_proxy_each_forwarded_client_has_its_own_budget_and_entry() {
    use scim_gateway::entities::activity;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let sso = budgeted(4, true).await;
    let post_from = |client: &'static str| {
        sso.browser
            .post(&sso.acs_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Forwarded-For", format!("198.51.100.1, {client}"))
            .body(format!("SAMLResponse={}", encode("not xml")))
            .send()
    };
    for _ in 0..4 {
        assert_eq!(
            post_from("203.0.113.7").await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        post_from("203.0.113.7").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy still has its whole budget.
    for _ in 0..2 {
        assert_eq!(
            post_from("203.0.113.8").await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
    }
    let entries = activity::Entity::find()
        .filter(activity::Column::Action.eq("sso.refused"))
        .all(&sso.app.db)
        .await
        .unwrap();
    let by_client = |client: &str| {
        entries
            .iter()
            .filter(|e| e.client.as_deref() == Some(client))
            .map(|e| e.occurrences)
            .collect::<Vec<_>>()
    };
    // Within a minute, so one entry each; a run that crosses a minute boundary has two.
    let first = by_client("203.0.113.7");
    assert!(
        first.len() <= 2 && first.iter().sum::<i32>() == 4,
        "{entries:?}"
    );
    let second = by_client("203.0.113.8");
    assert!(
        second.len() <= 2 && second.iter().sum::<i32>() == 2,
        "{entries:?}"
    );
}

/// A sign-in in progress lives in its browser's cookie: `/login` stores nothing, so no flood of
/// it can fill the database or push someone's sign-in out (1,000 sign-ins started by others
/// leave an earlier one working). The cookie carries `return_to` (512 bytes at most) and works
/// only unchanged, for its workspace, once, and for ten minutes.
#[tokio::test]
async fn a_sign_in_in_progress_lives_in_its_browser_and_only_there() {
    use scim_gateway::entities::saml_request;
    use sea_orm::{EntityTrait, PaginatorTrait};

    let sso = budgeted(0, false).await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let answer_to = |request_id: &str| {
        let mut a = sso.assertion("alice@acme.test");
        a.in_response_to = Some(request_id.to_string());
        a.signed()
    };

    // Someone's sign-in, then a thousand started by others.
    let (_, theirs) = sso.login(Some("/members")).await;
    let their_cookie = sso.binding.lock().unwrap().clone();
    for _ in 0..1000 {
        sso.login(None).await;
    }
    assert_eq!(
        saml_request::Entity::find()
            .count(&sso.app.db)
            .await
            .unwrap(),
        0,
        "/login stores nothing"
    );
    let response = sso
        .post_acs_from(&answer_to(&theirs), None, their_cookie.as_deref())
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "still works");
    assert_eq!(
        response.headers()["location"],
        "/members",
        "return_to came back"
    );
    // Once only.
    let body = sso
        .assert_refused_keeping_sessions(
            sso.post_acs_from(&answer_to(&theirs), None, their_cookie.as_deref())
                .await,
            "answered twice",
        )
        .await;
    assert!(body.contains("already answered"), "{body}");

    // return_to: 512 bytes kept, 513 dropped.
    let long = format!("/{}", "a".repeat(511));
    let (_, id) = sso.login(Some(&long)).await;
    let cookie = sso.binding.lock().unwrap().clone();
    let response = sso
        .post_acs_from(&answer_to(&id), None, cookie.as_deref())
        .await;
    assert_eq!(response.headers()["location"].to_str().unwrap(), long);
    let (_, id) = sso.login(Some(&format!("/{}", "b".repeat(512)))).await;
    let cookie = sso.binding.lock().unwrap().clone();
    let response = sso
        .post_acs_from(&answer_to(&id), None, cookie.as_deref())
        .await;
    assert_eq!(
        response.headers()["location"],
        "/",
        "a 513-byte return_to is not kept"
    );

    // Sealed by the service, but expired, or for another workspace.
    {
        use scim_gateway::domain::sign_in::state::{self, Key, Pending};
        let key = Key::load(&sso.app.db).await.unwrap();
        let (_, id) = sso.login(None).await;
        let expired = state::seal(
            &key,
            &sso.workspace_id,
            &Pending {
                request_id: id.clone(),
                return_to: None,
                expires_at: chrono::Utc::now() - chrono::Duration::seconds(1),
            },
        );
        let body = sso
            .assert_refused_keeping_sessions(
                sso.post_acs_from(&answer_to(&id), None, Some(&expired))
                    .await,
                "expired",
            )
            .await;
        assert!(body.contains("more than 10 minutes ago"), "{body}");
        let elsewhere = state::seal(
            &key,
            "another-workspace",
            &Pending {
                request_id: id.clone(),
                return_to: None,
                expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
            },
        );
        let body = sso
            .assert_refused_keeping_sessions(
                sso.post_acs_from(&answer_to(&id), None, Some(&elsewhere))
                    .await,
                "another workspace's",
            )
            .await;
        assert!(body.contains("did not start this sign-in"), "{body}");
    }

    // Altered cookies: another request, another return_to.
    let (_, id) = sso.login(None).await;
    let cookie = sso.binding.lock().unwrap().clone().unwrap();
    let parts: Vec<&str> = cookie.split('.').collect();
    assert_eq!(parts.len(), 5, "{cookie}");
    let (_, other) = sso.login(None).await;
    let retargeted = cookie.replace(&id, &other);
    use base64::Engine;
    let evil_return = format!(
        "{}.{}.{}.{}.{}",
        parts[0],
        parts[1],
        parts[2],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("/evil"),
        parts[4]
    );
    for (why, forged, request) in [
        ("another request id", retargeted, other.clone()),
        ("another return_to", evil_return, id.clone()),
    ] {
        let body = sso
            .assert_refused_keeping_sessions(
                sso.post_acs_from(&answer_to(&request), None, Some(&forged))
                    .await,
                why,
            )
            .await;
        assert!(body.contains("did not start this sign-in"), "{why}: {body}");
    }
}

/// Verifications run side by side (no process-wide lock): many threads verifying valid and
/// forged responses at once each get their own right answer.
#[test]
fn verifications_side_by_side_each_get_their_own_answer() {
    let sp = ServiceProvider::at("http://gw.test/api/teams/t/saml");
    let pem = idp_key().certificate_pem.clone();
    let mut documents = Vec::new();
    for i in 0..96 {
        let a = Assertion::new(&sp.entity_id, &sp.acs_url, &format!("user{i}@acme.test"));
        let signed = a.signed();
        let (xml, valid) = match i % 3 {
            0 => (signed, true),
            1 => (signed.replace("@acme.test", "@evil.test"), false),
            _ => (reference_to(&a, "#elsewhere"), false),
        };
        documents.push((i, encode(&xml), valid));
    }
    let documents = std::sync::Arc::new(documents);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (documents, sp, pem) = (documents.clone(), sp.clone(), pem.clone());
            std::thread::spawn(move || {
                for round in 0..3 {
                    for (i, form, valid) in documents.iter().skip((t + round) % 5) {
                        let idp = TrustedIdp {
                            entity_id: IDP_ENTITY_ID,
                            certificates: vec![&pem],
                        };
                        match verify::verify(form, &sp, &idp) {
                            Ok(verified) => {
                                assert!(valid, "document {i} was accepted");
                                assert_eq!(verified.subject, format!("user{i}@acme.test"));
                            }
                            Err(refusal) => assert!(!valid, "document {i}: {refusal}"),
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a verifying thread panicked");
    }
}

/// A workspace can refuse IdP-initiated sign-in (an answer nobody asked for can't be tied to a
/// browser); SP-initiated sign-in still works, the switch survives a new configuration, and only
/// an admin of a workspace with SAML may turn it.
#[tokio::test]
async fn a_workspace_can_switch_idp_initiated_sign_in_off() {
    const SWITCH: &str = "mutation($allowed: Boolean!) { setAllowIdpInitiated(allowed: $allowed) { allowIdpInitiated } }";
    let sso = Sso::start().await;
    sso.app
        .add_member(&sso.workspace_id, "alice@acme.test", None)
        .await;
    let allow_idp_initiated = || async {
        sso.app
            .gql(
                Some(&sso.admin),
                "{ workspace { saml { allowIdpInitiated } } }",
                json!({}),
            )
            .await["data"]["workspace"]["saml"]["allowIdpInitiated"]
            .clone()
    };
    assert_eq!(allow_idp_initiated().await, true);
    let tile = sso
        .post_acs_from(&sso.assertion("alice@acme.test").signed(), None, None)
        .await;
    assert_eq!(tile.status(), StatusCode::SEE_OTHER, "allowed by default");
    scim_gateway::entities::session::Entity::delete_many()
        .exec(&sso.app.db)
        .await
        .unwrap();

    let off = sso
        .app
        .gql(Some(&sso.admin), SWITCH, json!({ "allowed": false }))
        .await;
    assert_eq!(
        off["data"]["setAllowIdpInitiated"]["allowIdpInitiated"], false,
        "{off}"
    );
    let body = sso
        .assert_refused(
            sso.post_acs_from(&sso.assertion("alice@acme.test").signed(), None, None)
                .await,
            "IdP-initiated while off",
        )
        .await;
    assert!(
        body.contains("IdP-initiated sign-in is switched off"),
        "{body}"
    );
    // Started here, it signs in.
    sso.sign_in("alice@acme.test").await;

    // A new configuration keeps the switch where the admin left it.
    let again = sso
        .app
        .gql(
            Some(&sso.admin),
            "mutation($input: SamlInput!) { configureSaml(input: $input) { configured } }",
            json!({ "input": {
                "idpEntityId": IDP_ENTITY_ID,
                "ssoUrl": "https://idp.test/sso",
                "certificatePem": idp_key().certificate_pem,
            }}),
        )
        .await;
    assert_eq!(
        again["data"]["configureSaml"]["configured"], true,
        "{again}"
    );
    assert_eq!(allow_idp_initiated().await, false, "kept off");
    let logged = scim_gateway::entities::activity::Entity::find()
        .filter(scim_gateway::entities::activity::Column::Action.eq("saml.idp_initiated"))
        .count(&sso.app.db)
        .await
        .unwrap();
    assert_eq!(logged, 1, "the change is in the activity log");

    // Not an admin: FORBIDDEN; no SAML yet: SAML_REQUIRED.
    let cookie = sso.sign_in("alice@acme.test").await;
    let (_, body) = sso
        .gql_cookie(
            &cookie,
            "mutation { setAllowIdpInitiated(allowed: true) { allowIdpInitiated } }",
        )
        .await;
    assert_eq!(crate::common::error_code(&body), "FORBIDDEN", "{body}");
    let other = sso.app.admin_token("globex", "owner@globex.test").await;
    let body = sso
        .app
        .gql_errors(Some(&other), SWITCH, json!({ "allowed": false }))
        .await;
    assert_eq!(crate::common::error_code(&body), "SAML_REQUIRED", "{body}");
}

/// An ACS post costs its size: a client's burst holds one of the largest documents, not sixty,
/// while small answers still go through.
#[tokio::test]
async fn a_large_acs_post_costs_its_size_of_the_budget() {
    let sso = budgeted(60, false).await;
    let large = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">{}</samlp:Response>",
        "<x/>".repeat(110_000)
    );
    assert!(large.len() > 400 * 1024);
    let first = sso.post_acs_from(&large, None, None).await;
    assert_eq!(
        first.status(),
        StatusCode::FORBIDDEN,
        "the first is read and refused"
    );
    let second = sso.post_acs_from(&large, None, None).await;
    assert_eq!(
        second.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the burst is spent on one"
    );
    let small = sso.post_acs_from("not xml", None, None).await;
    assert_eq!(
        small.status(),
        StatusCode::FORBIDDEN,
        "small answers still fit"
    );
}

/// The third wall alone: with the pre-check off, a same-document reference whose transforms are
/// XPath or XSLT reaches xmlsec, which no longer knows them and refuses before running anything
/// (without that list it runs them and fails only at the digest, after the transform's cost).
#[test]
fn with_the_precheck_off_xmlsec_runs_no_xpath_or_xslt_transform() {
    let sp = ServiceProvider::at("http://gw.test/api/teams/t/saml");
    let pem = idp_key().certificate_pem.clone();
    let idp = TrustedIdp {
        entity_id: IDP_ENTITY_ID,
        certificates: vec![&pem],
    };
    for (name, transform) in [
        (
            "XPath",
            "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>count(//*) &gt;= 0</ds:XPath></ds:Transform>",
        ),
        (
            "XSLT",
            "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\"><xsl:template match=\"/\"><r/></xsl:template></xsl:stylesheet></ds:Transform>",
        ),
    ] {
        let a = Assertion::new(&sp.entity_id, &sp.acs_url, "alice@acme.test");
        let xml = with_transform(&a, transform);
        let refusal =
            verify::verify_with(&encode(&xml), &sp, &idp, SignatureForms::UncheckedForTests)
                .expect_err("never verifies");
        assert_eq!(refusal.check, verify::Check::Signature, "{name}: {refusal}");
        assert!(
            !refusal.detail.contains("digest do not match"),
            "{name}: the transform ran and only the digest failed: {}",
            refusal.detail
        );
        assert!(
            refusal.detail.contains("xmlsec:"),
            "{name}: {}",
            refusal.detail
        );
    }
}

/// The checks and the verifier read one tree: with the encoding rule off, a document that
/// libxml2 (xmlsec's parser) reads as another tree (declared UTF-7, `+ADw-` is `<` to it and
/// text to the checks) is refused by the comparison of the two readings, before xmlsec.
#[test]
fn a_document_the_verifier_reads_differently_is_refused() {
    let sp = ServiceProvider::at("http://gw.test/api/teams/t/saml");
    let pem = idp_key().certificate_pem.clone();
    let idp = TrustedIdp {
        entity_id: IDP_ENTITY_ID,
        certificates: vec![&pem],
    };
    let differing = concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-7\"?>",
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"r\">",
        "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>",
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"a\">+ADw-hidden/+AD4-</saml:Assertion>",
        "</samlp:Response>"
    );
    let refusal = verify::verify_with(
        &encode(differing),
        &sp,
        &idp,
        SignatureForms::EncodingUncheckedForTests,
    )
    .expect_err("refused");
    assert!(
        refusal.detail.contains("reads differently"),
        "refused for another reason: {refusal}"
    );
    // With the encoding rule on, it doesn't get that far.
    let refusal = verify::verify(&encode(differing), &sp, &idp).expect_err("refused");
    assert!(
        refusal.detail.contains("SAML responses are UTF-8"),
        "{refusal}"
    );
}
