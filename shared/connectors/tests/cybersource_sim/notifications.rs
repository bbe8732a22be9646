//! Signed notifications from the simulator: verified, and tampered ones rejected.

use super::*;

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
