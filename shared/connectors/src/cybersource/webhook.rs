//! Cybersource webhook (notification) signature verification: the one verifier for the
//! `v-c-signature` scheme.
//!
//! * Header: `v-c-signature: t=<epoch ms>;keyId=<key id>;sig=<base64>`; each part is split on its
//!   first `=` only (the signature's base64 padding contains `=`).
//! * Key: the base64-decoded `keyInformation.key` of the digital-signature key whose
//!   `keyInformation.keyId` equals `keyId`; any other key id is rejected.
//! * Signed message: `t + "." + JSON.stringify(body.payload)` ([`SignedContent::PayloadMember`],
//!   what both official Cybersource plugins verify) or `t + "." + raw body`
//!   ([`SignedContent::RawBody`], one unofficial cartridge). The default is the former; Cybersource
//!   does not document it, so confirm with a test notification before go-live.
//! * `sig` must equal base64(HMAC-SHA256(key, message)), compared in constant time.
//! * Freshness of `t` is not documented. Default window: at most [`DEFAULT_MAX_AGE`] old (the
//!   official SFCC plugin's one hour, which also leaves room for Cybersource's delivery retries)
//!   and at most [`DEFAULT_MAX_FUTURE_SKEW`] ahead (clock skew). Replays inside the window are
//!   caught by the receiver's event-id idempotency record.
//! * Bodies larger than [`DEFAULT_MAX_BODY_BYTES`] (configurable) are refused before any
//!   parsing or hashing.

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::js_json::{self, MemberError};
use super::signing::{decode_secret_key, SigningError};

type HmacSha256 = Hmac<Sha256>;

/// Name of the notification signature header (match it case-insensitively).
pub const SIGNATURE_HEADER: &str = "v-c-signature";
/// Default oldest accepted signature timestamp, relative to now.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// Default furthest accepted signature timestamp ahead of now.
pub const DEFAULT_MAX_FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);
/// Default largest accepted notification body (256 KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// Why a notification was not accepted. [`WebhookSignatureError::code`] gives a stable
/// snake_case name for logs and dead-letter reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSignatureError {
    #[error("missing v-c-signature header")]
    MissingHeader,
    #[error("malformed v-c-signature header: {0}")]
    MalformedHeader(&'static str),
    #[error("unknown webhook signature key id {0:?}")]
    UnknownKeyId(String),
    #[error("signature timestamp is {age_ms} ms old; at most {max_age_ms} ms accepted")]
    StaleTimestamp { age_ms: i128, max_age_ms: u128 },
    #[error(
        "signature timestamp is {ahead_ms} ms in the future; at most {max_skew_ms} ms accepted"
    )]
    FutureTimestamp { ahead_ms: i128, max_skew_ms: u128 },
    #[error("signature does not match")]
    SignatureMismatch,
    /// Only with [`SignedContent::PayloadMember`]: the body is not a JSON object with a
    /// `payload` member, so there is nothing to verify.
    #[error("notification body is not a JSON object with a payload member")]
    MalformedBody,
    /// The body is larger than the verifier accepts; nothing was parsed.
    #[error("notification body is {size} bytes; at most {max} accepted")]
    BodyTooLarge { size: usize, max: usize },
}

impl WebhookSignatureError {
    /// Stable machine-readable name.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader => "missing_header",
            Self::MalformedHeader(_) => "malformed_header",
            Self::UnknownKeyId(_) => "unknown_key_id",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::FutureTimestamp { .. } => "future_timestamp",
            Self::SignatureMismatch => "signature_mismatch",
            Self::MalformedBody => "malformed_body",
            Self::BodyTooLarge { .. } => "body_too_large",
        }
    }
}

/// What the HMAC covers (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignedContent {
    /// `t + "." + JSON.stringify(body.payload)` (official plugins).
    #[default]
    PayloadMember,
    /// `t + "." + raw body bytes`.
    RawBody,
}

/// A parsed `v-c-signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// `t` exactly as received (this text is what is signed).
    pub timestamp: String,
    /// `t` as epoch milliseconds.
    pub timestamp_ms: i64,
    /// `keyId`.
    pub key_id: String,
    /// `sig` (standard base64), as received.
    pub signature: String,
}

