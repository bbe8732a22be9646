//! Cybersource notifications (API Gateway HTTP API): verify, dedupe, map to domain events.
//! Thin: wires the shared adapters to a shared handler.

use o2c_domain::ports::QueueName;
use o2c_runtime::lambda::{run_http_function, Error, FunctionSpec, NotYetImplemented};
use std::sync::Arc;

const SPEC: FunctionSpec = FunctionSpec {
    name: "cybersource-notification",
    sends_to: &[
        QueueName::Captures,
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ],
    consumes: None,
    secrets: &["CYBERSOURCE_SECRET_ID"],
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_http_function(&SPEC, |_config, _adapters| async {
        Ok(Arc::new(NotYetImplemented(SPEC.name)) as Arc<_>)
    })
    .await
}
