//! Issue 16, in a real browser: Debian's Chromium driven by Playwright
//! (`tests/browser/console_test.py`) against the console on the local stack. This side submits
//! an order and quarantines an event whose Clarity renamed `customer.email`, applies the
//! assistant's spec change (`o2c spec suggest --apply`, `o2c spec push`), runs the browser, and
//! then checks the replayed order was taken in once: one authorization, one capture.
//!
//! The browser finds the order and its timeline, sees the quarantined event's class and
//! suggestion, dry-runs and replays it, sees a poisoned dead letter's class and its suggested
//! patch as a diff, dry-runs and replays it with the fix, finds the audit entries; a viewer's replay button is
//! disabled and the server refuses the call; state changes without the CSRF token are refused.
//! Screenshots go to `target/screenshots` (`O2C_SCREENSHOTS=docs/screenshots` refreshes the
//! README's).
//!
//!     cargo test -p o2c-e2e --test console_browser -- --nocapture

mod common;

use common::{drain_only, ledger_counts, o2c, Options, Stack};
use o2c_domain::OrderState;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_in_chromium_finds_orders_replays_quarantine_once_and_refuses_viewers() {
    let s = Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await;
    let stage = s.aws.var("STAGE").to_string();
    s.clarity_order("ORD-B-1", "buyer", "USD", json!({})).await;
    s.drain().await;

    // A poisoned message: ORD-B-3's capture command, misspelt, dead-lettered by the capture step.
    s.clarity_order("ORD-B-3", "buyer", "USD", json!({})).await;
    drain_only(&s, "authorize").await;
    let sqs = aws_sdk_sqs::Client::new(&s.sdk);
    let captures = s.aws.var("CAPTURES_QUEUE_URL").to_string();
    let got = sqs
        .receive_message()
        .queue_url(&captures)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    for m in got.messages() {
        sqs.delete_message()
            .queue_url(&captures)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    sqs.send_message()
        .queue_url(&captures)
        .message_body(json!({"type": "captur", "order_id": "ORD-B-3"}).to_string())
        .message_group_id("ORD-B-3")
        .message_deduplication_id("poisoned-capture")
        .send()
        .await
        .unwrap();
    s.drain().await;
    // (Counted, not received: a receive would hide it from the console for a minute.)
    let dlq = s.aws.var("CAPTURES_DLQ_URL");
    let visible = |out: aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput| {
        out.attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            })
            .cloned()
    };
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(dlq)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        visible(attrs).as_deref(),
        Some("1"),
        "the poisoned capture is dead-lettered"
    );

    // The quarantined event: Clarity renamed customer.email.
    s.clarity_order("ORD-B-2", "buyer", "USD", json!({"emit": false}))
        .await;
    let mut order = s.admin_get("clarity", "orders/ORD-B-2").await["order"].clone();
    let customer = order["customer"].as_object_mut().unwrap();
    let email = customer.remove("email").unwrap();
    customer.insert("emailAddress".into(), email);
    let body = serde_json::to_vec(&json!({"id": "evt_b_2", "type": "order.created",
        "occurredAt": order["createdAt"], "payload": {"order": order}}))
    .unwrap();
    assert_eq!(
        s.deliver_clarity("evt_b_2", "order.created", body).await.0,
        202
    );

    // The fix, as the assistant proposes it, pushed to the stage.
    let tmp = std::env::temp_dir().join(format!("o2c-console-browser-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let sample = tmp.join("sample.json");
    let fix = tmp.join("spec-fix");
    let raw = o2c(
        &s,
        &["quarantine", "show", "evt_b_2", "--stage", &stage, "--body"],
    )
    .output()
    .unwrap();
    std::fs::write(&sample, &raw.stdout).unwrap();
    for args in [
        vec![
            "spec",
            "suggest",
            "--sample",
            sample.to_str().unwrap(),
            "--apply",
            fix.to_str().unwrap(),
        ],
        vec!["spec", "push", "--stage", &stage, fix.to_str().unwrap()],
    ] {
        let out = o2c(&s, &args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    }

    // The browser.
    let shots = std::env::var("O2C_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| o2c_e2e::repo_root().join("target/screenshots"));
    let shots = if shots.is_absolute() {
        shots
    } else {
        o2c_e2e::repo_root().join(shots)
    };
    let root = o2c_e2e::repo_root();
    let base = format!("{}/console", s.webhook_base);
    let run = tokio::process::Command::new(root.join("infra/.venv/bin/python"))
        .arg(root.join("tests/browser/console_test.py"))
        .args(["--base", &base, "--order", "ORD-B-1", "--event", "evt_b_2"])
        .args(["--dead-order", "ORD-B-3"])
        .arg("--screenshots")
        .arg(&shots)
        .output()
        .await
        .expect("infra/.venv (scripts/test.sh sets it up, with Playwright and Chromium)");
    let out = String::from_utf8_lossy(&run.stdout);
    println!("{out}{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the browser checks failed (above)");

    // The replays from the browser: each order taken in, and captured, once.
    s.drain().await;
    for id in ["ORD-B-2", "ORD-B-3"] {
        assert_eq!(s.state(id).await, OrderState::Captured, "{id}");
        let counts = ledger_counts(&s.ledger().await, id);
        assert_eq!(
            (counts.get("authorization"), counts.get("capture")),
            (Some(&1), Some(&1)),
            "{id}: {counts:?}"
        );
    }
    assert!(s
        .dlq(o2c_domain::ports::QueueName::Captures)
        .await
        .is_empty());
    for view in ["login", "orders", "quarantine", "dead-letters", "audit"] {
        assert!(
            shots.join(format!("console-{view}.png")).is_file(),
            "{view}"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