impl SignatureHeader {
    /// Parses `t=<ms>;keyId=<id>;sig=<b64>`: parts in any order, whitespace around parts and
    /// empty parts (a trailing `;`) tolerated, names matched case-insensitively, unknown parts
    /// ignored, each of the three required exactly once.
    pub fn parse(value: &str) -> Result<Self, WebhookSignatureError> {
        let (mut t, mut key_id, mut sig) = (None, None, None);
        for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, val) = part
                .split_once('=')
                .ok_or(WebhookSignatureError::MalformedHeader("part without '='"))?;
            let slot = match name.trim() {
                n if n.eq_ignore_ascii_case("t") => &mut t,
                n if n.eq_ignore_ascii_case("keyId") => &mut key_id,
                n if n.eq_ignore_ascii_case("sig") => &mut sig,
                _ => continue,
            };
            if slot.replace(val.trim()).is_some() {
                return Err(WebhookSignatureError::MalformedHeader("repeated part"));
            }
        }
        let t = t.ok_or(WebhookSignatureError::MalformedHeader("no t"))?;
        let key_id = key_id.ok_or(WebhookSignatureError::MalformedHeader("no keyId"))?;
        let sig = sig.ok_or(WebhookSignatureError::MalformedHeader("no sig"))?;
        if t.is_empty() || t.len() > 18 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WebhookSignatureError::MalformedHeader(
                "t is not epoch milliseconds",
            ));
        }
        let timestamp_ms = t
            .parse::<i64>()
            .map_err(|_| WebhookSignatureError::MalformedHeader("t is not epoch milliseconds"))?;
        if key_id.is_empty() {
            return Err(WebhookSignatureError::MalformedHeader("empty keyId"));
        }
        if sig.is_empty() {
            return Err(WebhookSignatureError::MalformedHeader("empty sig"));
        }
        Ok(Self {
            timestamp: t.to_owned(),
            timestamp_ms,
            key_id: key_id.to_owned(),
            signature: sig.to_owned(),
        })
    }
}

/// The exact bytes the HMAC covers: `t + "." + …` per `content`.
pub fn signed_message(
    timestamp: &str,
    raw_body: &[u8],
    content: SignedContent,
) -> Result<Vec<u8>, WebhookSignatureError> {
    let mut msg = Vec::with_capacity(timestamp.len() + 1 + raw_body.len());
    msg.extend_from_slice(timestamp.as_bytes());
    msg.push(b'.');
    match content {
        SignedContent::RawBody => msg.extend_from_slice(raw_body),
        SignedContent::PayloadMember => {
            msg.extend_from_slice(payload_member_compact(raw_body)?.as_bytes())
        }
    }
    Ok(msg)
}

/// `JSON.stringify(JSON.parse(raw_body).payload)`.
pub fn payload_member_compact(raw_body: &[u8]) -> Result<String, WebhookSignatureError> {
    js_json::stringify_member(raw_body, "payload").map_err(|e| match e {
        MemberError::InvalidJson | MemberError::NotAnObject | MemberError::MissingMember => {
            WebhookSignatureError::MalformedBody
        }
    })
}

/// A webhook digital-signature key (`keyInformation.keyId` + decoded `keyInformation.key`).
#[derive(Clone)]
pub struct WebhookKey {
    key_id: String,
    secret: SecretSlice<u8>,
}

