//! What a lookup does to a claim: the next status, times and reason, as a pure function of the
//! claim, what DNS said and the time (so the whole schedule is tested without waiting days).

use chrono::{DateTime, TimeDelta, Utc};

use super::dns::TxtAnswer;
use crate::entities::workspace_domain;

/// Where a claim stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Claimed; the record has not been seen yet.
    Pending,
    /// The record was seen (or the operator vouched): the workspace speaks for the domain.
    Verified,
    /// The record was not seen within `Schedule::pending_for`.
    Failed,
    /// A verified domain whose record has been gone for `Schedule::lapse_after`.
    Lapsed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Verified => workspace_domain::VERIFIED,
            Status::Failed => "FAILED",
            Status::Lapsed => "LAPSED",
        }
    }

    pub fn parse(stored: &str) -> Status {
        match stored {
            "VERIFIED" => Status::Verified,
            "FAILED" => Status::Failed,
            "LAPSED" => Status::Lapsed,
            _ => Status::Pending,
        }
    }
}

/// Who verified a domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verifier {
    /// Its TXT record was seen.
    Dns,
    /// The operator vouched for it (`scim-gateway domains verify`); never looked up.
    Operator,
}

impl Verifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Verifier::Dns => "DNS",
            Verifier::Operator => "OPERATOR",
        }
    }

    pub fn parse(stored: &str) -> Verifier {
        if stored == "OPERATOR" {
            Verifier::Operator
        } else {
            Verifier::Dns
        }
    }
}

/// How often claims are looked up and how long they wait.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// A pending claim: looked up this often…
    pub pending_every: TimeDelta,
    /// …and failed when its record has not been seen this long after the claim.
    pub pending_for: TimeDelta,
    /// A verified domain whose record is there, and a lapsed one: looked up this often.
    pub verified_every: TimeDelta,
    /// A verified domain whose record is missing: looked up this often…
    pub missing_every: TimeDelta,
    /// …and lapsed once it has been missing this long.
    pub lapse_after: TimeDelta,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            pending_every: TimeDelta::minutes(10),
            pending_for: TimeDelta::hours(72),
            verified_every: TimeDelta::hours(24),
            missing_every: TimeDelta::hours(1),
            lapse_after: TimeDelta::days(7),
        }
    }
}

/// What a lookup saw of the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A TXT record at the name holds the claim's value.
    Published,
    /// No record with the value; in words, what was there.
    Missing(String),
    /// DNS could not say; the reason.
    Unknown(String),
}

impl Seen {
    pub fn of(answer: &TxtAnswer, value: &str, name: &str) -> Seen {
        match answer {
            TxtAnswer::Records(records) if records.iter().any(|r| r.trim() == value) => {
                Seen::Published
            }
            TxtAnswer::Records(records) => Seen::Missing(format!(
                "{name} has {} TXT record{} but none holds the value given for this workspace",
                records.len(),
                if records.len() == 1 { "" } else { "s" }
            )),
            TxtAnswer::Missing => Seen::Missing(format!("no TXT record at {name}")),
            TxtAnswer::Unavailable(reason) => Seen::Unknown(format!(
                "DNS could not answer, so nothing changed: {reason}"
            )),
        }
    }
}

/// A claim's next state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub status: Status,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_by: Option<Verifier>,
    pub last_error: Option<String>,
    pub missing_since: Option<DateTime<Utc>>,
    pub next_check_at: Option<DateTime<Utc>>,
}

/// An activity entry a transition makes.
pub struct Event {
    pub action: &'static str,
    pub summary: String,
}

impl Transition {
    /// The entry for a change of status, or for a verified record first found missing.
    pub fn event(
        &self,
        before: &workspace_domain::Model,
        domain: &str,
        schedule: &Schedule,
    ) -> Option<Event> {
        let reason = self.last_error.as_deref().unwrap_or("");
        let was = Status::parse(&before.status);
        if was == self.status {
            if self.status == Status::Verified
                && before.missing_since.is_none()
                && self.missing_since.is_some()
            {
                return Some(Event {
                    action: "domain.record_missing",
                    summary: format!(
                        "{domain}'s TXT record is missing ({reason}); the domain lapses in {} days unless the record is back",
                        schedule.lapse_after.num_days()
                    ),
                });
            }
            return None;
        }
        let (action, summary) = match self.status {
            Status::Verified => (
                "domain.verified",
                format!("{domain} verified: its TXT record was seen"),
            ),
            Status::Failed => (
                "domain.failed",
                format!(
                    "{domain} failed verification: {reason}; publish the record and check again"
                ),
            ),
            Status::Lapsed => (
                "domain.lapsed",
                format!(
                    "{domain} lapsed: its TXT record has been gone since {} ({reason}); its IdP no longer signs in or renames its addresses",
                    before
                        .missing_since
                        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default()
                ),
            ),
            Status::Pending => ("domain.pending", format!("{domain} is pending again")),
        };
        Some(Event { action, summary })
    }
}

