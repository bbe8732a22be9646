//! Cybersource notification: `v-c-signature` verifier (size cap, header grammar, key id,
//! constant-time HMAC over `t.JSON.stringify(payload)` or `t.raw`, timestamp window) → the
//! envelope parser and its accessors. Input framing: `o2c_fuzz::Framed`; in `v-c-signature`,
//! `@sign` is replaced by a correct header at now, `@sign-stale` two hours old, `@sign-future`
//! ten minutes ahead; `X-Fuzz-Content: raw` signs the raw body instead of the payload member.
//! A bare body gets a correct signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2c_connectors::cybersource::{
    payload_member_compact, Notification, SignedContent, WebhookKey, WebhookSignatureError,
    WebhookVerifier, DEFAULT_MAX_BODY_BYTES,
};
use o2c_fuzz::Framed;
use secrecy::SecretString;
use time::OffsetDateTime;

const KEY_ID: &str = "fuzz-key-0001";
const KEY_B64: &str = "WVlsJsHxeeZltfm21zB3OvIet4QPIG4nGvwd8PHUDSo=";
const OLD_KEY_ID: &str = "fuzz-key-0000";
const OLD_KEY_B64: &str = "yaBERXhBb6dvwRDHC1tL9rHuxuU8JFKwl76WIphKxZg=";
const NOW_MS: i64 = 1_768_904_131_000;

fn key(id: &str, b64: &str) -> WebhookKey {
    WebhookKey::new(id, &SecretString::from(b64)).expect("valid key")
}

fuzz_target!(|data: &[u8]| {
    let input = Framed::split(data);
    let body = input.body;
    let content = match input.header("X-Fuzz-Content") {
        Some(v) if v.eq_ignore_ascii_case("raw") => SignedContent::RawBody,
        _ => SignedContent::PayloadMember,
    };
    let k = key(KEY_ID, KEY_B64);
    let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(NOW_MS) * 1_000_000).unwrap();
    let signed_at = |ms: i64| {
        k.sign(ms, body, content)
            .unwrap_or_else(|_| format!("t={ms};keyId={KEY_ID};sig=AAAA"))
    };
    let header = match input.header("v-c-signature") {
        Some(v) => Some(
            v.replace("@sign-stale", &signed_at(NOW_MS - 2 * 3_600_000))
                .replace("@sign-future", &signed_at(NOW_MS + 600_000))
                .replace("@sign", &signed_at(NOW_MS)),
        ),
        None if input.has_head() => None,
        None => Some(signed_at(NOW_MS)),
    };

    let verifier = WebhookVerifier::new(k.clone()).with_signed_content(content);
    let result = verifier.verify(header.as_deref(), body, now);
    // Holding a second (older) key changes nothing for this key's signatures.
    let rotating = WebhookVerifier::with_keys(key(OLD_KEY_ID, OLD_KEY_B64), [k.clone()])
        .with_signed_content(content);
    let rotated = rotating.verify(header.as_deref(), body, now);
    assert_eq!(result.is_ok(), rotated.is_ok(), "{result:?} vs {rotated:?}");

    // Sign → verify round trip over the same bytes, both signed contents.
    if body.len() <= DEFAULT_MAX_BODY_BYTES {
        for c in [SignedContent::PayloadMember, SignedContent::RawBody] {
            if let Ok(h) = k.sign(NOW_MS, body, c) {
                let v = WebhookVerifier::new(k.clone()).with_signed_content(c);
                v.verify(Some(&h), body, now)
                    .unwrap_or_else(|e| panic!("own signature refused ({c:?}): {e:?}"));
            }
        }
    }

    // JSON.stringify is a fixed point: stringify(parse(stringify(x))) == stringify(x).
    if let Ok(compact) = payload_member_compact(body) {
        serde_json::from_str::<serde_json::Value>(&compact)
            .unwrap_or_else(|e| panic!("stringified payload is not JSON ({e}): {compact}"));
        let again = payload_member_compact(format!("{{\"payload\":{compact}}}").as_bytes())
            .expect("re-stringify");
        assert_eq!(again, compact);
    }

    let parsed = match result {
        Err(e) => {
            assert!(!e.code().is_empty());
            assert!(!e.to_string().contains(KEY_B64));
            if let WebhookSignatureError::BodyTooLarge { size, max } = e {
                assert!(size > max);
            }
            return;
        }
        Ok(p) => p,
    };
    assert_eq!(parsed.key_id, KEY_ID);
    assert!(body.len() <= DEFAULT_MAX_BODY_BYTES);

    // What the receiver does next.
    if let Ok(n) = Notification::parse(body) {
        let _ = n.dedup_id();
        let _ = n.payload_items();
        let _ = n.transaction_id();
        let _ = n.payload_str(&["decision"]);
        let _ = (n.event_type.product(), n.event_type.review_decision());
        // The envelope survives a serialise → parse round trip.
        let bytes = serde_json::to_vec(&n).expect("serialise");
        assert_eq!(Notification::parse(&bytes).expect("re-parse"), n);
    }
});
