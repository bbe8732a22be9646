//! Clarity webhook verification (ASSUMED contract, `CLARITY_ASSUMED.md`), in the documented order:
//!
//! 1. the raw body, capped at 1 MiB (larger → 413);
//! 2. `X-Clarity-Timestamp` is an integer within 300 s of now, either way (else 401);
//! 3. `hex(HMAC-SHA256(secret, timestamp + "." + raw body))` compared in constant time with
//!    **every** `v1=` entry of `X-Clarity-Signature` (several during Clarity's secret rotation),
//!    for every secret we hold (several during ours); no match → 401;
//! 4. the envelope parses and `X-Clarity-Event-Id` equals the body `id` (else 400); when
//!    `X-Clarity-Event-Type` is present it must equal the body `type`.
//!
//! The body is never re-serialised before checking. Errors carry a stable [`WebhookError::code`]
//! and the HTTP status to answer; none holds the secret or the body.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use super::events::EventEnvelope;

pub const HEADER_EVENT_ID: &str = "X-Clarity-Event-Id";
pub const HEADER_EVENT_TYPE: &str = "X-Clarity-Event-Type";
pub const HEADER_TIMESTAMP: &str = "X-Clarity-Timestamp";
pub const HEADER_SIGNATURE: &str = "X-Clarity-Signature";
pub const HEADER_DELIVERY_ATTEMPT: &str = "X-Clarity-Delivery-Attempt";

/// Largest accepted body: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest accepted distance between the signed timestamp and now.
pub const TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(300);

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("body of {size} bytes exceeds the {MAX_BODY_BYTES}-byte limit")]
    BodyTooLarge { size: usize },
    #[error("{HEADER_TIMESTAMP} is missing")]
    MissingTimestamp,
    #[error("{HEADER_TIMESTAMP} is not an integer")]
    MalformedTimestamp,
    #[error("{HEADER_TIMESTAMP} {timestamp} is {skew_secs} s away from now (limit {} s)", TIMESTAMP_TOLERANCE.as_secs())]
    TimestampOutOfWindow { timestamp: i64, skew_secs: u64 },
    #[error("{HEADER_SIGNATURE} is missing")]
    MissingSignature,
    #[error("{HEADER_SIGNATURE} has no v1= entry")]
    MalformedSignature,
    #[error("no {HEADER_SIGNATURE} entry matches")]
    SignatureMismatch,
    #[error("body is not an event envelope: {reason}")]
    MalformedBody { reason: String },
    #[error("{HEADER_EVENT_ID} is missing")]
    MissingEventId,
    #[error("{HEADER_EVENT_ID} {header:?} does not equal the body id {body:?}")]
    EventIdMismatch { header: String, body: String },
    #[error("{HEADER_EVENT_TYPE} {header:?} does not equal the body type {body:?}")]
    EventTypeMismatch { header: String, body: String },
}

impl WebhookError {
    /// A stable machine-readable code (for the 4xx body, logs and metrics).
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::BodyTooLarge { .. } => "body_too_large",
            WebhookError::MissingTimestamp => "timestamp_missing",
            WebhookError::MalformedTimestamp => "timestamp_malformed",
            WebhookError::TimestampOutOfWindow { .. } => "timestamp_out_of_window",
            WebhookError::MissingSignature => "signature_missing",
            WebhookError::MalformedSignature => "signature_malformed",
            WebhookError::SignatureMismatch => "signature_mismatch",
            WebhookError::MalformedBody { .. } => "body_malformed",
            WebhookError::MissingEventId => "event_id_missing",
            WebhookError::EventIdMismatch { .. } => "event_id_mismatch",
            WebhookError::EventTypeMismatch { .. } => "event_type_mismatch",
        }
    }

    /// The status `CLARITY_ASSUMED.md` §4.9 says to answer: 413, 401 or 400.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::BodyTooLarge { .. } => 413,
            WebhookError::MissingTimestamp
            | WebhookError::MalformedTimestamp
            | WebhookError::TimestampOutOfWindow { .. }
            | WebhookError::MissingSignature
            | WebhookError::MalformedSignature
            | WebhookError::SignatureMismatch => 401,
            WebhookError::MalformedBody { .. }
            | WebhookError::MissingEventId
            | WebhookError::EventIdMismatch { .. }
            | WebhookError::EventTypeMismatch { .. } => 400,
        }
    }
}

