//! Issue 12, item 6: orders whose `order.created` webhook Clarity gave up on are caught up by
//! the `clarity-catchup` poller (Clarity's order list from a cursor, the same idempotent intake
//! as the webhook), charged exactly once, and reported; a second run catches up nothing.
//!
//!     cargo test -p o2c-e2e --test catchup -- --nocapture

mod common;

use common::{ledger_counts, Options, Stack};
use o2c_domain::{OrderId, OrderState};
use o2c_pipeline::pollers::catchup::{CatchUpSettings, ClarityCatchUp};
use o2c_pipeline::specs;
use o2c_runtime::config::{Env, FunctionConfig};
use o2c_runtime::wiring::Adapters;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The clarity-catchup poller wired like its binary (same spec, same app function), with no
/// settling delay (the orders here are seconds old).
async fn catchup(s: &Stack) -> Arc<ClarityCatchUp> {
    let mut vars = s.aws.env.clone();
    vars.insert("FUNCTION_TIMEOUT_SECS".into(), "10".into());
    vars.insert("SECRET_CACHE_TTL_SECS".into(), "300".into());
    let env = Env::from_pairs(vars);
    let spec = &specs::CLARITY_CATCHUP;
    let config = FunctionConfig::load(&env, spec.sends_to, spec.consumes, spec.secrets)
        .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
    let adapters = Adapters::with_sdk(s.sdk.clone(), &config, &env)
        .await
        .unwrap();
    let settings = CatchUpSettings {
        settle: Duration::ZERO,
        ..CatchUpSettings::default()
    };
    o2c_pipeline::pollers::app::clarity_catchup(config, adapters, settings)
        .await
        .unwrap()
}

fn schedule() -> Value {
    json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap_or_else(|| panic!("{x}")).to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_whose_webhooks_clarity_gave_up_on_are_caught_up_and_charged_once() {
    let s = Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await;
    // The order webhook is unreachable: every delivery fails (nothing listens on the port) and
    // Clarity gives up after its last retry.
    let dead = format!("http://127.0.0.1:{}/webhooks/clarity", o2c_e2e::free_port());
    s.admin(
        "clarity",
        "config",
        json!({"webhook_url": dead, "webhook_retry_schedule_s": [0, 0.1, 0.2], "webhook_timeout_s": 1}),
    )
    .await;
    let payable = ["ORD-CU-1", "ORD-CU-2", "ORD-CU-3"];
    for id in payable {
        s.clarity_order(id, "buyer", "USD", json!({})).await;
    }
    // Listed too, never payable: cancelled before anyone charged it.
    s.clarity_order(
        "ORD-CU-CANCELLED",
        "buyer",
        "USD",
        json!({"status": "cancelled"}),
    )
    .await;

    let deliveries = s.admin_get("clarity", "webhooks?type=order.created").await;
    let states: Vec<&str> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["failed"; 4], "Clarity gave up: {deliveries}");
    for id in payable.iter().chain(&["ORD-CU-CANCELLED"]) {
        let known = s.store.get(&OrderId::new(*id).unwrap()).await.unwrap();
        assert!(known.is_none(), "{id} never reached us");
    }
    // The webhook is back (later status changes may be delivered again).
    s.admin(
        "clarity",
        "config",
        json!({"webhook_url": format!("{}/webhooks/clarity", s.webhook_base)}),
    )
    .await;

    let poller = catchup(&s).await;
    let first = poller.run(schedule()).await.unwrap();
    println!("first run: {first}");
    s.drain().await;
    let ledger = s.ledger().await;
    for id in payable {
        let r = s.record(id).await;
        assert_eq!(r.state, OrderState::Captured, "{id}");
        let counts = ledger_counts(&ledger, id);
        assert_eq!(
            (counts.get("authorization"), counts.get("capture")),
            (Some(&1), Some(&1)),
            "{id}: authorized and captured once: {counts:?}"
        );
        let received = r
            .timeline
            .iter()
            .find(|e| e.what == "order.received")
            .unwrap();
        assert!(received.why.contains("catch-up"), "{id}: {}", received.why);
    }
    assert_eq!(ids(&first["caughtUp"]), payable, "{first}");
    assert_eq!(first["notPayable"], 1, "{first}");
    assert_eq!(first["mappingFailed"], json!([]), "{first}");
    assert!(first["cursor"].is_string(), "the cursor advanced: {first}");
    assert!(
        ledger_counts(&ledger, "ORD-CU-CANCELLED").is_empty(),
        "the cancelled order is not charged"
    );
    assert!(s
        .store
        .get(&OrderId::new("ORD-CU-CANCELLED").unwrap())
        .await
        .unwrap()
        .is_none());

    // Again: everything listed is known now; nothing caught up, nothing charged again.
    let second = poller.run(schedule()).await.unwrap();
    println!("second run: {second}");
    s.drain().await;
    assert_eq!(second["caughtUp"], json!([]), "{second}");
    // Captured by now (Clarity says payment_received): listed, not payable, skipped.
    assert_eq!(second["listed"], 4, "{second}");
    let again = s.ledger().await;
    for id in payable {
        assert_eq!(
            ledger_counts(&again, id),
            ledger_counts(&ledger, id),
            "{id}: nothing charged again"
        );
    }
}
