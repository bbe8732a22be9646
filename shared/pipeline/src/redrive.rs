//! dlq-redrive: inspect the dead-letter queues, classify each message, suggest a fix derived from
//! the data, and replay — as is, with a JSON patch, or with the suggested fix — to the source
//! queue. Dry run by default.
//!
//! **Classification.** A consumer dead-letters a non-retryable message itself, with the message
//! attributes `failure_class` (kebab-case [`FailureClass`]), `failure_reason` and `source_queue`.
//! SQS's own redrive (after `maxReceiveCount` receives) moves messages that kept failing
//! retryably *without* attributes: those are [`FailureClass::RetriesExhausted`].
//!
//! **Suggestions** (mapping and validation only). The body is checked against the schema of its
//! queue ([`PaymentCommand`] on orders / captures / refunds, [`SyncNudge`] on the sync queues) and
//! each schema error is turned into an RFC 6902 patch with a confidence in 0–1; the patched body is
//! checked again, up to [`MAX_FIX_ROUNDS`] times, so a body with two problems gets one patch that
//! fixes both (confidences multiply). Heuristics, in order:
//! - an unknown enum-like value (`unknown variant \`captur\``) → the nearest allowed value by
//!   string similarity (max of Jaro-Winkler and normalised Levenshtein; an ambiguous runner-up
//!   lowers the confidence);
//! - a missing field → a key of the body that is not in the schema and is similar to the missing
//!   name is renamed (`move`); else a value derived from the data (`order_id` ← the message's
//!   `MessageGroupId`, which is the order id; `amount.currency` ← the order's currency); else a
//!   safe default (`reason` of a void → `"cancelled"`, `cause` of a nudge → `"dlq-redrive"`, a
//!   missing `type` ← the command the queue carries);
//! - a type mismatch → a coercion (a number where a string is expected → the same digits as a
//!   string, a numeric string where a number is expected → the number);
//! - an unknown currency code → the same code upper-cased, or the order's own currency;
//! - an amount with more fraction digits than its currency allows (`"12.345"` for USD) → **no**
//!   automatic fix (rounding would change what the customer pays): confidence 0, said so;
//! - a body that is fine (the failure lies in the order's data or state) → confidence 0 and a hint.
//!
//! Every `replace` in a suggested patch is guarded by a `test` of the old value, so a patch applied
//! to the wrong message fails instead of doing harm.
//!
//! **Replay** (moto has no `StartMessageMoveTask`): receive (the message is hidden while the pass
//! runs), send to the source queue with the same `MessageGroupId` and the deterministic dedup id
//! `redrive-<message id>` (`redrive-<message id>-<hash of the new body>` when patched), and delete
//! from the DLQ only after the send succeeded. Correctness never relies on SQS deduplication: the
//! consumers' step recipe makes a repeated command harmless. A body that would be dead-lettered
//! again (it still fails its queue's schema) or that holds a card-number-like digit run is not
//! sent. Everything received and not deleted is made visible again at the end of the pass.
//!
//! FIFO note: while one message of an order's group is hidden, SQS holds back the later ones of
//! the same group, so a listing shows the head of each order's dead letters; a replay pass makes
//! further passes as long as it deleted something.
//!
//! Event (the Lambda's, and what the local command `o2c-dlq` builds):
//! `{"action":"list"|"replay","queue":"orders"|"captures"|"refunds"|"clarity-sync"|"erp-sync"|"all",
//!   "message_ids":[..]?,"patch":[..]?,"apply_suggested":bool?,"min_confidence":0.5?,
//!   "dry_run":true?,"max_messages":100?}`.

use crate::messages::{short_hash, PaymentCommand, SyncNudge};
use async_trait::async_trait;
use o2c_connectors::clarity::dto::ClarityStatus;
use o2c_domain::card;
use o2c_domain::pii::{self, MaskPolicy};
use o2c_domain::ports::{OrderStore, QueueName};
use o2c_domain::recipe::FailureClass;
use o2c_domain::{Currency, OrderId, OrderState};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

/// Message attribute names, as the dead-letter sink writes them.
pub use o2c_aws::sqs::{ATTR_FAILURE_CLASS, ATTR_FAILURE_REASON, ATTR_SOURCE_QUEUE};

/// How many schema errors one suggestion fixes at most.
pub const MAX_FIX_ROUNDS: usize = 4;
/// Default threshold for `apply_suggested`.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.5;
/// Default and maximum number of messages one pass takes from one DLQ.
pub const DEFAULT_MAX_MESSAGES: usize = 100;
pub const MAX_MESSAGES: usize = 1000;
/// Body previews are cut to this many characters.
pub const PREVIEW_CHARS: usize = 512;

// ---------------------------------------------------------------------------------------------
// Request and response
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    List,
    Replay,
}

/// The event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {
    pub action: Action,
    /// `orders`, `captures`, `refunds`, `clarity-sync`, `erp-sync` or `all`.
    pub queue: String,
    /// Only these DLQ message ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_ids: Option<Vec<String>>,
    /// Replay with this RFC 6902 patch (needs `message_ids`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Vec<PatchOp>>,
    /// Replay with each message's suggested fix (messages without one at `min_confidence` or
    /// more are skipped).
    #[serde(default)]
    pub apply_suggested: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<f64>,
    /// Default true: report what would happen, change nothing.
    #[serde(default = "yes")]
    pub dry_run: bool,
    /// Per DLQ (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_messages: Option<usize>,
}

fn yes() -> bool {
    true
}

impl RedriveRequest {
    /// A listing of `queue`.
    pub fn list(queue: &str) -> Self {
        RedriveRequest {
            action: Action::List,
            queue: queue.to_string(),
            message_ids: None,
            patch: None,
            apply_suggested: false,
            min_confidence: None,
            dry_run: true,
            max_messages: None,
        }
    }

    /// The queues it selects, or why it is invalid.
    pub fn validate(&self) -> Result<Vec<QueueName>, RedriveError> {
        let queues = parse_queue_selector(&self.queue)?;
        if self.patch.is_some() && self.apply_suggested {
            return Err(RedriveError::BadRequest(
                "give either `patch` or `apply_suggested`, not both".into(),
            ));
        }
        if self.action == Action::List && (self.patch.is_some() || self.apply_suggested) {
            return Err(RedriveError::BadRequest(
                "`patch` and `apply_suggested` belong to `replay`".into(),
            ));
        }
        if self.patch.is_some() && self.message_ids.as_ref().is_none_or(Vec::is_empty) {
            return Err(RedriveError::BadRequest(
                "a `patch` applies to the messages named in `message_ids`; name them".into(),
            ));
        }
        if let Some(c) = self.min_confidence {
            if !(0.0..=1.0).contains(&c) {
                return Err(RedriveError::BadRequest(format!(
                    "min_confidence {c} is not in 0..=1"
                )));
            }
        }
        Ok(queues)
    }
}

/// `all`, or one queue by name (`clarity_sync` is read as `clarity-sync`).
pub fn parse_queue_selector(s: &str) -> Result<Vec<QueueName>, RedriveError> {
    let norm = s.trim().to_ascii_lowercase().replace('_', "-");
    if norm == "all" {
        return Ok(QueueName::ALL.to_vec());
    }
    if let Some(q) = QueueName::ALL.into_iter().find(|q| q.to_string() == norm) {
        return Ok(vec![q]);
    }
    let names: Vec<String> = QueueName::ALL
        .iter()
        .map(ToString::to_string)
        .chain(["all".to_string()])
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let hint = nearest(&norm, &refs)
        .filter(|m| m.score >= 0.7)
        .map(|m| format!("; did you mean `{}`?", m.value))
        .unwrap_or_default();
    Err(RedriveError::BadRequest(format!(
        "unknown queue `{s}` (one of {}){hint}",
        names.join(", ")
    )))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    #[error("invalid request: {0}")]
    BadRequest(String),
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RedriveResponse {
    pub action: Action,
    pub dry_run: bool,
    pub queues: Vec<QueueReport>,
    /// Requested message ids found in no selected DLQ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_found: Vec<String>,
    pub summary: Summary,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub listed: usize,
    pub with_automatic_fix: usize,
    pub replayed: usize,
    pub would_replay: usize,
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    pub queue: String,
    pub dlq_url: String,
    pub messages: Vec<MessageReport>,
    /// The DLQ could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageReport {
    pub message_id: String,
    /// The FIFO group: our order id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    pub class: FailureClass,
    pub reason: String,
    /// The `source_queue` attribute (an ARN), when the consumer dead-lettered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_queue: Option<String>,
    /// The DLQ's `ApproximateReceiveCount` (includes this pass's own receive).
    pub receive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_timestamp_ms: Option<u64>,
    /// PII masked, card-number-like digit runs redacted, cut to 512 characters.
    pub body_preview: String,
    /// The order's state now (from the table), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_state: Option<String>,
    /// What to do about it, in words.
    pub hint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayReport>,
}

/// A suggested fix: an RFC 6902 patch and how sure we are (0 = cannot be fixed automatically).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub summary: String,
    pub confidence: f64,
    pub patch: Vec<PatchOp>,
    /// The body after the patch (masked), when the patch makes it valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_body_preview: Option<String>,
}

