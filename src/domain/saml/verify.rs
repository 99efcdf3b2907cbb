//! Verifying an IdP's answer (a SAML `Response` posted to the ACS). The XML signature is checked by
//! xmlsec1 through `samael` (exclusive canonicalisation, SHA-2 algorithms only), never by code of
//! ours; samael also reduces the document to what the signature covers, and every value used
//! afterwards (who, audience, times, request) is read from that. What samael leaves to its caller
//! is checked here: the unsigned envelope (exactly one assertion, status Success, destination),
//! that an audience is named at all, and, from the signed assertion, the request it answers.
//!
//! Nothing reaches xmlsec before `precheck` has bounded the document and allowed its signature's
//! form, and xmlsec and libxml2 can open no file or URL (`xml_io_guard`, applied once after
//! xmlsec is initialised). Once initialised, xmlsec and libxml2 keep their state per document
//! and per signature context, so verifications run side by side: no process-wide lock that a
//! client posting heavy documents could hold while everyone else's sign-in waits. Only the
//! one-time initialisation is serialised.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use samael::crypto::{AllowedSignatureAlgorithm, decode_x509_cert};
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{EntityDescriptor, IdpSsoDescriptor, KeyDescriptor};
use samael::service_provider::{Error as SamlError, ServiceProvider as SamaelSp};

pub use super::checks::{Check, Refusal};
use super::precheck;
use super::service_provider::ServiceProvider;

/// How far the IdP's clock may be from ours.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(2);
/// How long after the IdP issued an answer it is still accepted (the user's round trip).
const MAX_ISSUE_DELAY: TimeDelta = TimeDelta::minutes(5);
/// A larger `SAMLResponse` is refused unread.
const MAX_RESPONSE_BYTES: usize = 512 * 1024;

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Attribute names IdPs use for the e-mail address (Okta's attribute statements, Entra's claims,
/// the LDAP `mail` OID).
const EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "mail",
    "emailaddress",
    "user.email",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
];

/// What the IdP asserted, read from the signed assertion only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub issuer: String,
    /// The NameID, or the e-mail attribute when the NameID is not an e-mail address.
    pub subject: String,
    pub name_id: String,
    /// The request this answers (`InResponseTo`); `None` for an IdP-initiated sign-in.
    pub in_response_to: Option<String>,
    /// Until when this assertion could be accepted: how long its ID is remembered.
    pub accept_until: DateTime<Utc>,
}

/// The IdP as the workspace configured it: entity ID and the certificates it may sign with.
pub struct TrustedIdp<'a> {
    pub entity_id: &'a str,
    /// PEM certificates: the current one and, during a rotation, the next.
    pub certificates: Vec<&'a str>,
}

/// Whether the signature's form is checked before xmlsec sees it. Always on in the service; off
/// only in the test that proves the I/O walls hold without it.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureForms {
    Checked,
    /// No check of the signature's form and no comparison with libxml2's reading.
    UncheckedForTests,
    /// The text as decoded, declaration and all, with every other check.
    EncodingUncheckedForTests,
}

/// Decodes and verifies a posted `SAMLResponse` for `sp`, trusting `idp`. Blocking (xmlsec):
/// call it from a blocking thread.
pub fn verify(
    saml_response: &str,
    sp: &ServiceProvider,
    idp: &TrustedIdp<'_>,
) -> Result<VerifiedAssertion, Refusal> {
    verify_with(saml_response, sp, idp, SignatureForms::Checked)
}

