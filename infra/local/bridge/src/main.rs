//! `o2c-local-bridge`: poll the local queues and invoke the functions served by
//! `cargo lambda watch`, as Lambda's SQS event source mappings would.
//!
//! Environment: the `*_QUEUE_URL` variables of `infra/local/.state/local.env`, `AWS_ENDPOINT_URL`,
//! `AWS_REGION`; `LAMBDA_INVOKE_URL` (default `http://127.0.0.1:9000`); `BRIDGE_BATCH_SIZE`
//! (default 10); `BRIDGE_RETRY_DELAY_SECS` (default 2); `BRIDGE_CONCURRENCY` (default 4): how
//! many batches of one queue are in flight at once — Lambda's event source mapping invokes
//! several execution environments concurrently (one message group at a time each, for FIFO).

use o2c_local_bridge::{Bridge, HttpInvoker, Mapping};
use std::sync::Arc;
use std::time::Duration;

/// Queue variable → function, as the template's event source mappings wire them.
const MAPPINGS: &[(&str, &str)] = &[
    ("ORDERS_QUEUE_URL", "authorize"),
    ("CAPTURES_QUEUE_URL", "capture"),
    ("REFUNDS_QUEUE_URL", "refund"),
    ("CLARITY_SYNC_QUEUE_URL", "clarity-sync"),
    ("ERP_SYNC_QUEUE_URL", "erp-sync"),
];

#[tokio::main]
async fn main() -> Result<(), String> {
    o2c_runtime::logging::init();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let invoke = env("LAMBDA_INVOKE_URL").unwrap_or_else(|| "http://127.0.0.1:9000".into());
    let batch_size: i32 = env("BRIDGE_BATCH_SIZE")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let retry: u64 = env("BRIDGE_RETRY_DELAY_SECS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let concurrency: usize = env("BRIDGE_CONCURRENCY")
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(4);
    let region = env("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let invoker = Arc::new(HttpInvoker::new(invoke.clone()));
    let mut tasks = Vec::new();
    for (var, function) in MAPPINGS {
        let queue_url = env(var).ok_or_else(|| format!("missing environment variable {var}"))?;
        let mapping = Mapping {
            queue_url,
            function: (*function).to_string(),
            batch_size,
        };
        let mut bridge = Bridge::new(sqs.clone(), mapping, invoker.clone(), region.clone()).await?;
        bridge.retry_delay = Duration::from_secs(retry);
        tracing::info!(queue = var, function, invoke = %invoke, concurrency, "bridging");
        let bridge = Arc::new(bridge);
        for _ in 0..concurrency {
            let bridge = bridge.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    match bridge.poll_once(Duration::from_secs(1)).await {
                        Ok(s) if s.received > 0 => tracing::info!(
                            function = %bridge.mapping().function,
                            received = s.received, deleted = s.deleted, failed = s.failed,
                            "batch"
                        ),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "poll failed");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }));
        }
    }
    futures::future::join_all(tasks).await;
    Ok(())
}
