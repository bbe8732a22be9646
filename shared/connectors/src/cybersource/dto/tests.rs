use o2c_domain::{Currency, Money};
use serde_json::json;

use super::*;
use crate::cybersource::gateway::*;

#[test]
fn amounts_convert_exactly_both_ways() {
    for (s, cur, minor) in [
        ("102.21", "USD", 10_221),
        ("0.01", "USD", 1),
        ("1500", "JPY", 1_500),
        ("12.345", "KWD", 12_345),
        ("0.10", "EUR", 10),
    ] {
        let m = parse_amount(s, cur).unwrap();
        assert_eq!(m.minor(), minor, "{s} {cur}");
        assert_eq!(AmountDetails::from_money(&m).total_amount, s);
        assert_eq!(AmountDetails::from_money(&m).currency, cur);
    }
    // Lenient only where the value cannot change.
    assert_eq!(parse_amount("100.00", "JPY").unwrap().minor(), 100);
    assert_eq!(parse_amount(" 5.5 ", "USD").unwrap().minor(), 550);
    assert_eq!(parse_amount("5.500", "USD").unwrap().minor(), 550);
    assert!(parse_amount("1.005", "USD").is_err());
    assert!(parse_amount("100.5", "JPY").is_err());
    assert!(parse_amount("1e3", "USD").is_err());
    assert!(parse_amount("1.00", "XXX").is_err());
    // Large values stay exact (no float).
    let big = parse_amount("92233720368547758.07", "USD").unwrap();
    assert_eq!(big.minor(), i64::MAX);
    assert_eq!(
        AmountDetails::from_money(&big).total_amount,
        "92233720368547758.07"
    );
}

#[test]
fn payment_request_wire_shape() {
    let req = PaymentRequest {
        client_reference_information: ClientReferenceInformation {
            code: Some("ORDER-123".into()),
            transaction_id: Some("ORDER-123-auth-1".into()),
            comments: None,
        },
        processing_information: ProcessingInformation {
            capture: Some(false),
            action_list: vec!["TOKEN_CREATE".into()],
            action_token_types: vec!["customer".into(), "paymentInstrument".into()],
            commerce_indicator: Some("internet".into()),
        },
        payment_information: Some(PaymentInformation {
            customer: Some(IdRef::new("C1")),
            payment_instrument: Some(IdRef::new("PI1")),
            ..Default::default()
        }),
        token_information: None,
        order_information: OrderInformation {
            amount_details: AmountDetails {
                total_amount: "102.21".into(),
                currency: "USD".into(),
            },
            bill_to: Some(BillTo {
                first_name: "Ada".into(),
                country: "US".into(),
                email: Some("ada@example.com".into()),
                ..Default::default()
            }),
            ship_to: None,
            line_items: vec![LineItem {
                product_sku: "SKU-1".into(),
                product_name: "Widget".into(),
                quantity: 1,
                unit_price: "50.00".into(),
                tax_amount: None,
                total_amount: Some("50.00".into()),
            }],
        },
        extras: Default::default(),
    };
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(
        v["clientReferenceInformation"],
        json!({"code": "ORDER-123", "transactionId": "ORDER-123-auth-1"})
    );
    assert_eq!(
        v["processingInformation"],
        json!({"capture": false, "actionList": ["TOKEN_CREATE"],
               "actionTokenTypes": ["customer", "paymentInstrument"], "commerceIndicator": "internet"})
    );
    assert_eq!(
        v["paymentInformation"],
        json!({"customer": {"id": "C1"}, "paymentInstrument": {"id": "PI1"}})
    );
    assert_eq!(
        v["orderInformation"]["amountDetails"],
        json!({"totalAmount": "102.21", "currency": "USD"})
    );
    assert_eq!(v["orderInformation"]["billTo"]["firstName"], "Ada");
    assert_eq!(v["orderInformation"]["billTo"]["email"], "ada@example.com");
    assert_eq!(
        v["orderInformation"]["lineItems"][0],
        json!({"productSKU": "SKU-1", "productName": "Widget", "quantity": 1,
               "unitPrice": "50.00", "totalAmount": "50.00"})
    );
    assert!(v.get("tokenInformation").is_none());
    let back: PaymentRequest = serde_json::from_value(v).unwrap();
    assert_eq!(back, req);
    // The model spelling is read too.
    let li: LineItem = serde_json::from_value(json!({"productSku": "S", "productName": "n",
        "quantity": 2, "unitPrice": "1.00"}))
    .unwrap();
    assert_eq!(li.product_sku, "S");
}