#[doc(hidden)]
pub fn verify_with(
    saml_response: &str,
    sp: &ServiceProvider,
    idp: &TrustedIdp<'_>,
    forms: SignatureForms,
) -> Result<VerifiedAssertion, Refusal> {
    let decoded = decode(saml_response)?;
    // What every check below and xmlsec read: the same UTF-8 text, no declaration.
    let xml = match forms {
        SignatureForms::EncodingUncheckedForTests => decoded.as_str(),
        _ => precheck::as_utf8_body(&decoded)?,
    };
    precheck::scan(xml, &precheck::LIMITS)?;
    let envelope = check_envelope(xml, sp, forms)?;
    let samael_sp = samael_sp(sp, idp)?;
    xml_libraries_closed()?;
    xml_io_guard::clear_xmlsec_error();
    let assertion = samael_sp
        .parse_xml_response(xml, None)
        .map_err(|e| refusal_from_samael(e, xml_io_guard::last_xmlsec_error()))?;
    read_assertion(assertion, sp, envelope.in_response_to.as_deref())
}

/// Initialises xmlsec (samael does it lazily, at its first signature context, and that
/// registers xmlsec's default file and HTTP callbacks) and then closes every way xmlsec and
/// libxml2 could open a file or URL. Once per process; until it has succeeded nothing is
/// verified. Also called at start, so a failure shows at once.
pub fn xml_libraries_closed() -> Result<(), Refusal> {
    static CLOSED: OnceLock<Result<(), String>> = OnceLock::new();
    CLOSED
        .get_or_init(|| {
            initialise_xmlsec()?;
            xml_io_guard::record_xmlsec_errors();
            xml_io_guard::allow_only_transforms(&xmlsec_transforms())?;
            xml_io_guard::close_all_io().map_err(str::to_string)
        })
        .clone()
        .map_err(|e| {
            Refusal::new(
                Check::Signature,
                format!("signature checks are not available in this process: {e}"),
            )
        })
}

/// The transforms xmlsec keeps: exclusive c14n, enveloped-signature, and the digest and
/// signature algorithms `precheck` accepts, plus SHA-1's (which algorithms a signature may use is
/// decided by `precheck` and samael's list; SHA-1 stays known to xmlsec only so the tests can sign
/// with it and watch it refused). Everything else (XPath, XPath Filter 2, XSLT, base64, inclusive
/// and with-comments c14n) is gone from the process, whatever a document gets past the checks.
fn xmlsec_transforms() -> Vec<&'static str> {
    const SHA1: [&str; 2] = [
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    ];
    [precheck::EXC_C14N, precheck::ENVELOPED]
        .into_iter()
        .chain(precheck::DIGEST_METHODS.iter().copied())
        .chain(precheck::SIGNATURE_METHODS.iter().copied())
        .chain(SHA1)
        .collect()
}

/// Has samael create one signature context (which initialises xmlsec), with a throwaway
/// certificate over a document without a signature: the verification itself fails, as meant.
fn initialise_xmlsec() -> Result<(), String> {
    use openssl::{ec, hash, nid, pkey, x509};
    let make = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let group = ec::EcGroup::from_curve_name(nid::Nid::X9_62_PRIME256V1)?;
        let key = pkey::PKey::from_ec_key(ec::EcKey::generate(&group)?)?;
        let mut cert = x509::X509::builder()?;
        cert.set_pubkey(&key)?;
        cert.set_not_before(openssl::asn1::Asn1Time::days_from_now(0)?.as_ref())?;
        cert.set_not_after(openssl::asn1::Asn1Time::days_from_now(1)?.as_ref())?;
        cert.sign(&key, hash::MessageDigest::sha256())?;
        cert.build().to_der()
    };
    let der = make().map_err(|e| format!("no throwaway certificate: {e}"))?;
    use samael::crypto::CryptoProvider;
    let _ = samael::crypto::Crypto::verify_signed_xml(
        "<initialise/>",
        &samael::crypto::CertificateDer::from(der),
        None,
    );
    Ok(())
}

fn decode(saml_response: &str) -> Result<String, Refusal> {
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(Refusal::new(Check::Format, "the form has no SAMLResponse"));
    }
    if compact.len() > MAX_RESPONSE_BYTES * 4 / 3 + 4 {
        return Err(Refusal::new(
            Check::Format,
            "the SAMLResponse is larger than 512 KiB",
        ));
    }
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Refusal::new(Check::Format, "the SAMLResponse is not base64"))?;
    String::from_utf8(bytes)
        .map_err(|_| Refusal::new(Check::Format, "the SAMLResponse is not UTF-8 XML"))
}

