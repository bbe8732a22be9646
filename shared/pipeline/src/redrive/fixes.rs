//! One schema error → one fix ([`Step`]): the heuristics of [`super::suggest`]. Each reads the
//! value at the path the error names (RFC 6901 tokens from `serde_path_to_error`); serde's
//! wording is read only for what no path carries: the kind of error, the name of a missing
//! field and the type it expected.

use super::patch::{pointer_of, PatchOp};
use super::similarity::{confidence_of, nearest, vocabulary_for, FIELD_NAMES};
use super::suggest::{fraction_digits, Facts};
use o2c_domain::card;
use o2c_domain::ports::QueueName;
use o2c_domain::{Currency, OrderId};
use serde_json::Value;

/// One step of a fix.
pub(super) enum Step {
    Patch {
        ops: Vec<PatchOp>,
        confidence: f64,
        note: String,
    },
    CannotFix(String),
}

/// One schema error (`message` at `path`) → one step.
pub(super) fn fix_one(
    queue: QueueName,
    path: &[String],
    message: &str,
    doc: &Value,
    facts: &Facts,
) -> Step {
    let at = Located {
        path: path.to_vec(),
        value: doc.pointer(&pointer_of(path)),
    };
    if message.starts_with("unknown variant ") {
        return unknown_value(&at, message);
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let field = backticked(rest).into_iter().next().unwrap_or_default();
        return missing_field(queue, path, &field, doc, facts);
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = backticked(rest).into_iter().next().unwrap_or_default();
        return unknown_field(path, &field, doc);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        return invalid_type(queue, &at, rest, doc, facts);
    }
    if let Some(m) = fraction_digits(message) {
        return Step::CannotFix(format!(
            "{m}: rounding would change what the customer pays or gets back — decide the \
             amount and replay with a patch that replaces it"
        ));
    }
    if message.starts_with("unknown or unsupported currency code") {
        return currency_code(&at, message, facts);
    }
    if message.starts_with("invalid ") && message.contains(" id ") {
        return invalid_id(&at, message, facts);
    }
    if message.contains("is not a decimal number") {
        return malformed_amount(&at.within("amount"), message);
    }
    Step::CannotFix(format!("{message}: no known fix"))
}

/// The value a schema error names, and where it is.
struct Located<'a> {
    path: Vec<String>,
    value: Option<&'a Value>,
}

impl<'a> Located<'a> {
    /// The string at the path (`None`: not there, or not a string).
    fn text(&self) -> Option<&'a str> {
        self.value.and_then(Value::as_str)
    }

    /// The member `key` when the value is an object that has it (an amount's error names the
    /// money object; its decimal is `amount` inside it).
    fn within(&self, key: &str) -> Located<'a> {
        match self.value.and_then(|v| v.get(key)) {
            Some(inner) => Located {
                path: self.path.iter().cloned().chain([key.to_string()]).collect(),
                value: Some(inner),
            },
            None => Located {
                path: self.path.clone(),
                value: self.value,
            },
        }
    }

    fn pointer(&self) -> String {
        pointer_of(&self.path)
    }
}

/// The backtick-quoted tokens of a text.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn guarded_replace(path: &[String], old: &Value, new: Value) -> Vec<PatchOp> {
    let p = pointer_of(path);
    vec![
        PatchOp::Test {
            path: p.clone(),
            value: old.clone(),
        },
        PatchOp::Replace {
            path: p,
            value: new,
        },
    ]
}

fn field_of(path: &[String]) -> &str {
    path.last().map(String::as_str).unwrap_or("")
}

/// An enum-like value that is not one of the allowed ones (`captur` for `type`).
fn unknown_value(at: &Located<'_>, message: &str) -> Step {
    let Some(bad) = at.text().filter(|_| !at.path.is_empty()) else {
        return Step::CannotFix(format!("{message}: the value was not found in the body"));
    };
    let candidates = vocabulary_for(field_of(&at.path));
    match nearest(bad, &candidates) {
        Some(n) if n.score >= 0.6 => Step::Patch {
            ops: guarded_replace(
                &at.path,
                &Value::String(bad.into()),
                Value::String(n.value.into()),
            ),
            confidence: confidence_of(&n),
            note: format!(
                "`{}` is {bad:?}, not a known value; nearest is {:?} (similarity {:.2})",
                at.pointer(),
                n.value,
                n.score
            ),
        },
        _ => Step::CannotFix(format!(
            "`{}` is {bad:?}; no known value is close (expected one of {})",
            at.pointer(),
            candidates.join(", ")
        )),
    }
}

