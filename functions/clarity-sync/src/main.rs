//! clarity-sync.fifo consumer: order status, payment info and customer profile to Clarity.
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::app::clarity_sync;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{run_sqs_function, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_sqs_function(&specs::CLARITY_SYNC, clarity_sync).await
}
