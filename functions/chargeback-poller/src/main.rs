//! Scheduled: reads the Cybersource chargeback details report and drives disputes (Captured → Disputed → won/lost).
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::specs;
use o2c_runtime::lambda::{boot, serve_json, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot(&specs::CHARGEBACK_POLLER).await?;
    serve_json(|_event| async {
        Ok(serde_json::json!({ "status": "not implemented yet", "function": specs::CHARGEBACK_POLLER.name }))
    })
    .await
}
