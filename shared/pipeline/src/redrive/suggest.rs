//! Suggested fixes: a body is checked against its queue's schema ([`schema_check`]) and each
//! error is turned into an RFC 6902 patch with a confidence in 0–1 ([`super::fixes`]); the
//! patched body is checked again, up to [`MAX_FIX_ROUNDS`] times, so a body with two problems
//! gets one patch that fixes both (confidences multiply). Heuristics, in order:
//! - an unknown enum-like value (`captur` for `type`) → the nearest allowed value by string
//!   similarity (max of Jaro-Winkler and normalised Levenshtein; an ambiguous runner-up lowers
//!   the confidence);
//! - a missing field → a key of the same object that is not in the schema and is similar to
//!   the missing name is renamed (`move`); else a value derived from the data (`order_id` ← the
//!   message's `MessageGroupId`, which is the order id; `amount.currency` ← the order's
//!   currency); else a safe default (`reason` of a void → `"cancelled"`, `cause` of a nudge →
//!   `"dlq-redrive"`, a missing `type` ← the command the queue carries);
//! - a type mismatch → a coercion (a number where a string is expected → the same digits as a
//!   string, a numeric string where a number is expected → the number);
//! - an unknown currency code → the same code upper-cased, or the order's own currency;
//! - an amount with more fraction digits than its currency allows (`"12.345"` for USD) → **no**
//!   automatic fix (rounding would change what the customer pays): confidence 0, said so;
//! - a body that is fine (the failure lies in the order's data or state) → confidence 0 and a
//!   hint.
//!
//! Each heuristic reads the value at the path the schema error names (`serde_path_to_error`).
//! Every `replace` in a suggested patch is guarded by a `test` of the old value, so a patch
//! applied to the wrong message fails instead of doing harm.

use super::fixes::{fix_one, Step};
use super::mask::preview_value;
use super::patch::{apply_patch, PatchOp};
use super::schema::{schema_check, strip_position, SchemaError};
use super::similarity::round2;
use super::types::Suggestion;
use o2c_domain::ports::QueueName;
use o2c_domain::recipe::FailureClass;
use o2c_domain::{Currency, OrderState};
use serde_json::Value;

/// How many schema errors one suggestion fixes at most.
pub const MAX_FIX_ROUNDS: usize = 4;

/// What the data around a message says (from the table; all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub group_id: Option<String>,
    pub order_state: Option<OrderState>,
    pub order_currency: Option<Currency>,
}

/// The suggestion for a dead letter of `class` on `queue`. `None` when no suggestion applies
/// (classes other than mapping and validation).
pub fn suggest(
    queue: QueueName,
    class: FailureClass,
    reason: &str,
    body: &str,
    facts: &Facts,
) -> Option<Suggestion> {
    if !matches!(class, FailureClass::Mapping | FailureClass::Validation) {
        return None;
    }
    let doc: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            return Some(cannot(format!(
            "the body is not JSON ({}); it cannot be patched — send a corrected message instead",
            strip_position(&e.to_string())
        )))
        }
    };
    let mut current = doc.clone();
    let mut ops: Vec<PatchOp> = Vec::new();
    let mut confidence = 1.0_f64;
    let mut notes: Vec<String> = Vec::new();
    for _ in 0..MAX_FIX_ROUNDS {
        match schema_check(queue, &current) {
            Ok(()) if ops.is_empty() => return Some(body_is_valid(reason, facts)),
            Ok(()) => {
                return Some(Suggestion {
                    summary: notes.join("; "),
                    confidence: round2(confidence),
                    fixed_body_preview: Some(preview_value(&current)),
                    patch: ops,
                })
            }
            Err(SchemaError::WrongQueue {
                command,
                belongs_on,
            }) => {
                notes.push(format!(
                    "a `{command}` command belongs on the {belongs_on} queue, not {queue}; no \
                     patch fixes that — send it to {belongs_on} instead"
                ));
                return Some(partial(notes, ops));
            }
            Err(SchemaError::Parse { path, message }) => {
                match fix_one(queue, &path, &message, &current, facts) {
                    Step::Patch {
                        ops: new_ops,
                        confidence: c,
                        note,
                    } => match apply_patch(&current, &new_ops) {
                        Ok(next) => {
                            current = next;
                            ops.extend(new_ops);
                            confidence *= c;
                            notes.push(note);
                        }
                        Err(e) => {
                            notes.push(format!("{message}: no fix ({e})"));
                            return Some(partial(notes, ops));
                        }
                    },
                    Step::CannotFix(note) => {
                        notes.push(note);
                        return Some(partial(notes, ops));
                    }
                }
            }
        }
    }
    notes.push(format!(
        "still invalid after {MAX_FIX_ROUNDS} fixes; fix the rest by hand"
    ));
    Some(partial(notes, ops))
}

