//! SAML configuration of a workspace: the IdP's entity ID, SSO URL and signing certificate, given
//! as three fields or imported from the IdP's metadata XML. The certificate is parsed and
//! validated and its expiry kept, so the page can warn before SSO breaks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, sea_query::OnConflict,
};

use crate::domain::activity::{self, NewEntry};
use crate::domain::admin::{self, Principal};
use crate::domain::{Error, Result, Store, now};
use crate::entities::saml_config;

pub mod checks;
pub mod precheck;
pub mod service_provider;
pub mod verify;

pub use service_provider::ServiceProvider;

/// A certificate expiring within this window is flagged on the page.
pub const EXPIRY_WARNING: TimeDelta = TimeDelta::days(30);
const MAX_METADATA_BYTES: usize = 1024 * 1024;
const MAX_ENTITY_ID_CHARS: usize = 1024;
const MAX_URL_CHARS: usize = 2048;

/// What the admin submits: metadata XML, or the three fields.
#[derive(Clone, Debug, Default)]
pub struct SamlInput {
    pub metadata_xml: Option<String>,
    pub idp_entity_id: Option<String>,
    pub sso_url: Option<String>,
    pub certificate_pem: Option<String>,
    /// The IdP's next signing certificate, during a rotation (also read from metadata that
    /// lists two signing certificates).
    pub next_certificate_pem: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlConfig {
    pub idp_entity_id: String,
    pub sso_url: String,
    pub certificate_pem: String,
    pub certificate_subject: String,
    pub certificate_not_before: DateTime<Utc>,
    pub certificate_expires_at: DateTime<Utc>,
    /// Accepted beside the current certificate, so the IdP can switch without downtime.
    pub next_certificate: Option<Certificate>,
    pub updated_at: DateTime<Utc>,
    /// Whether an answer the IdP sends unasked (an Okta tile) signs in. Such an answer can't be
    /// tied to the browser it arrives in, so a page of another site can post one (a sign-in as
    /// someone else, "login CSRF"); off, people start from the sign-in page.
    pub allow_idp_initiated: bool,
}

impl SamlConfig {
    /// The certificates a signature may come from.
    pub fn trusted_certificates(&self) -> Vec<&str> {
        std::iter::once(self.certificate_pem.as_str())
            .chain(self.next_certificate.as_ref().map(|c| c.pem.as_str()))
            .collect()
    }

    pub fn certificate_expires_soon(&self, at: DateTime<Utc>) -> bool {
        self.certificate_expires_at - at <= EXPIRY_WARNING
    }
}

impl From<saml_config::Model> for SamlConfig {
    fn from(m: saml_config::Model) -> Self {
        SamlConfig {
            idp_entity_id: m.idp_entity_id,
            sso_url: m.sso_url,
            certificate_pem: m.certificate_pem,
            certificate_subject: m.certificate_subject,
            certificate_not_before: m.certificate_not_before,
            certificate_expires_at: m.certificate_expires_at,
            next_certificate: match (
                m.next_certificate_pem,
                m.next_certificate_subject,
                m.next_certificate_not_before,
                m.next_certificate_expires_at,
            ) {
                (Some(pem), Some(subject), Some(not_before), Some(not_after)) => {
                    Some(Certificate {
                        pem,
                        subject,
                        not_before,
                        not_after,
                    })
                }
                _ => None,
            },
            updated_at: m.updated_at,
            allow_idp_initiated: m.allow_idp_initiated,
        }
    }
}

/// A parsed, valid signing certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// Normalised PEM (64-character lines).
    pub pem: String,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// Parses a certificate given as PEM or as the bare base64 body that metadata XML carries.
pub fn parse_certificate(input: &str, field: &str, at: DateTime<Utc>) -> Result<Certificate> {
    let input = input.trim();
    if input.is_empty() {
        return Err(Error::invalid(field, "the signing certificate is required"));
    }
    if input.contains("PRIVATE KEY") {
        return Err(Error::invalid(
            field,
            "this is a private key; paste the IdP's public signing certificate instead",
        ));
    }
    let body: String = if let Some(start) = input.find("-----BEGIN CERTIFICATE-----") {
        let rest = &input[start + "-----BEGIN CERTIFICATE-----".len()..];
        let Some(end) = rest.find("-----END CERTIFICATE-----") else {
            return Err(Error::invalid(field, "the PEM has no END CERTIFICATE line"));
        };
        rest[..end].chars().filter(|c| !c.is_whitespace()).collect()
    } else if input.starts_with("-----BEGIN") {
        return Err(Error::invalid(
            field,
            "expected a PEM block of type CERTIFICATE",
        ));
    } else {
        input.chars().filter(|c| !c.is_whitespace()).collect()
    };
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| Error::invalid(field, "the certificate is not valid PEM or base64"))?;
    let (rest, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|_| Error::invalid(field, "the certificate is not a valid X.509 certificate"))?;
    if !rest.is_empty() {
        return Err(Error::invalid(field, "the certificate has trailing data"));
    }
    let validity = cert.validity();
    let not_before = DateTime::from_timestamp(validity.not_before.timestamp(), 0)
        .ok_or_else(|| Error::invalid(field, "the certificate's validity is out of range"))?;
    let not_after = DateTime::from_timestamp(validity.not_after.timestamp(), 0)
        .ok_or_else(|| Error::invalid(field, "the certificate's validity is out of range"))?;
    if not_after <= at {
        return Err(Error::invalid(
            field,
            format!(
                "the certificate expired on {}; download the current one from your IdP",
                not_after.format("%Y-%m-%d")
            ),
        ));
    }
    let mut subject = cert.subject().to_string();
    if subject.is_empty() {
        subject = "(no subject)".into();
    }
    Ok(Certificate {
        pem: to_pem(&der),
        subject,
        not_before,
        not_after,
    })
}

