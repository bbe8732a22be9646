//! Scheduled: reads the Cybersource chargeback details report and drives disputes (Captured → Disputed → won/lost).
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::pollers::app::chargeback_poller;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{boot, serve_json, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (config, adapters) = boot(&specs::CHARGEBACK_POLLER).await?;
    let poller = chargeback_poller(config, adapters).await?;
    serve_json(move |event| {
        let poller = poller.clone();
        async move { poller.run(event).await }
    })
    .await
}
