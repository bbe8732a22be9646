use super::*;
use secrecy::SecretString;

fn client(base: &str) -> CybersourceClient {
    let signer = HttpSignatureSigner::new(
        "m1",
        "k1",
        &SecretString::from("YpnO3e2HtZRmB0EAYH5m+mGyIYpCZUBO9VYdiCkYewE="),
    )
    .unwrap();
    CybersourceClient::with_parts(
        base,
        signer,
        ClientConfig::default(),
        Retrier::new(RetryPolicy::none()),
    )
    .unwrap()
}

fn prepared(effectful: bool) -> Prepared {
    client("http://127.0.0.1:4571")
        .prepare("op", Method::Post, "/pts/v2/payments", &[], None, effectful)
        .unwrap()
}

#[test]
fn base_url_host_and_prefix() {
    let c = client("http://127.0.0.1:4571");
    assert_eq!(c.host(), "127.0.0.1:4571");
    assert_eq!(c.base_url(), "http://127.0.0.1:4571");
    let c = client("https://apitest.cybersource.com/");
    assert_eq!(c.host(), "apitest.cybersource.com");
    let c = client("https://apitest.cybersource.com:443");
    assert_eq!(c.host(), "apitest.cybersource.com");
    let c = client("http://localhost:8080/cybs/");
    let p = c
        .prepare(
            "op",
            Method::Get,
            "/reporting/v3/chargeback-details",
            &[("startTime", "2026-01-01T00:00:00.000Z".into())],
            None,
            false,
        )
        .unwrap();
    assert_eq!(
        p.target,
        "/cybs/reporting/v3/chargeback-details?startTime=2026-01-01T00%3A00%3A00.000Z"
    );
    assert_eq!(
        p.url.as_str(),
        "http://localhost:8080/cybs/reporting/v3/chargeback-details?startTime=2026-01-01T00%3A00%3A00.000Z"
    );
    for bad in ["ftp://x", "not a url", "http://u:p@host", "http://h/?q=1"] {
        let signer = HttpSignatureSigner::new(
            "m1",
            "k1",
            &SecretString::from("YpnO3e2HtZRmB0EAYH5m+mGyIYpCZUBO9VYdiCkYewE="),
        )
        .unwrap();
        let e = CybersourceClient::with_parts(
            bad,
            signer,
            ClientConfig::default(),
            Retrier::new(RetryPolicy::none()),
        )
        .unwrap_err();
        assert_eq!(
            e.failure_class(),
            Some(o2c_domain::recipe::FailureClass::Internal),
            "{bad}"
        );
    }
}