fn to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

pub fn validate_entity_id(value: &str, field: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "the IdP entity ID is required"));
    }
    if value.chars().count() > MAX_ENTITY_ID_CHARS || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "the IdP entity ID must be at most 1024 printable characters",
        ));
    }
    Ok(value.to_string())
}

/// An absolute https URL (http only for a local IdP on localhost).
pub fn validate_sso_url(value: &str, field: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "the SSO URL is required"));
    }
    if value.len() > MAX_URL_CHARS {
        return Err(Error::invalid(
            field,
            "the SSO URL is longer than 2048 characters",
        ));
    }
    let url = url::Url::parse(value).map_err(|_| {
        Error::invalid(
            field,
            "the SSO URL must be an absolute URL such as https://idp.example.com/sso",
        )
    })?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(value.to_string()),
        "http" if local => Ok(value.to_string()),
        _ => Err(Error::invalid(field, "the SSO URL must use https")),
    }
}

/// The parts of IdP metadata that configure SAML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub entity_id: String,
    pub sso_url: String,
    pub certificate: String,
    /// A second signing certificate, which IdPs list during a rotation.
    pub next_certificate: Option<String>,
}

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Reads entity ID, SSO URL (HTTP-Redirect binding preferred, then HTTP-POST) and the signing
/// certificate from IdP metadata. DTDs are refused, so no entity expansion or external fetch.
pub fn parse_metadata(xml: &str) -> Result<Metadata> {
    const FIELD: &str = "metadataXml";
    if xml.len() > MAX_METADATA_BYTES {
        return Err(Error::invalid(FIELD, "the metadata is larger than 1 MiB"));
    }
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| Error::invalid(FIELD, format!("the metadata is not well-formed XML: {e}")))?;
    let is = |node: &roxmltree::Node, ns: &str, name: &str| {
        node.is_element()
            && node.tag_name().name() == name
            && node.tag_name().namespace() == Some(ns)
    };
    let Some(idp) = doc.descendants().find(|n| is(n, MD_NS, "IDPSSODescriptor")) else {
        return Err(Error::invalid(
            FIELD,
            "no IDPSSODescriptor found: this is not SAML 2.0 IdP metadata",
        ));
    };
    let entity_id = idp
        .ancestors()
        .find(|n| is(n, MD_NS, "EntityDescriptor"))
        .and_then(|n| n.attribute("entityID"))
        .ok_or_else(|| Error::invalid(FIELD, "the EntityDescriptor has no entityID"))?;
    let services: Vec<_> = idp
        .children()
        .filter(|n| is(n, MD_NS, "SingleSignOnService"))
        .collect();
    let pick = |suffix: &str| {
        services
            .iter()
            .find(|n| n.attribute("Binding").is_some_and(|b| b.ends_with(suffix)))
            .and_then(|n| n.attribute("Location"))
    };
    let sso_url = pick(":HTTP-Redirect")
        .or_else(|| pick(":HTTP-POST"))
        .or_else(|| services.iter().find_map(|n| n.attribute("Location")))
        .ok_or_else(|| Error::invalid(FIELD, "the metadata has no SingleSignOnService location"))?;
    let mut certificates = idp
        .children()
        .filter(|n| is(n, MD_NS, "KeyDescriptor"))
        .filter(|n| n.attribute("use").is_none_or(|u| u == "signing"))
        .filter_map(|kd| {
            kd.descendants()
                .find(|n| is(n, DS_NS, "X509Certificate"))
                .and_then(|n| n.text())
        });
    let certificate = certificates
        .next()
        .ok_or_else(|| Error::invalid(FIELD, "the metadata has no signing certificate"))?;
    let next_certificate = certificates.next().map(str::to_string);
    Ok(Metadata {
        entity_id: entity_id.to_string(),
        sso_url: sso_url.to_string(),
        certificate: certificate.to_string(),
        next_certificate,
    })
}

