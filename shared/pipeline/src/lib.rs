//! The order-to-cash pipeline, built on the domain's step recipe:
//!
//! - [`messages`]: what travels on the queues, with deterministic deduplication ids.
//! - [`payment`]: the Cybersource steps (authorize, capture, void) as [`o2c_domain::recipe::Step`]s.
//! - [`handler`]: lifts a step to an SQS message handler for the batch runner.
//! - [`bounded`]: API clients bounded by the invocation's deadline (the sync consumers).
//! - [`cancel`]: recording a cancellation intent that every payment step honours.
//! - [`intake`]: the one idempotent `order.created` intake (webhook and catch-up poller).

pub mod app;
pub mod bounded;
pub mod cancel;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod handler;
pub mod intake;
pub mod messages;
pub mod notification;
pub mod payment;
pub mod pollers;
pub mod quarantine;
pub mod redrive;
pub mod references;
pub mod routing;
pub mod spec_preview;
pub mod spec_runtime;
pub mod specs;
pub mod sync;
pub mod webhook;
