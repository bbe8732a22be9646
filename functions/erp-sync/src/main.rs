//! erp-sync.fifo consumer: ERP customer, sales order, deposit; CRM fraud case.
//! Thin: wires the shared adapters to a shared handler.

use o2c_domain::ports::QueueName;
use o2c_pipeline::app::erp_sync;
use o2c_runtime::lambda::{run_sqs_function, Error, FunctionSpec};

const SPEC: FunctionSpec = FunctionSpec {
    name: "erp-sync",
    sends_to: &[],
    consumes: Some(QueueName::ErpSync),
    secrets: &["ERP_SECRET_ID", "CRM_SECRET_ID"],
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_sqs_function(&SPEC, erp_sync).await
}
