//! Cybersource response parsing: arbitrary JSON → `PaymentResponse` →
//! `AuthorizationResult::from_response` / `FollowOnResult::from_response` for every operation
//! (the one status → outcome mapping), plus the error-body and transaction-details DTOs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2c_connectors::cybersource::dto::{ErrorResponse, PaymentResponse, TransactionDetailsDto};
use o2c_connectors::cybersource::{
    AuthorizationResult, FollowOnResult, Operation, TransactionDetails,
};

const OPERATIONS: [Operation; 7] = [
    Operation::Authorization,
    Operation::Sale,
    Operation::Capture,
    Operation::Refund,
    Operation::Reversal,
    Operation::Void,
    Operation::RiskDecision,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = serde_json::from_slice::<ErrorResponse>(data) {
        let _ = (e.reason_code(), e.message_text());
    }
    if let Ok(d) = serde_json::from_slice::<TransactionDetailsDto>(data) {
        let t = TransactionDetails::from(&d);
        let _ = format!("{t:?}");
    }
    let Ok(r) = serde_json::from_slice::<PaymentResponse>(data) else {
        return;
    };
    // The DTO survives a serialise → parse round trip.
    let bytes = serde_json::to_vec(&r).expect("serialise");
    assert_eq!(
        serde_json::from_slice::<PaymentResponse>(&bytes).expect("re-parse"),
        r
    );
    let _ = (
        r.error_reason(),
        r.error_message(),
        r.risk_decision(),
        r.reference(),
    );
    if let Some(Ok(m)) = r.amount() {
        let _ = m.to_decimal_string();
    }
    for op in OPERATIONS {
        if let Ok(a) = AuthorizationResult::from_response(op, &r) {
            assert!(!a.id.is_empty());
            assert_eq!(Some(&a.status), r.status.as_ref());
            if let Some(l4) = &a.card_last4 {
                assert!(l4.len() == 4 && l4.bytes().all(|b| b.is_ascii_digit()));
            }
        }
        match FollowOnResult::from_response(op, &r) {
            Ok(Ok(f)) => {
                assert!(!f.id.is_empty());
                assert_eq!(f.operation, op);
            }
            Ok(Err(outcome)) => assert!(!outcome.is_approved()),
            Err(_) => {}
        }
    }
});
