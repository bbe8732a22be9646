//! Scheduled: reads ERP (NetSuite) item fulfilments and inventory levels and pushes them to Clarity.
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::pollers::app::erp_poller;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{boot, serve_json, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (config, adapters) = boot(&specs::ERP_POLLER).await?;
    let poller = erp_poller(config, adapters).await?;
    serve_json(move |event| {
        let poller = poller.clone();
        async move { poller.run(event).await }
    })
    .await
}
