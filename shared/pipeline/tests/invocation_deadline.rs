//! The invocation's deadline bounds a payment step's external call: a slow, failing (503)
//! Cybersource is retried only while a retry can still finish before the invocation's deadline
//! less the safety margin, and the message then fails retryably, before the deadline. Without
//! the invocation's deadline (the old behaviour: only the budget from `FUNCTION_TIMEOUT_SECS`)
//! the same call keeps retrying past it.
//!
//! Real HTTP on loopback (a tiny server answering every request with a 503 after 300 ms) and
//! the real `CybersourceClient` with its retry loop; the order store, publisher and clock are
//! in-memory fakes.

use o2c_connectors::cybersource::{ClientConfig, CybersourceClient, HttpSignatureSigner};
use o2c_connectors::http::retry::{Retrier, RetryPolicy, OUT_OF_TIME};
use o2c_domain::fakes::{InMemoryPublisher, InMemoryStore, ManualClock};
use o2c_domain::model::sample;
use o2c_domain::ports::OrderRecord;
use o2c_domain::recipe::{NoCheckpoints, StepFailure};
use o2c_domain::{OrderState, TimelineEntry};
use o2c_pipeline::handler::{Accepts, PaymentHandler, Ports};
use o2c_pipeline::messages::PaymentCommand;
use o2c_pipeline::payment::{PaymentContext, Route, SingleRoute, CALL_SAFETY_MARGIN};
use o2c_runtime::batch::{MessageHandler, QueueMessage};
use secrecy::SecretString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How long the server takes to answer each request.
const LATENCY: Duration = Duration::from_millis(300);

/// A server that answers every request with `503 Service Unavailable` after [`LATENCY`];
/// returns its base URL and the request count.
async fn slow_unavailable_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                // Read the head and the Content-Length body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(LATENCY).await;
                let body =
                    r#"{"status":"SERVER_ERROR","reason":"SERVICE_UNAVAILABLE","message":"busy"}"#;
                let reply = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, count)
}

fn handler(url: &str, store: &InMemoryStore, call_budget: Duration) -> PaymentHandler {
    let signer = HttpSignatureSigner::new(
        "m1",
        "k1",
        &SecretString::from("YpnO3e2HtZRmB0EAYH5m+mGyIYpCZUBO9VYdiCkYewE="),
    )
    .unwrap();
    // Many cheap retries: only a deadline ends them. An attempt needs more than the server's
    // latency, so a retry is only started when it can finish.
    let retrier = Retrier::new(RetryPolicy {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(50),
        max_attempts: 1_000,
        min_attempt_time: LATENCY + Duration::from_millis(100),
    });
    let client = CybersourceClient::with_parts(url, signer, ClientConfig::default(), retrier)
        .expect("client");
    PaymentHandler {
        ports: Ports {
            store: Arc::new(store.clone()),
            publisher: Arc::new(InMemoryPublisher::new()),
            clock: Arc::new(ManualClock::at(1_800_000_000_000)),
            lease: Duration::from_secs(65),
            checkpoints: Arc::new(NoCheckpoints),
        },
        ctx: PaymentContext {
            router: Arc::new(SingleRoute(Route {
                name: "m1".into(),
                gateway: Arc::new(client),
            })),
            call_budget,
            invocation_deadline: None,
        },
        accepts: Accepts::Authorize,
        specs: Some(Arc::new(o2c_spec::Specs::bundled())),
    }
}

fn store_with_order() -> InMemoryStore {
    let store = InMemoryStore::new();
    store.put_raw(OrderRecord::received(
        sample::order("o1"),
        TimelineEntry::new(
            o2c_domain::Timestamp::from_millis(0),
            "order.received",
            "test",
        ),
    ));
    store
}

fn authorize_message(deadline: Option<Instant>) -> QueueMessage {
    let m = PaymentCommand::Authorize {
        order_id: o2c_domain::OrderId::new("o1").unwrap(),
    }
    .message("test");
    QueueMessage {
        message_id: "m".into(),
        body: m.body,
        group_id: Some(m.group_id),
        dedup_id: Some(m.dedup_id),
        receive_count: 1,
        source_arn: None,
        deadline,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_retrying_call_gives_up_before_the_invocations_deadline() {
    let (url, requests) = slow_unavailable_server().await;
    // The function's own budget (from FUNCTION_TIMEOUT_SECS) would allow 5 s of retries...
    let budget = Duration::from_secs(5);
    // ... but this invocation ends in 3.5 s: the call must be done 2 s (the margin) before.
    let left = CALL_SAFETY_MARGIN + Duration::from_millis(1_500);

    let store = store_with_order();
    let h = handler(&url, &store, budget);
    let start = Instant::now();
    let deadline = start + left;
    let r = h.handle(&authorize_message(Some(deadline))).await;
    let took = start.elapsed();
    let calls = requests.load(Ordering::SeqCst);
    println!("with the invocation's deadline: {took:?}, {calls} requests, {r:?}");
    assert!(
        Instant::now() < deadline,
        "gave up after the invocation's deadline ({took:?} > {left:?})"
    );
    // It did retry while there was time, and stopped by the call deadline (+ recording).
    assert!(calls >= 2, "{calls} requests");
    assert!(
        took < left - CALL_SAFETY_MARGIN + Duration::from_millis(700),
        "{took:?}"
    );
    // The message fails retryably and says why it stopped.
    match &r {
        Err(StepFailure::RetryLater(reason)) => {
            assert!(reason.contains("503"), "{reason}");
            assert!(reason.contains(OUT_OF_TIME), "{reason}");
        }
        other => panic!("expected a retryable failure, got {other:?}"),
    }
    // Nothing half-recorded: no authorization, the order can be authorized again.
    let record = store.snapshot("o1").unwrap();
    assert!(
        matches!(record.state, OrderState::Received | OrderState::Authorizing),
        "{:?}",
        record.state
    );

    // The same call without the invocation's deadline (the old behaviour: the budget alone)
    // keeps retrying past that deadline.
    let (url, requests) = slow_unavailable_server().await;
    let store = store_with_order();
    let h = handler(&url, &store, budget);
    let start = Instant::now();
    let r = h.handle(&authorize_message(None)).await;
    let took = start.elapsed();
    println!(
        "budget only: {took:?}, {} requests, {r:?}",
        requests.load(Ordering::SeqCst)
    );
    assert!(matches!(r, Err(StepFailure::RetryLater(_))), "{r:?}");
    assert!(
        took > left,
        "without the invocation's deadline the retries run to the budget ({took:?})"
    );
    assert!(took < budget + Duration::from_secs(1), "{took:?}");
}
