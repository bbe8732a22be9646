//! Inspects dead-letter queues, classifies, suggests fixes and replays (invoked directly).
//! Thin: wires the shared adapters to the shared handler ([`o2c_pipeline::redrive`]); the event
//! and response shapes are documented there. The local command is `o2c-dlq`
//! (`infra/local/bridge`).

use o2c_pipeline::{redrive::Redrive, specs};
use o2c_runtime::lambda::{boot, serve_json, Error};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (config, adapters) = boot(&specs::DLQ_REDRIVE).await?;
    // The source queues come from the spec (`*_QUEUE_URL`), their DLQs from `*_DLQ_URL`.
    let redrive = Arc::new(Redrive::from_config(&config, &adapters).inspect_err(
        |e| tracing::error!(function = specs::DLQ_REDRIVE.name, error = %e, "configuration error"),
    )?);
    serve_json(move |event| {
        let redrive = redrive.clone();
        async move { Ok(redrive.handle_json(event).await?) }
    })
    .await
}
