//! erp-sync.fifo consumer: ERP customer, sales order, deposit; CRM fraud case.
//! Thin: wires the shared adapters to a shared handler.

use o2c_pipeline::app::erp_sync;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{run_sqs_function, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_sqs_function(&specs::ERP_SYNC, erp_sync).await
}
