//! SAML documents for the sign-in benchmarks: an IdP that signs real responses (RSA-2048,
//! RSA-SHA256, exclusive c14n, through xmlsec as samael signs), and the worst documents anyone
//! on the internet can post to the ACS. Shared by `scim-bench sign-in` and `cargo bench`
//! (benches/scim.rs includes this file).

#![allow(dead_code)] // each includer uses its own part

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use samael::crypto::{Crypto, CryptoProvider};

/// The largest `SAMLResponse` the ACS reads, decoded.
pub const MAX_DOCUMENT: usize = 512 * 1024;

pub const IDP_ENTITY_ID: &str = "http://idp.bench/saml/metadata";

pub struct Idp {
    key_der: Vec<u8>,
    pub certificate_pem: String,
    certificate_b64: String,
}

impl Idp {
    pub fn generate() -> Idp {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Bench IdP").unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = cert.build();
        Idp {
            key_der: key.private_key_to_der().unwrap(),
            certificate_pem: String::from_utf8(cert.to_pem().unwrap()).unwrap(),
            certificate_b64: STANDARD.encode(cert.to_der().unwrap()),
        }
    }

    /// A valid response about `name_id`, its assertion signed, answering `in_response_to`.
    pub fn response(
        &self,
        sp: &Sp<'_>,
        name_id: &str,
        in_response_to: Option<&str>,
        unique: u64,
    ) -> String {
        let xml = response_xml(
            sp,
            name_id,
            in_response_to,
            unique,
            &self.certificate_b64,
            "",
        );
        Crypto::sign_xml(xml.as_str(), &self.key_der).expect("xmlsec signs the template")
    }

    /// The heaviest document that passes every check made before xmlsec: the right envelope
    /// and signature form, an attribute statement filling `bytes`, and a signature that does
    /// not match (xmlsec canonicalises and digests all of it before it finds out).
    pub fn heavy_forgery(&self, sp: &Sp<'_>, bytes: usize, unique: u64) -> String {
        let skeleton = response_xml(
            sp,
            "victim@bench.test",
            None,
            unique,
            &self.certificate_b64,
            "",
        );
        let value = "<saml:AttributeValue>x</saml:AttributeValue>";
        let room = bytes.saturating_sub(skeleton.len() + 200);
        let values = value.repeat(room / value.len());
        let statement = format!(
            "<saml:AttributeStatement><saml:Attribute Name=\"groups\">{values}</saml:Attribute></saml:AttributeStatement>"
        );
        response_xml(
            sp,
            "victim@bench.test",
            None,
            unique,
            &self.certificate_b64,
            &statement,
        )
        .replace(
            "<ds:DigestValue></ds:DigestValue>",
            "<ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue>",
        )
        .replace(
            "<ds:SignatureValue></ds:SignatureValue>",
            "<ds:SignatureValue>AAAA</ds:SignatureValue>",
        )
    }
}

/// The service provider a response is for.
pub struct Sp<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
}

/// Elements nested `levels` deep, each declaring one more namespace prefix: the shape whose
/// cost grew with the cube of its depth in a tree parser.
pub fn namespace_bomb(bytes: usize) -> String {
    let mut open = String::new();
    let mut close = String::new();
    let mut i = 0;
    while open.len() + close.len() + 64 < bytes {
        open.push_str(&format!("<e xmlns:p{i}=\"u:{i}\">"));
        close.push_str("</e>");
        i += 1;
    }
    open + &close
}

/// Plain nesting as deep as `bytes` allows.
pub fn deep_nesting(bytes: usize) -> String {
    let levels = bytes / 7;
    "<a>".repeat(levels) + &"</a>".repeat(levels)
}

/// As many elements as `bytes` allows, side by side.
pub fn wide(bytes: usize) -> String {
    format!("<r>{}</r>", "<e/>".repeat(bytes / 4 - 2))
}

/// `xml` as the ACS form's `SAMLResponse` field (base64).
pub fn encode(xml: &str) -> String {
    STANDARD.encode(xml.as_bytes())
}

fn response_xml(
    sp: &Sp<'_>,
    name_id: &str,
    in_response_to: Option<&str>,
    unique: u64,
    certificate_b64: &str,
    statements: &str,
) -> String {
    let now = unix_now();
    let issued = timestamp(now);
    let not_before = timestamp(now - 5);
    let until = timestamp(now + 300);
    let assertion_id = format!("_a{unique:016x}{:08x}", std::process::id());
    let response_id = format!("_r{unique:016x}{:08x}", std::process::id());
    let irt = in_response_to
        .map(|id| format!(" InResponseTo=\"{id}\""))
        .unwrap_or_default();
    let signature = format!(
        concat!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>",
            "<ds:Reference URI=\"#{id}\"><ds:Transforms>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "</ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
            "<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>",
            "<ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}",
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
        ),
        id = assertion_id,
        cert = certificate_b64,
    );
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ",
            "ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{issued}\" Destination=\"{acs}\"{irt}>",
            "<saml:Issuer>{issuer}</saml:Issuer>",
            "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>",
            "<saml:Assertion ID=\"{aid}\" Version=\"2.0\" IssueInstant=\"{issued}\">",
            "<saml:Issuer>{issuer}</saml:Issuer>{signature}",
            "<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">{name_id}</saml:NameID>",
            "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">",
            "<saml:SubjectConfirmationData NotOnOrAfter=\"{until}\" Recipient=\"{acs}\"{irt}/>",
            "</saml:SubjectConfirmation></saml:Subject>",
            "<saml:Conditions NotBefore=\"{from}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction>",
            "<saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
            "<saml:AuthnStatement AuthnInstant=\"{issued}\" SessionIndex=\"{aid}\"><saml:AuthnContext>",
            "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>",
            "</saml:AuthnContext></saml:AuthnStatement>{statements}</saml:Assertion></samlp:Response>"
        ),
        rid = response_id,
        aid = assertion_id,
        issued = issued,
        from = not_before,
        until = until,
        acs = sp.acs_url,
        audience = sp.entity_id,
        issuer = IDP_ENTITY_ID,
        irt = irt,
        signature = signature,
        name_id = name_id,
        statements = statements,
    )
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-12-07T18:32:55Z` from Unix seconds (the civil-from-days algorithm).
fn timestamp(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
