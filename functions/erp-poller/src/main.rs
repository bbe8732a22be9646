//! Scheduled: reads ERP (NetSuite) item fulfilments and inventory levels and pushes them to Clarity.
//! Thin: wires the shared adapters to a shared handler.

use o2c_runtime::lambda::{boot, serve_json, Error, FunctionSpec};

const SPEC: FunctionSpec = FunctionSpec {
    name: "erp-poller",
    sends_to: &[],
    consumes: None,
    secrets: &["ERP_SECRET_ID", "CLARITY_SECRET_ID"],
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot(&SPEC).await?;
    serve_json(|_event| async {
        Ok(serde_json::json!({ "status": "not implemented yet", "function": SPEC.name }))
    })
    .await
}
