//! Lambda glue shared by every function: configuration from the environment, JSON logs
//! through `tracing`, and the SQS batch runner with partial batch failures.

pub mod batch;
pub mod config;
pub mod logging;

pub use batch::{
    current_deadline, run_batch, run_batch_until, DeadLetter, DeadLetterSink, MessageHandler,
    QueueMessage,
};
pub use config::{ConfigError, Env, Stage};
pub mod lambda;
pub mod metrics;
pub mod wiring;
