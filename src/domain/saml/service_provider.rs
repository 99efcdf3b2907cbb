//! The gateway as a SAML service provider of one workspace: its entity ID and ACS URL, the SP
//! metadata served to IdPs, and the AuthnRequests it sends (HTTP-Redirect binding).

use chrono::{DateTime, Utc};
use samael::schema::{AuthnRequest, Issuer};

use crate::domain::{Error, Result};

const HTTP_POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// The gateway as a SAML service provider for one workspace: what the admin pastes into the IdP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceProvider {
    /// The SP's entity ID, which is also where its metadata is served.
    pub entity_id: String,
    /// Where the IdP posts its answer (HTTP-POST binding).
    pub acs_url: String,
}

impl ServiceProvider {
    /// The SP below `saml_base` (`…/api/teams/{workspaceId}/saml`).
    pub fn at(saml_base: &str) -> ServiceProvider {
        ServiceProvider {
            entity_id: format!("{saml_base}/metadata"),
            acs_url: format!("{saml_base}/acs"),
        }
    }

    /// SP metadata (SAML 2.0 metadata, §2.4.4): assertions must be signed, NameID is the
    /// e-mail address, answers come back by HTTP-POST to the ACS.
    pub fn metadata_xml(&self) -> String {
        format!(
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">\n",
                "  <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" ",
                "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n",
                "    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n",
                "    <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" ",
                "Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\n",
                "  </md:SPSSODescriptor>\n",
                "</md:EntityDescriptor>\n"
            ),
            entity = xml_attribute(&self.entity_id),
            acs = xml_attribute(&self.acs_url),
        )
    }
}

impl ServiceProvider {
    /// The URL that sends the browser to the IdP with an AuthnRequest `request_id` (HTTP-Redirect
    /// binding: deflated, base64, in the query) and `relay_state`. Unsigned, as Okta and Entra
    /// accept by default; no NameIDPolicy, so the IdP sends the NameID format it is set up for.
    pub fn authn_request_url(
        &self,
        sso_url: &str,
        request_id: &str,
        relay_state: &str,
        at: DateTime<Utc>,
    ) -> Result<String> {
        let request = AuthnRequest {
            id: request_id.to_string(),
            version: "2.0".into(),
            issue_instant: at,
            destination: Some(sso_url.to_string()),
            assertion_consumer_service_url: Some(self.acs_url.clone()),
            protocol_binding: Some(HTTP_POST_BINDING.into()),
            issuer: Some(Issuer {
                value: Some(self.entity_id.clone()),
                ..Issuer::default()
            }),
            ..AuthnRequest::default()
        };
        request
            .redirect(relay_state)
            .ok()
            .flatten()
            .map(String::from)
            .ok_or_else(|| {
                Error::invalid(
                    "ssoUrl",
                    "the configured SSO URL can't carry a SAML request; configure SAML again",
                )
            })
    }
}

/// Text safe inside a double-quoted XML attribute.
fn xml_attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sp_metadata_escapes_its_urls() {
        let sp = ServiceProvider::at("https://x.test/a&b\"<c>/api/teams/w/saml");
        let xml = sp.metadata_xml();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(
            doc.root_element().attribute("entityID"),
            Some("https://x.test/a&b\"<c>/api/teams/w/saml/metadata")
        );
        assert!(xml.contains("a&amp;b&quot;&lt;c&gt;"), "{xml}");
    }
}
