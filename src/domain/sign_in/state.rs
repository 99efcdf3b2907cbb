//! An SP-initiated sign-in in progress, kept in the browser that started it: the AuthnRequest's
//! ID, where to return, and until when, sealed with a key every replica shares (HMAC-SHA256, by
//! OpenSSL) in a cookie. `/login` stores nothing, so nobody can fill the database or push a
//! sign-in in progress out of it, and the answer is accepted only from the browser holding the
//! cookie (a page of another site can't post an answer it obtained for its own account). That
//! each request is answered once is kept with the replay cache, when a signed answer arrives.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::domain::{Error, Result, now};
use crate::entities::service_key;

/// The name of the key in `service_keys`.
const KEY_NAME: &str = "sign_in_state";
/// The cookie's format, first in its value (a later format can be told apart).
const VERSION: &str = "s1";

/// What the sign-in cookie holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub request_id: String,
    pub return_to: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// The shared key, read once per process from the database (made there by the first replica
/// that needs it).
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl Key {
    pub async fn load(db: &impl ConnectionTrait) -> Result<Key> {
        if let Some(row) = service_key::Entity::find_by_id(KEY_NAME.to_string())
            .one(db)
            .await?
        {
            return Key::decode(&row.secret);
        }
        let fresh = crate::domain::secrets::generate("k").secret;
        service_key::Entity::insert(service_key::ActiveModel {
            name: Set(KEY_NAME.to_string()),
            secret: Set(fresh),
            created_at: Set(now()),
        })
        .on_conflict(
            OnConflict::column(service_key::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        // Whichever replica's insert won, everyone reads the same key.
        let row = service_key::Entity::find_by_id(KEY_NAME.to_string())
            .one(db)
            .await?
            .ok_or_else(|| Error::Internal(sea_orm::DbErr::Custom("no sign-in key".into())))?;
        Key::decode(&row.secret)
    }

    fn decode(secret: &str) -> Result<Key> {
        let bytes = secret
            .strip_prefix("k_")
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() >= 32)
            .ok_or_else(|| {
                Error::Internal(sea_orm::DbErr::Custom(
                    "the sign-in key is malformed".into(),
                ))
            })?;
        Ok(Key(bytes))
    }

    fn mac(&self, message: &[u8]) -> Vec<u8> {
        let sign = || -> std::result::Result<Vec<u8>, openssl::error::ErrorStack> {
            let key = PKey::hmac(&self.0)?;
            let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
            signer.update(message)?;
            signer.sign_to_vec()
        };
        // HMAC-SHA256 over bytes in memory fails only if OpenSSL itself is broken.
        sign().unwrap_or_default()
    }
}

/// What the MAC covers: the workspace (a cookie for one workspace is nothing to another) and
/// every field, each length-prefixed so that no two states read the same.
fn message(workspace_id: &str, pending: &Pending) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [
        VERSION,
        workspace_id,
        &pending.request_id,
        &pending.expires_at.timestamp().to_string(),
        pending.return_to.as_deref().unwrap_or(""),
    ] {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// The cookie value for `pending` in `workspace_id`.
pub fn seal(key: &Key, workspace_id: &str, pending: &Pending) -> String {
    let mac = key.mac(&message(workspace_id, pending));
    format!(
        "{VERSION}.{}.{}.{}.{}",
        pending.request_id,
        pending.expires_at.timestamp(),
        URL_SAFE_NO_PAD.encode(pending.return_to.as_deref().unwrap_or("")),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

/// The pending sign-in a cookie holds, if it was sealed by this service for `workspace_id` (its
/// expiry is the caller's to check).
pub fn open(key: &Key, workspace_id: &str, cookie: &str) -> Option<Pending> {
    if cookie.len() > 2048 {
        return None;
    }
    let mut parts = cookie.split('.');
    let (Some(VERSION), Some(request_id), Some(expires), Some(return_to), Some(mac), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    // One spelling of each state: our request IDs are letters and digits, the expiry plain
    // decimal (`+17…` or `017…` would parse to the same number).
    if request_id.is_empty() || !request_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let seconds: i64 = expires.parse().ok()?;
    if seconds.to_string() != expires {
        return None;
    }
    let return_to = String::from_utf8(URL_SAFE_NO_PAD.decode(return_to).ok()?).ok()?;
    let pending = Pending {
        request_id: request_id.to_string(),
        return_to: (!return_to.is_empty()).then_some(return_to),
        expires_at: DateTime::from_timestamp(seconds, 0)?,
    };
    let presented = URL_SAFE_NO_PAD.decode(mac).ok()?;
    let expected = key.mac(&message(workspace_id, &pending));
    let same = presented.len() == expected.len()
        && !expected.is_empty()
        && openssl::memcmp::eq(&presented, &expected);
    same.then_some(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_state_opens_only_unchanged_for_its_workspace_and_key() {
        let key = Key(vec![7; 32]);
        let pending = Pending {
            request_id: "idabc".into(),
            return_to: Some("/members?x=1".into()),
            expires_at: DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        };
        let cookie = seal(&key, "w1", &pending);
        assert_eq!(open(&key, "w1", &cookie), Some(pending.clone()));
        assert_eq!(open(&key, "w2", &cookie), None, "another workspace");
        assert_eq!(open(&Key(vec![8; 32]), "w1", &cookie), None, "another key");
        let parts: Vec<&str> = cookie.split('.').collect();
        let altered = [
            cookie.replace("idabc", "idabd"),
            cookie.replace(parts[2], "1900000001"),
            format!(
                "{}.{}.{}.{}.{}",
                parts[0],
                parts[1],
                parts[2],
                URL_SAFE_NO_PAD.encode("//evil.test"),
                parts[4]
            ),
            format!("{cookie}.x"),
            cookie.replace(parts[2], &format!("+{}", parts[2])),
            cookie.replace(parts[2], &format!("0{}", parts[2])),
            cookie[..cookie.len() - 2].to_string(),
            String::new(),
        ];
        for forged in altered {
            assert_eq!(open(&key, "w1", &forged), None, "{forged}");
        }
        let bare = Pending {
            return_to: None,
            ..pending
        };
        assert_eq!(open(&key, "w1", &seal(&key, "w1", &bare)), Some(bare));
    }
}