/// `field` is missing from the object at `owner`.
fn missing_field(
    queue: QueueName,
    owner: &[String],
    field: &str,
    doc: &Value,
    facts: &Facts,
) -> Step {
    let target: Vec<String> = owner.iter().cloned().chain([field.to_string()]).collect();
    let obj = doc.pointer(&pointer_of(owner)).and_then(Value::as_object);
    // 1. A key that is not in the schema and looks like the missing one: a typo'd name.
    if let Some(obj) = obj {
        let strays: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !FIELD_NAMES.contains(k))
            .collect();
        if let Some(n) = nearest(field, &strays).filter(|n| n.score >= 0.75) {
            let from: Vec<String> = owner.iter().cloned().chain([n.value.to_string()]).collect();
            return Step::Patch {
                ops: vec![PatchOp::Move {
                    from: pointer_of(&from),
                    path: pointer_of(&target),
                }],
                confidence: confidence_of(&n),
                note: format!(
                    "`{}` is missing and the body has `{}` (similarity {:.2}): rename it",
                    pointer_of(&target),
                    pointer_of(&from),
                    n.score
                ),
            };
        }
    }
    // 2. A value derived from the data, or a safe default.
    match derived_value(queue, field, owner.is_empty(), doc, facts) {
        Some((value, confidence, why)) => Step::Patch {
            ops: vec![PatchOp::Add {
                path: pointer_of(&target),
                value: value.clone(),
            }],
            confidence,
            note: format!("`{}` is missing: add {value} ({why})", pointer_of(&target)),
        },
        None => Step::CannotFix(format!(
            "required field `{}` is missing and has no safe default",
            pointer_of(&target)
        )),
    }
}

/// A value for a missing (or null) field, derived from the data or a safe default:
/// (value, confidence, why).
fn derived_value(
    queue: QueueName,
    field: &str,
    at_root: bool,
    doc: &Value,
    facts: &Facts,
) -> Option<(Value, f64, String)> {
    let kind = doc.get("type").and_then(Value::as_str).unwrap_or("");
    match (field, at_root) {
        ("order_id", true) => facts
            .group_id
            .as_deref()
            .filter(|g| OrderId::new(*g).is_ok())
            .map(|g| {
                (
                    Value::String(g.into()),
                    0.9,
                    "the message's MessageGroupId, which is the order id".into(),
                )
            }),
        ("currency", false) => facts.order_currency.map(|c| {
            (
                Value::String(c.code().into()),
                0.9,
                format!("the order's currency ({c})"),
            )
        }),
        ("reason", true) if kind == "void" => Some((
            Value::String("cancelled".into()),
            0.7,
            "the default reason of a void".into(),
        )),
        ("reason", true) if kind == "refund" => Some((
            Value::String("customer request".into()),
            0.5,
            "a generic refund reason".into(),
        )),
        ("cause", true) => Some((
            Value::String("dlq-redrive".into()),
            0.8,
            "the nudge's cause is informational".into(),
        )),
        ("type", true) => type_from_queue(queue, doc),
        _ => None,
    }
}

/// The command a queue carries, for a body without `type`.
fn type_from_queue(queue: QueueName, doc: &Value) -> Option<(Value, f64, String)> {
    let (t, c) = match queue {
        QueueName::Orders => ("authorize", 0.8),
        QueueName::Captures => ("capture", 0.8),
        QueueName::Refunds if doc.get("refund_id").is_some() || doc.get("amount").is_some() => {
            ("refund", 0.75)
        }
        QueueName::Refunds => ("void", 0.5),
        QueueName::ClaritySync | QueueName::ErpSync => return None,
    };
    Some((
        Value::String(t.into()),
        c,
        format!("the {queue} queue carries `{t}` commands"),
    ))
}

/// `field` is not a field of the object at `owner` (schemas that deny unknown fields).
fn unknown_field(owner: &[String], field: &str, doc: &Value) -> Step {
    let present = doc
        .pointer(&pointer_of(owner))
        .and_then(Value::as_object)
        .filter(|m| m.contains_key(field));
    let Some(present) = present else {
        return Step::CannotFix(format!("unknown field `{field}` not found in the body"));
    };
    let path: Vec<String> = owner.iter().cloned().chain([field.to_string()]).collect();
    let free: Vec<&str> = FIELD_NAMES
        .iter()
        .copied()
        .filter(|e| !present.contains_key(*e))
        .collect();
    match nearest(field, &free).filter(|n| n.score >= 0.75) {
        Some(n) => {
            let to: Vec<String> = owner.iter().cloned().chain([n.value.to_string()]).collect();
            Step::Patch {
                ops: vec![PatchOp::Move {
                    from: pointer_of(&path),
                    path: pointer_of(&to),
                }],
                confidence: confidence_of(&n),
                note: format!(
                    "`{}` is not a field; rename it to `{}` (similarity {:.2})",
                    pointer_of(&path),
                    pointer_of(&to),
                    n.score
                ),
            }
        }
        None => Step::Patch {
            ops: vec![PatchOp::Remove {
                path: pointer_of(&path),
            }],
            confidence: 0.5,
            note: format!("`{}` is not a field: remove it", pointer_of(&path)),
        },
    }
}