#[test]
fn follow_on_request_shapes() {
    let amount = AmountDetails::from_money(&Money::from_minor(5_000, Currency::USD));
    let cap = CaptureRequest {
        client_reference_information: ClientReferenceInformation::code("O-cap-1"),
        order_information: AmountOrderInformation {
            amount_details: amount.clone(),
        },
    };
    assert_eq!(
        serde_json::to_value(&cap).unwrap(),
        json!({"clientReferenceInformation": {"code": "O-cap-1"},
               "orderInformation": {"amountDetails": {"totalAmount": "50.00", "currency": "USD"}}})
    );
    let rev = ReversalRequest {
        client_reference_information: ClientReferenceInformation {
            transaction_id: Some("O-auth-1".into()),
            ..Default::default()
        },
        reversal_information: ReversalInformation {
            amount_details: amount,
            reason: Some("timeout".into()),
        },
    };
    assert_eq!(
        serde_json::to_value(&rev).unwrap(),
        json!({"clientReferenceInformation": {"transactionId": "O-auth-1"},
               "reversalInformation": {"amountDetails": {"totalAmount": "50.00", "currency": "USD"},
                                       "reason": "timeout"}})
    );
    let void = VoidRequest {
        client_reference_information: ClientReferenceInformation {
            transaction_id: Some("O-cap-1".into()),
            comments: Some("timeout void".into()),
            ..Default::default()
        },
    };
    assert_eq!(
        serde_json::to_value(&void).unwrap(),
        json!({"clientReferenceInformation": {"transactionId": "O-cap-1", "comments": "timeout void"}})
    );
    assert_eq!(
        serde_json::to_value(SearchRequest::by_reference("O-auth-1", 20)).unwrap(),
        json!({"save": false, "query": "clientReferenceInformation.code:O-auth-1",
               "offset": 0, "limit": 20, "sort": "submitTimeUtc:desc"})
    );
}

#[test]
fn payment_response_parses_documented_shape() {
    let body = json!({
        "_links": {"self": {"href": "/pts/v2/payments/7000000000000000000001", "method": "GET"}},
        "id": "7000000000000000000001",
        "status": "AUTHORIZED_PENDING_REVIEW",
        "submitTimeUtc": "2026-01-20T10:00:00Z",
        "reconciliationId": "R1",
        "clientReferenceInformation": {"code": "ORDER-1"},
        "processorInformation": {"approvalCode": "888888", "responseCode": "100",
                                 "avs": {"code": "Y", "codeRaw": "Y"}},
        "orderInformation": {"amountDetails": {"authorizedAmount": "107.99", "totalAmount": "107.99", "currency": "USD"}},
        "tokenInformation": {"customer": {"id": "C1"}, "paymentInstrument": {"id": "PI1"},
                             "instrumentidentifierNew": false},
        "riskInformation": {"profile": {"name": "p", "desinationQueue": "q", "selectorRule": "r"},
                            "rules": [{"name": "velocity", "decision": "REVIEW"}],
                            "score": {"result": "42"}},
        "errorInformation": {"reason": "DECISION_PROFILE_REVIEW", "message": "review"},
        "somethingNew": 1
    });
    let r: PaymentResponse = serde_json::from_value(body).unwrap();
    assert_eq!(r.id.as_deref(), Some("7000000000000000000001"));
    assert_eq!(r.error_reason(), Some("DECISION_PROFILE_REVIEW"));
    assert_eq!(r.reference(), Some("ORDER-1"));
    assert_eq!(r.amount().unwrap().unwrap().minor(), 10_799);
    let t = r.token_information.as_ref().unwrap();
    assert_eq!(t.payment_instrument.as_ref().unwrap().id, "PI1");
    assert_eq!(t.instrument_identifier_new, Some(false));
    let risk = r.risk_information.as_ref().unwrap();
    assert_eq!(
        risk.profile.as_ref().unwrap().destination_queue.as_deref(),
        Some("q")
    );
    assert_eq!(risk.rules[0].decision.as_deref(), Some("REVIEW"));
    assert_eq!(r.risk_decision(), None);

    let refund: PaymentResponse = serde_json::from_value(json!({"id": "9", "status": "PENDING",
        "refundAmountDetails": {"refundAmount": "10.00", "currency": "USD"}}))
    .unwrap();
    assert_eq!(refund.amount().unwrap().unwrap().minor(), 1_000);
    let rev: PaymentResponse = serde_json::from_value(json!({"id": "9", "status": "REVERSED",
        "reversalAmountDetails": {"reversedAmount": "1500", "currency": "JPY"}}))
    .unwrap();
    assert_eq!(rev.amount().unwrap().unwrap().minor(), 1_500);
}