struct Envelope {
    in_response_to: Option<String>,
}

/// The unsigned parts samael does not refuse on its own when only the assertion is signed.
fn check_envelope(
    xml: &str,
    sp: &ServiceProvider,
    forms: SignatureForms,
) -> Result<Envelope, Refusal> {
    // roxmltree refuses DTDs, so no entity expansion reaches the verifier either.
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: u32::try_from(precheck::LIMITS.max_elements * 4).unwrap_or(u32::MAX),
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, options).map_err(|e| {
        Refusal::new(
            Check::Format,
            format!("the SAMLResponse is not well-formed XML: {e}"),
        )
    })?;
    let root = doc.root_element();
    if root.tag_name().namespace() != Some(PROTOCOL_NS) || root.tag_name().name() != "Response" {
        return Err(Refusal::new(
            Check::Format,
            "the document is not a SAML 2.0 Response",
        ));
    }
    let named = |ns: &str, name: &str| {
        doc.descendants()
            .filter(|n| {
                n.is_element()
                    && n.tag_name().namespace() == Some(ns)
                    && n.tag_name().name() == name
            })
            .count()
    };
    if named(ASSERTION_NS, "EncryptedAssertion") > 0 {
        return Err(Refusal::new(
            Check::Format,
            "the assertion is encrypted; turn assertion encryption off in the IdP (the signature protects it, and the connection is TLS)",
        ));
    }
    // Signature wrapping hides a second assertion beside, before or around the signed one.
    match named(ASSERTION_NS, "Assertion") {
        1 => {}
        0 => return Err(Refusal::new(Check::Format, "the response has no assertion")),
        n => {
            return Err(Refusal::new(
                Check::Format,
                format!("the response carries {n} assertions; exactly one is accepted"),
            ));
        }
    }
    let status = root
        .children()
        .find(|n| n.has_tag_name((PROTOCOL_NS, "Status")))
        .and_then(|s| {
            s.children()
                .find(|n| n.has_tag_name((PROTOCOL_NS, "StatusCode")))
        });
    let code = status.and_then(|c| c.attribute("Value"));
    if code != Some(STATUS_SUCCESS) {
        let nested = status
            .and_then(|c| {
                c.children()
                    .find(|n| n.has_tag_name((PROTOCOL_NS, "StatusCode")))
            })
            .and_then(|c| c.attribute("Value"));
        let said = match (code, nested) {
            (None, _) => "no status".to_string(),
            (Some(code), Some(nested)) => format!("{} ({})", short(code), short(nested)),
            (Some(code), None) => short(code).to_string(),
        };
        return Err(Refusal::new(
            Check::Status,
            format!("the IdP did not sign the person in: {said}"),
        ));
    }
    if forms != SignatureForms::UncheckedForTests {
        precheck::check_signatures(&doc)?;
        precheck::same_tree_for_libxml2(xml, &doc)?;
    }
    if let Some(destination) = root.attribute("Destination")
        && destination != sp.acs_url
    {
        return Err(Refusal::new(
            Check::Recipient,
            format!(
                "the response is addressed to {destination:?}, not to this ACS URL {:?}",
                sp.acs_url
            ),
        ));
    }
    Ok(Envelope {
        in_response_to: root.attribute("InResponseTo").map(str::to_string),
    })
}

/// Only XML's own whitespace around a value goes: an em space or a no-break space is part of
/// the name the IdP signed, and makes it another name.
fn trim_ascii(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_ascii_whitespace())
}

fn short(urn: &str) -> &str {
    urn.rsplit(':').next().unwrap_or(urn)
}

