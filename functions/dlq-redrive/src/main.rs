//! Inspects dead-letter queues, classifies, suggests fixes and replays (invoked directly).
//! Thin: wires the shared adapters to a shared handler.

use o2c_domain::ports::QueueName;
use o2c_runtime::lambda::{boot, serve_json, Error, FunctionSpec};

const SPEC: FunctionSpec = FunctionSpec {
    name: "dlq-redrive",
    sends_to: &[
        QueueName::Orders,
        QueueName::Captures,
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ],
    consumes: None,
    secrets: &[],
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot(&SPEC).await?;
    serve_json(|_event| async {
        Ok(serde_json::json!({ "status": "not implemented yet", "function": SPEC.name }))
    })
    .await
}
