//! The one mapping error: a field path, the offending value, and what is wrong with it.

use std::fmt;

use o2c_domain::money::{Currency, Money, MoneyError};
use o2c_domain::pii;
use o2c_domain::recipe::{FailureClass, StepError};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingErrorKind {
    /// A required field is absent or empty.
    Missing,
    /// A field's value cannot be read (format, range, unknown code).
    Invalid,
    /// Values that each read fine do not agree (totals, line sums).
    Inconsistent,
    /// Something that looks like a card number where only tokens may be.
    CardData,
}

/// A field that could not be mapped. The value is echoed (at most 64 characters) except for
/// PII fields, where it is masked, and card data, which is never shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MappingError {
    pub kind: MappingErrorKind,
    /// `order.lineItems[2].unitPrice`.
    pub path: String,
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}: {v:?} {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

fn shown(path: &str, value: &str) -> String {
    let last = path
        .rsplit('.')
        .next()
        .unwrap_or(path)
        .split('[')
        .next()
        .unwrap_or("");
    let v: String = value.chars().take(64).collect();
    match pii::kind_of_field(last) {
        Some(kind) => pii::mask(kind, &v),
        None => v,
    }
}

impl MappingError {
    pub fn missing(path: impl Into<String>) -> Self {
        Self {
            kind: MappingErrorKind::Missing,
            path: path.into(),
            value: None,
            message: "is required".into(),
        }
    }

    pub fn invalid(path: impl Into<String>, value: &str, message: impl Into<String>) -> Self {
        let path = path.into();
        Self {
            kind: MappingErrorKind::Invalid,
            value: Some(shown(&path, value)),
            path,
            message: message.into(),
        }
    }

    pub fn inconsistent(path: impl Into<String>, value: &str, message: impl Into<String>) -> Self {
        let path = path.into();
        Self {
            kind: MappingErrorKind::Inconsistent,
            value: Some(shown(&path, value)),
            path,
            message: message.into(),
        }
    }

    pub fn card_data(path: impl Into<String>) -> Self {
        Self {
            kind: MappingErrorKind::CardData,
            path: path.into(),
            value: None,
            message: "holds something that looks like a card number; only Cybersource tokens are accepted".into(),
        }
    }

    /// The domain's failure class: a value that cannot be read is `Mapping`; values that read
    /// but disagree, and card data, are `Validation` (see [`FailureClass`]).
    pub fn failure_class(&self) -> FailureClass {
        match self.kind {
            MappingErrorKind::Missing | MappingErrorKind::Invalid => FailureClass::Mapping,
            MappingErrorKind::Inconsistent | MappingErrorKind::CardData => FailureClass::Validation,
        }
    }
}

impl From<MappingError> for StepError {
    fn from(e: MappingError) -> Self {
        StepError::Terminal {
            class: e.failure_class(),
            reason: e.to_string(),
        }
    }
}

/// Read a decimal string at `path` as money of `currency`, exactly.
pub(crate) fn money(path: &str, value: &str, currency: Currency) -> Result<Money, MappingError> {
    Money::parse(value, currency).map_err(|e| match e {
        MoneyError::TooManyFractionDigits { digits, max, .. } => MappingError::invalid(
            path,
            value,
            format!("has {digits} fraction digits, {currency} allows {max}"),
        ),
        MoneyError::Overflow { .. } => MappingError::invalid(path, value, "is out of range"),
        _ => MappingError::invalid(path, value, "is not a decimal amount"),
    })
}

/// Read an ISO 4217 code at `path`.
pub(crate) fn currency(path: &str, value: &str) -> Result<Currency, MappingError> {
    value
        .parse()
        .map_err(|_| MappingError::invalid(path, value, "is not a supported ISO 4217 currency"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_path_and_value() {
        let e = money("order.lines[2].unit_price", "12.345", Currency::USD).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"order.lines[2].unit_price: "12.345" has 3 fraction digits, USD allows 2"#
        );
        assert_eq!(e.failure_class(), FailureClass::Mapping);
        assert!(matches!(
            StepError::from(e),
            StepError::Terminal {
                class: FailureClass::Mapping,
                ..
            }
        ));
        let e = money("order.totals.grandTotal", "1,000", Currency::JPY).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"order.totals.grandTotal: "1,000" is not a decimal amount"#
        );
        let e = currency("order.currency", "XYZ").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"order.currency: "XYZ" is not a supported ISO 4217 currency"#
        );
        assert_eq!(
            MappingError::missing("order.payment.instrumentToken").to_string(),
            "order.payment.instrumentToken: is required"
        );
    }

    #[test]
    fn pii_values_are_masked_and_card_data_never_shown() {
        let e = MappingError::invalid("order.customer.email", "ada@example.com", "is not an email");
        assert_eq!(e.value.as_deref(), Some("a***@e***.com"));
        let e = MappingError::invalid(
            "order.billingAddress.line1",
            "1 Analytical Way",
            "is too long",
        );
        assert_eq!(e.value.as_deref(), Some("***"));
        let e = MappingError::card_data("order.payment.instrumentToken");
        assert!(e.value.is_none());
        assert_eq!(e.failure_class(), FailureClass::Validation);
    }
}
