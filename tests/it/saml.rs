use scim_gateway::entities::activity;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::common::{
    CONFIGURE_SAML, TestApp, certificate_pem, configure_saml, days_from_now, error_code,
};

fn field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test]
async fn configure_saml_from_fields_reads_the_certificate() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let body = configure_saml(&app, &token).await;
    let saml = &body["data"]["configureSaml"];
    assert_eq!(saml["configured"], true, "{body}");
    assert_eq!(saml["idpEntityId"], "http://www.okta.com/exk1test");
    assert_eq!(saml["ssoUrl"], "https://example.okta.com/app/sso/saml");
    assert!(
        saml["certificateSubject"]
            .as_str()
            .unwrap()
            .contains("Test IdP signing")
    );
    assert!((363..=365).contains(&days_from_now(&saml["certificateExpiresAt"])));
    assert_eq!(saml["certificateExpiresSoon"], false);

    let body = app
        .gql(
            Some(&token),
            "{ workspace { saml { configured idpEntityId ssoUrl certificateExpiresAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["workspace"]["saml"]["configured"], true);
    assert_eq!(
        body["data"]["workspace"]["saml"]["ssoUrl"],
        "https://example.okta.com/app/sso/saml"
    );

    let entries = activity::Entity::find()
        .filter(activity::Column::Action.eq("saml.configure"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0].summary.contains("http://www.okta.com/exk1test"),
        "{}",
        entries[0].summary
    );
    assert_eq!(entries[0].actor, "admin owner@acme.test");
}

#[tokio::test]
async fn a_certificate_near_expiry_is_flagged() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    app.vouch_admin_domain(&token).await;
    let body = app
        .gql(
            Some(&token),
            CONFIGURE_SAML,
            json!({ "input": { "idpEntityId": "https://sts.windows.net/tenant/", "ssoUrl": "https://login.microsoftonline.com/tenant/saml2", "certificatePem": certificate_pem(10) } }),
        )
        .await;
    assert_eq!(
        body["data"]["configureSaml"]["certificateExpiresSoon"], true,
        "{body}"
    );
}

