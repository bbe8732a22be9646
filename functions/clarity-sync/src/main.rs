//! clarity-sync.fifo consumer: order status, payment info and customer profile to Clarity.
//! Thin: wires the shared adapters to a shared handler.

use o2c_domain::ports::QueueName;
use o2c_pipeline::app::clarity_sync;
use o2c_runtime::lambda::{run_sqs_function, Error, FunctionSpec};

const SPEC: FunctionSpec = FunctionSpec {
    name: "clarity-sync",
    sends_to: &[],
    consumes: Some(QueueName::ClaritySync),
    secrets: &["CLARITY_SECRET_ID"],
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_sqs_function(&SPEC, clarity_sync).await
}
