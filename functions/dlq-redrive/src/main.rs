//! Inspects dead-letter queues, classifies, suggests fixes and replays (invoked directly).
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::specs;
use o2c_runtime::lambda::{boot, serve_json, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot(&specs::DLQ_REDRIVE).await?;
    serve_json(|_event| async {
        Ok(serde_json::json!({ "status": "not implemented yet", "function": specs::DLQ_REDRIVE.name }))
    })
    .await
}