fn samael_sp(sp: &ServiceProvider, idp: &TrustedIdp<'_>) -> Result<SamaelSp, Refusal> {
    let certificates: Vec<String> = idp
        .certificates
        .iter()
        .map(|pem| pem_body(pem))
        .filter(|body| decode_x509_cert(body).is_ok())
        .collect();
    // samael skips signature checks when it has no certificate: never let that happen.
    if certificates.is_empty() {
        return Err(Refusal::new(
            Check::Signature,
            "no usable IdP signing certificate is configured",
        ));
    }
    let key_descriptors = vec![KeyDescriptor {
        key_use: Some("signing".into()),
        key_info: KeyInfo {
            id: None,
            x509_data: Some(X509Data { certificates }),
        },
        encryption_methods: None,
    }];
    let idp_descriptor = IdpSsoDescriptor {
        id: None,
        valid_until: None,
        cache_duration: None,
        protocol_support_enumeration: Some(PROTOCOL_NS.into()),
        error_url: None,
        signature: None,
        key_descriptors,
        organization: None,
        contact_people: Vec::new(),
        artifact_resolution_service: Vec::new(),
        single_logout_services: Vec::new(),
        manage_name_id_services: Vec::new(),
        name_id_formats: Vec::new(),
        want_authn_requests_signed: None,
        single_sign_on_services: Vec::new(),
        name_id_mapping_services: Vec::new(),
        assertion_id_request_services: Vec::new(),
        attribute_profiles: Vec::new(),
        attributes: Vec::new(),
    };
    Ok(SamaelSp {
        entity_id: Some(sp.entity_id.clone()),
        acs_url: Some(sp.acs_url.clone()),
        metadata_url: Some(sp.entity_id.clone()),
        idp_metadata: EntityDescriptor {
            entity_id: Some(idp.entity_id.to_string()),
            idp_sso_descriptors: Some(vec![idp_descriptor]),
            ..EntityDescriptor::default()
        },
        // The request an answer belongs to is checked against the database, from the signed
        // assertion's InResponseTo (see `read_assertion`).
        allow_idp_initiated: true,
        max_issue_delay: MAX_ISSUE_DELAY,
        max_clock_skew: CLOCK_SKEW,
        allowed_signature_algorithms: Some(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ]),
        ..SamaelSp::default()
    })
}

fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn refusal_from_samael(e: SamlError, xmlsec_error: Option<String>) -> Refusal {
    use SamlError as E;
    let (check, detail) = match &e {
        E::FailedToValidateSignature | E::CryptoXmlError(_) | E::CryptoProviderError(_) => (
            Check::Signature,
            format!(
                "the response and its assertion are not signed by the configured IdP certificate, or were changed after signing{}",
                xmlsec_error
                    .map(|e| format!(" (xmlsec: {e})"))
                    .unwrap_or_default()
            ),
        ),
        E::AssertionIssuerMismatch { issuer, entity_id }
        | E::ResponseIssuerMismatch { issuer, entity_id } => (
            Check::Issuer,
            format!(
                "the IdP calls itself {:?}, but the workspace expects {:?}",
                issuer.as_deref().unwrap_or(""),
                entity_id.as_deref().unwrap_or("")
            ),
        ),
        E::AssertionConditionAudienceRestrictionFailed { requirement } => (
            Check::Audience,
            format!("the assertion is meant for another service provider, not {requirement:?}"),
        ),
        E::DestinationValidationError {
            response_destination,
            sp_acs_url,
        } => (
            Check::Recipient,
            format!(
                "the response is addressed to {:?}, not to this ACS URL {:?}",
                response_destination.as_deref().unwrap_or(""),
                sp_acs_url.as_deref().unwrap_or("")
            ),
        ),
        E::AssertionRecipientMismatch {
            assertion_recipient,
            sp_acs_url,
        } => (
            Check::Recipient,
            format!(
                "the assertion's recipient is {:?}, not this ACS URL {:?}",
                assertion_recipient.as_deref().unwrap_or(""),
                sp_acs_url.as_deref().unwrap_or("")
            ),
        ),
        E::AssertionExpired { time }
        | E::ResponseExpired { time }
        | E::AssertionConditionExpired { time }
        | E::AssertionSubjectConfirmationExpired { time } => (
            Check::Validity,
            format!(
                "the assertion expired at {time} (check the IdP's clock if this is unexpected)"
            ),
        ),
        E::AssertionConditionExpiredBefore { time }
        | E::AssertionSubjectConfirmationExpiredBefore { time } => (
            Check::Validity,
            format!("the assertion is not valid before {time} (check the IdP's clock)"),
        ),
        E::AssertionBearerSubjectConfirmationMissing | E::AssertionSubjectConfirmationMissing => (
            Check::Format,
            "the assertion has no bearer subject confirmation with a recipient and an expiry"
                .to_string(),
        ),
        E::ResponseBadStatusCode { code } => (
            Check::Status,
            format!("the IdP did not sign the person in: {}", short(code)),
        ),
        E::EncryptedAssertionsNotYetSupported => (
            Check::Format,
            "the assertion is encrypted; turn assertion encryption off in the IdP".to_string(),
        ),
        other => (
            Check::Format,
            format!("the response could not be read: {other}"),
        ),
    };
    Refusal::new(check, detail)
}

