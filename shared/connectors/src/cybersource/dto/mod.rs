//! Cybersource wire DTOs (docs/cybersource.md), one module per API. Conversions to and from the
//! gateway's domain-level inputs and results live in [`super::convert`]; nothing here knows the
//! gateway.
//!
//! * Field names are camelCase exactly as on the wire (`clientReferenceInformation`,
//!   `totalAmount`, TSS's `submitTimeUTC`, TMS's `merchantCustomerID`, ...).
//! * Amounts are decimal strings in major units (`"102.21"`) and convert to and from
//!   [`o2c_domain::Money`] exactly: [`AmountDetails::from_money`] / [`parse_amount`]. No floats
//!   anywhere.
//! * Request DTOs serialise only what is set (`skip_serializing_if`); response DTOs accept
//!   missing fields (`#[serde(default)]`) and ignore unknown ones.
//! * Card numbers never appear: a payment source is a transient token or TMS ids.
//! * `Debug` of anything holding PII (names, addresses, emails, phones) or a token is redacted.
//!
//! | module | API |
//! |---|---|
//! | [`common`] | amounts, references, payment source, bill-to / ship-to, line items |
//! | [`payments`] | PTS payments and follow-ons, the payments response, error bodies |
//! | [`search`] | TSS transaction details and searches |
//! | [`tms`] | TMS customers, payment instruments, tokenize |
//! | [`reporting`] | the chargeback details report |

pub mod common;
pub mod payments;
pub mod reporting;
pub mod search;
pub mod tms;

pub use common::*;
pub use payments::*;
pub use reporting::*;
pub use search::*;
pub use tms::*;

#[cfg(test)]
mod tests;
