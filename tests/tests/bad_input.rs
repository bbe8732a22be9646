//! Bad input for both webhook receivers, through the local API Gateway stand-in: every case
//! gets its documented status (Clarity: `CLARITY_ASSUMED.md` §4.9 and `webhook.rs`; Cybersource:
//! `notification.rs` and the verifier's error codes) and changes nothing — every DynamoDB item
//! and every queue's and DLQ's message counts are snapshotted before and after each request
//! and compared. The one exception is the quarantine: a signed, card-free event that does not
//! map (202 `quarantined`) is kept there, and only there (issue 15). A replay of a seen event is held to the same rule. Most requests are signed
//! here with the stack's own secrets (so each case isolates one fault); the simulators' own
//! tampered deliveries are sent too. Finally the card-data scan finds no card number anywhere,
//! although two of the requests carried one.
//!
//!     cargo test -p o2c-e2e --test bad_input -- --nocapture     # prints the case → status table

mod common;

use common::{AwsSnapshot, Options, Stack};
use o2c_connectors::clarity::webhook::signature_header;
use o2c_connectors::cybersource::{SignedContent, WebhookKey};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

const PAN: &str = "4111 1111 1111 1111";

struct Row {
    webhook: &'static str,
    case: String,
    status: u16,
    code: String,
    expected: u16,
    unchanged: bool,
    /// The request added to the quarantine table (expected of the 202 cases only).
    kept: bool,
    diff: Vec<String>,
}

struct Run {
    stack: Stack,
    rows: Vec<Row>,
    clarity_secret: SecretString,
    cybs_key: WebhookKey,
}