/// What a lookup at `at` that saw `seen` makes of `row` (a failed claim is looked up only when
/// an admin asks, and verifies like the others when its record is seen).
pub fn next_state(
    row: &workspace_domain::Model,
    seen: &Seen,
    at: DateTime<Utc>,
    schedule: &Schedule,
) -> Transition {
    let status = Status::parse(&row.status);
    let unchanged = Transition {
        status,
        verified_at: row.verified_at,
        verified_by: row.verified_by.as_deref().map(Verifier::parse),
        last_error: None,
        missing_since: row.missing_since,
        next_check_at: row.next_check_at,
    };
    let overdue = at - row.created_at >= schedule.pending_for;
    let next_for = |status: Status, missing: bool| match status {
        // A claim kept pending past its time by DNS trouble is looked up daily, not every 10
        // minutes forever.
        Status::Pending if overdue => Some(at + schedule.verified_every),
        Status::Pending => Some(at + schedule.pending_every),
        Status::Verified if missing => Some(at + schedule.missing_every),
        Status::Verified | Status::Lapsed => Some(at + schedule.verified_every),
        Status::Failed => None,
    };
    match seen {
        Seen::Unknown(reason) => Transition {
            last_error: Some(reason.clone()),
            // A failed claim stays unscheduled; the others keep their rhythm.
            next_check_at: next_for(status, row.missing_since.is_some()),
            ..unchanged
        },
        Seen::Published => Transition {
            status: Status::Verified,
            verified_at: if status == Status::Verified {
                row.verified_at
            } else {
                Some(at)
            },
            verified_by: Some(Verifier::Dns),
            last_error: None,
            missing_since: None,
            next_check_at: next_for(Status::Verified, false),
        },
        Seen::Missing(reason) => match status {
            Status::Pending if at - row.created_at >= schedule.pending_for => Transition {
                status: Status::Failed,
                last_error: Some(format!(
                    "{reason} within {} hours of the claim",
                    schedule.pending_for.num_hours()
                )),
                next_check_at: None,
                ..unchanged
            },
            Status::Verified => {
                let since = row.missing_since.unwrap_or(at);
                if at - since >= schedule.lapse_after {
                    Transition {
                        status: Status::Lapsed,
                        last_error: Some(reason.clone()),
                        missing_since: Some(since),
                        next_check_at: next_for(Status::Lapsed, true),
                        ..unchanged
                    }
                } else {
                    Transition {
                        last_error: Some(reason.clone()),
                        missing_since: Some(since),
                        next_check_at: next_for(Status::Verified, true),
                        ..unchanged
                    }
                }
            }
            _ => Transition {
                last_error: Some(reason.clone()),
                next_check_at: next_for(status, false),
                ..unchanged
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, created_hours_ago: i64, at: DateTime<Utc>) -> workspace_domain::Model {
        workspace_domain::Model {
            id: "d1".into(),
            workspace_id: "w1".into(),
            domain: "acme.test".into(),
            status: status.as_str().into(),
            txt_value: "scim-gateway-verification=abc".into(),
            verified_at: (status == Status::Verified).then_some(at - TimeDelta::days(30)),
            verified_by: (status == Status::Verified).then(|| "DNS".into()),
            last_checked_at: None,
            last_error: None,
            missing_since: None,
            next_check_at: Some(at),
            created_at: at - TimeDelta::hours(created_hours_ago),
        }
    }

    fn missing() -> Seen {
        Seen::Missing("no TXT record".into())
    }

    #[test]
    fn a_pending_claim_verifies_when_seen_and_fails_only_after_the_stated_time() {
        let (at, s) = (Utc::now(), Schedule::default());
        let seen = next_state(&row(Status::Pending, 1, at), &Seen::Published, at, &s);
        assert_eq!(seen.status, Status::Verified);
        assert_eq!(seen.verified_at, Some(at));
        assert_eq!(seen.verified_by, Some(Verifier::Dns));
        assert_eq!(seen.next_check_at, Some(at + s.verified_every));
        let early = next_state(&row(Status::Pending, 71, at), &missing(), at, &s);
        assert_eq!(early.status, Status::Pending);
        assert_eq!(early.next_check_at, Some(at + s.pending_every));
        assert!(early.last_error.is_some());
        let late = next_state(&row(Status::Pending, 72, at), &missing(), at, &s);
        assert_eq!(late.status, Status::Failed);
        assert_eq!(late.next_check_at, None);
        assert!(late.last_error.unwrap().contains("72 hours"));
    }

    #[test]
    fn dns_trouble_never_fails_or_lapses_a_claim() {
        let (at, s) = (Utc::now(), Schedule::default());
        let trouble = Seen::Unknown("SERVFAIL".into());
        let pending = next_state(&row(Status::Pending, 500, at), &trouble, at, &s);
        assert_eq!(pending.status, Status::Pending);
        assert_eq!(
            pending.next_check_at,
            Some(at + s.verified_every),
            "daily once overdue"
        );
        let young = next_state(&row(Status::Pending, 5, at), &trouble, at, &s);
        assert_eq!(young.next_check_at, Some(at + s.pending_every));
        assert!(pending.last_error.unwrap().contains("SERVFAIL"));
        let mut verified = row(Status::Verified, 500, at);
        verified.missing_since = Some(at - TimeDelta::days(30));
        let kept = next_state(&verified, &trouble, at, &s);
        assert_eq!(kept.status, Status::Verified);
        assert_eq!(kept.missing_since, verified.missing_since);
    }

    #[test]
    fn a_verified_record_gone_lapses_after_the_grace_period_and_comes_back() {
        let (at, s) = (Utc::now(), Schedule::default());
        let verified = row(Status::Verified, 900, at);
        let first = next_state(&verified, &missing(), at, &s);
        assert_eq!(first.status, Status::Verified);
        assert_eq!(first.missing_since, Some(at));
        assert_eq!(first.next_check_at, Some(at + s.missing_every));
        let mut still = verified.clone();
        still.missing_since = Some(at - s.lapse_after + TimeDelta::minutes(1));
        assert_eq!(
            next_state(&still, &missing(), at, &s).status,
            Status::Verified
        );
        still.missing_since = Some(at - s.lapse_after);
        let lapsed = next_state(&still, &missing(), at, &s);
        assert_eq!(lapsed.status, Status::Lapsed);
        assert_eq!(lapsed.next_check_at, Some(at + s.verified_every));
        // Back: verified again, the gap forgotten, the first verification kept.
        let back = next_state(&still, &Seen::Published, at, &s);
        assert_eq!(back.status, Status::Verified);
        assert_eq!(back.missing_since, None);
        assert_eq!(back.verified_at, verified.verified_at);
        let mut lapsed_row = row(Status::Lapsed, 900, at);
        lapsed_row.missing_since = Some(at - TimeDelta::days(9));
        let revived = next_state(&lapsed_row, &Seen::Published, at, &s);
        assert_eq!(
            (revived.status, revived.verified_at),
            (Status::Verified, Some(at))
        );
    }

    #[test]
    fn a_failed_claim_verifies_when_the_record_is_seen_and_is_not_scheduled_otherwise() {
        let (at, s) = (Utc::now(), Schedule::default());
        let mut failed = row(Status::Failed, 100, at);
        failed.next_check_at = None;
        assert_eq!(next_state(&failed, &missing(), at, &s).next_check_at, None);
        assert_eq!(
            next_state(&failed, &missing(), at, &s).status,
            Status::Failed
        );
        assert_eq!(
            next_state(&failed, &Seen::Published, at, &s).status,
            Status::Verified
        );
    }

    #[test]
    fn only_the_exact_value_counts_and_every_record_is_read() {
        let value = "scim-gateway-verification=abc";
        let name = "_scim-gateway.acme.test";
        let records = |r: &[&str]| TxtAnswer::Records(r.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            Seen::of(&records(&["v=spf1 -all", value]), value, name),
            Seen::Published
        );
        assert!(matches!(
            Seen::of(&records(&["scim-gateway-verification=abcd"]), value, name),
            Seen::Missing(_)
        ));
        assert!(matches!(
            Seen::of(&records(&["scim-gateway-verification=ABC"]), value, name),
            Seen::Missing(_)
        ));
        assert!(matches!(
            Seen::of(&TxtAnswer::Missing, value, name),
            Seen::Missing(_)
        ));
        assert!(matches!(
            Seen::of(&TxtAnswer::Unavailable("timeout".into()), value, name),
            Seen::Unknown(r) if r.contains("timeout")
        ));
    }
}
