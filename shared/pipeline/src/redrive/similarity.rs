//! String similarity (nearest known value or field name) and the vocabularies it picks from.

use o2c_connectors::clarity::dto::ClarityStatus;
use o2c_domain::{Currency, OrderState};

/// The nearest candidate to a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Nearest<'a> {
    pub value: &'a str,
    /// Similarity 0–1.
    pub score: f64,
    /// The runner-up's similarity (0 when there is none).
    pub runner_up: f64,
}

fn normalise(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect()
}

/// Similarity 0–1: 0.99 for a case-only difference, 0.98 for a separator-only difference,
/// otherwise the larger of Jaro-Winkler and normalised Levenshtein on lower case.
pub fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    if a.eq_ignore_ascii_case(b) {
        return 0.99;
    }
    let (na, nb) = (normalise(a), normalise(b));
    if na == nb {
        return 0.98;
    }
    strsim::jaro_winkler(&na, &nb).max(strsim::normalized_levenshtein(&na, &nb))
}

/// The most similar candidate.
pub fn nearest<'a>(value: &str, candidates: &[&'a str]) -> Option<Nearest<'a>> {
    let mut scored: Vec<(f64, &'a str)> = candidates
        .iter()
        .map(|c| (similarity(value, c), *c))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (score, value) = *scored.first()?;
    Some(Nearest {
        value,
        score,
        runner_up: scored.get(1).map_or(0.0, |s| s.0),
    })
}

/// Confidence from a similarity: the score itself, lowered when the runner-up is nearly as close.
pub fn confidence_of(n: &Nearest<'_>) -> f64 {
    if n.score - n.runner_up < 0.05 {
        n.score * 0.6
    } else {
        n.score
    }
}

pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The `type` values of [`crate::messages::PaymentCommand`].
pub const COMMAND_TYPES: &[&str] = &["authorize", "capture", "void", "refund"];

/// Every field name of the queue message schemas ([`crate::messages::PaymentCommand`],
/// [`crate::messages::SyncNudge`], money).
pub const FIELD_NAMES: &[&str] = &[
    "type",
    "order_id",
    "reason",
    "refund_id",
    "amount",
    "currency",
    "cause",
    "requested_at",
];

/// Known values for an enum-like field, by the field's name.
pub fn vocabulary_for(field: &str) -> Vec<&'static str> {
    let f = field.to_ascii_lowercase();
    let states = || OrderState::ALL.iter().map(|s| s.as_str());
    let clarity = || ClarityStatus::ALL.iter().map(|s| s.as_str());
    let currencies = || Currency::ALL.iter().map(|c| c.code());
    if f == "type" {
        COMMAND_TYPES.to_vec()
    } else if f.contains("currency") {
        currencies().collect()
    } else if f.contains("status") {
        clarity().chain(states()).collect()
    } else if f.contains("state") {
        states().collect()
    } else {
        COMMAND_TYPES
            .iter()
            .copied()
            .chain(states())
            .chain(clarity())
            .collect()
    }
}