#[test]
fn error_bodies() {
    let e: ErrorResponse = serde_json::from_value(json!({"submitTimeUtc": "x", "status": "INVALID_REQUEST",
        "reason": "MISSING_FIELD", "message": "Declined - The request is missing one or more fields",
        "details": [{"field": "orderInformation.amountDetails.totalAmount", "reason": "MISSING_FIELD"}]}))
    .unwrap();
    assert_eq!(e.reason_code(), Some("MISSING_FIELD"));
    assert_eq!(
        e.details[0].field.as_deref(),
        Some("orderInformation.amountDetails.totalAmount")
    );
    let a: ErrorResponse =
        serde_json::from_value(json!({"response": {"rmsg": "Authentication Failed"}})).unwrap();
    assert_eq!(a.message_text(), Some("Authentication Failed"));
    let t: ErrorResponse = serde_json::from_value(json!({"errors": [{"type": "notFound",
        "message": "Token not found", "details": [{"name": "id"}]}]}))
    .unwrap();
    assert_eq!(t.reason_code(), Some("notFound"));
    assert_eq!(t.message_text(), Some("Token not found"));
}

#[test]
fn tss_details_and_search() {
    let d: TransactionDetailsDto = serde_json::from_value(json!({
        "id": "70001", "rootId": "70001", "submitTimeUTC": "2026-01-20T10:00:00Z",
        "status": "TRANSMITTED",
        "applicationInformation": {"reasonCode": 100, "rCode": "1", "rFlag": "SOK",
            "applications": [{"name": "ics_auth", "reasonCode": "100", "rCode": 1, "returnCode": 1010000},
                             {"name": "ics_bill", "rFlag": "SOK"}]},
        "clientReferenceInformation": {"code": "O-auth-1"},
        "orderInformation": {"amountDetails": {"totalAmount": "10.00", "authorizedAmount": "10.00", "currency": "USD"}},
        "riskInformation": {"profile": {"name": "default", "decision": "ACCEPT"}}
    }))
    .unwrap();
    assert_eq!(d.submit_time_utc.as_deref(), Some("2026-01-20T10:00:00Z"));
    assert_eq!(d.application_names(), ["ics_auth", "ics_bill"]);
    assert_eq!(
        d.application_information
            .as_ref()
            .unwrap()
            .reason_code
            .as_deref(),
        Some("100")
    );
    assert_eq!(d.risk_decision(), Some("ACCEPT"));
    assert_eq!(d.amount().unwrap().unwrap().minor(), 1_000);
    assert_eq!(d.reference(), Some("O-auth-1"));
    // The gateway's view of the same answer.
    let g = TransactionDetails::from(&d);
    assert_eq!(g.reference(), Some("O-auth-1"));
    assert_eq!(g.risk_decision(), Some("ACCEPT"));
    assert_eq!(g.amount(), d.amount());
    assert_eq!(g.application_names(), ["ics_auth", "ics_bill"]);
    assert_eq!(g.decline_reason(), None);

    let s: SearchResponse = serde_json::from_value(json!({
        "id": "s1", "count": 1, "totalCount": 1,
        "_embedded": {"transactionSummaries": [{
            "id": "70001", "submitTimeUtc": "2026-01-20T10:00:00Z",
            "applicationInformation": {"applications": [{"name": "ics_auth", "rFlag": "SOK"}]},
            "clientReferenceInformation": {"code": "O-auth-1", "transactionId": "O-auth-1"},
            "orderInformation": {"amountDetails": {"totalAmount": "10.00", "currency": "USD"}}
        }]}
    }))
    .unwrap();
    let sum = TransactionSummary::try_from(&s.summaries()[0]).unwrap();
    assert_eq!(sum.id, "70001");
    assert_eq!(sum.reference.as_deref(), Some("O-auth-1"));
    assert_eq!(sum.transaction_id.as_deref(), Some("O-auth-1"));
    assert_eq!(sum.applications, ["ics_auth"]);
    assert_eq!(sum.amount, Some(Money::from_minor(1_000, Currency::USD)));
    assert!(TransactionSummary::try_from(&TransactionSummaryDto::default()).is_err());
    assert!(SearchResponse::default().summaries().is_empty());
}

