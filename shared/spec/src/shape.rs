//! The shape of an expression's input, derived from a sample context: which fields exist
//! (so a misspelt source field is caught at `validate`), which are amounts (so arithmetic and
//! ordering on them are refused) and which objects take any key (`attributes`).

use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Not followed (computed values, lookups, unknown functions).
    Any,
    /// An exact decimal amount as a string.
    Money,
    /// Any other value.
    Scalar,
    Arr(Box<Shape>),
    Obj {
        fields: BTreeMap<String, Shape>,
        /// Any key may appear (merchant data such as order attributes).
        open: bool,
    },
}

/// Keys whose values are amounts (decimal strings) wherever they appear in a context.
pub const MONEY_KEYS: &[&str] = &[
    "total",
    "shipping",
    "unit_price",
    "amount",
    "discount",
    "tax",
    "tax_total",
    "authorized",
    "captured",
    "refunded",
    "order_total",
];

/// Keys whose objects take any key.
pub const OPEN_KEYS: &[&str] = &["attributes", "metadata"];

impl Shape {
    /// The shape of a sample value.
    pub fn of(sample: &Value) -> Shape {
        Self::of_key(sample, "")
    }

    fn of_key(v: &Value, key: &str) -> Shape {
        if MONEY_KEYS.contains(&key) && !matches!(v, Value::Object(_) | Value::Array(_)) {
            return Shape::Money;
        }
        match v {
            Value::Object(m) => Shape::Obj {
                fields: m
                    .iter()
                    .map(|(k, v)| (k.clone(), Self::of_key(v, k)))
                    .collect(),
                open: OPEN_KEYS.contains(&key),
            },
            Value::Array(a) => Shape::Arr(Box::new(
                a.first().map(|x| Self::of_key(x, "")).unwrap_or(Shape::Any),
            )),
            _ => Shape::Scalar,
        }
    }
}
