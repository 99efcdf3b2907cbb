//! A request id for every request: the caller's `X-Request-Id` when it is a sane token (a load
//! balancer's or an IdP's), a new UUID otherwise. It names the request's log span and comes back
//! in the response's `X-Request-Id`, so a support ticket can quote it.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Up to 128 characters of letters, digits and `-_.:`; anything else is replaced, not logged.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// The caller's id when acceptable, a new one otherwise.
pub fn of(headers: &HeaderMap) -> HeaderValue {
    match headers.get(&HEADER) {
        Some(value) if acceptable(value) => value.clone(),
        _ => {
            let mut buf = uuid::Uuid::encode_buffer();
            HeaderValue::from_str(uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf))
                .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
        }
    }
}