impl Suggestion {
    /// Can `apply_suggested` use it at this threshold?
    pub fn is_automatic(&self, min_confidence: f64) -> bool {
        !self.patch.is_empty() && self.confidence > 0.0 && self.confidence >= min_confidence
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayOutcome {
    /// Sent to the source queue (and deleted from the DLQ unless `deleted` is false).
    Replayed,
    /// Dry run: this is what would be sent.
    WouldReplay,
    /// Not sent (no fix, patch failed, body still invalid); still on the DLQ.
    Skipped,
    /// The send failed; still on the DLQ.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    pub outcome: ReplayOutcome,
    pub target_queue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    /// What was (or would be) sent, masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_preview: Option<String>,
    /// The patch that was applied, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patch: Vec<PatchOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_message_id: Option<String>,
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// RFC 6902 JSON Patch (add, remove, replace, move, test) on RFC 6901 pointers
// ---------------------------------------------------------------------------------------------

/// One JSON Patch operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    Add { path: String, value: Value },
    Remove { path: String },
    Replace { path: String, value: Value },
    Move { from: String, path: String },
    Test { path: String, value: Value },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("patch operation {index} ({op}) failed: {detail}")]
pub struct PatchError {
    pub index: usize,
    pub op: &'static str,
    pub detail: String,
}

/// Apply a patch to a copy of `doc` (all or nothing).
pub fn apply_patch(doc: &Value, patch: &[PatchOp]) -> Result<Value, PatchError> {
    let mut out = doc.clone();
    for (index, op) in patch.iter().enumerate() {
        let (name, result) = match op {
            PatchOp::Add { path, value } => ("add", add(&mut out, path, value.clone())),
            PatchOp::Remove { path } => ("remove", remove(&mut out, path).map(|_| ())),
            PatchOp::Replace { path, value } => ("replace", replace(&mut out, path, value.clone())),
            PatchOp::Move { from, path } => ("move", move_value(&mut out, from, path)),
            PatchOp::Test { path, value } => ("test", test(&out, path, value)),
        };
        result.map_err(|detail| PatchError {
            index,
            op: name,
            detail,
        })?;
    }
    Ok(out)
}

/// RFC 6901 tokens of a pointer.
pub fn pointer_tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "{pointer:?} is not a JSON pointer (must start with '/')"
        ));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// A pointer from tokens.
pub fn pointer_of(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let ok = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let i: usize = if ok { token.parse().ok() } else { None }
        .ok_or_else(|| format!("{token:?} is not an array index"))?;
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if i > max || (!allow_end && len == 0) {
        return Err(format!("index {i} is out of bounds (length {len})"));
    }
    Ok(i)
}

fn parent_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t).ok_or_else(|| format!("no member {t:?}"))?,
            Value::Array(a) => {
                let i = array_index(t, a.len(), false)?;
                &mut a[i]
            }
            _ => return Err(format!("cannot descend into a scalar at {t:?}")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = array_index(last, a.len(), true)?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("the parent of {path} is not a container")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("{path} does not exist")),
        Value::Array(a) => {
            let i = array_index(last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err(format!("the parent of {path} is not a container")),
    }
}

fn replace(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = pointer_tokens(path)?;
    let target = parent_mut(doc, &tokens).map_err(|e| format!("{path}: {e}"))?;
    *target = value;
    Ok(())
}

fn move_value(doc: &mut Value, from: &str, path: &str) -> Result<(), String> {
    if from == path {
        return Ok(());
    }
    if path.starts_with(&format!("{from}/")) {
        return Err(format!("cannot move {from} into its own child {path}"));
    }
    let v = remove(doc, from)?;
    add(doc, path, v)
}

fn test(doc: &Value, path: &str, value: &Value) -> Result<(), String> {
    let tokens = pointer_tokens(path)?;
    match doc.pointer(&pointer_of(&tokens)) {
        Some(v) if v == value => Ok(()),
        Some(v) => Err(format!("{path} is {v}, not {value}")),
        None => Err(format!("{path} does not exist")),
    }
}

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

/// The classified reason of a dead letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub class: FailureClass,
    pub reason: String,
    pub source_queue: Option<String>,
}

/// Classify from the message attributes (see the module docs).
pub fn classify(attributes: &BTreeMap<String, String>) -> Classified {
    let attr = |k: &str| {
        attributes
            .get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty() && *v != "(none)")
            .map(str::to_string)
    };
    let source_queue = attr(ATTR_SOURCE_QUEUE);
    let reason = attr(ATTR_FAILURE_REASON);
    match attr(ATTR_FAILURE_CLASS) {
        None => Classified {
            class: FailureClass::RetriesExhausted,
            reason: reason.unwrap_or_else(|| {
                "moved by SQS after maxReceiveCount receives without success (retryable failures \
                 every time; no failure_class attribute)"
                    .into()
            }),
            source_queue,
        },
        Some(raw) => match serde_json::from_value::<FailureClass>(Value::String(raw.clone())) {
            Ok(class) => Classified {
                class,
                reason: reason.unwrap_or_else(|| "(no reason given)".into()),
                source_queue,
            },
            Err(_) => Classified {
                class: FailureClass::Internal,
                reason: format!(
                    "unrecognised failure_class {raw:?}: {}",
                    reason.unwrap_or_default()
                ),
                source_queue,
            },
        },
    }
}

/// What to do, in words, by class.
pub fn hint(class: FailureClass, order_state: Option<&str>, queue: QueueName) -> String {
    let state = order_state
        .map(|s| format!(" The order is now {s}."))
        .unwrap_or_default();
    let h = match class {
        FailureClass::Mapping | FailureClass::Validation => {
            "The message (or the order's data) is invalid: see the suggestion; replay with it, \
             with your own patch, or as is after fixing the data at the source."
                .to_string()
        }
        FailureClass::TerminalApi => "An external API refused the request for good: fix the cause \
             (credentials, the data it names) before replaying as is."
            .to_string(),
        FailureClass::IllegalTransition => format!(
            "The order was not in a state the {queue} step starts from.{state} Replay only if \
             the order has since reached that state; otherwise discard."
        ),
        FailureClass::NotFound => {
            "The order was not found: replay once it exists, or discard.".to_string()
        }
        FailureClass::RetriesExhausted => format!(
            "Failed retryably maxReceiveCount times (throttling, timeouts, a lease held \
             elsewhere): replay as is once the downstream is healthy.{state}"
        ),
        FailureClass::Internal => {
            "A bug or corrupt data: read the function's logs for this message before replaying."
                .to_string()
        }
    };
    if matches!(
        class,
        FailureClass::IllegalTransition | FailureClass::RetriesExhausted
    ) {
        h
    } else {
        format!("{h}{state}")
    }
}

// ---------------------------------------------------------------------------------------------
// Masking
// ---------------------------------------------------------------------------------------------

/// Replace every run of 13 or more digits (single spaces or dashes between digits allowed, as
/// people type card numbers) with a marker: nothing card-number-like is ever shown.
pub fn redact_card_like(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = 0;
        let mut end = i;
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits += 1;
                j += 1;
                end = j;
            } else if matches!(chars[j], ' ' | '-')
                && j + 1 < chars.len()
                && chars[j + 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        if digits >= 13 {
            out.push_str("[digits redacted]");
        } else {
            out.extend(&chars[start..end]);
        }
        i = end;
    }
    out
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

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

/// A body for display: PII masked by field name (and in free-text fields), card-number-like digit
/// runs redacted, cut to [`PREVIEW_CHARS`].
pub fn preview(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(v) => preview_value(&v),
        Err(_) => redact_card_like(&pii::mask_text(body, MaskPolicy::LOGS)),
    };
    cut(&text, PREVIEW_CHARS)
}

fn preview_value(v: &Value) -> String {
    let mut masked = pii::masked_json(v, MaskPolicy::LOGS);
    mask_free_text(&mut masked);
    cut(&redact_card_like(&masked.to_string()), PREVIEW_CHARS)
}

// ---------------------------------------------------------------------------------------------
// Similarity and vocabularies
// ---------------------------------------------------------------------------------------------

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

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The `type` values of [`PaymentCommand`].
pub const COMMAND_TYPES: &[&str] = &["authorize", "capture", "void", "refund"];

/// Every field name of the queue message schemas ([`PaymentCommand`], [`SyncNudge`], money).
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

// ---------------------------------------------------------------------------------------------
// Schema check and suggestions
// ---------------------------------------------------------------------------------------------

/// Why a body fails its queue's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaError {
    /// serde's message (without the line/column suffix).
    Parse(String),
    /// A valid command for another queue.
    WrongQueue {
        command: String,
        belongs_on: QueueName,
    },
}

