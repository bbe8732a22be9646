//! The Cybersource client against the local sandbox simulator
//! (`infra/local/simulators/cybersource.py`, see infra/README.md "Cybersource simulator").
//!
//! Every test starts its own simulator on a free port (`--port 0`) with the credentials of
//! `infra/local/secrets.local.json`, so fault rules and ledgers never mix. The interpreter is
//! `$PYTHON`, else `<repo>/infra/.venv/bin/python`; a missing interpreter FAILS the tests (it is
//! part of the dev setup, `infra/bootstrap.sh`), it never skips them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use o2c_connectors::cybersource::{
    AuthorizationInput, CaptureInput, ClientConfig, CustomerInput, CybersourceClient,
    CybersourceCredentials, CybersourceError, Deadline, EventKind, HttpSignatureSigner,
    Notification, PaymentGateway, PaymentOutcome, PaymentSource, RefundInput, ReversalInput,
    TerminalError, TimeoutReversalInput, TimeoutVoidInput, TokenizeInput, VoidInput, VoidTarget,
    WebhookSignatureError, SIGNATURE_HEADER,
};
use o2c_connectors::http::retry::{Retrier, RetryPolicy};
use o2c_domain::recipe::{FailureClass, StepError};
use o2c_domain::{Address, Currency, Money};
use secrecy::SecretString;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let py = match std::env::var_os("PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join("infra/.venv/bin/python"),
    };
    assert!(
        py.exists() || py.components().count() == 1,
        "python interpreter {} not found: run infra/bootstrap.sh or set PYTHON",
        py.display()
    );
    py
}

/// A running simulator; killed (by its pid) when dropped.
struct Sim {
    child: Child,
    base_url: String,
    admin: reqwest::Client,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    fn start(extra: &[&str]) -> Sim {
        let root = repo_root();
        let mut child = Command::new(python())
            .arg(root.join("infra/local/simulators/cybersource.py"))
            .args(["--port", "0", "--seed", "7", "--quiet", "--secrets-file"])
            .arg(root.join("infra/local/secrets.local.json"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the Cybersource simulator: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("the simulator did not report its address within 30 s");
            }
        };
        let base_url = line
            .trim()
            .strip_prefix("cybersource-sim listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("unexpected simulator banner {line:?}")
            })
            .to_owned();
        Sim {
            child,
            base_url,
            admin: reqwest::Client::new(),
        }
    }

    fn credentials(&self) -> CybersourceCredentials {
        let text = std::fs::read_to_string(repo_root().join("infra/local/secrets.local.json"))
            .expect("secrets.local.json");
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        let mut secret = doc["CybersourceSecret"].take();
        secret["base_url"] = json!(self.base_url);
        CybersourceCredentials::from_json(&secret.to_string()).unwrap()
    }

    fn config(policy: RetryPolicy) -> ClientConfig {
        ClientConfig {
            request_timeout: Duration::from_secs(10),
            retry: policy,
            ..ClientConfig::default()
        }
    }

    fn client(&self) -> CybersourceClient {
        self.client_with(fast_retries(3))
    }

    fn client_with(&self, policy: RetryPolicy) -> CybersourceClient {
        CybersourceClient::new(&self.credentials(), Self::config(policy)).unwrap()
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self
            .admin
            .request(method.clone(), format!("{}{path}", self.base_url));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "admin {method} {path}: {status} {v}");
        v
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.admin(reqwest::Method::GET, path, None).await
    }

    async fn ledger(&self, query: &str) -> Vec<Value> {
        let v = self.get(&format!("/__admin/ledger?{query}")).await;
        v["entries"].as_array().unwrap().clone()
    }

    async fn transient_token(&self) -> String {
        let v = self
            .post(
                "/__admin/transient-tokens",
                json!({"type": "001", "suffix": "1111"}),
            )
            .await;
        v["transientTokenJwt"].as_str().unwrap().to_owned()
    }
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts,
        min_attempt_time: Duration::from_millis(50),
    }
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

fn address() -> Address {
    Address {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        line1: "1 Analytical Way".into(),
        line2: None,
        city: "London".into(),
        region: None,
        postal_code: "N1 1AA".into(),
        country: "GB".into(),
        phone: None,
    }
}

fn auth_input(reference: &str, email: &str, amount: Money, jwt: &str) -> AuthorizationInput {
    let mut input = AuthorizationInput::new(
        reference,
        reference,
        amount,
        PaymentSource::TransientToken(SecretString::from(jwt)),
    );
    input.bill_to = Some(address());
    input.email = Some(email.into());
    input
}