/// Validates an input into the configuration to store; errors name the field to fix.
pub fn validate_input(input: &SamlInput, at: DateTime<Utc>) -> Result<ValidInput> {
    let fields_given =
        input.idp_entity_id.is_some() || input.sso_url.is_some() || input.certificate_pem.is_some();
    match &input.metadata_xml {
        Some(_) if fields_given => Err(Error::invalid(
            "metadataXml",
            "give either the IdP metadata XML or the three fields, not both",
        )),
        Some(xml) => {
            let md = parse_metadata(xml)?;
            let next = match (&input.next_certificate_pem, &md.next_certificate) {
                (Some(pem), _) => Some(parse_certificate(pem, "nextCertificatePem", at)?),
                (None, Some(cert)) => Some(parse_certificate(cert, "metadataXml", at)?),
                (None, None) => None,
            };
            Ok(ValidInput {
                entity_id: validate_entity_id(&md.entity_id, "metadataXml")?,
                sso_url: validate_sso_url(&md.sso_url, "metadataXml")?,
                certificate: parse_certificate(&md.certificate, "metadataXml", at)?,
                next_certificate: next,
            })
        }
        None => Ok(ValidInput {
            entity_id: validate_entity_id(
                input.idp_entity_id.as_deref().unwrap_or(""),
                "idpEntityId",
            )?,
            sso_url: validate_sso_url(input.sso_url.as_deref().unwrap_or(""), "ssoUrl")?,
            certificate: parse_certificate(
                input.certificate_pem.as_deref().unwrap_or(""),
                "certificatePem",
                at,
            )?,
            next_certificate: input
                .next_certificate_pem
                .as_deref()
                .filter(|pem| !pem.trim().is_empty())
                .map(|pem| parse_certificate(pem, "nextCertificatePem", at))
                .transpose()?,
        }),
    }
}

/// A configuration ready to store.
pub struct ValidInput {
    pub entity_id: String,
    pub sso_url: String,
    pub certificate: Certificate,
    pub next_certificate: Option<Certificate>,
}

pub async fn get(store: &Store, workspace_id: &str) -> Result<Option<SamlConfig>> {
    get_in(store.pool(), workspace_id).await
}

/// `get` within a transaction the rule already holds.
pub async fn get_in(db: &impl ConnectionTrait, workspace_id: &str) -> Result<Option<SamlConfig>> {
    Ok(saml_config::Entity::find_by_id(workspace_id.to_string())
        .one(db)
        .await?
        .map(SamlConfig::from))
}