/// The `X-Clarity-*` headers of one delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    pub event_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub delivery_attempt: Option<&'a str>,
}

impl<'a> WebhookHeaders<'a> {
    /// From a case-insensitive header lookup (e.g. over `http::HeaderMap`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            event_id: get(HEADER_EVENT_ID),
            event_type: get(HEADER_EVENT_TYPE),
            timestamp: get(HEADER_TIMESTAMP),
            signature: get(HEADER_SIGNATURE),
            delivery_attempt: get(HEADER_DELIVERY_ATTEMPT),
        }
    }
}

/// A delivery that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEvent {
    pub envelope: EventEnvelope,
    /// The signed `X-Clarity-Timestamp`.
    pub timestamp: i64,
    /// `X-Clarity-Delivery-Attempt`, informational.
    pub delivery_attempt: Option<u32>,
}

type HmacSha256 = Hmac<Sha256>;

/// `hex(HMAC-SHA256(secret, timestamp + "." + body))`, lowercase.
pub fn signature_hex(secret: &SecretString, timestamp: &str, body: &[u8]) -> String {
    hex(&mac(secret, timestamp, body))
}

/// The header value Clarity sends for one secret: `v1=<hex>`.
pub fn signature_header(secret: &SecretString, timestamp: &str, body: &[u8]) -> String {
    format!("v1={}", signature_hex(secret, timestamp, body))
}

