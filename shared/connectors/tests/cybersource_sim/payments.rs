//! Authorization, capture, refunds, authentication errors, Decision Manager, lost responses and
//! retries against the simulator.

use super::*;

#[tokio::test]
async fn authorize_capture_partial_refunds_and_over_amounts_refused() {
    let sim = Sim::start(&[]);
    let c = sim.client();
    let jwt = sim.transient_token().await;

    let mut input = auth_input("ORD-1-auth-1", "ada@example.com", usd(10_000), &jwt);
    input.create_tokens = true;
    let auth = c.authorize(&input, Deadline::NONE).await.unwrap();
    assert_eq!(auth.outcome, PaymentOutcome::Approved, "{auth:?}");
    assert_eq!(auth.status, "AUTHORIZED");
    assert_eq!(auth.authorized_amount, Some(usd(10_000)));
    assert_eq!(auth.reference.as_deref(), Some("ORD-1-auth-1"));
    assert_eq!(auth.risk_decision.as_deref(), Some("ACCEPT"));
    assert!(auth.tokens.customer_id.is_some() && auth.tokens.payment_instrument_id.is_some());
    let pid = auth.id.clone();

    // Partial captures up to the authorized amount; more is refused for good.
    let cap1 = c
        .capture(
            &pid,
            &CaptureInput {
                reference: "ORD-1-cap-1".into(),
                amount: usd(6_000),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(cap1.status, "PENDING");
    assert_eq!(cap1.amount, Some(usd(6_000)));
    let over = c
        .capture(
            &pid,
            &CaptureInput {
                reference: "ORD-1-cap-2".into(),
                amount: usd(4_001),
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(
        invalid_reason(&over),
        Some("EXCEEDS_AUTH_AMOUNT"),
        "{over:?}"
    );
    assert!(matches!(
        StepError::from(over),
        StepError::Terminal {
            class: FailureClass::TerminalApi,
            ..
        }
    ));
    let cap2 = c
        .capture(
            &pid,
            &CaptureInput {
                reference: "ORD-1-cap-2".into(),
                amount: usd(4_000),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();

    // Partial refunds: of a capture, and of the payment.
    let r1 = c
        .refund_capture(
            &cap1.id,
            &RefundInput {
                reference: "ORD-1-ref-1".into(),
                amount: usd(2_500),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(r1.amount, Some(usd(2_500)));
    let r2 = c
        .refund_payment(
            &pid,
            &RefundInput {
                reference: "ORD-1-ref-2".into(),
                amount: usd(3_000),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(r2.status, "PENDING");
    // cap1 has 35.00 left: 35.01 is too much.
    let over = c
        .refund_capture(
            &cap1.id,
            &RefundInput {
                reference: "ORD-1-ref-3".into(),
                amount: usd(3_501),
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_reason(&over), Some("INVALID_AMOUNT"), "{over:?}");
    // 100.00 captured, 55.00 refunded: 45.01 is too much.
    let over = c
        .refund_payment(
            &pid,
            &RefundInput {
                reference: "ORD-1-ref-3".into(),
                amount: usd(4_501),
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_reason(&over), Some("INVALID_AMOUNT"), "{over:?}");
    assert!(over.is_terminal());
    c.refund_payment(
        &pid,
        &RefundInput {
            reference: "ORD-1-ref-3".into(),
            amount: usd(4_500),
        },
        Deadline::NONE,
    )
    .await
    .unwrap();

    let rows = sim.ledger(&format!("rootId={pid}")).await;
    let count = |t: &str| rows.iter().filter(|r| r["type"] == t).count();
    assert_eq!(
        (count("authorization"), count("capture"), count("refund")),
        (1, 2, 3),
        "{rows:#?}"
    );
    assert_eq!(
        rows.iter().find(|r| r["id"] == cap2.id.as_str()).unwrap()["amount"],
        "40.00"
    );

    // TSS reads it back.
    let details = c.transaction_details(&pid, Deadline::NONE).await.unwrap();
    assert_eq!(details.reference(), Some("ORD-1-auth-1"));
    assert_eq!(details.amount().unwrap().unwrap(), usd(10_000));
    assert!(details.application_names().contains(&"ics_auth".to_owned()));
}

#[tokio::test]
async fn wrong_secret_is_a_terminal_authentication_error() {
    let sim = Sim::start(&[]);
    let creds = sim.credentials();
    let signer = HttpSignatureSigner::new(
        creds.merchant_id.clone(),
        creds.key_id.clone(),
        &SecretString::from("QwhlajRHbiJjkxQS3CrNUJl9lSr9Z6xxQwhlajRHbiI="),
    )
    .unwrap();
    let c = CybersourceClient::with_parts(
        &creds.base_url,
        signer,
        Sim::config(fast_retries(3)),
        Retrier::new(fast_retries(3)),
    )
    .unwrap();
    let jwt = sim.transient_token().await;
    let err = c
        .authorize(
            &auth_input("ORD-2-auth-1", "ada@example.com", usd(1_000), &jwt),
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    match &err {
        CybersourceError::Terminal {
            error:
                TerminalError::Authentication {
                    http_status,
                    message,
                },
            ..
        } => {
            assert_eq!(*http_status, 401);
            assert_eq!(message, "Authentication Failed");
        }
        other => panic!("expected a terminal authentication error, got {other:?}"),
    }
    assert!(!err.to_string().contains("QwhlajRH"));
    assert!(matches!(
        StepError::from(err),
        StepError::Terminal {
            class: FailureClass::TerminalApi,
            ..
        }
    ));
    // Reads fail the same way, and nothing was created.
    let err = c
        .transaction_details("1234567890123456789012", Deadline::NONE)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(401));
    assert!(sim.ledger("").await.is_empty());
}

#[tokio::test]
async fn decision_manager_triggers_map_to_outcomes() {
    let sim = Sim::start(&[]);
    let c = sim.client();
    let jwt = sim.transient_token().await;
    let declined = |r: &str| PaymentOutcome::Declined { reason: r.into() };
    let cases = [
        ("accept", PaymentOutcome::Approved),
        ("review", PaymentOutcome::Review),
        ("authreview", PaymentOutcome::Review),
        ("reject", PaymentOutcome::RejectedByFraud),
        ("dmdecline", PaymentOutcome::RejectedByFraud),
        ("decline", declined("PROCESSOR_DECLINED")),
        ("nsf", declined("INSUFFICIENT_FUND")),
        ("expired", declined("EXPIRED_CARD")),
        ("3ds", PaymentOutcome::NeedsAuthentication),
        ("partial", declined("PARTIAL_AUTHORIZED")),
    ];
    for (i, (local, expected)) in cases.iter().enumerate() {
        let reference = format!("ORD-3{i}-auth-1");
        let input = auth_input(
            &reference,
            &format!("{local}+o{i}@example.com"),
            usd(2_000),
            &jwt,
        );
        let r = c.authorize(&input, Deadline::NONE).await.unwrap();
        assert_eq!(&r.outcome, expected, "{local}: {r:?}");
        assert_eq!(r.reference.as_deref(), Some(reference.as_str()));
    }

    // DECISION_SKIP: the DM triggers do not fire.
    let mut skip = auth_input("ORD-3s-auth-1", "reject@example.com", usd(2_000), &jwt);
    skip.decision_manager = false;
    let r = c.authorize(&skip, Deadline::NONE).await.unwrap();
    assert_eq!(r.outcome, PaymentOutcome::Approved);

    // `invalid`: 400 INVALID_DATA, a validation failure.
    let err = c
        .authorize(
            &auth_input("ORD-3i-auth-1", "invalid@example.com", usd(2_000), &jwt),
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_reason(&err), Some("INVALID_DATA"), "{err:?}");
    assert!(matches!(
        StepError::from(err),
        StepError::Terminal {
            class: FailureClass::Validation,
            ..
        }
    ));

    // `servererror`: 502 SYSTEM_ERROR. `docs/cybersource.md` §2.5 says to check status after a
    // 502, so it is an unknown outcome, not a blind retry; the check finds nothing.
    let err = c
        .authorize(
            &auth_input("ORD-3e-auth-1", "servererror@example.com", usd(2_000), &jwt),
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.http_status(), Some(502));
    assert_eq!(
        c.reconcile_by_reference("ORD-3e-auth-1", Deadline::NONE)
            .await
            .unwrap(),
        None
    );
    assert!(sim.ledger("code=ORD-3e-auth-1").await.is_empty());
}

#[tokio::test]
async fn lost_response_is_outcome_unknown_and_reconcile_finds_the_single_charge() {
    let sim = Sim::start(&[]);
    let c = sim.client();
    let jwt = sim.transient_token().await;

    // The effect is applied, then the connection is closed without an answer.
    sim.post(
        "/__admin/faults",
        json!({"operation": "authorize", "lost_response_rate": 1.0, "lost_mode": "drop", "times": 1}),
    )
    .await;
    let reference = "ORD-4-auth-1";
    let err = c
        .authorize(
            &auth_input(reference, "ada@example.com", usd(5_000), &jwt),
            Deadline::within(Duration::from_secs(20)),
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(matches!(
        StepError::from(err),
        StepError::OutcomeUnknown { .. }
    ));
    // Not retried blindly: exactly one authorization exists for the reference.
    let rows = sim.ledger(&format!("code={reference}")).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["type"], "authorization");
    assert_eq!(rows[0]["response"], "lost:drop");

    // `docs/cybersource.md` §2.6: ask Cybersource by reference instead of charging again.
    let found = c
        .reconcile_by_reference(reference, Deadline::NONE)
        .await
        .unwrap()
        .expect("the lost authorization is found by its reference");
    assert_eq!(found.id, rows[0]["id"].as_str().unwrap());
    assert_eq!(found.reference.as_deref(), Some(reference));
    assert_eq!(found.transaction_id.as_deref(), Some(reference));
    assert_eq!(found.amount, Some(usd(5_000)));
    assert_eq!(found.status.as_deref(), Some("AUTHORIZED"));
    let details = c
        .transaction_details(&found.id, Deadline::NONE)
        .await
        .unwrap();
    assert_eq!(details.status.as_deref(), Some("AUTHORIZED"));
    let rows = sim
        .ledger(&format!("code={reference}&type=authorization"))
        .await;
    assert_eq!(
        rows.len(),
        1,
        "reconciling must not charge again: {rows:#?}"
    );

    // Nothing is found for a reference that was never used.
    assert_eq!(
        c.reconcile_by_reference("ORD-4-auth-9", Deadline::NONE)
            .await
            .unwrap(),
        None
    );

    // `docs/cybersource.md` §2.6 clean-up by transactionId (timeout reversal), e.g. when the order
    // is abandoned.
    let rev = c
        .timeout_reversal(
            &TimeoutReversalInput {
                transaction_id: reference.into(),
                reference: Some("ORD-4-rev-1".into()),
                amount: usd(5_000),
                reason: "timeout".into(),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(rev.status, "REVERSED");
    let reversals = sim.ledger("type=reversal").await;
    assert_eq!(reversals.len(), 1);
    assert_eq!(reversals[0]["source"], "timeout-reversal");
    assert_eq!(reversals[0]["parentId"], found.id.as_str());

    // The 502 form of a lost answer (SERVER_TIMEOUT after the effect) is unknown too.
    let err = c
        .authorize(
            &auth_input("ORD-5-auth-1", "timeout@example.com", usd(1_500), &jwt),
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    let found = c
        .reconcile_by_reference("ORD-5-auth-1", Deadline::NONE)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.amount, Some(usd(1_500)));
    assert_eq!(sim.ledger("code=ORD-5-auth-1").await.len(), 1);
}

#[tokio::test]
async fn retryable_503_is_retried_and_succeeds() {
    let sim = Sim::start(&[]);
    let jwt = sim.transient_token().await;
    sim.post(
        "/__admin/faults",
        json!({"operation": "authorize", "error_rate": 1.0, "status": 503, "times": 2}),
    )
    .await;
    let c = sim.client_with(fast_retries(3));
    let r = c
        .authorize(
            &auth_input("ORD-6-auth-1", "ada@example.com", usd(2_500), &jwt),
            Deadline::within(Duration::from_secs(20)),
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, PaymentOutcome::Approved);
    let faults = sim.get("/__admin/faults").await;
    assert_eq!(faults["faults"][0]["fired"], 2, "{faults}");
    assert_eq!(sim.ledger("code=ORD-6-auth-1").await.len(), 1);

    // With fewer attempts than faults the last 503 comes back, classified retryable with no
    // effect, and nothing was created.
    sim.post(
        "/__admin/faults",
        json!({"operation": "authorize", "error_rate": 1.0, "status": 503, "times": 2}),
    )
    .await;
    let c = sim.client_with(fast_retries(2));
    let err = c
        .authorize(
            &auth_input("ORD-7-auth-1", "ada@example.com", usd(2_500), &jwt),
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CybersourceError::Retryable {
                http_status: Some(503),
                effect_may_have_happened: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        StepError::from(err),
        StepError::Retryable {
            effect_may_have_happened: false,
            ..
        }
    ));
    assert!(sim.ledger("code=ORD-7-auth-1").await.is_empty());
}
