//! What a workspace may claim as its e-mail domain (issue 27, first step): a name someone can
//! own and publish a DNS record under. Upper case and one trailing dot are normalised, an IDN is
//! kept in its ASCII form (and shown as Unicode); an IP address, a wildcard, a single label, a
//! public suffix (the Public Suffix List, ICANN and private sections: `co.uk`, `github.io`), a
//! consumer mail domain, and a name over 253 characters are refused, each with its reason.

use crate::domain::{Error, Result};

/// The longest domain name DNS carries (RFC 1035, in its dotted text form).
pub const MAX_LENGTH: usize = 253;

/// Mail domains shared by everyone who signs up: nobody's company, whatever their records say.
const CONSUMER_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "rocketmail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "zoho.com",
    "qq.com",
    "163.com",
    "126.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
    "tuta.io",
];

/// A domain name a workspace can claim, in its ASCII form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    /// Normalises `input` and refuses what nobody can own, naming why.
    pub fn parse(input: &str) -> Result<DomainName> {
        let invalid = |reason: String| Error::invalid("domain", reason);
        let trimmed = input.trim_matches(|c: char| c.is_ascii_whitespace());
        let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if name.is_empty() {
            return Err(invalid("enter a domain name, such as acme.com".into()));
        }
        if name.contains('*') {
            return Err(invalid(format!(
                "{trimmed:?} is a wildcard; claim the domain itself (it covers its addresses)"
            )));
        }
        let unbracketed = name.trim_start_matches('[').trim_end_matches(']');
        if unbracketed.parse::<std::net::IpAddr>().is_ok() {
            return Err(invalid(format!(
                "{trimmed:?} is an IP address; a domain name is needed"
            )));
        }
        if name.contains('@') {
            return Err(invalid(format!(
                "{trimmed:?} is an e-mail address; enter only the part after the @"
            )));
        }
        let too_long = |length: usize| {
            invalid(format!(
                "the domain name is {length} characters long; DNS allows {MAX_LENGTH}"
            ))
        };
        if name.len() > MAX_LENGTH {
            return Err(too_long(name.len()));
        }
        let ascii = idna::domain_to_ascii_strict(name).map_err(|_| {
            invalid(format!(
                "{trimmed:?} is not a domain name (letters, digits and hyphens, in labels of up to 63 characters separated by dots)"
            ))
        })?;
        if ascii.len() > MAX_LENGTH {
            return Err(too_long(ascii.len()));
        }
        if !ascii.contains('.') {
            return Err(invalid(format!(
                "{trimmed:?} is a single label; a domain someone can own has at least two (acme.com)"
            )));
        }
        let Some(registrable) = psl::domain(ascii.as_bytes()) else {
            return Err(invalid(format!(
                "{trimmed:?} is a public suffix: anyone can register names under it, so nobody owns it"
            )));
        };
        let registrable = String::from_utf8_lossy(registrable.as_bytes()).to_string();
        if CONSUMER_MAIL.contains(&registrable.as_str()) {
            return Err(invalid(format!(
                "{registrable} is a consumer mail domain shared by everyone who signs up; claim your company's own domain"
            )));
        }
        Ok(DomainName(ascii))
    }

    /// As stored and as DNS is asked: ASCII (an IDN as `xn--…`).
    pub fn ascii(&self) -> &str {
        &self.0
    }

    /// As people read it: an IDN in Unicode.
    pub fn unicode(&self) -> String {
        idna::domain_to_unicode(&self.0).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(input: &str) -> String {
        match DomainName::parse(input) {
            Err(Error::Invalid { reason, .. }) => reason,
            other => panic!("{input:?}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn names_are_normalised_and_idns_kept_as_ascii() {
        for (input, ascii) in [
            ("acme.com", "acme.com"),
            ("  ACME.Com. ", "acme.com"),
            ("mail.eu.acme.com", "mail.eu.acme.com"),
            ("acme.co.uk", "acme.co.uk"),
            ("Bücher.example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("team.github.io", "team.github.io"),
        ] {
            let name = DomainName::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(name.ascii(), ascii, "{input}");
        }
        assert_eq!(
            DomainName::parse("xn--bcher-kva.example")
                .unwrap()
                .unicode(),
            "bücher.example"
        );
    }

    #[test]
    fn what_nobody_can_own_is_refused_with_its_reason() {
        for (input, why) in [
            ("", "enter a domain name"),
            ("*.acme.com", "wildcard"),
            ("192.0.2.1", "IP address"),
            ("[2001:db8::1]", "IP address"),
            ("jane@acme.com", "e-mail address"),
            ("acme", "single label"),
            ("com", "single label"),
            ("co.uk", "public suffix"),
            ("github.io", "public suffix"),
            ("gmail.com", "consumer mail domain"),
            ("GMAIL.com.", "consumer mail domain"),
            ("mail.outlook.com", "consumer mail domain"),
            ("proton.me", "consumer mail domain"),
            ("acme_corp.com", "not a domain name"),
            ("acme..com", "not a domain name"),
            ("exa mple.com", "not a domain name"),
        ] {
            let reason = refused(input);
            assert!(reason.contains(why), "{input:?}: {reason}");
        }
        let long = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert!(long.len() > MAX_LENGTH);
        assert!(refused(&long).contains("DNS allows 253"), "{long}");
    }
}
