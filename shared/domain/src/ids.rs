//! Our identifiers and the external identifiers that link a record across systems.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {value:?}: expected 1-64 characters of A-Z a-z 0-9 - _ .")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validate and wrap: 1–64 characters of `A-Z a-z 0-9 - _ .` (safe in keys,
            /// queue group ids and Cybersource reference codes).
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                let ok = !value.is_empty()
                    && value.len() <= 64
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
                if ok {
                    Ok($name(value))
                } else {
                    Err(InvalidId { kind: $kind, value: value.chars().take(80).collect() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                $name::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Our order id (the Clarity order number namespaced by the webhook receiver).
    OrderId, "order"
);
id_type!(
    /// Our customer id.
    CustomerId, "customer"
);
id_type!(
    /// Our payment id.
    PaymentId, "payment"
);
id_type!(
    /// Our refund id.
    RefundId, "refund"
);
id_type!(
    /// Our chargeback id.
    ChargebackId, "chargeback"
);

/// The ids a record has in each external system. `None` until that system has it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clarity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cybersource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(OrderId::new("ord-1001_A.b").is_ok());
        for bad in ["", "has space", "semi;colon", "ünicode", &"x".repeat(65)] {
            assert!(OrderId::new(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<OrderId>(r#""a b""#).is_err());
        assert_eq!(
            serde_json::to_string(&OrderId::new("o1").unwrap()).unwrap(),
            r#""o1""#
        );
    }
}
