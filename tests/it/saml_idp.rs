//! A test identity provider that signs real SAML responses: an RSA-2048 key and self-signed
//! certificate made here, assertions signed by xmlsec1 (samael's signer, RSA-SHA256, exclusive
//! c14n, enveloped). It is not a model of the gateway's verifier: the gateway sees bytes on the
//! wire, as from Okta or Entra, and the attack tests change those bytes.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use samael::crypto::{Crypto, CryptoProvider};

pub struct SigningKey {
    key: PKey<Private>,
    pub certificate_pem: String,
    certificate_b64: String,
}

impl SigningKey {
    fn generate(name: &str) -> SigningKey {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut subject = X509NameBuilder::new().unwrap();
        subject.append_entry_by_text("CN", name).unwrap();
        let subject = subject.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        cert.set_subject_name(&subject).unwrap();
        cert.set_issuer_name(&subject).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(365).unwrap())
            .unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = cert.build();
        let certificate_pem = String::from_utf8(cert.to_pem().unwrap()).unwrap();
        let certificate_b64 = STANDARD.encode(cert.to_der().unwrap());
        SigningKey {
            key,
            certificate_pem,
            certificate_b64,
        }
    }

    /// Signs the one `<ds:Signature>` template in `xml`.
    pub fn sign(&self, xml: &str) -> String {
        let der = self.key.private_key_to_der().unwrap();
        Crypto::sign_xml(xml, &der).expect("xmlsec signs the template")
    }
}

/// The IdP's key; another that nobody configured; the next one of a rotation.
pub fn idp_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("Test IdP signing"))
}

pub fn foreign_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("Attacker"))
}

pub fn next_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("Test IdP signing (next)"))
}

pub const IDP_ENTITY_ID: &str = "http://idp.test/saml/metadata";

/// Everything a response says, so each attack changes one thing.
#[derive(Clone, Debug)]
pub struct Assertion {
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: String,
    pub email_attribute: Option<String>,
    pub audience: Option<String>,
    pub recipient: String,
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub issue_instant: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub not_on_or_after: DateTime<Utc>,
    pub status: String,
    pub assertion_id: String,
    pub response_id: String,
}