#[tokio::test]
async fn invalid_fields_are_validation_errors_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let good_cert = certificate_pem(365);
    let cases = [
        (
            json!({ "idpEntityId": "x", "ssoUrl": "https://idp/sso", "certificatePem": certificate_pem(-5) }),
            "certificatePem",
            "expired",
        ),
        (
            json!({ "idpEntityId": "x", "ssoUrl": "https://idp/sso", "certificatePem": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----" }),
            "certificatePem",
            "PEM",
        ),
        (
            json!({ "idpEntityId": "x", "ssoUrl": "https://idp/sso", "certificatePem": "" }),
            "certificatePem",
            "required",
        ),
        (
            json!({ "idpEntityId": "x", "ssoUrl": "ftp://idp/sso", "certificatePem": good_cert }),
            "ssoUrl",
            "https",
        ),
        (
            json!({ "idpEntityId": "x", "ssoUrl": "not a url", "certificatePem": good_cert }),
            "ssoUrl",
            "absolute",
        ),
        (
            json!({ "idpEntityId": "  ", "ssoUrl": "https://idp/sso", "certificatePem": good_cert }),
            "idpEntityId",
            "required",
        ),
        (
            json!({ "ssoUrl": "https://idp/sso", "certificatePem": good_cert }),
            "idpEntityId",
            "required",
        ),
        (
            json!({ "metadataXml": "<x/>", "ssoUrl": "https://idp/sso" }),
            "metadataXml",
            "not both",
        ),
        (json!({ "metadataXml": "<not xml" }), "metadataXml", "XML"),
        (
            json!({ "metadataXml": "<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"sp\"/>" }),
            "metadataXml",
            "IDPSSODescriptor",
        ),
    ];
    for (input, expected_field, words) in cases {
        let body = app
            .gql_errors(Some(&token), CONFIGURE_SAML, json!({ "input": input }))
            .await;
        assert_eq!(error_code(&body), "VALIDATION", "{input}: {body}");
        assert_eq!(field(&body), expected_field, "{input}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(words), "{input}: {message}");
    }
    let body = app
        .gql(
            Some(&token),
            "{ workspace { saml { configured } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["workspace"]["saml"]["configured"], false);
}

fn metadata_xml(cert_pem: &str) -> String {
    let body: String = cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sts.windows.net/1234-tenant/">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>
{body}
      </ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://login.microsoftonline.com/1234-tenant/saml2/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/1234-tenant/saml2"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

#[tokio::test]
async fn configure_saml_from_idp_metadata() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    app.vouch_admin_domain(&token).await;
    let body = app
        .gql(
            Some(&token),
            CONFIGURE_SAML,
            json!({ "input": { "metadataXml": metadata_xml(&certificate_pem(200)) } }),
        )
        .await;
    let saml = &body["data"]["configureSaml"];
    assert_eq!(
        saml["idpEntityId"], "https://sts.windows.net/1234-tenant/",
        "{body}"
    );
    assert_eq!(
        saml["ssoUrl"],
        "https://login.microsoftonline.com/1234-tenant/saml2"
    );
    assert!((198..=200).contains(&days_from_now(&saml["certificateExpiresAt"])));

    // Reconfiguring replaces the previous configuration.
    let body = configure_saml(&app, &token).await;
    assert_eq!(
        body["data"]["configureSaml"]["idpEntityId"],
        "http://www.okta.com/exk1test"
    );
    let expired = metadata_xml(&certificate_pem(-1));
    let body = app
        .gql_errors(
            Some(&token),
            CONFIGURE_SAML,
            json!({ "input": { "metadataXml": expired } }),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION");
    assert_eq!(field(&body), "metadataXml");
    let body = app
        .gql(
            Some(&token),
            "{ workspace { saml { idpEntityId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["workspace"]["saml"]["idpEntityId"],
        "http://www.okta.com/exk1test"
    );
}

/// The service provider's values are there before SAML is configured (the admin needs them to
/// set the IdP up) and after; its metadata is served at the entity ID, for this workspace only.
#[tokio::test]
async fn the_service_provider_values_and_metadata() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let workspace = app.workspace_id(&token).await;
    let sp_query = "{ workspace { saml { configured spEntityId acsUrl spMetadataUrl } } }";
    let base = format!("{}/api/teams/{workspace}/saml", app.url);
    let expected = |configured: bool| {
        json!({
            "configured": configured,
            "spEntityId": format!("{base}/metadata"),
            "acsUrl": format!("{base}/acs"),
            "spMetadataUrl": format!("{base}/metadata"),
        })
    };
    let before = app.gql(Some(&token), sp_query, json!({})).await;
    assert_eq!(before["data"]["workspace"]["saml"], expected(false));
    configure_saml(&app, &token).await;
    let after = app.gql(Some(&token), sp_query, json!({})).await;
    assert_eq!(after["data"]["workspace"]["saml"], expected(true));

    let response = app
        .client
        .get(format!("{base}/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/samlmetadata+xml"
    );
    let xml = response.text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let md = "urn:oasis:names:tc:SAML:2.0:metadata";
    let root = doc.root_element();
    assert!(root.has_tag_name((md, "EntityDescriptor")), "{xml}");
    assert_eq!(
        root.attribute("entityID"),
        Some(format!("{base}/metadata").as_str())
    );
    let sp = root
        .children()
        .find(|n| n.has_tag_name((md, "SPSSODescriptor")))
        .expect("an SPSSODescriptor");
    assert_eq!(sp.attribute("WantAssertionsSigned"), Some("true"));
    let acs: Vec<_> = sp
        .children()
        .filter(|n| n.has_tag_name((md, "AssertionConsumerService")))
        .collect();
    assert_eq!(acs.len(), 1, "{xml}");
    assert_eq!(
        acs[0].attribute("Binding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    assert_eq!(
        acs[0].attribute("Location"),
        Some(format!("{base}/acs").as_str())
    );
    let name_id = sp
        .children()
        .find(|n| n.has_tag_name((md, "NameIDFormat")))
        .and_then(|n| n.text());
    assert_eq!(
        name_id,
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );

    // A workspace that doesn't exist has no metadata.
    let missing = app
        .client
        .get(format!(
            "{}/api/teams/00000000-0000-0000-0000-000000000000/saml/metadata",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
