//! Cybersource notifications (API Gateway HTTP API): verify, dedupe, map to domain events.
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::specs;
use o2c_runtime::lambda::{run_http_function, Error, NotYetImplemented};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_http_function(
        &specs::CYBERSOURCE_NOTIFICATION,
        |_config, _adapters| async {
            Ok(Arc::new(NotYetImplemented(specs::CYBERSOURCE_NOTIFICATION.name)) as Arc<_>)
        },
    )
    .await
}
