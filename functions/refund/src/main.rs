//! refunds.fifo consumer: void, authorization reversal or refund.
//! Thin: wires the shared adapters to a shared handler.

use o2c_domain::ports::QueueName;
use o2c_pipeline::app::payment_handler;
use o2c_pipeline::handler::Accepts;
use o2c_runtime::lambda::{run_sqs_function, Error, FunctionSpec};

const SPEC: FunctionSpec = FunctionSpec {
    name: "refund",
    sends_to: &[QueueName::ClaritySync, QueueName::ErpSync],
    consumes: Some(QueueName::Refunds),
    secrets: &["CYBERSOURCE_SECRET_ID"],
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_sqs_function(&SPEC, |config, adapters| {
        payment_handler(config, adapters, Accepts::VoidOrRefund)
    })
    .await
}
