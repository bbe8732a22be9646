//! TMS tokens, reversal, void, sale and the chargeback report against the simulator.

use super::*;

#[tokio::test]
async fn tms_tokens_from_a_transient_token_then_pay_with_them() {
    let sim = Sim::start(&[]);
    let c = sim.client();
    let jwt = sim.transient_token().await;

    let tokens = c
        .create_customer_from_token(
            &TokenizeInput {
                customer: CustomerInput {
                    merchant_customer_id: "cust-9".into(),
                    email: Some("ada@example.com".into()),
                    reference: Some("ORD-9".into()),
                },
                transient_token: SecretString::from(jwt.as_str()),
                bill_to: Some(address()),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    let customer = c
        .get_customer(&tokens.customer_id, Deadline::NONE)
        .await
        .unwrap();
    assert_eq!(customer.merchant_customer_id.as_deref(), Some("cust-9"));
    assert_eq!(
        customer.default_payment_instrument_id.as_deref(),
        Some(tokens.payment_instrument_id.as_str())
    );
    let pi = c
        .get_payment_instrument(
            &tokens.customer_id,
            &tokens.payment_instrument_id,
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert!(pi.default);
    assert_eq!(pi.card_type.as_deref(), Some("001"));
    assert_eq!(
        pi.instrument_identifier_id.as_deref(),
        tokens.instrument_identifier_id.as_deref()
    );

    // Pay with the stored tokens.
    let mut input = AuthorizationInput::new(
        "ORD-9-auth-1",
        "ORD-9-auth-1",
        usd(1_999),
        PaymentSource::Tms {
            customer_id: tokens.customer_id.clone(),
            payment_instrument_id: Some(tokens.payment_instrument_id.clone()),
        },
    );
    input.bill_to = Some(address());
    input.email = Some("ada@example.com".into());
    let auth = c.authorize(&input, Deadline::NONE).await.unwrap();
    assert_eq!(auth.outcome, PaymentOutcome::Approved);
    assert_eq!(
        auth.tokens.payment_instrument_id.as_deref(),
        Some(tokens.payment_instrument_id.as_str())
    );

    // A customer without an instrument; unknown ids are 404s.
    let bare = c
        .create_customer(
            &CustomerInput {
                merchant_customer_id: "cust-10".into(),
                email: None,
                reference: None,
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(bare.default_payment_instrument_id, None);
    let err = c
        .get_customer("0123456789ABCDEF0123456789ABCDEF", Deadline::NONE)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CybersourceError::Terminal {
            error: TerminalError::NotFound { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn reversal_void_sale_and_chargeback_report() {
    let sim = Sim::start(&[]);
    let c = sim.client();
    let jwt = sim.transient_token().await;

    // Authorization reversal (partial, then the rest).
    let auth = c
        .authorize(
            &auth_input("ORD-11-auth-1", "ada@example.com", usd(8_000), &jwt),
            Deadline::NONE,
        )
        .await
        .unwrap();
    let rev = c
        .reverse_authorization(
            &auth.id,
            &ReversalInput {
                reference: "ORD-11-rev-1".into(),
                amount: usd(3_000),
                reason: Some("item out of stock".into()),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(
        (rev.status.as_str(), rev.amount),
        ("REVERSED", Some(usd(3_000)))
    );
    c.reverse_authorization(
        &auth.id,
        &ReversalInput {
            reference: "ORD-11-rev-2".into(),
            amount: usd(5_000),
            reason: Some("cancelled".into()),
        },
        Deadline::NONE,
    )
    .await
    .unwrap();
    let details = c
        .transaction_details(&auth.id, Deadline::NONE)
        .await
        .unwrap();
    assert_eq!(details.status.as_deref(), Some("REVERSED"));
    // Capture after a full reversal is refused; an auth cannot be voided.
    let err = c
        .capture(
            &auth.id,
            &CaptureInput {
                reference: "ORD-11-cap-1".into(),
                amount: usd(1),
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_reason(&err), Some("AUTH_ALREADY_REVERSED"));

    // A sale, voided by id.
    let sale = c
        .authorize(
            &auth_input("ORD-12-auth-1", "ada@example.com", usd(1_200), &jwt).sale(),
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(sale.outcome, PaymentOutcome::Approved);
    let void = c
        .void(
            VoidTarget::Payment,
            &sale.id,
            &VoidInput {
                reference: "ORD-12-void-1".into(),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(void.status, "VOIDED");
    let err = c
        .void(
            VoidTarget::Payment,
            &sale.id,
            &VoidInput {
                reference: "ORD-12-void-2".into(),
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_reason(&err), Some("NOT_VOIDABLE"));

    // `docs/cybersource.md` §2.6 timeout void by transactionId.
    let sale2 = c
        .authorize(
            &auth_input("ORD-13-auth-1", "ada@example.com", usd(900), &jwt).sale(),
            Deadline::NONE,
        )
        .await
        .unwrap();
    let tv = c
        .timeout_void(
            &TimeoutVoidInput {
                transaction_id: "ORD-13-auth-1".into(),
                reference: Some("ORD-13-void-1".into()),
                comments: Some("timeout void".into()),
            },
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(tv.status, "VOIDED");
    let voids = sim.ledger("type=void").await;
    assert!(voids
        .iter()
        .any(|v| v["parentId"] == sale2.id.as_str() && v["source"] == "timeout-void"));

    // A chargeback on a captured sale shows in the report.
    let sale3 = c
        .authorize(
            &auth_input("ORD-14-auth-1", "ada@example.com", usd(4_250), &jwt).sale(),
            Deadline::NONE,
        )
        .await
        .unwrap();
    sim.post(
        "/__admin/chargebacks",
        json!({"transactionId": sale3.id, "reasonCode": "10.4"}),
    )
    .await;
    let now = OffsetDateTime::now_utc();
    let rows = c
        .chargeback_details(
            now - Duration::from_secs(3_600),
            now + Duration::from_secs(3_600),
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].transaction_id.as_deref(), Some(sale3.id.as_str()));
    assert_eq!(rows[0].reference.as_deref(), Some("ORD-14-auth-1"));
    assert_eq!(rows[0].amount, Some(usd(4_250)));
    assert_eq!(rows[0].reason_code.as_deref(), Some("10.4"));
}