#[test]
fn tms_shapes() {
    let c = CustomerRequest {
        buyer_information: Some(BuyerInformation {
            merchant_customer_id: Some("cust-1".into()),
            email: Some("ada@example.com".into()),
        }),
        client_reference_information: Some(ClientReferenceInformation::code("O-1")),
    };
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"buyerInformation": {"merchantCustomerID": "cust-1", "email": "ada@example.com"},
               "clientReferenceInformation": {"code": "O-1"}})
    );
    let tok = TokenizeRequest {
        processing_information: TokenizeProcessingInformation {
            action_list: vec!["TOKEN_CREATE".into()],
            action_token_types: vec!["customer".into(), "paymentInstrument".into()],
        },
        token_information: TokenizeTokenInformation {
            transient_token_jwt: Some("eyJ.jwt".into()),
            customer: Some(c),
            ..Default::default()
        },
    };
    let v = serde_json::to_value(&tok).unwrap();
    assert_eq!(v["tokenInformation"]["transientTokenJwt"], "eyJ.jwt");
    assert_eq!(
        v["processingInformation"]["actionTokenTypes"],
        json!(["customer", "paymentInstrument"])
    );
    let dbg = format!("{tok:?}");
    assert!(!dbg.contains("eyJ") && !dbg.contains("ada@"), "{dbg}");

    let r: TokenizeResponse = serde_json::from_value(json!({"responses": [
        {"resource": "customer", "httpStatus": 201, "id": "C1"},
        {"resource": "paymentInstrument", "httpStatus": 201, "id": "PI1"},
        {"resource": "shippingAddress", "httpStatus": 400, "id": null,
         "errors": [{"type": "invalidRequest", "message": "bad"}]}
    ]}))
    .unwrap();
    assert_eq!(r.id_of("customer"), Some("C1"));
    assert_eq!(r.id_of("paymentInstrument"), Some("PI1"));
    assert_eq!(r.id_of("shippingAddress"), None);

    let pi: PaymentInstrumentDto = serde_json::from_value(json!({"id": "PI1", "default": true,
        "state": "ACTIVE", "card": {"expirationMonth": "12", "expirationYear": "2031", "type": "001"},
        "instrumentIdentifier": {"id": "II1"}}))
    .unwrap();
    assert_eq!(pi.card.unwrap().card_type.as_deref(), Some("001"));
}

#[test]
fn chargeback_report() {
    let r: ChargebackDetailsResponse = serde_json::from_value(json!({
        "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-02T00:00:00Z",
        "chargebackDetails": [{"requestId": "70001", "merchantReferenceNumber": "O-auth-1",
            "amount": "10.50", "currencyCode": "USD", "sign": "-", "reasonCode": "10.4",
            "action": "Chargeback", "time": "2026-01-01T10:00:00Z"}]
    }))
    .unwrap();
    let c = &r.chargeback_details[0];
    assert_eq!(c.amount_money().unwrap().unwrap().minor(), 1_050);
    assert_eq!(c.reason_code.as_deref(), Some("10.4"));
    // A numeric amount is read as its decimal text.
    let n: ChargebackDetail =
        serde_json::from_value(json!({"amount": 10.5, "currencyCode": "USD"})).unwrap();
    assert_eq!(n.amount_money().unwrap().unwrap().minor(), 1_050);
}

#[test]
fn pii_is_redacted_in_debug() {
    let b = BillTo {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: Some("ada@example.com".into()),
        country: "GB".into(),
        ..Default::default()
    };
    let dbg = format!(
        "{b:?} {:?}",
        TokenInformation {
            transient_token_jwt: Some("eyJsecret".into()),
            jti: None
        }
    );
    assert!(!dbg.contains("Ada") && !dbg.contains("Lovelace") && !dbg.contains("ada@"));
    assert!(!dbg.contains("eyJsecret"));
    assert!(dbg.contains("GB"));
}
