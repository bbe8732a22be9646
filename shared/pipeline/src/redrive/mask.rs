//! What dlq-redrive shows of a body or a reason: PII masked by field name (and in free-text
//! fields), every card number the domain's rule finds ([`o2c_domain::card`]) replaced by
//! [`REDACTED`], cut to [`PREVIEW_CHARS`].

use o2c_domain::card;
use o2c_domain::pii::{self, MaskPolicy};
use serde_json::Value;

/// Body previews are cut to this many characters.
pub const PREVIEW_CHARS: usize = 512;
/// What a card number is replaced with.
pub const REDACTED: &str = "[digits redacted]";

/// Every card number the domain's rule finds replaced by [`REDACTED`]
/// ([`card::redact_card_numbers`]).
pub fn redact_card_like(text: &str) -> String {
    card::redact_card_numbers(text, REDACTED)
}

const FREE_TEXT_FIELDS: &[&str] = &["reason", "cause", "note", "notes", "message", "description"];

fn mask_free_text(value: &mut Value) {
    match value {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if let (true, Value::String(s)) = (FREE_TEXT_FIELDS.contains(&k.as_str()), &*v) {
                    *v = Value::String(pii::mask_text(s, MaskPolicy::LOGS).into_owned());
                } else {
                    mask_free_text(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_free_text),
        _ => {}
    }
}

/// At most `max` characters (an ellipsis marks a cut).
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

/// A body for display: PII masked by field name (and in free-text fields), card numbers
/// redacted, cut to [`PREVIEW_CHARS`].
pub fn preview(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(v) => preview_value(&v),
        Err(_) => redact_card_like(&pii::mask_text(body, MaskPolicy::LOGS)),
    };
    cut(&text, PREVIEW_CHARS)
}

/// Redact every key, string and number of a document on its own, as the domain's rule walks a
/// document: a card number in a string that itself holds escaped JSON (`"{\"n\": \"\\u0034…"}`)
/// is found in the decoded string, not in the re-encoded text.
fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            let r = redact_card_like(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Number(n) => {
            if !card::find_card_numbers(&n.to_string()).is_empty() {
                *v = Value::String(REDACTED.into());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(m) => {
            let members = std::mem::take(m);
            for (k, mut x) in members {
                redact_value(&mut x);
                m.insert(redact_card_like(&k), x);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// [`preview`] of a parsed body.
pub fn preview_value(v: &Value) -> String {
    let mut masked = pii::masked_json(v, MaskPolicy::LOGS);
    mask_free_text(&mut masked);
    redact_value(&mut masked);
    cut(&redact_card_like(&masked.to_string()), PREVIEW_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use o2c_domain::card::decimal_value;

    #[test]
    fn previews_mask_pii_and_never_show_card_numbers() {
        let p = preview(
            r#"{"order_id":"ORD-1","email":"ada@example.com","reason":"call +44 20 7946 0958","note":"4111 1111 1111 1111"}"#,
        );
        assert!(!p.contains("ada@example.com"), "{p}");
        assert!(!p.contains("7946"), "{p}");
        assert!(!p.contains("4111 1111"), "{p}");
        assert!(p.contains("ORD-1"));
        assert_eq!(
            redact_card_like("id 4111111111111111 ok 12345"),
            "id [digits redacted] ok 12345"
        );
        assert!(preview(&"x".repeat(2000)).chars().count() <= PREVIEW_CHARS + 1);
    }

    /// The decimal digits of a text (any script), as ASCII, in order.
    fn digit_values(text: &str) -> String {
        text.chars()
            .filter_map(decimal_value)
            .map(|d| char::from(b'0' + d))
            .collect()
    }

    /// The shared card-number table (`infra/local/cardscan_cases.json`, the domain rule's and
    /// `cardscan.py`'s cases): every row marked as a card number comes out of the redaction with
    /// no card number and none of that number's digits left; every row marked clean comes out
    /// unchanged.
    #[test]
    fn the_shared_card_table_is_redacted_exactly_as_the_domain_rule_finds() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/local/cardscan_cases.json"
        );
        let table: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = table["cases"].as_array().unwrap();
        let (mut cards, mut clean) = (0, 0);
        for case in cases {
            let text = case["text"].as_str().unwrap();
            if case.get("json").and_then(Value::as_bool) == Some(true) {
                // A JSON case: the rule walks the document; what dlq-redrive shows of such a
                // body is its preview.
                let shown = preview(text);
                if case["at"].is_null() {
                    continue;
                }
                cards += 1;
                assert!(!card::contains_card_number(&shown), "{text:?} → {shown:?}");
                continue;
            }
            let out = redact_card_like(text);
            match case["hit"].as_array() {
                None => {
                    clean += 1;
                    assert_eq!(out, text, "a clean row is left as it is");
                }
                Some(hit) => {
                    cards += 1;
                    let (s, e) = (
                        hit[0].as_u64().unwrap() as usize,
                        hit[1].as_u64().unwrap() as usize,
                    );
                    let number = digit_values(&text[s..e]);
                    assert!(out.contains(REDACTED), "{text:?} → {out:?}");
                    assert!(!card::contains_card_number(&out), "{text:?} → {out:?}");
                    assert!(!out.contains(&text[s..e]), "{text:?} → {out:?}");
                    if number.len() >= 13 {
                        assert!(
                            !digit_values(&out).contains(&number),
                            "{text:?} → {out:?}: digits of the number are left"
                        );
                    }
                }
            }
        }
        assert!(
            cards >= 50 && clean >= 20,
            "{cards} card rows, {clean} clean rows"
        );
    }
}
