//! Scheduled: lists Clarity's recent orders and takes in, through the webhook's intake, every
//! payable order whose order.created webhook never arrived (alarmed metric `OrdersCaughtUp`).
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::pollers::app::clarity_catchup;
use o2c_pipeline::pollers::catchup::CatchUpSettings;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{boot, serve_json, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (config, adapters) = boot(&specs::CLARITY_CATCHUP).await?;
    let poller = clarity_catchup(config, adapters, CatchUpSettings::default()).await?;
    serve_json(move |event| {
        let poller = poller.clone();
        async move { poller.run(event).await }
    })
    .await
}
