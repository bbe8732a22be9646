//! Mappings between the wire shapes of Clarity, Cybersource, NetSuite and Salesforce and the
//! canonical model ([`o2c_domain`]): one module, one error type, data-driven where the mapping
//! is data (the status table, currency and field-name configuration).
//!
//! | module | from → to |
//! |---|---|
//! | [`clarity`] | Clarity order → canonical `Order`; canonical → Clarity customer, address, payment info; return request → `Refund`; the **one** Clarity ⇄ domain status table |
//! | [`cybersource`] | canonical `Order` → authorization request (through the Cybersource module's own DTOs) |
//! | [`netsuite`] | canonical → NetSuite customer / sales order / customer deposit; item fulfilment → Clarity shipment; inventory levels → Clarity |
//! | [`salesforce`] | canonical order + Decision Manager assessment → Salesforce fraud Case |
//!
//! Every failure is a [`MappingError`] naming the field path and the offending value, e.g.
//! `order.lineItems[2].unitPrice: "12.345" has 3 fraction digits, USD allows 2`.

pub mod clarity;
pub mod cybersource;
mod error;
pub mod netsuite;
pub mod salesforce;

pub use error::{MappingError, MappingErrorKind};