fn mac(secret: &SecretString, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let hi = char::from(chunk[0]).to_digit(16)?;
        let lo = char::from(chunk[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Verifies deliveries against our secret(s).
#[derive(Clone)]
pub struct WebhookVerifier {
    secrets: Vec<SecretString>,
    tolerance: Duration,
    max_body: usize,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &format!("[{} REDACTED]", self.secrets.len()))
            .field("tolerance", &self.tolerance)
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl WebhookVerifier {
    /// The current secret first, then any still accepted during a rotation.
    pub fn new(secrets: Vec<SecretString>) -> Self {
        Self {
            secrets,
            tolerance: TIMESTAMP_TOLERANCE,
            max_body: MAX_BODY_BYTES,
        }
    }

    /// Steps 1–3: size, timestamp window, signature. `now_unix` is the current Unix time.
    pub fn verify_signature(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<i64, WebhookError> {
        if body.len() > self.max_body {
            return Err(WebhookError::BodyTooLarge { size: body.len() });
        }
        let ts_text = headers.timestamp.ok_or(WebhookError::MissingTimestamp)?;
        if ts_text.is_empty() || !ts_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WebhookError::MalformedTimestamp);
        }
        let timestamp: i64 = ts_text
            .parse()
            .map_err(|_| WebhookError::MalformedTimestamp)?;
        let skew = now_unix.abs_diff(timestamp);
        if skew > self.tolerance.as_secs() {
            return Err(WebhookError::TimestampOutOfWindow {
                timestamp,
                skew_secs: skew,
            });
        }
        let header = headers.signature.ok_or(WebhookError::MissingSignature)?;
        let entries: Vec<Option<[u8; 32]>> = header
            .split(',')
            .filter_map(|e| e.trim().strip_prefix("v1="))
            .map(unhex32)
            .collect();
        if entries.is_empty() {
            return Err(WebhookError::MalformedSignature);
        }
        // Every secret against every entry, without stopping at a match.
        let mut matched = Choice::from(0u8);
        for secret in &self.secrets {
            let expected = mac(secret, ts_text, body);
            for entry in entries.iter().flatten() {
                matched |= expected.ct_eq(entry);
            }
        }
        if bool::from(matched) {
            Ok(timestamp)
        } else {
            Err(WebhookError::SignatureMismatch)
        }
    }

    /// Steps 1–4: the signature checks, then the envelope and the header/body id match.
    pub fn verify(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<VerifiedEvent, WebhookError> {
        let timestamp = self.verify_signature(headers, body, now_unix)?;
        let envelope: EventEnvelope =
            serde_json::from_slice(body).map_err(|e| WebhookError::MalformedBody {
                reason: format!(
                    "{:?} error at line {}, column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            })?;
        let header_id = headers.event_id.ok_or(WebhookError::MissingEventId)?;
        if header_id != envelope.id {
            return Err(WebhookError::EventIdMismatch {
                header: header_id.chars().take(100).collect(),
                body: envelope.id.chars().take(100).collect(),
            });
        }
        if let Some(t) = headers.event_type {
            if t != envelope.event_type {
                return Err(WebhookError::EventTypeMismatch {
                    header: t.chars().take(100).collect(),
                    body: envelope.event_type.chars().take(100).collect(),
                });
            }
        }
        Ok(VerifiedEvent {
            envelope,
            timestamp,
            delivery_attempt: headers.delivery_attempt.and_then(|a| a.trim().parse().ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The assumed contract's signature test vector.
    const SECRET: &str = "whsec_test_clarity_0123456789abcdef";
    const TS: &str = "1717243200";
    const BODY: &str = r#"{"id":"evt_0001","type":"order.created","occurredAt":"2024-06-01T12:00:00Z","payload":{"order":{"id":"ORD-1001","status":"pending_payment"}}}"#;
    const SIG: &str = "v1=5472097cb2bd49fd471b405784b7162bc089db8e0c508111ed3c9846eab6d3ab";
    const TAMPERED_SIG_HEX: &str =
        "995470aa83d7e030222e3d38895a330afbeeb715ef1ae4b07ead112a8873e5d5";
    const NOW: i64 = 1_717_243_200;

    fn verifier() -> WebhookVerifier {
        WebhookVerifier::new(vec![SecretString::from(SECRET)])
    }

    fn headers<'a>(sig: &'a str, ts: &'a str) -> WebhookHeaders<'a> {
        WebhookHeaders {
            event_id: Some("evt_0001"),
            event_type: Some("order.created"),
            timestamp: Some(ts),
            signature: Some(sig),
            delivery_attempt: Some("1"),
        }
    }

    #[test]
    fn the_reference_vector_verifies() {
        assert_eq!(BODY.len(), 141);
        assert_eq!(
            signature_header(&SecretString::from(SECRET), TS, BODY.as_bytes()),
            SIG
        );
        let v = verifier()
            .verify(&headers(SIG, TS), BODY.as_bytes(), NOW)
            .unwrap();
        assert_eq!(v.envelope.id, "evt_0001");
        assert_eq!(v.envelope.event_type, "order.created");
        assert_eq!(v.envelope.payload["order"]["id"], "ORD-1001");
        assert_eq!(v.timestamp, NOW);
        assert_eq!(v.delivery_attempt, Some(1));
    }

    #[test]
    fn the_tampered_body_is_rejected_with_the_original_header() {
        let tampered = BODY.replace("ORD-1001", "ORD-1002");
        assert_eq!(
            signature_hex(&SecretString::from(SECRET), TS, tampered.as_bytes()),
            TAMPERED_SIG_HEX
        );
        let e = verifier()
            .verify(&headers(SIG, TS), tampered.as_bytes(), NOW)
            .unwrap_err();
        assert_eq!(e, WebhookError::SignatureMismatch);
        assert_eq!((e.code(), e.http_status()), ("signature_mismatch", 401));
        // Its own signature verifies.
        let own = format!("v1={TAMPERED_SIG_HEX}");
        let mut h = headers(&own, TS);
        h.event_id = Some("evt_0001");
        verifier().verify(&h, tampered.as_bytes(), NOW).unwrap();
    }

    #[test]
    fn every_v1_entry_is_tried_during_rotation() {
        let wrong = format!("v1={}", "0".repeat(64));
        for header in [
            format!("{wrong},{SIG}"),
            format!("{SIG},{wrong}"),
            format!("v0=abc, {SIG}"),
            format!("v1=nothex,{SIG}"),
        ] {
            verifier()
                .verify(&headers(&header, TS), BODY.as_bytes(), NOW)
                .unwrap();
        }
        assert_eq!(
            verifier().verify(
                &headers(&format!("{wrong},{wrong}"), TS),
                BODY.as_bytes(),
                NOW
            ),
            Err(WebhookError::SignatureMismatch)
        );
        // Our own rotation: the previous secret is still accepted.
        let two = WebhookVerifier::new(vec![
            SecretString::from("whsec_new"),
            SecretString::from(SECRET),
        ]);
        two.verify(&headers(SIG, TS), BODY.as_bytes(), NOW).unwrap();
        assert!(!format!("{two:?}").contains("whsec"));
    }

    #[test]
    fn timestamp_window_and_malformed_headers() {
        let v = verifier();
        let b = BODY.as_bytes();
        // Exactly 300 s either way is accepted (the signature is over the header's timestamp).
        for now in [NOW - 300, NOW + 300] {
            v.verify(&headers(SIG, TS), b, now).unwrap();
        }
        for now in [NOW - 301, NOW + 301] {
            let e = v.verify(&headers(SIG, TS), b, now).unwrap_err();
            assert_eq!(
                (e.code(), e.http_status()),
                ("timestamp_out_of_window", 401)
            );
        }
        for (ts, code) in [
            ("", "timestamp_malformed"),
            ("abc", "timestamp_malformed"),
            ("-5", "timestamp_malformed"),
            ("1717243200.5", "timestamp_malformed"),
        ] {
            assert_eq!(
                v.verify(&headers(SIG, ts), b, NOW).unwrap_err().code(),
                code,
                "{ts:?}"
            );
        }
        let mut h = headers(SIG, TS);
        h.timestamp = None;
        assert_eq!(
            v.verify(&h, b, NOW).unwrap_err().code(),
            "timestamp_missing"
        );
        let mut h = headers(SIG, TS);
        h.signature = None;
        assert_eq!(
            v.verify(&h, b, NOW).unwrap_err().code(),
            "signature_missing"
        );
        assert_eq!(
            v.verify(&headers("sha256=abc", TS), b, NOW)
                .unwrap_err()
                .code(),
            "signature_malformed"
        );
    }

    #[test]
    fn size_cap_json_and_event_id_match() {
        let v = verifier();
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let e = v.verify(&headers(SIG, TS), &big, NOW).unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("body_too_large", 413));
        // Signed but not JSON → 400.
        let secret = SecretString::from(SECRET);
        let junk = b"not json";
        let sig = signature_header(&secret, TS, junk);
        let e = v.verify(&headers(&sig, TS), junk, NOW).unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("body_malformed", 400));
        // Header id differs from the body id → 400.
        let mut h = headers(SIG, TS);
        h.event_id = Some("evt_9999");
        let e = v.verify(&h, BODY.as_bytes(), NOW).unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("event_id_mismatch", 400));
        let mut h = headers(SIG, TS);
        h.event_id = None;
        assert_eq!(
            v.verify(&h, BODY.as_bytes(), NOW).unwrap_err().code(),
            "event_id_missing"
        );
        let mut h = headers(SIG, TS);
        h.event_type = Some("order.updated");
        assert_eq!(
            v.verify(&h, BODY.as_bytes(), NOW).unwrap_err().code(),
            "event_type_mismatch"
        );
        // Nothing in an error shows the secret.
        assert!(!e.to_string().contains(SECRET));
    }

    #[test]
    fn headers_from_a_lookup() {
        let map = [
            ("x-clarity-event-id", "evt_0001"),
            ("x-clarity-timestamp", TS),
            ("x-clarity-signature", SIG),
        ];
        let h = WebhookHeaders::from_lookup(|name| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        });
        assert_eq!(h.event_id, Some("evt_0001"));
        assert_eq!(h.event_type, None);
        verifier().verify(&h, BODY.as_bytes(), NOW).unwrap();
    }
}