impl Assertion {
    /// A valid answer for the SP `sp_entity_id`/`acs_url`, about `name_id`.
    pub fn new(sp_entity_id: &str, acs_url: &str, name_id: &str) -> Assertion {
        let now = Utc::now();
        Assertion {
            issuer: IDP_ENTITY_ID.into(),
            name_id: name_id.into(),
            name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
            email_attribute: None,
            audience: Some(sp_entity_id.into()),
            recipient: acs_url.into(),
            destination: Some(acs_url.into()),
            in_response_to: None,
            issue_instant: now,
            not_before: now - Duration::seconds(5),
            not_on_or_after: now + Duration::minutes(5),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            assertion_id: format!("_a{}", uuid::Uuid::new_v4().simple()),
            response_id: format!("_r{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The assertion element with a signature template (to sign) or none.
    pub fn assertion_xml(&self, signature_template: bool, signer: &SigningKey) -> String {
        let t = |d: DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
        let in_response_to = self
            .in_response_to
            .as_ref()
            .map(|id| format!(" InResponseTo=\"{id}\""))
            .unwrap_or_default();
        let signature = if signature_template {
            signature_template_for(&self.assertion_id, signer)
        } else {
            String::new()
        };
        let conditions_audience = self
            .audience
            .as_ref()
            .map(|a| format!("<saml:AudienceRestriction><saml:Audience>{a}</saml:Audience></saml:AudienceRestriction>"))
            .unwrap_or_default();
        let email = self
            .email_attribute
            .as_ref()
            .map(|e| format!("<saml:AttributeStatement><saml:Attribute Name=\"email\"><saml:AttributeValue>{e}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"))
            .unwrap_or_default();
        format!(
            concat!(
                "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{aid}\" Version=\"2.0\" IssueInstant=\"{issued}\">",
                "<saml:Issuer>{issuer}</saml:Issuer>{signature}",
                "<saml:Subject><saml:NameID Format=\"{format}\">{name_id}</saml:NameID>",
                "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">",
                "<saml:SubjectConfirmationData NotOnOrAfter=\"{until}\" Recipient=\"{recipient}\"{irt}/>",
                "</saml:SubjectConfirmation></saml:Subject>",
                "<saml:Conditions NotBefore=\"{from}\" NotOnOrAfter=\"{until}\">{audience}</saml:Conditions>",
                "<saml:AuthnStatement AuthnInstant=\"{issued}\" SessionIndex=\"{aid}\"><saml:AuthnContext>",
                "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>",
                "</saml:AuthnContext></saml:AuthnStatement>{email}</saml:Assertion>"
            ),
            aid = self.assertion_id,
            issued = t(self.issue_instant),
            issuer = self.issuer,
            signature = signature,
            format = self.name_id_format,
            name_id = self.name_id,
            until = t(self.not_on_or_after),
            from = t(self.not_before),
            recipient = self.recipient,
            irt = in_response_to,
            audience = conditions_audience,
            email = email,
        )
    }

    /// The Response around `assertions` (unsigned envelope, as Okta and Entra send by default).
    pub fn response_xml(&self, assertions: &str) -> String {
        let destination = self
            .destination
            .as_ref()
            .map(|d| format!(" Destination=\"{d}\""))
            .unwrap_or_default();
        let in_response_to = self
            .in_response_to
            .as_ref()
            .map(|id| format!(" InResponseTo=\"{id}\""))
            .unwrap_or_default();
        format!(
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ",
                "ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{issued}\"{destination}{irt}>",
                "<saml:Issuer>{issuer}</saml:Issuer>",
                "<samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>{assertions}</samlp:Response>"
            ),
            rid = self.response_id,
            issued = self
                .issue_instant
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            destination = destination,
            irt = in_response_to,
            issuer = self.issuer,
            status = self.status,
            assertions = assertions,
        )
    }

    /// The whole response with its assertion signed by `signer`.
    pub fn signed_by(&self, signer: &SigningKey) -> String {
        signer.sign(&self.response_xml(&self.assertion_xml(true, signer)))
    }

    pub fn signed(&self) -> String {
        self.signed_by(idp_key())
    }

    /// Signed by the IdP's key with another (signature method, digest method).
    pub fn signed_with_algorithms(&self, algorithms: (&str, &str)) -> String {
        let signer = idp_key();
        let unsigned = self.assertion_xml(false, signer);
        let issuer_end = unsigned.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
        let assertion = format!(
            "{}{}{}",
            &unsigned[..issuer_end],
            signature_template_with(&self.assertion_id, signer, algorithms),
            &unsigned[issuer_end..]
        );
        signer.sign(&self.response_xml(&assertion))
    }

    /// The whole Response signed (its assertion inside, unsigned), as some IdPs are set up.
    pub fn response_signed(&self) -> String {
        let signer = idp_key();
        let xml = self.response_xml(&self.assertion_xml(false, signer));
        let issuer_end = xml.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
        let with_template = format!(
            "{}{}{}",
            &xml[..issuer_end],
            signature_template_for(&self.response_id, signer),
            &xml[issuer_end..]
        );
        signer.sign(&with_template)
    }
}

pub const RSA_SHA256: (&str, &str) = (
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmlenc#sha256",
);

/// An enveloped-signature template for the element with `ID="{id}"`, which xmlsec fills in.
fn signature_template_for(id: &str, signer: &SigningKey) -> String {
    signature_template_with(id, signer, RSA_SHA256)
}

/// The same with another (signature method, digest method).
pub fn signature_template_with(id: &str, signer: &SigningKey, algorithms: (&str, &str)) -> String {
    format!(
        concat!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<ds:SignatureMethod Algorithm=\"{method}\"/>",
            "<ds:Reference URI=\"#{id}\"><ds:Transforms>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "</ds:Transforms><ds:DigestMethod Algorithm=\"{digest}\"/>",
            "<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>",
            "<ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}",
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
        ),
        id = id,
        cert = signer.certificate_b64,
        method = algorithms.0,
        digest = algorithms.1,
    )
}

/// The form field value: base64 of the XML.
pub fn encode(xml: &str) -> String {
    STANDARD.encode(xml.as_bytes())
}