/// A value of the wrong type (`rest`: serde's `integer \`123\`, expected a string`): which type
/// it has is read from the value itself, which type was expected from the message.
fn invalid_type(
    queue: QueueName,
    at: &Located<'_>,
    rest: &str,
    doc: &Value,
    facts: &Facts,
) -> Step {
    let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
    let wants_string = expected.contains("string");
    let wants_number = [
        "integer", "u8", "u16", "u32", "u64", "i32", "i64", "f64", "number",
    ]
    .iter()
    .any(|t| expected.contains(t));
    let here = at.pointer();
    match at.value.filter(|_| !at.path.is_empty()) {
        Some(old @ Value::Number(n)) if wants_string => {
            let text = n.to_string();
            if card::contains_card_number(&text) || text.len() >= 13 {
                return Step::CannotFix(format!(
                    "`{here}` holds a long digit run; it is not coerced"
                ));
            }
            Step::Patch {
                ops: guarded_replace(&at.path, old, Value::String(text.clone())),
                confidence: 0.9,
                note: format!(
                    "`{here}` is the number {old} where a string is expected: use \"{text}\""
                ),
            }
        }
        Some(old @ Value::String(s)) if wants_number => {
            match serde_json::from_str::<serde_json::Number>(s.trim()) {
                Ok(n) => Step::Patch {
                    ops: guarded_replace(&at.path, old, Value::Number(n.clone())),
                    confidence: 0.85,
                    note: format!(
                        "`{here}` is the string {s:?} where a number is expected: use {n}"
                    ),
                },
                Err(_) => Step::CannotFix(format!(
                    "`{here}` is the string {s:?} where {expected} is expected: no fix"
                )),
            }
        }
        Some(Value::Null) => {
            let at_root = at.path.len() == 1;
            match derived_value(queue, field_of(&at.path), at_root, doc, facts) {
                Some((value, confidence, why)) => Step::Patch {
                    ops: guarded_replace(&at.path, &Value::Null, value.clone()),
                    confidence,
                    note: format!("`{here}` is null: use {value} ({why})"),
                },
                None => Step::CannotFix(format!("`{here}` is null and has no safe default")),
            }
        }
        _ => Step::CannotFix(format!("invalid type: {rest}: no known coercion")),
    }
}

/// `unknown or unsupported currency code "usd"`.
fn currency_code(at: &Located<'_>, message: &str, facts: &Facts) -> Step {
    let Some(bad) = at.text() else {
        return Step::CannotFix(format!("{message}: the value was not found in the body"));
    };
    let old = Value::String(bad.into());
    let upper = bad.trim().to_ascii_uppercase();
    if upper.parse::<Currency>().is_ok() {
        let agrees = facts.order_currency.is_none_or(|c| c.code() == upper);
        return Step::Patch {
            ops: guarded_replace(&at.path, &old, Value::String(upper.clone())),
            confidence: if agrees { 0.95 } else { 0.3 },
            note: format!(
                "currency codes are upper case: {bad:?} → {upper:?}{}",
                if agrees {
                    ""
                } else {
                    " (but the order is in another currency)"
                }
            ),
        };
    }
    if let Some(c) = facts.order_currency {
        return Step::Patch {
            ops: guarded_replace(&at.path, &old, Value::String(c.code().into())),
            confidence: 0.85,
            note: format!("{bad:?} is not a currency; the order is in {c}"),
        };
    }
    let codes: Vec<&str> = Currency::ALL.iter().map(|c| c.code()).collect();
    match nearest(&upper, &codes) {
        // Codes are short and alike (USD/AUD/SGD): never confident without the order's currency.
        Some(n) if n.score >= 0.6 => Step::Patch {
            ops: guarded_replace(&at.path, &old, Value::String(n.value.into())),
            confidence: (confidence_of(&n) * 0.4).min(0.4),
            note: format!(
                "{bad:?} is not a supported currency; nearest is {:?} (low confidence: codes look alike)",
                n.value
            ),
        },
        _ => Step::CannotFix(format!("{bad:?} is not a supported currency")),
    }
}

