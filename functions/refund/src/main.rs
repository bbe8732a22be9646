//! refunds.fifo consumer: void, authorization reversal or refund.
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::app::payment_handler;
use o2c_pipeline::handler::Accepts;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{run_sqs_function, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_sqs_function(&specs::REFUND, |config, adapters| {
        payment_handler(config, adapters, Accepts::VoidOrRefund)
    })
    .await
}
