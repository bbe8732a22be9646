//! Clarity webhook: verifier (size cap, timestamp window, every `v1=` entry, id match) →
//! envelope → typed event → the mapping the receiver runs (order.created → canonical order,
//! return.requested → refund) → the card-number check. Input framing: `o2c_fuzz::Framed`;
//! `X-Clarity-Timestamp: @now±N` and `X-Clarity-Signature: @sign` (anywhere in the value) are
//! filled in, and a bare body gets a fresh timestamp, a correct signature and its own id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2c_connectors::clarity::events::ClarityEvent;
use o2c_connectors::clarity::webhook::{
    signature_header, WebhookError, WebhookHeaders, WebhookVerifier, MAX_BODY_BYTES,
};
use o2c_connectors::mapping::clarity::{order_to_canonical, refund_from_return};
use o2c_domain::card::{contains_card_number, find_card_number};
use o2c_fuzz::{body_id, expand_now, Framed};
use secrecy::SecretString;

const SECRET: &str = "whsec_fuzz_clarity_0123456789abcdef";
const OLD_SECRET: &str = "whsec_fuzz_clarity_previous";
const NOW: i64 = 1_717_243_200;
const TOLERANCE: i64 = 300;

fuzz_target!(|data: &[u8]| {
    let input = Framed::split(data);
    let secret = SecretString::from(SECRET);
    let body = input.body;

    let timestamp = match input.header("X-Clarity-Timestamp") {
        Some(v) => Some(expand_now(v, NOW)),
        None if input.has_head() => None,
        None => Some(NOW.to_string()),
    };
    let signature = match input.header("X-Clarity-Signature") {
        Some(v) => Some(v.replace(
            "@sign",
            &signature_header(&secret, timestamp.as_deref().unwrap_or(""), body),
        )),
        None if input.has_head() => None,
        None => Some(signature_header(&secret, &NOW.to_string(), body)),
    };
    let event_id = match input.header("X-Clarity-Event-Id") {
        Some(v) => Some(v.to_owned()),
        None if input.has_head() => None,
        None => body_id(body),
    };
    let headers = WebhookHeaders {
        event_id: event_id.as_deref(),
        event_type: input.header("X-Clarity-Event-Type"),
        timestamp: timestamp.as_deref(),
        signature: signature.as_deref(),
        delivery_attempt: input.header("X-Clarity-Delivery-Attempt"),
    };

    let verifier = WebhookVerifier::new(vec![SecretString::from(SECRET)]);
    let result = verifier.verify(&headers, body, NOW);
    // During a rotation (our old secret still accepted) the outcome is the same.
    let rotating = WebhookVerifier::new(vec![
        SecretString::from(OLD_SECRET),
        SecretString::from(SECRET),
    ]);
    assert_eq!(result, rotating.verify(&headers, body, NOW));

    let verified = match result {
        Err(e) => {
            assert!(matches!(e.http_status(), 400 | 401 | 413), "{e:?}");
            assert!(!e.code().is_empty());
            // No error text carries the secret.
            assert!(!e.to_string().contains(SECRET));
            return;
        }
        Ok(v) => v,
    };
    // Accepted ⇒ every documented check held.
    assert!(body.len() <= MAX_BODY_BYTES);
    assert!((verified.timestamp - NOW).abs() <= TOLERANCE);
    assert_eq!(headers.event_id, Some(verified.envelope.id.as_str()));
    if let Some(t) = headers.event_type {
        assert_eq!(t, verified.envelope.event_type);
    }
    // Any change to the signed body breaks the signature.
    if !body.is_empty() {
        let mut tampered = body.to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        assert_eq!(
            verifier.verify(&headers, &tampered, NOW),
            Err(WebhookError::SignatureMismatch)
        );
    }

    // What the receiver does next.
    let text = String::from_utf8_lossy(body);
    if let Some(r) = find_card_number(&text) {
        assert!(r.end <= text.len() && r.start < r.end);
        assert!(contains_card_number(&text));
    }
    let event = match ClarityEvent::from_envelope(&verified.envelope) {
        Ok(e) => e,
        Err(e) => {
            assert_eq!(e.http_status(), 400);
            return;
        }
    };
    let _ = event.order_id();
    match event {
        ClarityEvent::OrderCreated { order }
        | ClarityEvent::OrderUpdated { order, .. }
        | ClarityEvent::OrderCancelled { order, .. } => {
            if let Ok(o) = order_to_canonical(&order) {
                assert!(o.validate_amounts().is_ok());
            }
        }
        ClarityEvent::ReturnRequested {
            request,
            order: Some(order),
        }
        | ClarityEvent::ReturnReceived {
            request,
            order: Some(order),
        } => {
            if let Ok(o) = order_to_canonical(&order) {
                if let Ok(refund) = refund_from_return(&request, &o) {
                    assert!(refund.amount.minor() > 0);
                    assert_eq!(refund.amount.currency(), o.currency());
                }
            }
        }
        _ => {}
    }
});