fn invalid_reason(e: &CybersourceError) -> Option<&str> {
    match e {
        CybersourceError::Terminal {
            error: TerminalError::InvalidRequest { reason, .. },
            ..
        } => Some(reason),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

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

    // `servererror`: 502 SYSTEM_ERROR. The reference says to check status after a 502, so it is
    // an unknown outcome, not a blind retry; the check finds nothing.
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

    // §2.6: ask Cybersource by reference instead of charging again.
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

    // §2.6 clean-up by transactionId (timeout reversal), e.g. when the order is abandoned.
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

/// One HTTP request captured by [`receiver`].
struct Captured {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP server that answers 200 to every request and hands it over.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Captured>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/cybersource/notifications",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let header_end = loop {
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p;
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
                let headers: Vec<(String, String)> = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let len = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = buf[header_end + 4..].to_vec();
                while body.len() < len {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
                body.truncate(len);
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                let _ = sock.shutdown().await;
                let _ = tx.send(Captured { headers, body });
            });
        }
    });
    (url, rx)
}

async fn next_notification(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Captured>) -> Captured {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a notification within 20 s")
        .expect("receiver alive")
}

#[tokio::test]
async fn notifications_verify_and_tampered_ones_are_rejected() {
    let sim = Sim::start(&[]);
    let (url, mut rx) = receiver().await;
    sim.post("/__admin/config", json!({"notify_url": url}))
        .await;
    let verifier = sim.credentials().webhook_verifier().unwrap();
    let c = sim.client();
    let jwt = sim.transient_token().await;

    // A review, decided by an analyst: Cybersource notifies us.
    let auth = c
        .authorize(
            &auth_input("ORD-8-auth-1", "review@example.com", usd(3_000), &jwt),
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(auth.outcome, PaymentOutcome::Review);
    // Not capturable while under review.
    let err = c
        .capture(
            &auth.id,
            &CaptureInput {
                reference: "ORD-8-cap-1".into(),
                amount: usd(3_000),
            },
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_reason(&err), Some("NOT_SUPPORTED"));
    sim.post(
        &format!("/__admin/reviews/{}", auth.id),
        json!({"decision": "accept", "sync": true}),
    )
    .await;
    let n = next_notification(&mut rx).await;
    let header = n
        .header(SIGNATURE_HEADER)
        .expect("v-c-signature")
        .to_owned();
    let parsed = verifier
        .verify(Some(&header), &n.body, OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("a genuine notification must verify: {e}"));
    assert_eq!(parsed.key_id, sim.credentials().webhook_key_id);
    let note = Notification::parse(&n.body).unwrap();
    assert_eq!(note.event_type, EventKind::CaseDecisionAccept);
    assert_eq!(note.event_type.review_decision(), Some(true));
    assert_eq!(note.product_id.as_deref(), Some("decisionManager"));
    assert_eq!(note.transaction_id().as_deref(), Some(auth.id.as_str()));
    assert_eq!(note.payload_str(&["decision"]), Some("ACCEPT"));
    assert!(note.dedup_id().is_some());
    // Accepted: now it captures.
    c.capture(
        &auth.id,
        &CaptureInput {
            reference: "ORD-8-cap-1".into(),
            amount: usd(3_000),
        },
        Deadline::NONE,
    )
    .await
    .unwrap();

    // Tampered deliveries are refused, each for its own reason.
    for (tamper, expected) in [
        ("body", "signature_mismatch"),
        ("signature", "signature_mismatch"),
        ("key", "signature_mismatch"),
        ("keyId", "unknown_key_id"),
    ] {
        sim.post(
            "/__admin/notify",
            json!({"eventType": "risk.casemanagement.decision.reject",
                   "payload": {"data": {"id": auth.id, "decision": "REJECT"}},
                   "tamper": tamper, "sync": true}),
        )
        .await;
        let n = next_notification(&mut rx).await;
        let err = verifier
            .verify(
                n.header(SIGNATURE_HEADER),
                &n.body,
                OffsetDateTime::now_utc(),
            )
            .unwrap_err();
        assert_eq!(err.code(), expected, "tamper={tamper}: {err}");
    }

    // A genuine but stale one (signed two hours ago) is refused too; an untampered one passes.
    let two_hours_ago = OffsetDateTime::now_utc().unix_timestamp() * 1000 - 7_200_000;
    sim.post(
        "/__admin/notify",
        json!({"eventType": "tms.networktoken.updated", "payload": {"data": {"id": "T1"}},
               "timestamp_ms": two_hours_ago, "sync": true}),
    )
    .await;
    let n = next_notification(&mut rx).await;
    assert!(matches!(
        verifier.verify(
            n.header(SIGNATURE_HEADER),
            &n.body,
            OffsetDateTime::now_utc()
        ),
        Err(WebhookSignatureError::StaleTimestamp { .. })
    ));
    sim.post(
        "/__admin/notify",
        json!({"eventType": "tms.networktoken.updated", "payload": {"data": {"id": "T1"}}, "sync": true}),
    )
    .await;
    let n = next_notification(&mut rx).await;
    verifier
        .verify(
            n.header(SIGNATURE_HEADER),
            &n.body,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    assert_eq!(
        Notification::parse(&n.body).unwrap().event_type,
        EventKind::NetworkTokenUpdated
    );
}

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

    // §2.6 timeout void by transactionId.
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