/// Check a body against the schema of the queue it is replayed to.
pub fn schema_check(queue: QueueName, body: &Value) -> Result<(), SchemaError> {
    match queue {
        QueueName::Orders | QueueName::Captures | QueueName::Refunds => {
            let c: PaymentCommand = serde_json::from_value(body.clone())
                .map_err(|e| SchemaError::Parse(strip_position(&e.to_string())))?;
            if c.queue() != queue {
                return Err(SchemaError::WrongQueue {
                    command: body
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string(),
                    belongs_on: c.queue(),
                });
            }
            Ok(())
        }
        QueueName::ClaritySync | QueueName::ErpSync => {
            serde_json::from_value::<SyncNudge>(body.clone())
                .map(|_| ())
                .map_err(|e| SchemaError::Parse(strip_position(&e.to_string())))
        }
    }
}

fn strip_position(e: &str) -> String {
    match e.rfind(" at line ") {
        Some(i) if e[i..].contains(" column ") => e[..i].to_string(),
        _ => e.to_string(),
    }
}

/// What the data around a message says (from the table; all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub group_id: Option<String>,
    pub order_state: Option<OrderState>,
    pub order_currency: Option<Currency>,
}

/// One step of a fix.
enum Step {
    Patch {
        ops: Vec<PatchOp>,
        confidence: f64,
        note: String,
    },
    CannotFix(String),
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
            Err(SchemaError::Parse(error)) => match fix_one(queue, &error, &current, facts) {
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
                        notes.push(format!("{error}: no fix ({e})"));
                        return Some(partial(notes, ops));
                    }
                },
                Step::CannotFix(note) => {
                    notes.push(note);
                    return Some(partial(notes, ops));
                }
            },
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
fn fraction_digits(text: &str) -> Option<String> {
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

/// The backtick-quoted tokens of a text.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// Pointers (depth first) of every value equal to `pred`.
fn find_values(doc: &Value, pred: &dyn Fn(&Value) -> bool) -> Vec<Vec<String>> {
    fn walk(
        v: &Value,
        at: &mut Vec<String>,
        pred: &dyn Fn(&Value) -> bool,
        out: &mut Vec<Vec<String>>,
    ) {
        if pred(v) {
            out.push(at.clone());
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    at.push(k.clone());
                    walk(x, at, pred, out);
                    at.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    at.push(i.to_string());
                    walk(x, at, pred, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), pred, &mut out);
    out
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

/// One schema error → one step.
fn fix_one(queue: QueueName, error: &str, doc: &Value, facts: &Facts) -> Step {
    if let Some(rest) = error.strip_prefix("unknown variant ") {
        return unknown_value(rest, doc);
    }
    if let Some(rest) = error.strip_prefix("missing field ") {
        let field = backticked(rest).into_iter().next().unwrap_or_default();
        return missing_field(queue, &field, doc, facts);
    }
    if let Some(rest) = error.strip_prefix("unknown field ") {
        return unknown_field(rest, doc);
    }
    if let Some(rest) = error.strip_prefix("invalid type: ") {
        return invalid_type(queue, rest, doc, facts);
    }
    if let Some(m) = fraction_digits(error) {
        return Step::CannotFix(format!(
            "{m}: rounding would change what the customer pays or gets back — decide the \
             amount and replay with a patch that replaces it"
        ));
    }
    if error.starts_with("unknown or unsupported currency code") {
        return currency_code(error, doc, facts);
    }
    if error.starts_with("invalid ") && error.contains(" id ") {
        return invalid_id(error, doc, facts);
    }
    if error.contains("is not a decimal number") {
        return malformed_amount(error, doc);
    }
    Step::CannotFix(format!("{error}: no known fix"))
}

/// `unknown variant \`captur\`, expected one of \`authorize\`, ...`
fn unknown_value(rest: &str, doc: &Value) -> Step {
    let tokens = backticked(rest);
    let Some(bad) = tokens.first().cloned() else {
        return Step::CannotFix(format!("unknown variant {rest}: no known fix"));
    };
    let is_bad = |v: &Value| v.as_str() == Some(bad.as_str());
    let path: Vec<String> = if doc.get("type").is_some_and(is_bad) {
        vec!["type".into()]
    } else {
        match find_values(doc, &is_bad).into_iter().next() {
            Some(p) => p,
            None => return Step::CannotFix(format!("unknown value `{bad}` not found in the body")),
        }
    };
    let mut candidates: Vec<String> = tokens.into_iter().skip(1).collect();
    if candidates.is_empty() {
        candidates = vocabulary_for(field_of(&path))
            .into_iter()
            .map(str::to_string)
            .collect();
    }
    let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
    match nearest(&bad, &refs) {
        Some(n) if n.score >= 0.6 => Step::Patch {
            ops: guarded_replace(
                &path,
                &Value::String(bad.clone()),
                Value::String(n.value.into()),
            ),
            confidence: confidence_of(&n),
            note: format!(
                "`{}` is {bad:?}, not a known value; nearest is {:?} (similarity {:.2})",
                pointer_of(&path),
                n.value,
                n.score
            ),
        },
        _ => Step::CannotFix(format!(
            "`{}` is {bad:?}; no known value is close (expected one of {})",
            pointer_of(&path),
            candidates.join(", ")
        )),
    }
}

/// The object a missing field belongs in: the root, or the money object for its parts.
fn owner_of_missing(field: &str, doc: &Value) -> Vec<String> {
    let root_lacks = doc.as_object().is_some_and(|m| !m.contains_key(field));
    let money = doc.get("amount").and_then(Value::as_object);
    if matches!(field, "currency" | "amount")
        && money.is_some_and(|m| !m.contains_key(field))
        && (field == "currency" || !root_lacks)
    {
        return vec!["amount".into()];
    }
    Vec::new()
}

fn missing_field(queue: QueueName, field: &str, doc: &Value, facts: &Facts) -> Step {
    let owner = owner_of_missing(field, doc);
    let target: Vec<String> = owner.iter().cloned().chain([field.to_string()]).collect();
    let obj = doc.pointer(&pointer_of(&owner)).and_then(Value::as_object);
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
    let derived = derived_value(queue, field, owner.is_empty(), doc, facts);
    match derived {
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

/// `unknown field \`x\`, expected one of ...` (schemas that deny unknown fields).
fn unknown_field(rest: &str, doc: &Value) -> Step {
    let tokens = backticked(rest);
    let Some(bad) = tokens.first().cloned() else {
        return Step::CannotFix(format!("unknown field {rest}: no known fix"));
    };
    let Some(path) = find_key(doc, &bad) else {
        return Step::CannotFix(format!("unknown field `{bad}` not found in the body"));
    };
    let expected: Vec<&str> = tokens[1..].iter().map(String::as_str).collect();
    let parent = &path[..path.len() - 1];
    let present = doc
        .pointer(&pointer_of(parent))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let free: Vec<&str> = expected
        .into_iter()
        .filter(|e| !present.contains_key(*e))
        .collect();
    match nearest(&bad, &free).filter(|n| n.score >= 0.75) {
        Some(n) => {
            let to: Vec<String> = parent
                .iter()
                .cloned()
                .chain([n.value.to_string()])
                .collect();
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

fn find_key(doc: &Value, key: &str) -> Option<Vec<String>> {
    fn walk(v: &Value, key: &str, at: &mut Vec<String>) -> Option<Vec<String>> {
        if let Value::Object(m) = v {
            if m.contains_key(key) {
                let mut p = at.clone();
                p.push(key.to_string());
                return Some(p);
            }
            for (k, x) in m {
                at.push(k.clone());
                let found = walk(x, key, at);
                at.pop();
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }
    walk(doc, key, &mut Vec::new())
}

/// `invalid type: integer \`123\`, expected a string`, `invalid type: string "5", expected u32`,
/// `invalid type: null, expected a string`.
fn invalid_type(queue: QueueName, rest: &str, doc: &Value, facts: &Facts) -> Step {
    let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
    let wants_string = expected.contains("string");
    let wants_number = [
        "integer", "u8", "u16", "u32", "u64", "i32", "i64", "f64", "number",
    ]
    .iter()
    .any(|t| expected.contains(t));
    let literal = backticked(found).into_iter().next();
    if wants_string
        && (found.starts_with("integer") || found.starts_with("floating point"))
        && literal.is_some()
    {
        let lit = literal.unwrap_or_default();
        let matches = find_values(doc, &|v: &Value| {
            v.as_number().is_some_and(|n| {
                let text = n.to_string();
                text == lit || n.as_f64().is_some_and(|f| f.to_string() == lit)
            })
        });
        let Some(path) = pick(&matches) else {
            return Step::CannotFix(format!("{found} not found in the body"));
        };
        let old = doc
            .pointer(&pointer_of(&path))
            .cloned()
            .unwrap_or(Value::Null);
        let text = match &old {
            Value::Number(n) => n.to_string(),
            _ => lit,
        };
        if card::contains_card_number(&text) || text.len() >= 13 {
            return Step::CannotFix(format!(
                "`{}` holds a long digit run; it is not coerced",
                pointer_of(&path)
            ));
        }
        let confidence = if matches.len() == 1 { 0.9 } else { 0.6 };
        return Step::Patch {
            ops: guarded_replace(&path, &old, Value::String(text.clone())),
            confidence,
            note: format!(
                "`{}` is the number {old} where a string is expected: use \"{text}\"",
                pointer_of(&path)
            ),
        };
    }
    if wants_number && found.starts_with("string") {
        let lit = found
            .strip_prefix("string ")
            .map(|s| s.trim_matches('"').to_string())
            .unwrap_or_default();
        let matches = find_values(doc, &|v: &Value| v.as_str() == Some(lit.as_str()));
        let parsed: Option<serde_json::Number> = serde_json::from_str(lit.trim()).ok();
        return match (pick(&matches), parsed) {
            (Some(path), Some(n)) => Step::Patch {
                ops: guarded_replace(&path, &Value::String(lit.clone()), Value::Number(n.clone())),
                confidence: if matches.len() == 1 { 0.85 } else { 0.55 },
                note: format!(
                    "`{}` is the string {lit:?} where a number is expected: use {n}",
                    pointer_of(&path)
                ),
            },
            _ => Step::CannotFix(format!("{found} where {expected} is expected: no fix")),
        };
    }
    if found.starts_with("null") {
        let nulls = find_values(doc, &Value::is_null);
        if let Some(path) = pick(&nulls) {
            let at_root = path.len() == 1;
            return match derived_value(queue, field_of(&path), at_root, doc, facts) {
                Some((value, confidence, why)) => Step::Patch {
                    ops: guarded_replace(&path, &Value::Null, value.clone()),
                    confidence,
                    note: format!("`{}` is null: use {value} ({why})", pointer_of(&path)),
                },
                None => Step::CannotFix(format!(
                    "`{}` is null and has no safe default",
                    pointer_of(&path)
                )),
            };
        }
    }
    Step::CannotFix(format!("invalid type: {rest}: no known coercion"))
}

/// Prefer a match in a known field.
fn pick(matches: &[Vec<String>]) -> Option<Vec<String>> {
    matches
        .iter()
        .find(|p| FIELD_NAMES.contains(&field_of(p)))
        .or_else(|| matches.first())
        .cloned()
}

/// `unknown or unsupported currency code "usd"`.
fn currency_code(error: &str, doc: &Value, facts: &Facts) -> Step {
    let bad = error
        .split_once('"')
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(v, _)| v.to_string())
        .unwrap_or_default();
    let matches = find_values(doc, &|v: &Value| v.as_str() == Some(bad.as_str()));
    let Some(path) = pick(&matches) else {
        return Step::CannotFix(format!("currency {bad:?} not found in the body"));
    };
    let old = Value::String(bad.clone());
    let upper = bad.trim().to_ascii_uppercase();
    if upper.parse::<Currency>().is_ok() {
        let agrees = facts.order_currency.is_none_or(|c| c.code() == upper);
        return Step::Patch {
            ops: guarded_replace(&path, &old, Value::String(upper.clone())),
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
            ops: guarded_replace(&path, &old, Value::String(c.code().into())),
            confidence: 0.85,
            note: format!("{bad:?} is not a currency; the order is in {c}"),
        };
    }
    let codes: Vec<&str> = Currency::ALL.iter().map(|c| c.code()).collect();
    match nearest(&upper, &codes) {
        // Codes are short and alike (USD/AUD/SGD): never confident without the order's currency.
        Some(n) if n.score >= 0.6 => Step::Patch {
            ops: guarded_replace(&path, &old, Value::String(n.value.into())),
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
fn invalid_id(error: &str, doc: &Value, facts: &Facts) -> Step {
    let bad = error
        .split_once('"')
        .and_then(|(_, r)| r.rsplit_once("\": "))
        .map(|(v, _)| v.to_string())
        .unwrap_or_default();
    let matches = find_values(doc, &|v: &Value| v.as_str() == Some(bad.as_str()));
    let Some(path) = pick(&matches) else {
        return Step::CannotFix(format!("{error}: the value was not found in the body"));
    };
    let old = Value::String(bad.clone());
    if field_of(&path) == "order_id" {
        if let Some(g) = facts
            .group_id
            .as_deref()
            .filter(|g| OrderId::new(*g).is_ok())
        {
            return Step::Patch {
                ops: guarded_replace(&path, &old, Value::String(g.into())),
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
        return Step::CannotFix(format!("{error}: no safe correction"));
    }
    Step::Patch {
        ops: guarded_replace(&path, &old, Value::String(cleaned.clone())),
        confidence: 0.4,
        note: format!("{bad:?} is not a valid id; {cleaned:?} keeps only allowed characters"),
    }
}

/// `amount "$12.00" is not a decimal number` → strip symbols and spaces.
fn malformed_amount(error: &str, doc: &Value) -> Step {
    let bad = error
        .split_once('"')
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(v, _)| v.to_string())
        .unwrap_or_default();
    let matches = find_values(doc, &|v: &Value| v.as_str() == Some(bad.as_str()));
    let Some(path) = pick(&matches) else {
        return Step::CannotFix(format!("{error}: the value was not found in the body"));
    };
    let cleaned: String = bad
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let sane = cleaned.matches('.').count() <= 1 && cleaned.chars().any(|c| c.is_ascii_digit());
    if !sane || cleaned == bad {
        return Step::CannotFix(format!("{error}: no safe correction"));
    }
    Step::Patch {
        ops: guarded_replace(
            &path,
            &Value::String(bad.clone()),
            Value::String(cleaned.clone()),
        ),
        confidence: if bad.contains(',') { 0.4 } else { 0.6 },
        note: format!("{bad:?} is not a plain decimal: {cleaned:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The port and its SQS adapter
// ---------------------------------------------------------------------------------------------

/// A message received from a DLQ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlqMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub group_id: Option<String>,
    pub receive_count: u32,
    pub sent_timestamp_ms: Option<u64>,
    /// String message attributes (`failure_class`, ...).
    pub attributes: BTreeMap<String, String>,
}

/// What dlq-redrive does to queues.
#[async_trait]
pub trait DeadLetterQueues: Send + Sync {
    /// Up to `max` (≤ 10) messages, hidden for `hide_secs`; `wait_secs` of long polling.
    async fn receive(
        &self,
        dlq_url: &str,
        max: usize,
        hide_secs: u32,
        wait_secs: u32,
    ) -> Result<Vec<DlqMessage>, String>;
    /// Send to a FIFO queue; the new message id.
    async fn send(
        &self,
        queue_url: &str,
        body: &str,
        group_id: &str,
        dedup_id: &str,
    ) -> Result<Option<String>, String>;
    async fn delete(&self, dlq_url: &str, receipt_handle: &str) -> Result<(), String>;
    /// Make a received message visible again now.
    async fn release(&self, dlq_url: &str, receipt_handle: &str) -> Result<(), String>;
}

/// [`DeadLetterQueues`] on SQS.
#[derive(Clone, Debug)]
pub struct SqsDeadLetterQueues {
    client: aws_sdk_sqs::Client,
}

impl SqsDeadLetterQueues {
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        SqsDeadLetterQueues { client }
    }
}

fn sdk_error<E: std::error::Error + 'static>(what: &str, e: E) -> String {
    format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
}

#[async_trait]
impl DeadLetterQueues for SqsDeadLetterQueues {
    async fn receive(
        &self,
        dlq_url: &str,
        max: usize,
        hide_secs: u32,
        wait_secs: u32,
    ) -> Result<Vec<DlqMessage>, String> {
        use aws_sdk_sqs::types::MessageSystemAttributeName as Sys;
        let out = self
            .client
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(hide_secs.min(43_200) as i32)
            .wait_time_seconds(wait_secs.min(20) as i32)
            .message_system_attribute_names(Sys::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sdk_error("receive", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let sys = m.attributes.unwrap_or_default();
                let get = |k: Sys| sys.get(&k).cloned();
                DlqMessage {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    group_id: get(Sys::MessageGroupId),
                    receive_count: get(Sys::ApproximateReceiveCount)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                    sent_timestamp_ms: get(Sys::SentTimestamp).and_then(|t| t.parse().ok()),
                    attributes: m
                        .message_attributes
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                        .collect(),
                }
            })
            .collect())
    }

    async fn send(
        &self,
        queue_url: &str,
        body: &str,
        group_id: &str,
        dedup_id: &str,
    ) -> Result<Option<String>, String> {
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .message_group_id(group_id)
            .message_deduplication_id(dedup_id)
            .send()
            .await
            .map(|o| o.message_id)
            .map_err(|e| sdk_error("send", e))
    }

    async fn delete(&self, dlq_url: &str, receipt_handle: &str) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(dlq_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("delete", e))
    }

    async fn release(&self, dlq_url: &str, receipt_handle: &str) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(dlq_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("release", e))
    }
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/// A queue and its DLQ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueUrls {
    pub source: String,
    pub dlq: String,
}

/// dlq-redrive.
#[derive(Clone)]
pub struct Redrive {
    pub port: Arc<dyn DeadLetterQueues>,
    pub queues: BTreeMap<QueueName, QueueUrls>,
    /// Reads the order's state and currency (optional: without it, suggestions use the message
    /// alone).
    pub store: Option<Arc<dyn OrderStore>>,
    /// How long received messages stay hidden during a pass (longer than a pass takes).
    pub hide_secs: u32,
    /// Long poll before concluding a DLQ is empty (short polls may miss messages on SQS).
    pub wait_secs: u32,
}

impl Redrive {
    /// From a function configuration whose `queue_urls` hold the source queues
    /// ([`crate::specs::DLQ_REDRIVE`] sends to all five), the `<X>_DLQ_URL` variables and the
    /// adapters (SQS client and order store).
    pub fn from_config(
        config: &o2c_runtime::config::FunctionConfig,
        env: &o2c_runtime::config::Env,
        adapters: &o2c_runtime::wiring::Adapters,
    ) -> Result<Redrive, o2c_runtime::ConfigError> {
        let queues = config
            .queue_urls
            .iter()
            .map(|(q, url)| {
                Ok((
                    *q,
                    QueueUrls {
                        source: url.clone(),
                        dlq: env.required(q.dlq_url_env())?,
                    },
                ))
            })
            .collect::<Result<_, o2c_runtime::ConfigError>>()?;
        Ok(Redrive {
            port: Arc::new(SqsDeadLetterQueues::new(aws_sdk_sqs::Client::new(
                &adapters.sdk,
            ))),
            queues,
            store: Some(adapters.store.clone() as Arc<dyn OrderStore>),
            hide_secs: config.timeout.as_secs().clamp(30, 900) as u32,
            wait_secs: 1,
        })
    }

    /// The Lambda's entry: a JSON event in, a JSON response out.
    pub async fn handle_json(&self, event: Value) -> Result<Value, RedriveError> {
        let request: RedriveRequest =
            serde_json::from_value(event).map_err(|e| RedriveError::BadRequest(e.to_string()))?;
        let response = self.handle(&request).await?;
        Ok(serde_json::to_value(&response).unwrap_or(Value::Null))
    }

    pub async fn handle(&self, request: &RedriveRequest) -> Result<RedriveResponse, RedriveError> {
        let queues = request.validate()?;
        let mut response = RedriveResponse {
            action: request.action,
            dry_run: request.dry_run,
            queues: Vec::new(),
            not_found: Vec::new(),
            summary: Summary::default(),
        };
        let mut wanted: Option<Vec<String>> = request.message_ids.clone();
        for queue in queues {
            let Some(urls) = self.queues.get(&queue) else {
                response.queues.push(QueueReport {
                    queue: queue.to_string(),
                    dlq_url: String::new(),
                    messages: Vec::new(),
                    error: Some(format!("{} is not configured", queue.dlq_url_env())),
                });
                continue;
            };
            if wanted.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
            let report = self.queue_pass(queue, urls, request, wanted.as_mut()).await;
            response.queues.push(report);
        }
        response.not_found = wanted.unwrap_or_default();
        let s = &mut response.summary;
        for m in response.queues.iter().flat_map(|q| &q.messages) {
            s.listed += 1;
            let min = request.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
            if m.suggestion.as_ref().is_some_and(|x| x.is_automatic(min)) {
                s.with_automatic_fix += 1;
            }
            match m.replay.as_ref().map(|r| r.outcome) {
                Some(ReplayOutcome::Replayed) => s.replayed += 1,
                Some(ReplayOutcome::WouldReplay) => s.would_replay += 1,
                Some(ReplayOutcome::Skipped) => s.skipped += 1,
                Some(ReplayOutcome::Failed) => s.failed += 1,
                None => {}
            }
        }
        tracing::info!(
            action = ?request.action,
            dry_run = request.dry_run,
            listed = s.listed,
            replayed = s.replayed,
            would_replay = s.would_replay,
            skipped = s.skipped,
            failed = s.failed,
            "dlq-redrive pass done"
        );
        Ok(response)
    }

    /// One DLQ: receive (hidden), report, replay the selected, release the rest.
    async fn queue_pass(
        &self,
        queue: QueueName,
        urls: &QueueUrls,
        request: &RedriveRequest,
        mut wanted: Option<&mut Vec<String>>,
    ) -> QueueReport {
        let limit = request
            .max_messages
            .unwrap_or(DEFAULT_MAX_MESSAGES)
            .clamp(1, MAX_MESSAGES);
        let mut report = QueueReport {
            queue: queue.to_string(),
            dlq_url: urls.dlq.clone(),
            messages: Vec::new(),
            error: None,
        };
        // Every message received, by id, with its latest receipt handle and whether it is gone.
        let mut held: Vec<(DlqMessage, bool)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut facts_cache: HashMap<String, Facts> = HashMap::new();
        loop {
            let fresh = match self
                .receive_all(&urls.dlq, limit, &mut held, &mut index)
                .await
            {
                Ok(f) => f,
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            };
            if fresh.is_empty() {
                break;
            }
            let mut deleted_any = false;
            for i in fresh {
                let m = held[i].0.clone();
                if let Some(w) = wanted.as_deref_mut() {
                    match w.iter().position(|id| *id == m.message_id) {
                        Some(p) => {
                            w.remove(p);
                        }
                        None => continue,
                    }
                }
                let facts = match facts_cache.get(m.group_id.as_deref().unwrap_or("")) {
                    Some(f) => f.clone(),
                    None => {
                        let f = self.facts(m.group_id.as_deref()).await;
                        facts_cache.insert(m.group_id.clone().unwrap_or_default(), f.clone());
                        f
                    }
                };
                let mut item = describe(queue, &m, &facts);
                if request.action == Action::Replay {
                    let r = self.replay_one(queue, urls, &m, &item, request).await;
                    if r.deleted {
                        held[i].1 = true;
                        deleted_any = true;
                    }
                    item.replay = Some(r);
                }
                report.messages.push(item);
            }
            let done = wanted.as_ref().is_some_and(|w| w.is_empty());
            if done || !deleted_any || held.len() >= limit || request.action == Action::List {
                break;
            }
        }
        for (m, gone) in &held {
            if !gone {
                if let Err(e) = self.port.release(&urls.dlq, &m.receipt_handle).await {
                    tracing::warn!(queue = %queue, message_id = %m.message_id, error = %e, "release failed; visible again after the hide timeout");
                }
            }
        }
        report
    }

    /// Receive until the DLQ yields nothing new or `limit` is reached; the indexes of the new
    /// messages in `held`.
    async fn receive_all(
        &self,
        dlq_url: &str,
        limit: usize,
        held: &mut Vec<(DlqMessage, bool)>,
        index: &mut HashMap<String, usize>,
    ) -> Result<Vec<usize>, String> {
        let mut fresh = Vec::new();
        let mut waited = false;
        while held.len() < limit {
            let want = (limit - held.len()).min(10);
            let wait = if waited { self.wait_secs } else { 0 };
            let batch = self
                .port
                .receive(dlq_url, want, self.hide_secs, wait)
                .await?;
            let mut new_here = 0;
            for m in batch {
                match index.get(&m.message_id) {
                    // Received again (its hide timeout ran out): keep the newest receipt.
                    Some(&i) => held[i].0.receipt_handle = m.receipt_handle,
                    None => {
                        index.insert(m.message_id.clone(), held.len());
                        fresh.push(held.len());
                        held.push((m, false));
                        new_here += 1;
                    }
                }
            }
            if new_here == 0 {
                if waited || self.wait_secs == 0 {
                    break;
                }
                waited = true;
            }
        }
        Ok(fresh)
    }

    async fn facts(&self, group_id: Option<&str>) -> Facts {
        let mut f = Facts {
            group_id: group_id.map(str::to_string),
            ..Facts::default()
        };
        let (Some(store), Some(id)) = (&self.store, group_id.and_then(|g| OrderId::new(g).ok()))
        else {
            return f;
        };
        match store.get(&id).await {
            Ok(Some(r)) => {
                f.order_state = Some(r.state);
                f.order_currency = Some(r.order.total.currency());
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(order_id = %id, error = %e, "order lookup failed"),
        }
        f
    }

    async fn replay_one(
        &self,
        queue: QueueName,
        urls: &QueueUrls,
        m: &DlqMessage,
        item: &MessageReport,
        request: &RedriveRequest,
    ) -> ReplayReport {
        let mut r = ReplayReport {
            outcome: ReplayOutcome::Skipped,
            target_queue: queue.to_string(),
            group_id: None,
            dedup_id: None,
            body_preview: None,
            patch: Vec::new(),
            sent_message_id: None,
            deleted: false,
            detail: None,
        };
        let min = request.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
        let patch: Option<Vec<PatchOp>> = if let Some(p) = &request.patch {
            Some(p.clone())
        } else if request.apply_suggested {
            match &item.suggestion {
                Some(s) if s.is_automatic(min) => Some(s.patch.clone()),
                Some(s) => {
                    r.detail = Some(format!(
                        "no automatic fix at confidence ≥ {min} (the suggestion's is {}); see \
                         the suggestion",
                        s.confidence
                    ));
                    return r;
                }
                None => {
                    r.detail = Some(
                        "no suggested fix for this class; replay without apply_suggested to send it as is"
                            .into(),
                    );
                    return r;
                }
            }
        } else {
            None
        };
        let body = match &patch {
            None => m.body.clone(),
            Some(ops) => {
                let doc: Value = match serde_json::from_str(&m.body) {
                    Ok(d) => d,
                    Err(e) => {
                        r.detail = Some(format!("the body is not JSON, cannot patch: {e}"));
                        return r;
                    }
                };
                match apply_patch(&doc, ops) {
                    Ok(v) => v.to_string(),
                    Err(e) => {
                        r.detail = Some(e.to_string());
                        return r;
                    }
                }
            }
        };
        r.patch = patch.unwrap_or_default();
        r.body_preview = Some(preview(&body));
        if card::contains_card_number(&body) {
            r.detail = Some("the body holds a card-number-like value; never sent".into());
            return r;
        }
        let parsed: Result<Value, _> = serde_json::from_str(&body);
        let check = match &parsed {
            Ok(v) => schema_check(queue, v).map_err(|e| match e {
                SchemaError::Parse(p) => p,
                SchemaError::WrongQueue {
                    command,
                    belongs_on,
                } => format!("a `{command}` command belongs on the {belongs_on} queue"),
            }),
            Err(e) => Err(strip_position(&e.to_string())),
        };
        if let Err(e) = check {
            r.detail = Some(format!(
                "not sent: the {queue} consumer would dead-letter it again ({e})"
            ));
            return r;
        }
        let group = m.group_id.clone().or_else(|| {
            parsed.ok().and_then(|v| {
                v.get("order_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        });
        let Some(group) = group else {
            r.detail = Some("no MessageGroupId and no order_id: cannot pick the FIFO group".into());
            return r;
        };
        let dedup = if body == m.body {
            format!("redrive-{}", m.message_id)
        } else {
            format!("redrive-{}-{}", m.message_id, short_hash(&body, 12))
        };
        let dedup: String = dedup.chars().take(128).collect();
        r.group_id = Some(group.clone());
        r.dedup_id = Some(dedup.clone());
        if request.dry_run {
            r.outcome = ReplayOutcome::WouldReplay;
            return r;
        }
        match self.port.send(&urls.source, &body, &group, &dedup).await {
            Err(e) => {
                r.outcome = ReplayOutcome::Failed;
                r.detail = Some(format!("send failed; left on the DLQ: {e}"));
                tracing::warn!(queue = %queue, message_id = %m.message_id, error = %e, "replay send failed");
            }
            Ok(id) => {
                r.outcome = ReplayOutcome::Replayed;
                r.sent_message_id = id;
                match self.port.delete(&urls.dlq, &m.receipt_handle).await {
                    Ok(()) => r.deleted = true,
                    Err(e) => {
                        r.detail = Some(format!(
                            "sent, but the delete from the DLQ failed ({e}): it will be listed \
                             again; replaying it again is harmless (same dedup id, idempotent steps)"
                        ))
                    }
                }
                tracing::info!(queue = %queue, message_id = %m.message_id, order_id = %group, dedup_id = %dedup, deleted = r.deleted, "replayed");
            }
        }
        r
    }
}

/// The report of one message (without replay).
pub fn describe(queue: QueueName, m: &DlqMessage, facts: &Facts) -> MessageReport {
    let c = classify(&m.attributes);
    let state = facts.order_state.map(|s| s.as_str().to_string());
    let suggestion = suggest(queue, c.class, &c.reason, &m.body, facts);
    MessageReport {
        message_id: m.message_id.clone(),
        order_id: m.group_id.clone(),
        class: c.class,
        reason: cut(&redact_card_like(&c.reason), 1024),
        source_queue: c.source_queue,
        receive_count: m.receive_count,
        sent_timestamp_ms: m.sent_timestamp_ms,
        body_preview: preview(&m.body),
        hint: hint(c.class, state.as_deref(), queue),
        order_state: state,
        suggestion,
        replay: None,
    }
}

// ---------------------------------------------------------------------------------------------
// The local command's arguments and text output
// ---------------------------------------------------------------------------------------------

/// Usage of the local command `o2c-dlq`.
pub const CLI_USAGE: &str = "\
o2c-dlq — inspect, fix and replay the dead-letter queues (the dlq-redrive Lambda, run locally)

  set -a; . infra/local/.state/local.env; set +a      # queue URLs, TABLE_NAME, moto endpoint
  target/debug/o2c-dlq list   [--queue all|orders|captures|refunds|clarity-sync|erp-sync]
  target/debug/o2c-dlq replay  --queue Q [--message-id ID]... [--apply-suggested [--min-confidence 0.5]
                               | --patch '[{\"op\":\"replace\",\"path\":\"/type\",\"value\":\"capture\"}]'
                               | --patch-file FILE] [--no-dry-run]
  target/debug/o2c-dlq event '{\"action\":\"list\",\"queue\":\"all\"}'   # the Lambda's event as is

Options: --max N (messages per DLQ, default 100), --json (the Lambda's JSON response instead of
text). Replays are dry runs unless --no-dry-run is given.";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum CliCommand {
    Run { request: RedriveRequest, json: bool },
    Help,
}

/// Parse the command line (without the program name). `read_file` reads `--patch-file`.
pub fn cli_request(
    args: &[String],
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<CliCommand, String> {
    let Some((cmd, rest)) = args.split_first() else {
        return Ok(CliCommand::Help);
    };
    let mut json = false;
    let mut request = match cmd.as_str() {
        "help" | "--help" | "-h" => return Ok(CliCommand::Help),
        "list" => RedriveRequest::list("all"),
        "replay" => RedriveRequest {
            action: Action::Replay,
            queue: String::new(),
            ..RedriveRequest::list("")
        },
        "event" => {
            let mut it = rest.iter();
            let text = it.next().ok_or("event needs the event JSON")?;
            for a in it {
                match a.as_str() {
                    "--json" => json = true,
                    other => return Err(format!("unexpected argument {other:?}")),
                }
            }
            let request: RedriveRequest =
                serde_json::from_str(text).map_err(|e| format!("bad event: {e}"))?;
            return Ok(CliCommand::Run { request, json });
        }
        other => {
            return Err(format!(
                "unknown command {other:?} (list, replay, event, help)"
            ))
        }
    };
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--queue" | "-q" => request.queue = value("--queue")?,
            "--message-id" | "--id" => {
                let v = value("--message-id")?;
                request.message_ids.get_or_insert_with(Vec::new).extend(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            }
            "--patch" => {
                let v = value("--patch")?;
                request.patch =
                    Some(serde_json::from_str(&v).map_err(|e| format!("--patch: {e}"))?);
            }
            "--patch-file" => {
                let text = read_file(&value("--patch-file")?)?;
                request.patch =
                    Some(serde_json::from_str(&text).map_err(|e| format!("--patch-file: {e}"))?);
            }
            "--apply-suggested" => request.apply_suggested = true,
            "--min-confidence" => {
                let v = value("--min-confidence")?;
                request.min_confidence =
                    Some(v.parse().map_err(|_| format!("--min-confidence {v:?}"))?);
            }
            "--no-dry-run" => request.dry_run = false,
            "--dry-run" => request.dry_run = true,
            "--max" => {
                let v = value("--max")?;
                request.max_messages = Some(v.parse().map_err(|_| format!("--max {v:?}"))?);
            }
            "--json" => json = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if request.queue.is_empty() {
        return Err("replay needs --queue (one queue, or all)".into());
    }
    request.validate().map_err(|e| e.to_string())?;
    Ok(CliCommand::Run { request, json })
}

/// The response as text for a terminal.
pub fn render_text(r: &RedriveResponse) -> String {
    let mut out = String::new();
    let mode = match (r.action, r.dry_run) {
        (Action::List, _) => "list",
        (Action::Replay, true) => "replay (dry run: nothing changed)",
        (Action::Replay, false) => "replay",
    };
    let _ = writeln!(out, "{mode}");
    for q in &r.queues {
        let _ = writeln!(
            out,
            "\n== {} DLQ: {} message(s){}",
            q.queue,
            q.messages.len(),
            q.error
                .as_ref()
                .map(|e| format!(" — error: {e}"))
                .unwrap_or_default()
        );
        for m in &q.messages {
            let _ = writeln!(
                out,
                "- {}  [{}]  order {}{}  receives {}",
                m.message_id,
                m.class,
                m.order_id.as_deref().unwrap_or("-"),
                m.order_state
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default(),
                m.receive_count
            );
            let _ = writeln!(out, "    reason: {}", m.reason);
            let _ = writeln!(out, "    body:   {}", m.body_preview);
            if let Some(s) = &m.suggestion {
                let _ = writeln!(
                    out,
                    "    fix:    {} (confidence {:.2})",
                    s.summary, s.confidence
                );
                if !s.patch.is_empty() {
                    let _ = writeln!(
                        out,
                        "    patch:  {}",
                        serde_json::to_string(&s.patch).unwrap_or_default()
                    );
                }
            }
            let _ = writeln!(out, "    hint:   {}", m.hint);
            if let Some(p) = &m.replay {
                let outcome = serde_json::to_value(p.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    replay: {outcome} → {}{}{}{}",
                    p.target_queue,
                    p.dedup_id
                        .as_ref()
                        .map(|d| format!(" (dedup {d})"))
                        .unwrap_or_default(),
                    if p.deleted {
                        ", deleted from the DLQ"
                    } else {
                        ""
                    },
                    p.detail
                        .as_ref()
                        .map(|d| format!(" — {d}"))
                        .unwrap_or_default()
                );
                if let Some(b) = &p.body_preview {
                    let _ = writeln!(out, "            {b}");
                }
            }
        }
    }
    if !r.not_found.is_empty() {
        let _ = writeln!(out, "\nnot found: {}", r.not_found.join(", "));
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "\nlisted {}, with an automatic fix {}, replayed {}, would replay {}, skipped {}, failed {}",
        s.listed, s.with_automatic_fix, s.replayed, s.would_replay, s.skipped, s.failed
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    fn attrs(class: &str, reason: &str) -> BTreeMap<String, String> {
        [
            (ATTR_FAILURE_CLASS, class),
            (ATTR_FAILURE_REASON, reason),
            (
                ATTR_SOURCE_QUEUE,
                "arn:aws:sqs:us-east-1:123456789012:o2c-captures.fifo",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

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

    // ----- JSON Patch

    #[test]
    fn patch_ops_follow_rfc_6902() {
        let doc = json!({"a": {"b": 1, "c/d": 2, "e~f": 3}, "list": [1, 2]});
        let out = apply_patch(
            &doc,
            &[
                PatchOp::Test {
                    path: "/a/b".into(),
                    value: json!(1),
                },
                op_replace("/a/b", json!("one")),
                PatchOp::Add {
                    path: "/list/-".into(),
                    value: json!(3),
                },
                PatchOp::Add {
                    path: "/list/0".into(),
                    value: json!(0),
                },
                PatchOp::Remove {
                    path: "/a/c~1d".into(),
                },
                PatchOp::Move {
                    from: "/a/e~0f".into(),
                    path: "/g".into(),
                },
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"a": {"b": "one"}, "list": [0, 1, 2, 3], "g": 3})
        );
        assert_eq!(
            pointer_of(&pointer_tokens("/a~1b/c~0d").unwrap()),
            "/a~1b/c~0d"
        );
    }

    #[test]
    fn a_failing_patch_changes_nothing_and_names_the_operation() {
        let doc = json!({"type": "captur"});
        let err = apply_patch(
            &doc,
            &[
                op_replace("/type", json!("capture")),
                PatchOp::Test {
                    path: "/order_id".into(),
                    value: json!("x"),
                },
            ],
        )
        .unwrap_err();
        assert_eq!((err.index, err.op), (1, "test"));
        assert!(apply_patch(&doc, &[op_replace("/missing", json!(1))]).is_err());
        assert!(apply_patch(
            &doc,
            &[PatchOp::Remove {
                path: "/nope".into()
            }]
        )
        .is_err());
        assert!(apply_patch(&doc, &[op_replace("type", json!(1))]).is_err());
        let ops: Vec<PatchOp> =
            serde_json::from_value(json!([{"op": "replace", "path": "/type", "value": "capture"}]))
                .unwrap();
        assert_eq!(ops, vec![op_replace("/type", json!("capture"))]);
        assert!(serde_json::from_value::<Vec<PatchOp>>(
            json!([{"op": "copy", "from": "/a", "path": "/b"}])
        )
        .is_err());
    }

    // ----- Classification

    #[test]
    fn attributes_classify_and_missing_ones_mean_retries_exhausted() {
        let c = classify(&attrs(
            "mapping",
            "message body is not a valid command: unknown variant `captur`",
        ));
        assert_eq!(c.class, FailureClass::Mapping);
        assert!(c.reason.contains("captur"));
        assert!(c.source_queue.unwrap().ends_with("o2c-captures.fifo"));

        for (raw, class) in [
            ("validation", FailureClass::Validation),
            ("terminal-api", FailureClass::TerminalApi),
            ("illegal-transition", FailureClass::IllegalTransition),
            ("not-found", FailureClass::NotFound),
            ("retries-exhausted", FailureClass::RetriesExhausted),
            ("internal", FailureClass::Internal),
        ] {
            assert_eq!(classify(&attrs(raw, "x")).class, class, "{raw}");
        }

        let c = classify(&BTreeMap::new());
        assert_eq!(c.class, FailureClass::RetriesExhausted);
        assert!(c.reason.contains("maxReceiveCount"));
        assert_eq!(c.source_queue, None);

        let c = classify(&attrs("exploded", "boom"));
        assert_eq!(c.class, FailureClass::Internal);
        assert!(c.reason.contains("exploded"));
    }

    // ----- Suggestions

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

    #[test]
    fn requests_are_validated() {
        let bad = |v: Value| {
            serde_json::from_value::<RedriveRequest>(v.clone())
                .map_err(|e| e.to_string())
                .and_then(|r| r.validate().map_err(|e| e.to_string()))
                .unwrap_err()
        };
        assert!(
            bad(json!({"action": "list", "queue": "all", "dryrun": false}))
                .contains("unknown field")
        );
        assert!(
            bad(json!({"action": "replay", "queue": "orders", "patch": []}))
                .contains("message_ids")
        );
        assert!(bad(json!({"action": "replay", "queue": "orders", "message_ids": ["m"], "patch": [], "apply_suggested": true})).contains("not both"));
        assert!(
            bad(json!({"action": "list", "queue": "orders", "apply_suggested": true}))
                .contains("replay")
        );
        let r: RedriveRequest =
            serde_json::from_value(json!({"action": "replay", "queue": "orders"})).unwrap();
        assert!(r.dry_run, "dry run by default");
    }

    #[test]
    fn the_command_line_builds_the_event() {
        let args = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let no_file = |_: &str| Err::<String, String>("no files".into());
        assert_eq!(cli_request(&[], &no_file).unwrap(), CliCommand::Help);
        let CliCommand::Run { request, json } = cli_request(&args("list"), &no_file).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                request.action,
                request.queue.as_str(),
                request.dry_run,
                json
            ),
            (Action::List, "all", true, false)
        );
        let CliCommand::Run { request, .. } = cli_request(
            &args("replay --queue orders --apply-suggested --no-dry-run --message-id a,b --message-id c --json"),
            &no_file,
        )
        .unwrap() else {
            panic!()
        };
        assert!(request.apply_suggested && !request.dry_run);
        assert_eq!(request.message_ids.unwrap(), ["a", "b", "c"]);
        let patch_file = |_: &str| Ok::<String, String>(r#"[{"op":"remove","path":"/x"}]"#.into());
        let CliCommand::Run { request, .. } = cli_request(
            &args("replay --queue captures --id m1 --patch-file p.json"),
            &patch_file,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            request.patch.unwrap(),
            vec![PatchOp::Remove { path: "/x".into() }]
        );
        assert!(cli_request(&args("replay --apply-suggested"), &no_file)
            .unwrap_err()
            .contains("--queue"));
        assert!(cli_request(&args("list --bogus"), &no_file).is_err());
        let ev = vec![
            "event".to_string(),
            r#"{"action":"list","queue":"refunds"}"#.to_string(),
        ];
        let CliCommand::Run { request, .. } = cli_request(&ev, &no_file).unwrap() else {
            panic!()
        };
        assert_eq!(request.queue, "refunds");
    }

    // ----- The service on an in-memory port

    #[derive(Default)]
    struct FakeQueues {
        /// url → (message, hidden)
        dlqs: Mutex<BTreeMap<String, Vec<(DlqMessage, bool)>>>,
        sent: Mutex<Vec<(String, String, String, String)>>,
        deleted: Mutex<Vec<String>>,
        fail_send: bool,
    }

    #[async_trait]
    impl DeadLetterQueues for FakeQueues {
        async fn receive(
            &self,
            url: &str,
            max: usize,
            _hide: u32,
            _wait: u32,
        ) -> Result<Vec<DlqMessage>, String> {
            let mut d = self.dlqs.lock().unwrap();
            let q = d.entry(url.to_string()).or_default();
            let mut out = Vec::new();
            for (m, hidden) in q.iter_mut().filter(|(_, h)| !*h).take(max) {
                *hidden = true;
                m.receive_count += 1;
                out.push(m.clone());
            }
            Ok(out)
        }
        async fn send(
            &self,
            url: &str,
            body: &str,
            group: &str,
            dedup: &str,
        ) -> Result<Option<String>, String> {
            if self.fail_send {
                return Err("throttled".into());
            }
            self.sent
                .lock()
                .unwrap()
                .push((url.into(), body.into(), group.into(), dedup.into()));
            Ok(Some("new-1".into()))
        }
        async fn delete(&self, url: &str, receipt: &str) -> Result<(), String> {
            let mut d = self.dlqs.lock().unwrap();
            d.get_mut(url)
                .unwrap()
                .retain(|(m, _)| m.receipt_handle != receipt);
            self.deleted.lock().unwrap().push(receipt.into());
            Ok(())
        }
        async fn release(&self, url: &str, receipt: &str) -> Result<(), String> {
            let mut d = self.dlqs.lock().unwrap();
            for (m, hidden) in d.get_mut(url).unwrap().iter_mut() {
                if m.receipt_handle == receipt {
                    *hidden = false;
                }
            }
            Ok(())
        }
    }

    fn dlq_message(
        id: &str,
        group: &str,
        body: &str,
        attributes: BTreeMap<String, String>,
    ) -> DlqMessage {
        DlqMessage {
            message_id: id.into(),
            receipt_handle: format!("rh-{id}"),
            body: body.into(),
            group_id: Some(group.into()),
            receive_count: 0,
            sent_timestamp_ms: Some(1),
            attributes,
        }
    }

    fn service(fake: Arc<FakeQueues>) -> Redrive {
        Redrive {
            port: fake,
            queues: QueueName::ALL
                .into_iter()
                .map(|q| {
                    (
                        q,
                        QueueUrls {
                            source: format!("src/{q}"),
                            dlq: format!("dlq/{q}"),
                        },
                    )
                })
                .collect(),
            store: None,
            hide_secs: 30,
            wait_secs: 0,
        }
    }

    fn seeded(fail_send: bool) -> Arc<FakeQueues> {
        let fake = FakeQueues {
            fail_send,
            ..FakeQueues::default()
        };
        fake.dlqs.lock().unwrap().insert(
            "dlq/captures".into(),
            vec![
                (
                    dlq_message(
                        "m1",
                        "ORD-1",
                        r#"{"type":"captur","order_id":"ORD-1"}"#,
                        attrs("mapping", "unknown variant `captur`"),
                    ),
                    false,
                ),
                (
                    dlq_message(
                        "m2",
                        "ORD-2",
                        r#"{"type":"capture","order_id":"ORD-2"}"#,
                        BTreeMap::new(),
                    ),
                    false,
                ),
            ],
        );
        Arc::new(fake)
    }

    fn run(r: &Redrive, event: Value) -> RedriveResponse {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let v = rt.block_on(r.handle_json(event)).unwrap();
        serde_json::from_value(v).unwrap()
    }

    fn visible(fake: &FakeQueues, url: &str) -> usize {
        fake.dlqs.lock().unwrap()[url]
            .iter()
            .filter(|(_, h)| !*h)
            .count()
    }

    #[test]
    fn list_classifies_suggests_and_leaves_every_message_visible() {
        let fake = seeded(false);
        let r = service(fake.clone());
        let out = run(&r, json!({"action": "list", "queue": "all"}));
        assert_eq!(out.queues.len(), 5);
        let msgs = &out
            .queues
            .iter()
            .find(|q| q.queue == "captures")
            .unwrap()
            .messages;
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].class, FailureClass::Mapping);
        assert_eq!(
            msgs[0].suggestion.as_ref().unwrap().patch[1],
            op_replace("/type", json!("capture"))
        );
        assert_eq!(msgs[1].class, FailureClass::RetriesExhausted);
        assert!(msgs[1].suggestion.is_none());
        assert_eq!(out.summary.listed, 2);
        assert_eq!(out.summary.with_automatic_fix, 1);
        assert_eq!(visible(&fake, "dlq/captures"), 2, "released after the pass");
        assert!(fake.sent.lock().unwrap().is_empty());
    }

    #[test]
    fn replay_is_a_dry_run_by_default() {
        let fake = seeded(false);
        let r = service(fake.clone());
        let out = run(
            &r,
            json!({"action": "replay", "queue": "captures", "apply_suggested": true}),
        );
        let msgs = &out.queues[0].messages;
        assert_eq!(
            msgs[0].replay.as_ref().unwrap().outcome,
            ReplayOutcome::WouldReplay
        );
        assert!(msgs[0]
            .replay
            .as_ref()
            .unwrap()
            .body_preview
            .as_ref()
            .unwrap()
            .contains(r#""type":"capture""#));
        assert_eq!(
            msgs[1].replay.as_ref().unwrap().outcome,
            ReplayOutcome::Skipped,
            "no suggestion for it"
        );
        assert!(fake.sent.lock().unwrap().is_empty());
        assert!(fake.deleted.lock().unwrap().is_empty());
        assert_eq!(visible(&fake, "dlq/captures"), 2);
    }

    #[test]
    fn replay_sends_with_the_group_and_a_deterministic_dedup_id_then_deletes() {
        let fake = seeded(false);
        let r = service(fake.clone());
        let out = run(
            &r,
            json!({"action": "replay", "queue": "captures", "message_ids": ["m1"], "apply_suggested": true, "dry_run": false}),
        );
        let rep = out.queues[0].messages[0].replay.clone().unwrap();
        assert_eq!(rep.outcome, ReplayOutcome::Replayed);
        assert!(rep.deleted);
        let sent = fake.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        let (url, body, group, dedup) = &sent[0];
        assert_eq!(url, "src/captures");
        assert_eq!(
            serde_json::from_str::<Value>(body).unwrap(),
            json!({"type": "capture", "order_id": "ORD-1"})
        );
        assert_eq!(group, "ORD-1");
        assert!(dedup.starts_with("redrive-m1-"), "{dedup}");
        assert_eq!(out.queues[0].messages.len(), 1, "only the named message");
        assert_eq!(visible(&fake, "dlq/captures"), 1, "m2 released, m1 gone");

        // As is: `redrive-<message id>`.
        let out = run(
            &r,
            json!({"action": "replay", "queue": "captures", "message_ids": ["m2"], "dry_run": false}),
        );
        assert_eq!(
            out.queues[0].messages[0].replay.as_ref().unwrap().outcome,
            ReplayOutcome::Replayed
        );
        assert_eq!(fake.sent.lock().unwrap()[1].3, "redrive-m2");
        assert!(fake.dlqs.lock().unwrap()["dlq/captures"].is_empty());
        let out = run(
            &r,
            json!({"action": "list", "queue": "captures", "message_ids": ["m2"]}),
        );
        assert_eq!(out.not_found, ["m2"]);
    }

    #[test]
    fn a_failed_send_deletes_nothing() {
        let fake = seeded(true);
        let r = service(fake.clone());
        let out = run(
            &r,
            json!({"action": "replay", "queue": "captures", "apply_suggested": true, "dry_run": false}),
        );
        let rep = out.queues[0].messages[0].replay.clone().unwrap();
        assert_eq!(rep.outcome, ReplayOutcome::Failed);
        assert!(!rep.deleted);
        assert!(fake.deleted.lock().unwrap().is_empty());
        assert_eq!(visible(&fake, "dlq/captures"), 2);
        assert_eq!(out.summary.failed, 1);
    }

    #[test]
    fn a_patch_that_leaves_the_body_invalid_is_not_sent() {
        let fake = seeded(false);
        let r = service(fake.clone());
        let out = run(
            &r,
            json!({"action": "replay", "queue": "captures", "message_ids": ["m1"], "dry_run": false,
                   "patch": [{"op": "replace", "path": "/type", "value": "caption"}]}),
        );
        let rep = out.queues[0].messages[0].replay.clone().unwrap();
        assert_eq!(rep.outcome, ReplayOutcome::Skipped);
        assert!(rep.detail.unwrap().contains("dead-letter it again"));
        // As is, the poisoned body is refused the same way.
        let out = run(
            &r,
            json!({"action": "replay", "queue": "captures", "message_ids": ["m1"], "dry_run": false}),
        );
        assert_eq!(
            out.queues[0].messages[0].replay.as_ref().unwrap().outcome,
            ReplayOutcome::Skipped
        );
        // An explicit patch that fixes it is sent.
        let out = run(
            &r,
            json!({"action": "replay", "queue": "captures", "message_ids": ["m1"], "dry_run": false,
                   "patch": [{"op": "replace", "path": "/type", "value": "capture"}]}),
        );
        assert_eq!(
            out.queues[0].messages[0].replay.as_ref().unwrap().outcome,
            ReplayOutcome::Replayed
        );
        assert_eq!(fake.sent.lock().unwrap().len(), 1);
    }
}