impl fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookKey")
            .field("key_id", &self.key_id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl WebhookKey {
    /// `key_b64` is `keyInformation.key` as Cybersource returns it (standard base64).
    pub fn new(key_id: impl Into<String>, key_b64: &SecretString) -> Result<Self, SigningError> {
        let key_id = key_id.into();
        if key_id.is_empty() {
            return Err(SigningError::InvalidHeaderValue("webhook key id"));
        }
        Ok(Self {
            key_id,
            secret: decode_secret_key(key_b64)?,
        })
    }

    /// `keyInformation.keyId`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// base64(HMAC-SHA256(key, message)).
    pub fn signature_b64(&self, message: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(self.secret.expose_secret())
            .expect("HMAC-SHA256 accepts keys of any length");
        mac.update(message);
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// A `v-c-signature` header value for `raw_body` at `timestamp_ms`, as Cybersource would
    /// send it (for simulators and tests).
    pub fn sign(
        &self,
        timestamp_ms: i64,
        raw_body: &[u8],
        content: SignedContent,
    ) -> Result<String, WebhookSignatureError> {
        let t = timestamp_ms.to_string();
        let sig = self.signature_b64(&signed_message(&t, raw_body, content)?);
        Ok(format!("t={t};keyId={};sig={sig}", self.key_id))
    }
}

/// Verifies `v-c-signature` on notifications. Holds every key currently accepted (the new and
/// the previous one during a rotation).
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    keys: Vec<WebhookKey>,
    content: SignedContent,
    max_age: Duration,
    max_future_skew: Duration,
    max_body_bytes: usize,
}

impl WebhookVerifier {
    /// One key, [`SignedContent::PayloadMember`], default timestamp window.
    pub fn new(key: WebhookKey) -> Self {
        Self {
            keys: vec![key],
            content: SignedContent::default(),
            max_age: DEFAULT_MAX_AGE,
            max_future_skew: DEFAULT_MAX_FUTURE_SKEW,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Every key in `keys` (at least one), looked up by `keyId`.
    pub fn with_keys(first: WebhookKey, others: impl IntoIterator<Item = WebhookKey>) -> Self {
        others.into_iter().fold(Self::new(first), Self::with_key)
    }

    /// Ids of the keys accepted, in the order added.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.key_id.as_str()).collect()
    }

    /// Stop accepting the key with this id (end of a rotation). The last key cannot be removed.
    pub fn without_key(mut self, key_id: &str) -> Self {
        if self.keys.len() > 1 {
            self.keys.retain(|k| k.key_id != key_id);
        }
        self
    }

    /// Both sides of the timestamp window at once.
    pub fn with_timestamp_tolerance(
        mut self,
        max_age: Duration,
        max_future_skew: Duration,
    ) -> Self {
        self.max_age = max_age;
        self.max_future_skew = max_future_skew;
        self
    }

    /// Largest accepted body in bytes.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// What the HMAC is taken over.
    pub fn signed_content(&self) -> SignedContent {
        self.content
    }

    /// Also accept `key` (key rotation). A key with an id already held replaces it.
    pub fn with_key(mut self, key: WebhookKey) -> Self {
        self.keys.retain(|k| k.key_id != key.key_id);
        self.keys.push(key);
        self
    }

    /// What the HMAC covers.
    pub fn with_signed_content(mut self, content: SignedContent) -> Self {
        self.content = content;
        self
    }

    /// Oldest accepted `t`, relative to `now`.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Furthest accepted `t` ahead of `now`.
    pub fn with_max_future_skew(mut self, skew: Duration) -> Self {
        self.max_future_skew = skew;
        self
    }

    /// Verifies one notification: `header` is the `v-c-signature` value (None if absent),
    /// `raw_body` the request body exactly as received, `now` the current time (injected).
    /// Checks, in order: body size, header present and well formed, key id known, signature
    /// matches (constant time), timestamp inside the window.
    pub fn verify(
        &self,
        header: Option<&str>,
        raw_body: &[u8],
        now: OffsetDateTime,
    ) -> Result<SignatureHeader, WebhookSignatureError> {
        if raw_body.len() > self.max_body_bytes {
            return Err(WebhookSignatureError::BodyTooLarge {
                size: raw_body.len(),
                max: self.max_body_bytes,
            });
        }
        let header = header
            .filter(|h| !h.trim().is_empty())
            .ok_or(WebhookSignatureError::MissingHeader)?;
        let parsed = SignatureHeader::parse(header)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.key_id == parsed.key_id)
            .ok_or_else(|| WebhookSignatureError::UnknownKeyId(parsed.key_id.clone()))?;
        let expected =
            key.signature_b64(&signed_message(&parsed.timestamp, raw_body, self.content)?);
        if !bool::from(expected.as_bytes().ct_eq(parsed.signature.as_bytes())) {
            return Err(WebhookSignatureError::SignatureMismatch);
        }
        let now_ms = now.unix_timestamp_nanos() / 1_000_000;
        let age_ms = now_ms - i128::from(parsed.timestamp_ms);
        if age_ms > 0 && age_ms.unsigned_abs() > self.max_age.as_millis() {
            return Err(WebhookSignatureError::StaleTimestamp {
                age_ms,
                max_age_ms: self.max_age.as_millis(),
            });
        }
        if age_ms < 0 && age_ms.unsigned_abs() > self.max_future_skew.as_millis() {
            return Err(WebhookSignatureError::FutureTimestamp {
                ahead_ms: -age_ms,
                max_skew_ms: self.max_future_skew.as_millis(),
            });
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ID: &str = "bf44c857-b182-bb05-e053-34b8d30a7a72";
    const KEY_B64: &str = "WVlsJsHxeeZltfm21zB3OvIet4QPIG4nGvwd8PHUDSo=";
    const T_MS: i64 = 1_768_904_131_000;
    const BODY: &[u8] = br#"{"eventType":"risk.casemanagement.decision.reject","payload":{"data":{"id":"7000000000000000000102","decision":"REJECT"}},"requestType":"NEW"}"#;

    fn key() -> WebhookKey {
        WebhookKey::new(KEY_ID, &SecretString::from(KEY_B64)).unwrap()
    }

    fn at(ms: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
    }

    fn header() -> String {
        key()
            .sign(T_MS, BODY, SignedContent::PayloadMember)
            .unwrap()
    }

    #[test]
    fn accepts_valid_signature() {
        let v = WebhookVerifier::new(key());
        let h = v.verify(Some(&header()), BODY, at(T_MS + 1_000)).unwrap();
        assert_eq!(h.key_id, KEY_ID);
        assert_eq!(h.timestamp_ms, T_MS);
    }

    #[test]
    fn rejects_tampered_body() {
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("REJECT", "ACCEPT");
        let err = WebhookVerifier::new(key())
            .verify(Some(&header()), tampered.as_bytes(), at(T_MS))
            .unwrap_err();
        assert_eq!(err, WebhookSignatureError::SignatureMismatch);
    }

    #[test]
    fn rejects_tampered_signature_and_timestamp() {
        let v = WebhookVerifier::new(key());
        let h = header().replace(&format!("t={T_MS}"), &format!("t={}", T_MS + 1));
        assert_eq!(
            v.verify(Some(&h), BODY, at(T_MS)),
            Err(WebhookSignatureError::SignatureMismatch)
        );
        let h = header().replace("sig=", "sig=A");
        assert_eq!(
            v.verify(Some(&h), BODY, at(T_MS)),
            Err(WebhookSignatureError::SignatureMismatch)
        );
    }

    #[test]
    fn rejects_stale_and_future_timestamps() {
        let v = WebhookVerifier::new(key()).with_max_age(Duration::from_secs(300));
        let h = header();
        assert!(v.verify(Some(&h), BODY, at(T_MS + 300_000)).is_ok());
        let err = v.verify(Some(&h), BODY, at(T_MS + 300_001)).unwrap_err();
        assert_eq!(err.code(), "stale_timestamp");
        assert!(v.verify(Some(&h), BODY, at(T_MS - 300_000)).is_ok());
        let err = v.verify(Some(&h), BODY, at(T_MS - 300_001)).unwrap_err();
        assert_eq!(err.code(), "future_timestamp");
        // Default window: one hour back.
        let d = WebhookVerifier::new(key());
        assert!(d.verify(Some(&h), BODY, at(T_MS + 3_600_000)).is_ok());
        assert!(matches!(
            d.verify(Some(&h), BODY, at(T_MS + 3_600_001)),
            Err(WebhookSignatureError::StaleTimestamp { .. })
        ));
    }

    #[test]
    fn rejects_wrong_key_id_and_accepts_rotated_key() {
        let other = WebhookKey::new(
            "other-key",
            &SecretString::from("QwhlajRHbiJjkxQS3CrNUJl9lSr9Z6xx"),
        )
        .unwrap();
        let err = WebhookVerifier::new(other.clone())
            .verify(Some(&header()), BODY, at(T_MS))
            .unwrap_err();
        assert_eq!(err, WebhookSignatureError::UnknownKeyId(KEY_ID.into()));
        let rotated = WebhookVerifier::new(other).with_key(key());
        assert!(rotated.verify(Some(&header()), BODY, at(T_MS)).is_ok());
    }

    #[test]
    fn same_key_id_with_wrong_secret_is_a_mismatch() {
        let wrong = WebhookKey::new(
            KEY_ID,
            &SecretString::from("QwhlajRHbiJjkxQS3CrNUJl9lSr9Z6xx"),
        )
        .unwrap();
        let err = WebhookVerifier::new(wrong)
            .verify(Some(&header()), BODY, at(T_MS))
            .unwrap_err();
        assert_eq!(err, WebhookSignatureError::SignatureMismatch);
    }

    #[test]
    fn missing_and_malformed_headers() {
        let v = WebhookVerifier::new(key());
        assert_eq!(
            v.verify(None, BODY, at(T_MS)),
            Err(WebhookSignatureError::MissingHeader)
        );
        assert_eq!(
            v.verify(Some("  "), BODY, at(T_MS)),
            Err(WebhookSignatureError::MissingHeader)
        );
        for bad in [
            "garbage",
            "t=1;keyId=k",
            "t=abc;keyId=k;sig=x",
            "t=-5;keyId=k;sig=x",
            "t=1;t=2;keyId=k;sig=x",
            "t=1;keyId=;sig=x",
            "t=1;keyId=k;sig=",
        ] {
            assert_eq!(
                v.verify(Some(bad), BODY, at(T_MS)).unwrap_err().code(),
                "malformed_header",
                "{bad}"
            );
        }
    }

    #[test]
    fn header_parsing_is_tolerant_of_order_spacing_and_trailing_semicolon() {
        let p = SignatureHeader::parse(" sig=ab+/cd== ; keyId=k1;t=0017;").unwrap();
        assert_eq!(p.timestamp, "0017");
        assert_eq!(p.timestamp_ms, 17);
        assert_eq!(p.key_id, "k1");
        assert_eq!(p.signature, "ab+/cd==");
    }

    #[test]
    fn malformed_body_with_payload_member_mode() {
        let h = format!("t={T_MS};keyId={KEY_ID};sig=x");
        let err = WebhookVerifier::new(key())
            .verify(Some(&h), b"not json", at(T_MS))
            .unwrap_err();
        assert_eq!(err, WebhookSignatureError::MalformedBody);
    }

    #[test]
    fn raw_body_mode() {
        let h = key()
            .sign(T_MS, b"anything", SignedContent::RawBody)
            .unwrap();
        let v = WebhookVerifier::new(key()).with_signed_content(SignedContent::RawBody);
        assert!(v.verify(Some(&h), b"anything", at(T_MS)).is_ok());
        assert!(v.verify(Some(&h), b"anything!", at(T_MS)).is_err());
    }

    #[test]
    fn body_size_cap() {
        let v = WebhookVerifier::new(key());
        let big = vec![b' '; DEFAULT_MAX_BODY_BYTES + 1];
        let err = v.verify(Some(&header()), &big, at(T_MS)).unwrap_err();
        assert_eq!(
            err,
            WebhookSignatureError::BodyTooLarge {
                size: DEFAULT_MAX_BODY_BYTES + 1,
                max: DEFAULT_MAX_BODY_BYTES
            }
        );
        assert_eq!(err.code(), "body_too_large");
        // Checked before anything else, even a missing header.
        assert_eq!(
            v.verify(None, &big, at(T_MS)).unwrap_err().code(),
            "body_too_large"
        );
        // Configurable; the limit itself is accepted.
        let small = WebhookVerifier::new(key()).with_max_body_bytes(BODY.len());
        assert!(small.verify(Some(&header()), BODY, at(T_MS)).is_ok());
        let smaller = WebhookVerifier::new(key()).with_max_body_bytes(BODY.len() - 1);
        assert_eq!(
            smaller
                .verify(Some(&header()), BODY, at(T_MS))
                .unwrap_err()
                .code(),
            "body_too_large"
        );
    }

    #[test]
    fn several_keys_by_key_id() {
        let k2 = WebhookKey::new(
            "k2",
            &SecretString::from("QwhlajRHbiJjkxQS3CrNUJl9lSr9Z6xx"),
        )
        .unwrap();
        let k3 = WebhookKey::new(
            "k3",
            &SecretString::from("YpnO3e2HtZRmB0EAYH5m+mGyIYpCZUBO9VYdiCkYewE="),
        )
        .unwrap();
        let v = WebhookVerifier::with_keys(k2.clone(), [key(), k3.clone()]);
        assert_eq!(v.key_ids(), ["k2", KEY_ID, "k3"]);
        for k in [&k2, &key(), &k3] {
            let h = k.sign(T_MS, BODY, SignedContent::PayloadMember).unwrap();
            let parsed = v.verify(Some(&h), BODY, at(T_MS)).unwrap();
            assert_eq!(parsed.key_id, k.key_id());
        }
        // Rotation done: the old key is refused by id.
        let v = v.without_key(KEY_ID);
        assert_eq!(
            v.verify(Some(&header()), BODY, at(T_MS)),
            Err(WebhookSignatureError::UnknownKeyId(KEY_ID.into()))
        );
        // The last key stays.
        let single = WebhookVerifier::new(key()).without_key(KEY_ID);
        assert_eq!(single.key_ids(), [KEY_ID]);
    }

    #[test]
    fn timestamp_tolerance_builder() {
        let v = WebhookVerifier::new(key())
            .with_timestamp_tolerance(Duration::from_secs(10), Duration::from_secs(1));
        let h = header();
        assert!(v.verify(Some(&h), BODY, at(T_MS + 10_000)).is_ok());
        assert!(v.verify(Some(&h), BODY, at(T_MS + 10_001)).is_err());
        assert!(v.verify(Some(&h), BODY, at(T_MS - 1_000)).is_ok());
        assert!(v.verify(Some(&h), BODY, at(T_MS - 1_001)).is_err());
        assert_eq!(v.signed_content(), SignedContent::PayloadMember);
    }

    #[test]
    fn debug_does_not_leak_key() {
        let v = WebhookVerifier::new(key());
        let dbg = format!("{v:?} {:?}", key());
        assert!(dbg.contains("[REDACTED]"));
        assert!(!dbg.contains(KEY_B64) && !dbg.contains("WVls"));
    }
}
