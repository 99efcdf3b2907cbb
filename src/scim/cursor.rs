//! RFC 9865 cursors as the client sees them: opaque URL-safe tokens that carry a keyset position
//! (see `domain::keyset`), the direction, the page size and when they were issued, bound to the
//! workspace, resource type and query (filter, sort) by a hash, so a cursor of another query or
//! workspace is refused rather than misread.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::keyset::{Cursor, Position};
use crate::scim::{ScimError, ScimResult};

/// How long a cursor stays valid (advertised as `cursorTimeout`).
pub const TIMEOUT: TimeDelta = TimeDelta::hours(1);

#[derive(Serialize, Deserialize)]
struct Token {
    /// `a`fter or `b`efore the row.
    d: char,
    i: String,
    /// The row's creation time, in milliseconds.
    c: i64,
    /// Page size of the query.
    n: u64,
    /// Issued at, in seconds.
    t: i64,
    /// The query's hash.
    q: String,
}

/// What a cursor is bound to: the workspace, the resource type and the query's shape.
pub struct Binding {
    hash: String,
    count: u64,
}

impl Binding {
    pub fn new(workspace_id: &str, resource: &str, query_shape: &str, count: u64) -> Binding {
        let digest = Sha256::digest(format!("{workspace_id}\n{resource}\n{query_shape}"));
        Binding {
            hash: URL_SAFE_NO_PAD.encode(&digest[..12]),
            count,
        }
    }

    /// The cursor a request names: empty is the first page.
    pub fn decode(&self, token: &str, now: DateTime<Utc>) -> ScimResult<Cursor> {
        let token = token.trim();
        if token.is_empty() {
            return Ok(Cursor::First);
        }
        let invalid = || {
            ScimError::bad_request(
                "invalidCursor",
                "the cursor is not one this server gave: send an empty cursor for the first page, then nextCursor or previousCursor",
            )
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .map_err(|_| invalid())?;
        let t: Token = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if t.q != self.hash {
            return Err(ScimError::bad_request(
                "invalidCursor",
                "the cursor belongs to another query: repeat the filter and sort of the first request",
            ));
        }
        if t.n != self.count {
            return Err(ScimError::bad_request(
                "invalidCount",
                format!("count must stay {} across the pages of a cursor query", t.n),
            ));
        }
        let issued = DateTime::from_timestamp(t.t, 0).ok_or_else(invalid)?;
        if now - issued > TIMEOUT {
            return Err(ScimError::bad_request(
                "expiredCursor",
                "the cursor is older than the cursor timeout (3600 s): start again with an empty cursor",
            ));
        }
        let created_at = DateTime::from_timestamp_millis(t.c).ok_or_else(invalid)?;
        let position = Position {
            id: t.i,
            created_at,
        };
        match t.d {
            'a' => Ok(Cursor::After(position)),
            'b' => Ok(Cursor::Before(position)),
            _ => Err(invalid()),
        }
    }

    fn encode(&self, after: bool, at: &Position, now: DateTime<Utc>) -> String {
        let token = Token {
            d: if after { 'a' } else { 'b' },
            i: at.id.clone(),
            c: at.created_at.timestamp_millis(),
            n: self.count,
            t: now.timestamp(),
            q: self.hash.clone(),
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
    }

    /// `nextCursor` and `previousCursor` of a page read from `cursor`, given its first and last
    /// rows (in list order) and whether rows lie beyond it in the direction it was read.
    pub fn links(
        &self,
        cursor: &Cursor,
        first: Option<Position>,
        last: Option<Position>,
        more: bool,
        now: DateTime<Utc>,
    ) -> (Option<String>, Option<String>) {
        let (Some(first), Some(last)) = (first, last) else {
            return (None, None);
        };
        let (has_next, has_previous) = match cursor {
            Cursor::First => (more, false),
            // Reached forwards: the cursor's row lies before this page.
            Cursor::After(_) => (more, true),
            // Reached backwards: the cursor's row lies after it.
            Cursor::Before(_) => (true, more),
        };
        (
            has_next.then(|| self.encode(true, &last, now)),
            has_previous.then(|| self.encode(false, &first, now)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(id: &str) -> Position {
        Position {
            id: id.into(),
            created_at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap(),
        }
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_query() {
        let now = Utc::now();
        let binding = Binding::new("ws-a", "User", "filter=x", 10);
        let (next, previous) =
            binding.links(&Cursor::First, Some(at("1")), Some(at("2")), true, now);
        assert!(previous.is_none(), "no previousCursor on the first page");
        let next = next.expect("a next page");
        assert!(
            next.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(binding.decode(&next, now).unwrap(), Cursor::After(at("2")));

        let other_workspace = Binding::new("ws-b", "User", "filter=x", 10);
        let other_query = Binding::new("ws-a", "User", "filter=y", 10);
        for (binding, kind) in [
            (other_workspace, "invalidCursor"),
            (other_query, "invalidCursor"),
        ] {
            let err = binding.decode(&next, now).unwrap_err();
            assert_eq!(err.scim_type, Some(kind));
        }
        let err = Binding::new("ws-a", "User", "filter=x", 20)
            .decode(&next, now)
            .unwrap_err();
        assert_eq!(err.scim_type, Some("invalidCount"));
        let err = binding
            .decode(&next, now + TIMEOUT + TimeDelta::seconds(1))
            .unwrap_err();
        assert_eq!(err.scim_type, Some("expiredCursor"));
        for garbage in ["x", "!!!", "eyJ9"] {
            let err = binding.decode(garbage, now).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidCursor"), "{garbage}");
        }
        assert_eq!(binding.decode("", now).unwrap(), Cursor::First);
    }

    #[test]
    fn links_follow_the_direction_a_page_was_read() {
        let now = Utc::now();
        let b = Binding::new("w", "User", "", 2);
        let (n, p) = b.links(
            &Cursor::After(at("0")),
            Some(at("1")),
            Some(at("2")),
            false,
            now,
        );
        assert!(n.is_none() && p.is_some(), "the last page: only previous");
        let (n, p) = b.links(
            &Cursor::Before(at("3")),
            Some(at("1")),
            Some(at("2")),
            false,
            now,
        );
        assert!(
            n.is_some() && p.is_none(),
            "back at the first page: only next"
        );
        assert_eq!(b.decode(&n.unwrap(), now).unwrap(), Cursor::After(at("2")));
        let (n, p) = b.links(&Cursor::First, None, None, false, now);
        assert!(n.is_none() && p.is_none(), "an empty result has no cursors");
    }
}