fn cannot(summary: String) -> Suggestion {
    Suggestion {
        summary,
        confidence: 0.0,
        patch: Vec::new(),
        fixed_body_preview: None,
    }
}

/// Confidence 0: the patch so far (if any) does not make the body valid.
fn partial(notes: Vec<String>, ops: Vec<PatchOp>) -> Suggestion {
    Suggestion {
        summary: format!("cannot be fixed automatically: {}", notes.join("; ")),
        confidence: 0.0,
        patch: ops,
        fixed_body_preview: None,
    }
}

/// The body is valid for its queue: the failure lies in the order's data or state.
fn body_is_valid(reason: &str, facts: &Facts) -> Suggestion {
    let state = facts
        .order_state
        .map(|s| format!(" (the order is now {s})"))
        .unwrap_or_default();
    if let Some(m) = fraction_digits(reason) {
        return cannot(format!(
            "the message body is valid; the order's data is not: {m}. Rounding would change what \
             the customer pays, so this cannot be fixed automatically: correct the amount at the \
             source (Clarity), then replay as is{state}"
        ));
    }
    let at = mapping_path(reason)
        .map(|(path, _)| format!(" at `{path}`"))
        .unwrap_or_default();
    cannot(format!(
        "the message body is valid; the failure is in the order's data or state{at}{state}: fix \
         it at the source, then replay as is"
    ))
}

/// `has 3 fraction digits ... allows ... 2` → the phrase, if the text says so.
pub(super) fn fraction_digits(text: &str) -> Option<String> {
    let i = text.find("fraction digits")?;
    let start = text[..i]
        .rfind(['"', ':'])
        .map_or(0, |j| j.saturating_sub(24));
    let start = (0..=start)
        .rev()
        .find(|k| text.is_char_boundary(*k))
        .unwrap_or(0);
    Some(
        text[start..]
            .trim_start_matches([':', ' '])
            .trim()
            .to_string(),
    )
}

