//! The order-to-cash pipeline, built on the domain's step recipe:
//!
//! - [`messages`]: what travels on the queues, with deterministic deduplication ids.
//! - [`payment`]: the Cybersource steps (authorize, capture, void) as [`o2c_domain::recipe::Step`]s.
//! - [`handler`]: lifts a step to an SQS message handler for the batch runner.

pub mod app;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod handler;
pub mod messages;
pub mod notification;
pub mod payment;
pub mod pollers;
pub mod redrive;
pub mod routing;
pub mod specs;
pub mod sync;
pub mod webhook;
