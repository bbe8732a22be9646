//! Console sessions: who is signed in and with which role, in a signed cookie, and the CSRF
//! token bound to that session.
//!
//! The cookie value is `base64url(JSON claims) "." base64url(HMAC-SHA256(key, claims))`; it is
//! `HttpOnly; Secure; SameSite=Strict` with no `Path`, so it belongs to the API directory that
//! set it (`…/console/api`; no script reads it, no other site sends it). Every state-changing request must also carry `X-CSRF-Token`, which is
//! `HMAC-SHA256(key, "csrf:" + the session's nonce)`: a page can only know it by asking
//! `GET /console/api/session` with the cookie, which a cross-site page cannot read. Both are
//! compared in constant time. The key is the console secret (Secrets Manager).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "o2c_console";

/// What a signed-in person may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, PII masked; changes nothing.
    Viewer,
    /// Also replays, pushes and promotes.
    Operator,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// A verified session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    pub role: Role,
    /// Epoch seconds after which the session is refused.
    pub expires: i64,
    /// Random per session: binds the CSRF token.
    pub nonce: String,
    /// How the person signed in (`dev-login` locally, `cognito` in AWS).
    pub via: String,
}

/// Why a request has no session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("not signed in")]
    Missing,
    #[error("the session cookie is not valid")]
    Invalid,
    #[error("the session has expired; sign in again")]
    Expired,
}

/// Issues and verifies sessions with one key.
pub struct Sessions {
    key: Vec<u8>,
    /// Session lifetime in seconds.
    pub ttl_secs: i64,
    /// `Secure` on the cookie (off only for plain-HTTP local runs).
    pub secure: bool,
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

impl Sessions {
    pub fn new(key: &[u8], ttl_secs: i64, secure: bool) -> Sessions {
        Sessions {
            key: key.to_vec(),
            ttl_secs,
            secure,
        }
    }

    /// A new session for `user`: the `Set-Cookie` value and the session.
    pub fn issue(&self, user: &str, role: Role, via: &str, now_secs: i64) -> (String, Session) {
        let nonce: [u8; 16] = rand::random();
        let session = Session {
            user: user.to_string(),
            role,
            expires: now_secs + self.ttl_secs,
            nonce: B64.encode(nonce),
            via: via.to_string(),
        };
        let claims = serde_json::to_vec(&session).expect("a session serialises");
        let value = format!(
            "{}.{}",
            B64.encode(&claims),
            B64.encode(mac(&self.key, &claims))
        );
        (self.cookie(&value, self.ttl_secs), session)
    }

    /// The `Set-Cookie` value that signs out.
    pub fn clear(&self) -> String {
        self.cookie("", 0)
    }

    fn cookie(&self, value: &str, max_age: i64) -> String {
        format!(
            "{COOKIE}={value}; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The session of a `Cookie` header, verified.
    pub fn verify(&self, cookie_header: Option<&str>, now_secs: i64) -> Result<Session, AuthError> {
        let value = cookie_header
            .into_iter()
            .flat_map(|h| h.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
            .ok_or(AuthError::Missing)?;
        let (claims, sig) = value.split_once('.').ok_or(AuthError::Invalid)?;
        let claims = B64.decode(claims).map_err(|_| AuthError::Invalid)?;
        let sig = B64.decode(sig).map_err(|_| AuthError::Invalid)?;
        if !bool::from(mac(&self.key, &claims).ct_eq(&sig)) {
            return Err(AuthError::Invalid);
        }
        let session: Session = serde_json::from_slice(&claims).map_err(|_| AuthError::Invalid)?;
        if session.expires <= now_secs {
            return Err(AuthError::Expired);
        }
        Ok(session)
    }

    /// The CSRF token of a session.
    pub fn csrf(&self, session: &Session) -> String {
        B64.encode(mac(&self.key, format!("csrf:{}", session.nonce).as_bytes()))
    }

    /// Does `token` (the `X-CSRF-Token` header) belong to `session`?
    pub fn csrf_ok(&self, session: &Session, token: Option<&str>) -> bool {
        token.is_some_and(|t| bool::from(self.csrf(session).as_bytes().ct_eq(t.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_of(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_string()
    }

    #[test]
    fn a_session_round_trips_and_tampering_expiry_and_other_keys_are_refused() {
        let s = Sessions::new(b"k1", 3600, true);
        let (set, session) = s.issue("ann", Role::Viewer, "dev-login", 1_000);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure")
        );
        let cookie = cookie_of(&set);
        assert_eq!(s.verify(Some(&cookie), 1_001).unwrap(), session);
        assert_eq!(s.verify(Some(&cookie), 4_600), Err(AuthError::Expired));
        assert_eq!(s.verify(None, 1_001), Err(AuthError::Missing));
        // A viewer who edits the role in the claims is refused.
        let (claims, sig) = cookie.split_once('=').unwrap().1.split_once('.').unwrap();
        let mut c: serde_json::Value =
            serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap();
        c["role"] = "operator".into();
        let forged = format!("{COOKIE}={}.{sig}", B64.encode(c.to_string()));
        assert_eq!(s.verify(Some(&forged), 1_001), Err(AuthError::Invalid));
        let other = Sessions::new(b"k2", 3600, true);
        assert_eq!(other.verify(Some(&cookie), 1_001), Err(AuthError::Invalid));
    }

    #[test]
    fn the_csrf_token_belongs_to_one_session() {
        let s = Sessions::new(b"k", 3600, false);
        let (_, a) = s.issue("ann", Role::Operator, "dev-login", 0);
        let (_, b) = s.issue("ann", Role::Operator, "dev-login", 0);
        let t = s.csrf(&a);
        assert!(s.csrf_ok(&a, Some(&t)));
        assert!(!s.csrf_ok(&b, Some(&t)));
        assert!(!s.csrf_ok(&a, None));
        assert!(!s.csrf_ok(&a, Some("")));
    }
}
