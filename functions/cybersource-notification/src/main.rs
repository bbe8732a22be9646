//! Cybersource notifications (API Gateway HTTP API): verify, dedupe, map to domain events.
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::app::cybersource_notification;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{run_http_function, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_http_function(&specs::CYBERSOURCE_NOTIFICATION, cybersource_notification).await
}