/// Split a snapshot diff into "kept in quarantine" (its table, and its alert in the local SNS
/// sink) and every other change.
fn quarantined_apart(s: &Stack, diff: Vec<String>) -> (bool, Vec<String>) {
    let table = format!("{}: ", s.aws.var("QUARANTINE_TABLE_NAME"));
    let sink = s
        .aws
        .var("ALERTS_SINK_URL")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let sink = format!("{sink}: ");
    let (q, rest): (Vec<String>, Vec<String>) = diff
        .into_iter()
        .partition(|d| d.starts_with(&table) || d.starts_with(&sink));
    (q.iter().any(|d| d.starts_with(&table)), rest)
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn secrets() -> Value {
    let path = o2c_e2e::repo_root().join("infra/local/secrets.local.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What the receiver answered: status and the `title` (problem) or `status` (success) field.
async fn post(s: &Stack, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    let mut req = s
        .http
        .post(format!("{}{path}", s.webhook_base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    let code = v["title"]
        .as_str()
        .or_else(|| v["status"].as_str())
        .unwrap_or_default()
        .to_string();
    (status, code)
}

impl Run {
    /// Send one request and record the status and whether anything changed.
    async fn case(
        &mut self,
        webhook: &'static str,
        case: &str,
        expected: u16,
        headers: Vec<(&str, String)>,
        body: &[u8],
    ) {
        let path = match webhook {
            "clarity" => "/webhooks/clarity",
            _ => "/webhooks/cybersource",
        };
        let before = self.stack.aws_snapshot().await;
        let (status, code) = post(&self.stack, path, &headers, body).await;
        self.record(webhook, case, expected, status, code, &before)
            .await;
    }

    async fn record(
        &mut self,
        webhook: &'static str,
        case: &str,
        expected: u16,
        status: u16,
        code: String,
        before: &AwsSnapshot,
    ) {
        let after = self.stack.aws_snapshot().await;
        let (kept, diff) = quarantined_apart(&self.stack, after.diff(before));
        self.rows.push(Row {
            webhook,
            case: case.to_string(),
            status,
            code,
            expected,
            unchanged: diff.is_empty(),
            kept,
            diff,
        });
    }

    // ---------------------------------------------------------------- Clarity

    fn clarity_headers(&self, event_id: &str, event_type: &str, ts: i64, body: &[u8]) -> Headers {
        let ts = ts.to_string();
        vec![
            ("x-clarity-event-id", event_id.to_string()),
            ("x-clarity-event-type", event_type.to_string()),
            ("x-clarity-timestamp", ts.clone()),
            (
                "x-clarity-signature",
                signature_header(&self.clarity_secret, &ts, body),
            ),
            ("x-clarity-delivery-attempt", "1".into()),
        ]
    }

    /// A delivery sent by the Clarity simulator with one of its `tamper` modes.
    async fn clarity_sim(&mut self, tamper: &str, order_id: &str) {
        let token = self.stack.transient_token().await;
        let before = self.stack.aws_snapshot().await;
        let v = self
            .stack
            .admin(
                "clarity",
                "orders",
                json!({"id": order_id, "payment": {"instrumentToken": token},
                       "tamper": tamper, "sync": true}),
            )
            .await;
        let delivery = &v["webhook"]["deliveries"][0];
        let status = delivery["attempts"][0]["status"].as_u64().unwrap_or(0) as u16;
        self.record(
            "clarity",
            &format!("simulator delivery, tamper={tamper}"),
            if tamper == "id_mismatch" { 400 } else { 401 },
            status,
            format!("(sim: {})", delivery["state"].as_str().unwrap_or("?")),
            &before,
        )
        .await;
    }

    // ---------------------------------------------------------------- Cybersource

    fn cybs_header(&self, t_ms: i64, body: &[u8]) -> Headers {
        vec![(
            "v-c-signature",
            self.cybs_key
                .sign(t_ms, body, SignedContent::PayloadMember)
                .unwrap(),
        )]
    }

    /// A notification sent by the Cybersource simulator with one of its `tamper` modes.
    async fn cybs_sim(&mut self, case: &str, extra: Value) {
        let before = self.stack.aws_snapshot().await;
        let mut body = json!({
            "eventType": "risk.casemanagement.decision.accept",
            "payload": {"data": {"id": "7000000000000000999001",
                                 "clientReferenceInformation": {"code": "ORD-BAD-1-auth"}}},
            "sync": true,
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let v = self.stack.admin("cybersource", "notify", body).await;
        let n = &v["notification"];
        let status = n["attempts"][0]["status"].as_u64().unwrap_or(0) as u16;
        self.record(
            "cybersource",
            &format!("simulator delivery, {case}"),
            401,
            status,
            format!("(sim: {})", n["state"].as_str().unwrap_or("?")),
            &before,
        )
        .await;
    }
}

type Headers = Vec<(&'static str, String)>;

fn envelope(id: &str, kind: &str, payload: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "type": kind, "occurredAt": "2026-01-20T10:00:00Z", "payload": payload
    }))
    .unwrap()
}

fn without(headers: &Headers, name: &str) -> Headers {
    headers
        .iter()
        .filter(|(k, _)| *k != name)
        .cloned()
        .collect()
}

fn replace(headers: &Headers, name: &'static str, value: String) -> Headers {
    let mut h = without(headers, name);
    h.push((name, value));
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_its_status_and_changes_nothing() {
    let stack = Stack::start(Options::default()).await;
    let sec = secrets();
    let clarity_secret = SecretString::from(
        sec["ClaritySecret"]["webhook_secret"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let cybs = &sec["CybersourceSecret"];
    let cybs_key = WebhookKey::new(
        cybs["webhook_key_id"].as_str().unwrap(),
        &SecretString::from(cybs["webhook_secret_b64"].as_str().unwrap().to_string()),
    )
    .unwrap();
    // Simulators: one attempt per delivery, so a refused one is not retried for seconds.
    stack
        .admin(
            "clarity",
            "config",
            json!({"webhook_retry_schedule_s": [0]}),
        )
        .await;
    stack
        .admin("cybersource", "config", json!({"notify_retries": 0}))
        .await;
    let mut run = Run {
        stack,
        rows: Vec::new(),
        clarity_secret,
        cybs_key,
    };

    // A real order shape from the Clarity simulator (not emitted), and one accepted delivery of
    // it: the "seen event" the replays repeat. Both seeding deliveries happen before the
    // baseline; everything after it must leave the baseline as it is.
    let token = run.stack.transient_token().await;
    let seeded = run
        .stack
        .admin(
            "clarity",
            "orders",
            json!({"id": "ORD-BAD-1", "emit": false, "payment": {"instrumentToken": token}}),
        )
        .await;
    let order = seeded["order"].clone();
    assert_eq!(order["id"], "ORD-BAD-1", "{seeded}");
    let seen = envelope("evt_bad_seen", "order.created", json!({"order": order}));
    let h = run.clarity_headers("evt_bad_seen", "order.created", now_s(), &seen);
    let (status, code) = post(&run.stack, "/webhooks/clarity", &h, &seen).await;
    assert_eq!((status, code.as_str()), (202, "accepted"), "first delivery");
    // The seen Cybersource notification: a payment status event on ORD-BAD-1, noted on its
    // timeline once.
    let seen_n = serde_json::to_vec(&json!({
        "eventType": "payments.payments.updated", "notificationId": "n-bad-seen",
        "webhookId": "w-bad", "organizationId": "o2c_local_sandbox",
        "eventDate": "2026-01-20T10:00:00Z", "retryNumber": 0, "requestType": "NEW",
        "payload": {"data": {"id": "7000000000000000999001",
                             "clientReferenceInformation": {"code": "ORD-BAD-1-auth"}}}
    }))
    .unwrap();
    let h = run.cybs_header(now_ms(), &seen_n);
    let (status, code) = post(&run.stack, "/webhooks/cybersource", &h, &seen_n).await;
    assert_eq!(
        (status, code.as_str()),
        (200, "noted"),
        "first notification"
    );

    let baseline = run.stack.aws_snapshot().await;
    assert!(baseline.item_count() > 0 && baseline.messages() > 0);

    // A second, unseen order (so a receiver that wrongly accepted it would create something).
    let mut fresh_order = order.clone();
    fresh_order["id"] = json!("ORD-BAD-2");
    let fresh = envelope(
        "evt_bad_fresh",
        "order.created",
        json!({"order": fresh_order}),
    );
    let good = run.clarity_headers("evt_bad_fresh", "order.created", now_s(), &fresh);

    // ---------------------------------------------------------------- Clarity, self-signed
    run.case(
        "clarity",
        "unsigned (no X-Clarity-Signature)",
        401,
        without(&good, "x-clarity-signature"),
        &fresh,
    )
    .await;
    run.case(
        "clarity",
        "no X-Clarity-Timestamp",
        401,
        without(&good, "x-clarity-timestamp"),
        &fresh,
    )
    .await;
    run.case(
        "clarity",
        "wrong signature (v1=<zeros>)",
        401,
        replace(
            &good,
            "x-clarity-signature",
            format!("v1={}", "0".repeat(64)),
        ),
        &fresh,
    )
    .await;
    run.case(
        "clarity",
        "malformed signature header (sha256=…)",
        401,
        replace(&good, "x-clarity-signature", "sha256=abc".into()),
        &fresh,
    )
    .await;
    let tampered = String::from_utf8(fresh.clone())
        .unwrap()
        .replace("ORD-BAD-2", "ORD-BAD-3")
        .into_bytes();
    run.case(
        "clarity",
        "body changed after signing",
        401,
        good.clone(),
        &tampered,
    )
    .await;
    let ts = now_s().to_string();
    let rotated = SecretString::from("whsec_rotated_secret_we_do_not_hold".to_string());
    run.case(
        "clarity",
        "wrong key (secret rotated, not ours)",
        401,
        replace(
            &good,
            "x-clarity-signature",
            signature_header(&rotated, &ts, &fresh),
        )
        .into_iter()
        .map(|(k, v)| {
            if k == "x-clarity-timestamp" {
                (k, ts.clone())
            } else {
                (k, v)
            }
        })
        .collect(),
        &fresh,
    )
    .await;
    let h = run.clarity_headers("evt_bad_fresh", "order.created", now_s() - 360, &fresh);
    run.case("clarity", "stale timestamp (now − 360 s)", 401, h, &fresh)
        .await;
    let h = run.clarity_headers("evt_bad_fresh", "order.created", now_s() + 360, &fresh);
    run.case("clarity", "future timestamp (now + 360 s)", 401, h, &fresh)
        .await;
    let h = run.clarity_headers("evt_bad_seen", "order.created", now_s(), &seen);
    run.case(
        "clarity",
        "replay of a seen event (fresh signature)",
        200,
        h,
        &seen,
    )
    .await;
    let mut other = order.clone();
    other["metadata"] = json!({"changed": "yes"});
    let reused = envelope("evt_bad_seen", "order.created", json!({"order": other}));
    let h = run.clarity_headers("evt_bad_seen", "order.created", now_s(), &reused);
    run.case(
        "clarity",
        "seen event id, different payload",
        409,
        h,
        &reused,
    )
    .await;
    let mut big = fresh.clone();
    big.resize(1024 * 1024 + 1, b' ');
    let h = run.clarity_headers("evt_bad_fresh", "order.created", now_s(), &big);
    run.case("clarity", "oversize body (1 MiB + 1, signed)", 413, h, &big)
        .await;
    let broken = br#"{"id":"evt_bad_json","type":"order.created","payload":{"order":"#;
    let h = run.clarity_headers("evt_bad_json", "order.created", now_s(), broken);
    run.case("clarity", "malformed JSON (signed)", 400, h, broken)
        .await;
    let h = run.clarity_headers("evt_bad_other_id", "order.created", now_s(), &fresh);
    run.case("clarity", "header/body event id mismatch", 400, h, &fresh)
        .await;
    let h = run.clarity_headers("evt_bad_fresh", "order.updated", now_s(), &fresh);
    run.case("clarity", "header/body event type mismatch", 400, h, &fresh)
        .await;
    let unknown = envelope("evt_bad_unknown", "order.teleported", json!({"x": 1}));
    let h = run.clarity_headers("evt_bad_unknown", "order.teleported", now_s(), &unknown);
    run.case(
        "clarity",
        "unknown event type (200, ignored)",
        200,
        h,
        &unknown,
    )
    .await;
    let shapeless = envelope(
        "evt_bad_shape",
        "order.created",
        json!({"order": {"id": "ORD-BAD-4"}}),
    );
    let h = run.clarity_headers("evt_bad_shape", "order.created", now_s(), &shapeless);
    run.case(
        "clarity",
        "payload not an Order (signed: quarantined)",
        202,
        h,
        &shapeless,
    )
    .await;
    let mut unbalanced = fresh_order.clone();
    unbalanced["totals"]["grandTotal"] = json!("999.99");
    let body = envelope(
        "evt_bad_totals",
        "order.created",
        json!({"order": unbalanced}),
    );
    let h = run.clarity_headers("evt_bad_totals", "order.created", now_s(), &body);
    run.case(
        "clarity",
        "totals do not add up (signed: quarantined)",
        202,
        h,
        &body,
    )
    .await;
    let mut with_pan = fresh_order.clone();
    with_pan["metadata"] = json!({"note": format!("card {PAN} exp 12/29")});
    let body = envelope("evt_bad_pan", "order.created", json!({"order": with_pan}));
    let h = run.clarity_headers("evt_bad_pan", "order.created", now_s(), &body);
    run.case("clarity", "card number in the payload", 422, h, &body)
        .await;

    // ---------------------------------------------------------------- Clarity, the simulator's own
    for (n, tamper) in [
        "bad_signature",
        "wrong_secret",
        "stale_timestamp",
        "future_timestamp",
        "id_mismatch",
        "no_signature",
    ]
    .into_iter()
    .enumerate()
    {
        run.clarity_sim(tamper, &format!("ORD-BAD-SIM-{n}")).await;
    }

    // ---------------------------------------------------------------- Cybersource, self-signed
    let decision = serde_json::to_vec(&json!({
        "eventType": "risk.casemanagement.decision.accept", "notificationId": "n-bad-fresh",
        "organizationId": "o2c_local_sandbox", "retryNumber": 0,
        "payload": {"data": {"id": "7000000000000000999002", "decision": "ACCEPT",
                             "clientReferenceInformation": {"code": "ORD-BAD-1-auth"}}}
    }))
    .unwrap();
    let good = run.cybs_header(now_ms(), &decision);
    run.case(
        "cybersource",
        "unsigned (no v-c-signature)",
        401,
        Vec::new(),
        &decision,
    )
    .await;
    let sig = good[0].1.clone();
    let wrong_sig = format!("{}sig=AAAA{}", &sig[..sig.find("sig=").unwrap()], "=");
    run.case(
        "cybersource",
        "wrong signature",
        401,
        vec![("v-c-signature", wrong_sig)],
        &decision,
    )
    .await;
    run.case(
        "cybersource",
        "malformed v-c-signature (no keyId)",
        401,
        vec![("v-c-signature", format!("t={};sig=AAAA", now_ms()))],
        &decision,
    )
    .await;
    let tampered = String::from_utf8(decision.clone())
        .unwrap()
        .replace("ACCEPT", "REJECT")
        .into_bytes();
    run.case(
        "cybersource",
        "payload changed after signing",
        401,
        good.clone(),
        &tampered,
    )
    .await;
    let stranger = WebhookKey::new(
        "5f1c7a52-0000-4000-8000-000000000000",
        &SecretString::from("WVlsJsHxeeZltfm21zB3OvIet4QPIG4nGvwd8PHUDSo=".to_string()),
    )
    .unwrap();
    let h = vec![(
        "v-c-signature",
        stranger
            .sign(now_ms(), &decision, SignedContent::PayloadMember)
            .unwrap(),
    )];
    run.case("cybersource", "wrong key id", 401, h, &decision)
        .await;
    let our_id_other_key = WebhookKey::new(
        run.cybs_key.key_id().to_string(),
        &SecretString::from("WVlsJsHxeeZltfm21zB3OvIet4QPIG4nGvwd8PHUDSo=".to_string()),
    )
    .unwrap();
    let h = vec![(
        "v-c-signature",
        our_id_other_key
            .sign(now_ms(), &decision, SignedContent::PayloadMember)
            .unwrap(),
    )];
    run.case("cybersource", "our key id, another key", 401, h, &decision)
        .await;
    let h = run.cybs_header(now_ms() - 2 * 3600 * 1000, &decision);
    run.case(
        "cybersource",
        "stale timestamp (now − 2 h)",
        401,
        h,
        &decision,
    )
    .await;
    let h = run.cybs_header(now_ms() + 10 * 60 * 1000, &decision);
    run.case(
        "cybersource",
        "future timestamp (now + 10 min)",
        401,
        h,
        &decision,
    )
    .await;
    let h = run.cybs_header(now_ms(), &seen_n);
    run.case(
        "cybersource",
        "replay of a seen notification",
        200,
        h,
        &seen_n,
    )
    .await;
    let redelivery = String::from_utf8(seen_n.clone())
        .unwrap()
        .replace("\"retryNumber\":0", "\"retryNumber\":1")
        .into_bytes();
    assert_ne!(redelivery, seen_n);
    let h = run.cybs_header(now_ms(), &redelivery);
    run.case(
        "cybersource",
        "redelivery of a seen notification (retryNumber 1)",
        200,
        h,
        &redelivery,
    )
    .await;
    let mut big = decision.clone();
    big.resize(256 * 1024 + 1, b' ');
    let h = run.cybs_header(now_ms(), &big);
    run.case(
        "cybersource",
        "oversize body (256 KiB + 1, signed)",
        413,
        h,
        &big,
    )
    .await;
    run.case(
        "cybersource",
        "malformed JSON",
        400,
        good.clone(),
        br#"{"eventType":"risk.casemanagement.decision.accept","payload":{"#,
    )
    .await;
    let no_type = serde_json::to_vec(&json!({"notificationId": "n-bad-notype",
        "payload": {"data": {"id": "7000000000000000999003"}}}))
    .unwrap();
    let h = run.cybs_header(now_ms(), &no_type);
    run.case(
        "cybersource",
        "signed JSON that is not a notification (no eventType)",
        400,
        h,
        &no_type,
    )
    .await;
    let unknown = serde_json::to_vec(&json!({
        "eventType": "payments.teleported", "notificationId": "n-bad-unknown",
        "payload": {"data": {"id": "7000000000000000999004",
                             "clientReferenceInformation": {"code": "ORD-BAD-1-auth"}}}
    }))
    .unwrap();
    let h = run.cybs_header(now_ms(), &unknown);
    run.case(
        "cybersource",
        "unknown event type (200, acknowledged)",
        200,
        h,
        &unknown,
    )
    .await;
    let with_pan = serde_json::to_vec(&json!({
        "eventType": "risk.casemanagement.decision.accept", "notificationId": "n-bad-pan",
        "payload": {"data": {"id": "7000000000000000999005",
                             "clientReferenceInformation": {"code": "ORD-BAD-1-auth"},
                             "note": format!("card {PAN}")}}
    }))
    .unwrap();
    let h = run.cybs_header(now_ms(), &with_pan);
    run.case(
        "cybersource",
        "card number in the payload",
        422,
        h,
        &with_pan,
    )
    .await;

    // ---------------------------------------------------------------- Cybersource, the simulator's own
    run.cybs_sim("tamper=body", json!({"tamper": "body"})).await;
    run.cybs_sim("tamper=signature", json!({"tamper": "signature"}))
        .await;
    run.cybs_sim("tamper=key", json!({"tamper": "key"})).await;
    run.cybs_sim("tamper=keyId", json!({"tamper": "keyId"}))
        .await;
    run.cybs_sim(
        "stale t (now − 2 h)",
        json!({"timestamp_ms": now_ms() - 2 * 3600 * 1000}),
    )
    .await;

    // ---------------------------------------------------------------- the table
    println!();
    println!(
        "{:<12} {:<54} {:>6} {:>8}  {:<26} changed",
        "webhook", "case", "status", "expected", "code"
    );
    for r in &run.rows {
        println!(
            "{:<12} {:<54} {:>6} {:>8}  {:<26} {}",
            r.webhook,
            r.case,
            r.status,
            r.expected,
            r.code,
            match (r.unchanged, r.kept) {
                (true, false) => "nothing",
                (true, true) => "quarantine only",
                _ => "CHANGED",
            }
        );
    }
    let failures: Vec<String> = run
        .rows
        .iter()
        .filter(|r| r.status != r.expected || !r.unchanged || r.kept != (r.expected == 202))
        .map(|r| {
            format!(
                "{} / {}: status {} (expected {}), code {:?}, changes {:?}",
                r.webhook, r.case, r.status, r.expected, r.code, r.diff
            )
        })
        .collect();

    // Nothing anywhere holds a card number, although two requests carried one.
    let scan = run.stack.card_scan(&[]);
    println!(
        "card-data scan: {} hits over {} sources (exit {})",
        scan.hits,
        scan.report["sources"].as_array().map_or(0, Vec::len),
        scan.exit
    );
    // And the net effect of all the bad input together is nothing.
    let (kept, since) =
        quarantined_apart(&run.stack, run.stack.aws_snapshot().await.diff(&baseline));
    assert!(kept, "the two unmappable events are in quarantine");

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!((scan.exit, scan.hits), (0, 0), "{:#}", scan.report);
    assert!(since.is_empty(), "{since:#?}");
}
