//! Scheduled: reads the Cybersource chargeback details report and drives disputes (Captured → Disputed → won/lost).
//! Thin: wires the shared adapters to a shared handler.

use o2c_domain::ports::QueueName;
use o2c_runtime::lambda::{boot, serve_json, Error, FunctionSpec};

const SPEC: FunctionSpec = FunctionSpec {
    name: "chargeback-poller",
    sends_to: &[QueueName::ClaritySync, QueueName::ErpSync],
    consumes: None,
    secrets: &["CYBERSOURCE_SECRET_ID"],
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot(&SPEC).await?;
    serve_json(|_event| async {
        Ok(serde_json::json!({ "status": "not implemented yet", "function": SPEC.name }))
    })
    .await
}