/// A [`MappingError`](o2c_connectors::mapping) text `path: "value" message` → (path, value).
fn mapping_path(reason: &str) -> Option<(String, Option<String>)> {
    let text = reason
        .strip_prefix("message body is not a valid command: ")
        .unwrap_or(reason);
    let (path, rest) = text.split_once(": ")?;
    let looks_like_path = !path.is_empty()
        && !path.contains(' ')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '[' | ']'));
    if !looks_like_path {
        return None;
    }
    let value = rest
        .strip_prefix('"')
        .and_then(|r| r.split_once('"'))
        .map(|(v, _)| v.to_string());
    Some((path.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redrive::similarity::{
        confidence_of, nearest, similarity, vocabulary_for, COMMAND_TYPES,
    };
    use crate::redrive::types::{parse_queue_selector, DEFAULT_MIN_CONFIDENCE};
    use serde_json::json;

    fn facts(group: &str) -> Facts {
        Facts {
            group_id: Some(group.into()),
            ..Facts::default()
        }
    }

    fn mapping(queue: QueueName, body: Value, f: &Facts) -> Suggestion {
        suggest(queue, FailureClass::Mapping, "", &body.to_string(), f).expect("a suggestion")
    }

    fn op_replace(path: &str, value: Value) -> PatchOp {
        PatchOp::Replace {
            path: path.into(),
            value,
        }
    }

    #[test]
    fn a_typo_in_the_command_type_gets_the_nearest_type_with_high_confidence() {
        let s = mapping(
            QueueName::Captures,
            json!({"type": "captur", "order_id": "ORD-1"}),
            &facts("ORD-1"),
        );
        assert!(s.confidence >= 0.9, "{s:?}");
        assert_eq!(
            s.patch,
            vec![
                PatchOp::Test {
                    path: "/type".into(),
                    value: json!("captur")
                },
                op_replace("/type", json!("capture")),
            ]
        );
        assert!(s
            .fixed_body_preview
            .as_ref()
            .unwrap()
            .contains(r#""type":"capture""#));
        assert!(s.is_automatic(DEFAULT_MIN_CONFIDENCE));

        let s = mapping(
            QueueName::Orders,
            json!({"type": "authorise", "order_id": "ORD-1"}),
            &facts("ORD-1"),
        );
        assert!(s.confidence >= 0.9);
        assert_eq!(s.patch[1], op_replace("/type", json!("authorize")));

        // Case only.
        let s = mapping(
            QueueName::Refunds,
            json!({"type": "Void", "order_id": "ORD-1", "reason": "x"}),
            &facts("ORD-1"),
        );
        assert_eq!(s.patch[1], op_replace("/type", json!("void")));
        assert!(s.confidence >= 0.95);

        // Nothing close.
        let s = mapping(
            QueueName::Captures,
            json!({"type": "zzzzqq", "order_id": "ORD-1"}),
            &facts("ORD-1"),
        );
        assert_eq!(s.confidence, 0.0);
        assert!(
            s.summary.contains("no known value is close"),
            "{}",
            s.summary
        );
    }

    #[test]
    fn missing_fields_are_renamed_derived_or_defaulted() {
        // A typo'd key is renamed.
        let s = mapping(
            QueueName::Captures,
            json!({"type": "capture", "ordr_id": "ORD-1"}),
            &Facts::default(),
        );
        assert_eq!(
            s.patch,
            vec![PatchOp::Move {
                from: "/ordr_id".into(),
                path: "/order_id".into()
            }]
        );
        assert!(s.confidence >= 0.9);

        // No such key: the order id is the message group id.
        let s = mapping(
            QueueName::Captures,
            json!({"type": "capture"}),
            &facts("ORD-7"),
        );
        assert_eq!(
            s.patch,
            vec![PatchOp::Add {
                path: "/order_id".into(),
                value: json!("ORD-7")
            }]
        );
        assert_eq!(s.confidence, 0.9);

        // A void without a reason: the default reason.
        let s = mapping(
            QueueName::Refunds,
            json!({"type": "void", "order_id": "ORD-1"}),
            &facts("ORD-1"),
        );
        assert_eq!(
            s.patch,
            vec![PatchOp::Add {
                path: "/reason".into(),
                value: json!("cancelled")
            }]
        );
        assert_eq!(s.confidence, 0.7);

        // A nudge without a cause.
        let s = mapping(
            QueueName::ErpSync,
            json!({"order_id": "ORD-1"}),
            &facts("ORD-1"),
        );
        assert_eq!(
            s.patch[0],
            PatchOp::Add {
                path: "/cause".into(),
                value: json!("dlq-redrive")
            }
        );

        // A command without a type takes the queue's command.
        let s = mapping(
            QueueName::Captures,
            json!({"order_id": "ORD-1"}),
            &facts("ORD-1"),
        );
        assert_eq!(
            s.patch[0],
            PatchOp::Add {
                path: "/type".into(),
                value: json!("capture")
            }
        );

        // A refund amount without a currency takes the order's currency.
        let f = Facts {
            group_id: Some("ORD-1".into()),
            order_currency: Some(Currency::JPY),
            ..Facts::default()
        };
        let s = mapping(
            QueueName::Refunds,
            json!({"type": "refund", "order_id": "ORD-1", "refund_id": "r1", "reason": "x", "amount": {"amount": "1500"}}),
            &f,
        );
        assert_eq!(
            s.patch[0],
            PatchOp::Add {
                path: "/amount/currency".into(),
                value: json!("JPY")
            }
        );
    }

    #[test]
    fn type_coercions() {
        // A number where a string is expected.
        let s = mapping(
            QueueName::Captures,
            json!({"type": "capture", "order_id": 12345}),
            &Facts::default(),
        );
        assert_eq!(s.patch[1], op_replace("/order_id", json!("12345")));
        assert_eq!(s.confidence, 0.9);

        let s = mapping(
            QueueName::Refunds,
            json!({"type": "refund", "order_id": "ORD-1", "refund_id": "r1", "reason": "x", "amount": {"amount": 12.5, "currency": "USD"}}),
            &facts("ORD-1"),
        );
        assert_eq!(s.patch[1], op_replace("/amount/amount", json!("12.5")));

        // A null reason on a void.
        let s = mapping(
            QueueName::Refunds,
            json!({"type": "void", "order_id": "ORD-1", "reason": null}),
            &facts("ORD-1"),
        );
        assert_eq!(s.patch[1], op_replace("/reason", json!("cancelled")));

        // Currency case.
        let s = mapping(
            QueueName::Refunds,
            json!({"type": "refund", "order_id": "ORD-1", "refund_id": "r1", "reason": "x", "amount": {"amount": "1.00", "currency": "usd"}}),
            &facts("ORD-1"),
        );
        assert_eq!(s.patch[1], op_replace("/amount/currency", json!("USD")));
        assert!(s.confidence >= 0.9);

        // A long digit run is never coerced (nor echoed).
        let s = mapping(
            QueueName::Captures,
            json!({"type": "capture", "order_id": 4111111111111111_u64}),
            &Facts::default(),
        );
        assert_eq!(s.confidence, 0.0);
        assert!(!serde_json::to_string(&s)
            .unwrap()
            .contains("4111111111111111"));
    }

    #[test]
    fn too_many_fraction_digits_cannot_be_fixed_automatically() {
        let s = mapping(
            QueueName::Refunds,
            json!({"type": "refund", "order_id": "ORD-1", "refund_id": "r1", "reason": "x", "amount": {"amount": "12.345", "currency": "USD"}}),
            &facts("ORD-1"),
        );
        assert_eq!(s.confidence, 0.0);
        assert!(s.patch.is_empty());
        assert!(
            s.summary.contains("cannot be fixed automatically"),
            "{}",
            s.summary
        );
        assert!(s.summary.contains("12.345"));
        assert!(!s.is_automatic(0.0));

        // The same failure in the order's data (the body itself is fine).
        let s = suggest(
            QueueName::ErpSync,
            FailureClass::Mapping,
            r#"order.lines[2].unit_price: "12.345" has 3 fraction digits, USD allows 2"#,
            r#"{"order_id":"ORD-1","cause":"capture.recorded"}"#,
            &facts("ORD-1"),
        )
        .unwrap();
        assert_eq!(s.confidence, 0.0);
        assert!(
            s.summary.contains("cannot be fixed automatically"),
            "{}",
            s.summary
        );
        assert!(s.summary.contains("12.345"), "{}", s.summary);

        let s = suggest(
            QueueName::ErpSync,
            FailureClass::Validation,
            "order.total: does not equal the sum of its lines",
            r#"{"order_id":"ORD-1","cause":"capture.recorded"}"#,
            &facts("ORD-1"),
        )
        .unwrap();
        assert_eq!(s.confidence, 0.0);
        assert!(s.summary.contains("`order.total`"), "{}", s.summary);
    }

    #[test]
    fn two_problems_get_one_patch_and_a_lower_confidence() {
        let s = mapping(
            QueueName::Captures,
            json!({"type": "captur", "ordr_id": "ORD-1"}),
            &Facts::default(),
        );
        assert_eq!(s.patch.len(), 3, "{s:?}");
        let fixed = apply_patch(&json!({"type": "captur", "ordr_id": "ORD-1"}), &s.patch).unwrap();
        assert_eq!(fixed, json!({"type": "capture", "order_id": "ORD-1"}));
        assert!(
            s.confidence < 0.97 && s.confidence > 0.85,
            "{}",
            s.confidence
        );
    }

    #[test]
    fn a_command_on_the_wrong_queue_and_other_classes() {
        let s = suggest(
            QueueName::Orders,
            FailureClass::Validation,
            "command \"capture\" does not belong to this function (Authorize)",
            r#"{"type":"capture","order_id":"ORD-1"}"#,
            &facts("ORD-1"),
        )
        .unwrap();
        assert_eq!(s.confidence, 0.0);
        assert!(
            s.summary.contains("belongs on the captures queue"),
            "{}",
            s.summary
        );

        for class in [
            FailureClass::TerminalApi,
            FailureClass::IllegalTransition,
            FailureClass::NotFound,
            FailureClass::RetriesExhausted,
            FailureClass::Internal,
        ] {
            assert_eq!(
                suggest(QueueName::Orders, class, "", "{}", &Facts::default()),
                None
            );
        }
        let s = suggest(
            QueueName::Orders,
            FailureClass::Mapping,
            "",
            "not json",
            &Facts::default(),
        )
        .unwrap();
        assert_eq!(s.confidence, 0.0);
    }

    #[test]
    fn similarity_and_vocabularies() {
        let n = nearest("captur", COMMAND_TYPES).unwrap();
        assert_eq!(n.value, "capture");
        assert!(n.score > 0.95);
        assert_eq!(
            nearest("Payment_Recieved", &vocabulary_for("status"))
                .unwrap()
                .value,
            "payment_received"
        );
        assert_eq!(
            nearest("Autorized", &vocabulary_for("state"))
                .unwrap()
                .value,
            "Authorized"
        );
        assert_eq!(similarity("on-hold", "on_hold"), 0.98);
        assert!(vocabulary_for("currency").contains(&"KWD"));
        // An ambiguous runner-up lowers the confidence.
        let n = nearest("ab", &["ac", "ad"]).unwrap();
        assert!(confidence_of(&n) < n.score);
        assert!(parse_queue_selector("captres")
            .unwrap_err()
            .to_string()
            .contains("did you mean `captures`"));
        assert_eq!(
            parse_queue_selector("clarity_sync").unwrap(),
            vec![QueueName::ClaritySync]
        );
        assert_eq!(parse_queue_selector("all").unwrap().len(), 5);
    }
}
