//! The operator console (API Gateway HTTP API): the page and its JSON API.
//! Thin: wires the shared adapters to the console's handler.

use o2c_console::wiring::console;
use o2c_pipeline::specs;
use o2c_runtime::lambda::{run_http_function, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run_http_function(&specs::CONSOLE, console).await
}