#[test]
fn path_ids_are_strict() {
    assert!(check_path_id("op", "id", "7000000000000000000001").is_ok());
    assert!(check_path_id("op", "id", "A1b2-C3_d.4").is_ok());
    for bad in ["", "..", "a/b", "a?b", "a b", "a%2Fb", &"x".repeat(129)] {
        assert!(check_path_id("op", "id", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn status_classification() {
    let eff = prepared(true);
    let read = prepared(false);
    let body = |v: serde_json::Value| v.to_string().into_bytes();
    assert!(classify_status(&eff, 201, vec![]).is_ok());

    let e = classify_status(
        &eff,
        400,
        body(
            serde_json::json!({"status": "INVALID_REQUEST", "reason": "INVALID_DATA",
            "message": "bad", "details": [{"field": "x", "reason": "INVALID_DATA"}]}),
        ),
    )
    .unwrap_err();
    assert_eq!(e.reason_code(), Some("INVALID_DATA"));
    assert_eq!(
        e.failure_class(),
        Some(o2c_domain::recipe::FailureClass::Validation)
    );

    let e = classify_status(
        &eff,
        401,
        body(serde_json::json!({"response": {"rmsg": "Authentication Failed"}})),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        CybersourceError::Terminal {
            error: TerminalError::Authentication { http_status: 401, ref message },
            ..
        } if message == "Authentication Failed"
    ));
    assert!(matches!(
        classify_status(&eff, 403, vec![]).unwrap_err(),
        CybersourceError::Terminal {
            error: TerminalError::Authentication { .. },
            ..
        }
    ));
    assert!(matches!(
        classify_status(&read, 404, vec![]).unwrap_err(),
        CybersourceError::Terminal {
            error: TerminalError::NotFound { .. },
            ..
        }
    ));
    for s in [409, 410, 424, 422, 302] {
        assert!(classify_status(&eff, s, vec![]).unwrap_err().is_terminal());
    }

    // 502/504 after an effectful call: unknown, never retried blindly.
    for s in [502, 504] {
        let e = classify_status(
            &eff,
            s,
            body(serde_json::json!({"status": "SERVER_ERROR", "reason": "SERVER_TIMEOUT"})),
        )
        .unwrap_err();
        assert!(e.is_outcome_unknown(), "{s}");
        assert!(!crate::http::retry::Retryable::is_retryable(&e));
        // On a read they are plain retryable.
        let e = classify_status(&read, s, vec![]).unwrap_err();
        assert!(matches!(
            e,
            CybersourceError::Retryable {
                effect_may_have_happened: false,
                ..
            }
        ));
    }
    // 503 / 429 / 408: refused before processing.
    for s in [503, 429, 408] {
        assert!(matches!(
            classify_status(&eff, s, vec![]).unwrap_err(),
            CybersourceError::Retryable {
                effect_may_have_happened: false,
                ..
            }
        ));
    }
    // 500: retryable, but the effect may have happened.
    assert!(matches!(
        classify_status(&eff, 500, vec![]).unwrap_err(),
        CybersourceError::Retryable {
            effect_may_have_happened: true,
            ..
        }
    ));
}

#[test]
fn report_time_format() {
    let t = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
    assert_eq!(report_time("op", t).unwrap(), "2026-01-01T00:00:00.000Z");
    let t = t + Duration::from_millis(1_234) + Duration::from_nanos(999);
    assert_eq!(report_time("op", t).unwrap(), "2026-01-01T00:00:01.234Z");
    let t = t.to_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
    assert_eq!(report_time("op", t).unwrap(), "2026-01-01T00:00:01.234Z");
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    // Port 9 (discard) is never contacted: the input check comes first.
    let c = client("http://127.0.0.1:9");
    let usd = |m| o2c_domain::Money::from_minor(m, o2c_domain::Currency::USD);
    let e = c
        .capture(
            "7001",
            &CaptureInput {
                reference: "O-cap-1".into(),
                amount: usd(0),
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        CybersourceError::Terminal {
            error: TerminalError::InvalidInput(_),
            ..
        }
    ));
    let e = c
        .capture(
            "../x",
            &CaptureInput {
                reference: "O-cap-1".into(),
                amount: usd(1),
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(e.is_terminal());
    let e = c
        .search_by_reference("a b", Deadline::NONE)
        .await
        .unwrap_err();
    assert!(e.is_terminal());
}

#[tokio::test]
async fn connection_refused_is_retryable_and_not_sent() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"));
    let e = c
        .transaction_details("7001", Deadline::NONE)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            CybersourceError::Retryable {
                effect_may_have_happened: false,
                http_status: None,
                ..
            }
        ),
        "{e:?}"
    );
    let input = AuthorizationInput::new(
        "O-1-auth-1",
        "O-1-auth-1",
        o2c_domain::Money::from_minor(100, o2c_domain::Currency::USD),
        super::super::gateway::PaymentSource::Tms {
            customer_id: "C".into(),
            payment_instrument_id: Some("P".into()),
        },
    );
    let e = c.authorize(&input, Deadline::NONE).await.unwrap_err();
    assert!(
        matches!(
            e,
            CybersourceError::Retryable {
                effect_may_have_happened: false,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn expired_deadline_sends_nothing() {
    let c = client("http://127.0.0.1:9");
    let e = c
        .transaction_details("7001", Deadline::at(Instant::now()))
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        CybersourceError::Retryable {
            effect_may_have_happened: false,
            ..
        }
    ));
    assert!(e.to_string().contains("deadline"));
}