fn read_assertion(
    assertion: samael::schema::Assertion,
    sp: &ServiceProvider,
    envelope_in_response_to: Option<&str>,
) -> Result<VerifiedAssertion, Refusal> {
    let audiences: Vec<&str> = assertion
        .conditions
        .iter()
        .flat_map(|c| c.audience_restrictions.iter().flatten())
        .flat_map(|r| r.audience.iter().map(String::as_str))
        .collect();
    if !audiences.contains(&sp.entity_id.as_str()) {
        return Err(Refusal::new(
            Check::Audience,
            format!(
                "the assertion names no audience {:?} (set the IdP's Audience URI / Identifier to the SP entity ID)",
                sp.entity_id
            ),
        ));
    }
    let subject = assertion.subject.as_ref();
    // samael accepted at least one bearer confirmation for this ACS; take its request and expiry.
    let confirmation = subject
        .and_then(|s| s.subject_confirmations.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .find(|d| d.recipient.as_deref() == Some(sp.acs_url.as_str()))
        .ok_or_else(|| {
            Refusal::new(
                Check::Recipient,
                "no bearer confirmation names this ACS URL",
            )
        })?;
    let in_response_to = confirmation.in_response_to.clone();
    if let Some(outer) = envelope_in_response_to
        && in_response_to.as_deref() != Some(outer)
    {
        return Err(Refusal::new(
            Check::Request,
            "the response and its signed assertion answer different requests",
        ));
    }
    let mut accept_until = confirmation
        .not_on_or_after
        .ok_or_else(|| Refusal::new(Check::Validity, "the assertion has no expiry"))?;
    if let Some(conditions_end) = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after)
    {
        accept_until = accept_until.min(conditions_end);
    }
    accept_until += CLOCK_SKEW;
    let name_id = subject
        .and_then(|s| s.name_id.as_ref())
        .map(|n| trim_ascii(&n.value).to_string())
        .unwrap_or_default();
    let email = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .filter(|a| {
            [a.name.as_deref(), a.friendly_name.as_deref()]
                .into_iter()
                .flatten()
                .any(|n| EMAIL_ATTRIBUTES.iter().any(|e| n.eq_ignore_ascii_case(e)))
        })
        .flat_map(|a| a.values.iter())
        .find_map(|v| {
            v.value
                .as_deref()
                .map(trim_ascii)
                .filter(|v| v.contains('@'))
        })
        .map(str::to_string);
    let subject = if name_id.contains('@') {
        name_id.clone()
    } else if let Some(email) = email {
        email
    } else if !name_id.is_empty() {
        name_id.clone()
    } else {
        return Err(Refusal::new(
            Check::Person,
            "the assertion names nobody: no NameID and no e-mail attribute",
        ));
    };
    Ok(VerifiedAssertion {
        assertion_id: assertion.id,
        issuer: assertion.issuer.value.unwrap_or_default(),
        subject,
        name_id,
        in_response_to,
        accept_until,
    })
}
