//! Clarity order webhook (API Gateway HTTP API): verify, dedupe, record, enqueue.
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::app::clarity_webhook;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{run_http_function, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_http_function(&specs::CLARITY_ORDER_WEBHOOK, clarity_webhook).await
}
