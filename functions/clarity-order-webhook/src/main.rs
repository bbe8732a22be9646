//! Clarity order webhook (API Gateway HTTP API): verify, dedupe, record, enqueue.
//! Thin: wires the shared adapters to a shared handler.

use o2c_domain::ports::QueueName;
use o2c_pipeline::app::clarity_webhook;
use o2c_runtime::lambda::{run_http_function, Error, FunctionSpec};

const SPEC: FunctionSpec = FunctionSpec {
    name: "clarity-order-webhook",
    sends_to: &[QueueName::Orders],
    consumes: None,
    secrets: &["CLARITY_SECRET_ID"],
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_http_function(&SPEC, clarity_webhook).await
}
