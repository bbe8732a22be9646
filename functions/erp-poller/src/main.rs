//! Scheduled: reads ERP (NetSuite) item fulfilments and inventory levels and pushes them to Clarity.
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::specs;
use o2c_runtime::lambda::{boot, serve_json, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot(&specs::ERP_POLLER).await?;
    serve_json(|_event| async {
        Ok(serde_json::json!({ "status": "not implemented yet", "function": specs::ERP_POLLER.name }))
    })
    .await
}
