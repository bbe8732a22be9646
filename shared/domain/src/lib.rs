//! The order-to-cash domain: canonical model, money, the order state machine, the
//! exactly-once step recipe, and the ports (traits) that adapters implement.
//!
//! This crate depends on no AWS, HTTP or Lambda crate: everything that talks to the outside
//! world sits behind a trait in [`ports`].

pub mod card;
pub mod ids;
pub mod model;
pub mod money;
pub mod pii;
pub mod ports;
pub mod quarantine;
pub mod recipe;
pub mod routing;
pub mod state;
pub mod time;
pub mod timeline;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;

pub use ids::{ChargebackId, CustomerId, ExternalIds, OrderId, PaymentId, RefundId};
pub use model::{
    Address, CapturePolicy, Chargeback, ChargebackStatus, Customer, LineItem, Order, Payment,
    PaymentInstrument, Refund, RefundStatus,
};
pub use money::{Currency, Money, MoneyError};
pub use state::{IllegalTransition, OrderState, Transition};
pub use time::Timestamp;
pub use timeline::TimelineEntry;
