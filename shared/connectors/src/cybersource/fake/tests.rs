use super::*;
use crate::cybersource::{PaymentOutcome, PaymentSource};
use o2c_domain::Currency;

fn usd(m: i64) -> Money {
    Money::from_minor(m, Currency::USD)
}

fn auth(reference: &str, amount: i64) -> AuthorizationInput {
    AuthorizationInput::new(
        reference,
        reference,
        usd(amount),
        PaymentSource::Tms {
            customer_id: "C".into(),
            payment_instrument_id: None,
        },
    )
}

#[tokio::test]
async fn money_rules_and_scripted_failures() {
    let g = FakeGateway::new();
    let a = g
        .authorize(&auth("O-auth-1", 1_000), Deadline::NONE)
        .await
        .unwrap();
    assert_eq!(a.outcome, PaymentOutcome::Approved);
    let cap = |r: &str, m| CaptureInput {
        reference: r.into(),
        amount: usd(m),
    };
    let c1 = g
        .capture(&a.id, &cap("O-cap-1", 600), Deadline::NONE)
        .await
        .unwrap();
    let e = g
        .capture(&a.id, &cap("O-cap-2", 401), Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(e.reason_code(), Some("EXCEEDS_AUTH_AMOUNT"));
    let refund = |m| RefundInput {
        reference: "O-ref-1".into(),
        amount: usd(m),
    };
    g.refund_capture(&c1.id, &refund(500), Deadline::NONE)
        .await
        .unwrap();
    let e = g
        .refund_payment(&a.id, &refund(101), Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(e.reason_code(), Some("INVALID_AMOUNT"));
    let e = g
        .reverse_authorization(
            &a.id,
            &ReversalInput {
                reference: "O-rev-1".into(),
                amount: usd(400),
                reason: None,
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.reason_code(),
        Some("TRANSACTION_ALREADY_REVERSED_OR_SETTLED")
    );

    g.fail_next(
        "capture",
        CybersourceError::Retryable {
            operation: "capture",
            reason: "503".into(),
            http_status: Some(503),
            effect_may_have_happened: false,
        },
    );
    assert!(g
        .capture(&a.id, &cap("O-cap-2", 400), Deadline::NONE)
        .await
        .is_err());
    g.capture(&a.id, &cap("O-cap-2", 400), Deadline::NONE)
        .await
        .unwrap();

    g.next_authorization(
        "AUTHORIZED_RISK_DECLINED",
        Some("DECISION_PROFILE_REJECT"),
        Some("REJECT"),
    );
    let r = g
        .authorize(&auth("O2-auth-1", 10), Deadline::NONE)
        .await
        .unwrap();
    assert_eq!(r.outcome, PaymentOutcome::RejectedByFraud);
    assert!(g.calls().len() >= 8);
}

#[tokio::test]
async fn lost_response_then_reconcile_and_timeout_reversal() {
    let g = FakeGateway::new();
    g.lose_next_response("authorize");
    let e = g
        .authorize(&auth("O-auth-1", 700), Deadline::NONE)
        .await
        .unwrap_err();
    assert!(e.is_outcome_unknown());
    let found = g
        .reconcile_by_reference("O-auth-1", Deadline::NONE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.amount, Some(usd(700)));
    assert_eq!(g.transactions().len(), 1);
    assert_eq!(
        g.reconcile_by_reference("nope", Deadline::NONE)
            .await
            .unwrap(),
        None
    );
    let rev = g
        .timeout_reversal(
            &TimeoutReversalInput {
                transaction_id: "O-auth-1".into(),
                reference: None,
                amount: usd(700),
                reason: "timeout".into(),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(rev.status, "REVERSED");
    let d = g
        .transaction_details(&found.id, Deadline::NONE)
        .await
        .unwrap();
    assert_eq!(d.status.as_deref(), Some("REVERSED"));
}