/// `invalid order id "ORD 1": expected 1-64 characters of ...`.
fn invalid_id(at: &Located<'_>, message: &str, facts: &Facts) -> Step {
    let Some(bad) = at.text() else {
        return Step::CannotFix(format!("{message}: the value was not found in the body"));
    };
    let old = Value::String(bad.into());
    if field_of(&at.path) == "order_id" {
        if let Some(g) = facts
            .group_id
            .as_deref()
            .filter(|g| OrderId::new(*g).is_ok())
        {
            return Step::Patch {
                ops: guarded_replace(&at.path, &old, Value::String(g.into())),
                confidence: 0.85,
                note: format!(
                    "{bad:?} is not a valid order id; the message's group id {g:?} is the order id"
                ),
            };
        }
    }
    let cleaned: String = bad
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() || cleaned == bad {
        return Step::CannotFix(format!("{message}: no safe correction"));
    }
    Step::Patch {
        ops: guarded_replace(&at.path, &old, Value::String(cleaned.clone())),
        confidence: 0.4,
        note: format!("{bad:?} is not a valid id; {cleaned:?} keeps only allowed characters"),
    }
}

/// `amount "$12.00" is not a decimal number` → strip symbols and spaces.
fn malformed_amount(at: &Located<'_>, message: &str) -> Step {
    let Some(bad) = at.text() else {
        return Step::CannotFix(format!("{message}: the value was not found in the body"));
    };
    let cleaned: String = bad
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let sane = cleaned.matches('.').count() <= 1 && cleaned.chars().any(|c| c.is_ascii_digit());
    if !sane || cleaned == bad {
        return Step::CannotFix(format!("{message}: no safe correction"));
    }
    Step::Patch {
        ops: guarded_replace(
            &at.path,
            &Value::String(bad.into()),
            Value::String(cleaned.clone()),
        ),
        confidence: if bad.contains(',') { 0.4 } else { 0.6 },
        note: format!("{bad:?} is not a plain decimal: {cleaned:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redrive::suggest::suggest;
    use o2c_domain::recipe::FailureClass;
    use serde_json::json;

    fn fix(queue: QueueName, body: Value, facts: &Facts) -> (Vec<PatchOp>, f64) {
        let s = suggest(queue, FailureClass::Mapping, "", &body.to_string(), facts).unwrap();
        (s.patch, s.confidence)
    }

    fn replace(path: &str, old: Value, new: Value) -> Vec<PatchOp> {
        guarded_replace(&pointer_tokens(path), &old, new)
    }

    fn pointer_tokens(p: &str) -> Vec<String> {
        crate::redrive::patch::pointer_tokens(p).unwrap()
    }

    /// The custom errors of the domain's types are located by the path serde names, not by
    /// searching the body for the value the message quotes.
    #[test]
    fn domain_errors_are_fixed_at_the_path_they_name() {
        let usd = Facts {
            group_id: Some("ORD-1".into()),
            order_currency: Some(Currency::USD),
            ..Facts::default()
        };
        let refund = |amount: Value| {
            json!({"type": "refund", "order_id": "ORD-1", "refund_id": "r1", "reason": "x",
                   "amount": amount})
        };
        // A money amount with a symbol; the same text elsewhere in the body is left alone.
        let mut body = refund(json!({"amount": "$12.00", "currency": "USD"}));
        body["reason"] = json!("$12.00");
        assert_eq!(
            fix(QueueName::Refunds, body, &usd),
            (
                replace("/amount/amount", json!("$12.00"), json!("12.00")),
                0.6
            )
        );
        // Not a currency: the order's own.
        assert_eq!(
            fix(
                QueueName::Refunds,
                refund(json!({"amount": "1.00", "currency": "dollars"})),
                &usd
            ),
            (
                replace("/amount/currency", json!("dollars"), json!("USD")),
                0.85
            )
        );
        // An order id that is not one: the message group id.
        assert_eq!(
            fix(
                QueueName::Captures,
                json!({"type": "capture", "order_id": "ORD 1"}),
                &usd
            ),
            (replace("/order_id", json!("ORD 1"), json!("ORD-1")), 0.85)
        );
        // A null where a string is required: the safe default (a nudge's cause).
        assert_eq!(
            fix(
                QueueName::ClaritySync,
                json!({"order_id": "ORD-1", "cause": null}),
                &usd
            ),
            (replace("/cause", Value::Null, json!("dlq-redrive")), 0.8)
        );
    }
}
