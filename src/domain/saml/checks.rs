//! The checks an IdP's answer goes through and a refusal naming the one that failed: shared by
//! `precheck` (before xmlsec) and `verify` (the rest), and shown in a test sign-in's report.

/// The checks an answer goes through, in order, for the test sign-in's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Format,
    Status,
    Signature,
    Issuer,
    Audience,
    Recipient,
    Validity,
    Request,
    Replay,
    Domain,
    Person,
}

impl Check {
    pub const ALL: [Check; 11] = [
        Check::Format,
        Check::Status,
        Check::Signature,
        Check::Issuer,
        Check::Audience,
        Check::Recipient,
        Check::Validity,
        Check::Request,
        Check::Replay,
        Check::Domain,
        Check::Person,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Check::Format => "SAML response format",
            Check::Status => "IdP status",
            Check::Signature => "Signature",
            Check::Issuer => "Issuer (IdP entity ID)",
            Check::Audience => "Audience (SP entity ID)",
            Check::Recipient => "Recipient and destination (ACS URL)",
            Check::Validity => "Validity window",
            Check::Request => "Answered request",
            Check::Replay => "First use of the assertion",
            Check::Domain => "Address in a verified domain",
            Check::Person => "Who signs in",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Format => "FORMAT",
            Check::Status => "STATUS",
            Check::Signature => "SIGNATURE",
            Check::Issuer => "ISSUER",
            Check::Audience => "AUDIENCE",
            Check::Recipient => "RECIPIENT",
            Check::Validity => "VALIDITY",
            Check::Request => "REQUEST",
            Check::Replay => "REPLAY",
            Check::Domain => "DOMAIN",
            Check::Person => "PERSON",
        }
    }
}

/// Why an answer was refused: the check that failed and, in words, how.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", check.label())]
pub struct Refusal {
    pub check: Check,
    pub detail: String,
}

impl Refusal {
    pub fn new(check: Check, detail: impl Into<String>) -> Self {
        Refusal {
            check,
            detail: detail.into(),
        }
    }
}