/// Stores (or replaces) the workspace's SAML configuration.
pub async fn configure(
    store: &Store,
    principal: &Principal,
    input: SamlInput,
) -> Result<SamlConfig> {
    let db = store.writes();
    let at = now();
    let ValidInput {
        entity_id,
        sso_url,
        certificate: cert,
        next_certificate: next,
    } = validate_input(&input, at)?;
    let txn = crate::db::begin_write(db).await?;
    admin::require_admin(&txn, principal).await?;
    if crate::domain::domains::verified_domains(&txn, &principal.workspace_id)
        .await?
        .is_empty()
    {
        return Err(Error::DomainRequired(
            "verify one of your e-mail domains first (Settings → Domains): SAML signs in only addresses of the workspace's verified domains".into(),
        ));
    }
    let model = saml_config::Model {
        workspace_id: principal.workspace_id.clone(),
        idp_entity_id: entity_id,
        sso_url,
        certificate_pem: cert.pem,
        certificate_subject: cert.subject,
        certificate_not_before: cert.not_before,
        certificate_expires_at: cert.not_after,
        next_certificate_pem: next.as_ref().map(|c| c.pem.clone()),
        next_certificate_subject: next.as_ref().map(|c| c.subject.clone()),
        next_certificate_not_before: next.as_ref().map(|c| c.not_before),
        next_certificate_expires_at: next.as_ref().map(|c| c.not_after),
        updated_at: at,
        // A new configuration allows it; a replaced one keeps its switch (not updated below).
        allow_idp_initiated: true,
    };
    saml_config::Entity::insert(model.clone().into_active_model().reset_all())
        .on_conflict(
            OnConflict::column(saml_config::Column::WorkspaceId)
                .update_columns([
                    saml_config::Column::IdpEntityId,
                    saml_config::Column::SsoUrl,
                    saml_config::Column::CertificatePem,
                    saml_config::Column::CertificateSubject,
                    saml_config::Column::CertificateNotBefore,
                    saml_config::Column::CertificateExpiresAt,
                    saml_config::Column::NextCertificatePem,
                    saml_config::Column::NextCertificateSubject,
                    saml_config::Column::NextCertificateNotBefore,
                    saml_config::Column::NextCertificateExpiresAt,
                    saml_config::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    let source = if input.metadata_xml.is_some() {
        "from IdP metadata"
    } else {
        "from fields"
    };
    activity::record(
        &txn,
        NewEntry::settings(
            &principal.workspace_id,
            principal.actor(),
            "saml.configure",
            format!(
                "SAML configured {source} for IdP {} (certificate {} expires {}{})",
                model.idp_entity_id,
                model.certificate_subject,
                model.certificate_expires_at.format("%Y-%m-%d"),
                match &next {
                    Some(next) => format!(
                        "; next certificate {} expires {}",
                        next.subject,
                        next.not_after.format("%Y-%m-%d")
                    ),
                    None => String::new(),
                }
            ),
        ),
    )
    .await?;
    let stored = get_in(&txn, &principal.workspace_id)
        .await?
        .ok_or_else(|| Error::NotFound("SAML configuration".into()))?;
    txn.commit().await?;
    Ok(stored)
}

/// Switches IdP-initiated sign-in on or off for the caller's workspace (admins only; SAML must
/// be configured).
pub async fn set_idp_initiated(
    store: &Store,
    principal: &Principal,
    allowed: bool,
) -> Result<SamlConfig> {
    let db = store.writes();
    let txn = crate::db::begin_write(db).await?;
    admin::require_admin(&txn, principal).await?;
    let Some(config) = saml_config::Entity::find_by_id(principal.workspace_id.clone())
        .one(&txn)
        .await?
    else {
        return Err(Error::SamlRequired);
    };
    if config.allow_idp_initiated == allowed {
        return Ok(config.into());
    }
    let mut active = config.into_active_model();
    active.allow_idp_initiated = sea_orm::ActiveValue::Set(allowed);
    active.updated_at = sea_orm::ActiveValue::Set(now());
    let stored = active.update(&txn).await?;
    activity::record(
        &txn,
        NewEntry::settings(
            &principal.workspace_id,
            principal.actor(),
            "saml.idp_initiated",
            if allowed {
                "IdP-initiated sign-in switched on (IdP tiles sign people in)".to_string()
            } else {
                "IdP-initiated sign-in switched off (people start from the sign-in page)"
                    .to_string()
            },
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(stored.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_picks_redirect_binding_and_signing_cert() {
        let xml = r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exk1">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>ENC</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>SIGN</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/redirect"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;
        let md = parse_metadata(xml).unwrap();
        assert_eq!(md.entity_id, "http://www.okta.com/exk1");
        assert_eq!(md.sso_url, "https://idp.example.com/redirect");
        assert_eq!(md.certificate, "SIGN");
    }

    #[test]
    fn metadata_with_dtd_or_without_idp_is_refused() {
        let dtd = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
        assert!(
            matches!(parse_metadata(dtd), Err(Error::Invalid { attr, .. }) if attr == "metadataXml")
        );
        let sp = r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>"#;
        assert!(parse_metadata(sp).is_err());
    }

    #[test]
    fn sso_url_must_be_https() {
        assert!(validate_sso_url("https://idp.example.com/sso", "ssoUrl").is_ok());
        assert!(validate_sso_url("http://localhost:8080/sso", "ssoUrl").is_ok());
        assert!(validate_sso_url("http://idp.example.com/sso", "ssoUrl").is_err());
        assert!(validate_sso_url("idp.example.com", "ssoUrl").is_err());
        assert!(validate_sso_url("javascript:alert(1)", "ssoUrl").is_err());
    }

    #[test]
    fn garbage_and_private_keys_are_not_certificates() {
        let at = now();
        for bad in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ] {
            let err = parse_certificate(bad, "certificatePem", at).unwrap_err();
            assert!(
                matches!(err, Error::Invalid { ref attr, .. } if attr == "certificatePem"),
                "{bad}: {err:?}"
            );
        }
    }
}
