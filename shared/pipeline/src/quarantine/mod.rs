//! Quarantine: nothing signed is lost to a mapping error.
//!
//! A signed, fresh, card-free Clarity event that fails mapping or validation is accepted (202,
//! so Clarity stops retrying) and kept ([`Quarantine::keep`]): the raw body (encrypted at rest
//! with the template's KMS key, up to [`QuarantineConfig::max_body_bytes`]), a PII-masked view
//! for listings, the failure class, field path and masked value, and the spec version it failed
//! under, until the TTL. Each new record counts in the `Quarantined` metric (by class, alarmed)
//! and alerts the integration team (SNS) with the assistant's suggested fix ([`alert`]). A flood
//! cannot page all night or fill the table: past [`QuarantineConfig::alerts_per_minute`] in a
//! minute one flood alert replaces the rest, bodies are capped, records expire, and the
//! `QuarantineRate` alarm watches the rate.
//!
//! A redelivery of a kept event counts a delivery and alerts nobody. Replay ([`ops`]) re-runs
//! kept events through the current spec (optionally JSON-patched) exactly once.
//! Card-number payloads are refused before anything here runs (422, never stored).

pub mod alert;
pub mod ops;

use o2c_connectors::clarity::events::EventEnvelope;
use o2c_domain::card;
use o2c_domain::pii::{self, MaskPolicy};
use o2c_domain::ports::{Clock, StoreError};
use o2c_domain::quarantine::{Alerts, Failure, QuarantinePut, QuarantineStore, Quarantined};
use o2c_domain::Timestamp;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Limits of the quarantine.
#[derive(Clone, Debug)]
pub struct QuarantineConfig {
    /// How long a record is kept (`QUARANTINE_TTL_DAYS`, default 14).
    pub ttl: Duration,
    /// Bodies larger than this are not kept, only their failure (`QUARANTINE_MAX_BODY_BYTES`,
    /// default 256 KiB; a DynamoDB item holds at most 400 KB).
    pub max_body_bytes: usize,
    /// Individual alerts per minute; the next new record sends one flood alert instead
    /// (`QUARANTINE_ALERTS_PER_MINUTE`, default 10).
    pub alerts_per_minute: u64,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        QuarantineConfig {
            ttl: Duration::from_secs(14 * 24 * 3600),
            max_body_bytes: 256 * 1024,
            alerts_per_minute: 10,
        }
    }
}

/// The PII-masked view kept for listings is cut to this size.
pub const VIEW_MAX_BYTES: usize = 4096;

/// The quarantine of one function.
#[derive(Clone)]
pub struct Quarantine {
    pub store: Arc<dyn QuarantineStore>,
    pub alerts: Arc<dyn Alerts>,
    pub clock: Arc<dyn Clock>,
    pub config: QuarantineConfig,
    /// Stage, for alert subjects.
    pub stage: String,
    /// Function name, for metrics.
    pub function: &'static str,
}

/// What [`Quarantine::keep`] did.
#[derive(Clone, Debug)]
pub struct Kept {
    pub record: Quarantined,
    /// `false`: the event was kept before (a redelivery).
    pub new: bool,
    /// The alert sent for it: `event`, `flood` or `none` (over the minute's limit, or a
    /// redelivery).
    pub alerted: &'static str,
}

impl Kept {
    /// The webhook's answer.
    pub fn answer(&self) -> Value {
        let r = &self.record;
        json!({
            "status": if r.is_open() { "quarantined" } else { "already_replayed" },
            "event_id": r.event_id,
            "order_id": r.order_id,
            "class": r.failure.class,
            "path": r.failure.path,
            "detail": "the event did not map under the active spec; it is kept for the integration team to fix and replay",
        })
    }
}

/// The sender's order id, where the payload has one.
pub fn order_id_of(payload: &Value) -> Option<String> {
    [
        &payload["order"]["id"],
        &payload["orderId"],
        &payload["return"]["orderId"],
    ]
    .into_iter()
    .find_map(|v| v.as_str().map(str::to_string))
}

fn mask_strings(v: &mut Value) {
    match v {
        Value::String(s) => {
            let masked = pii::mask_text(s, MaskPolicy::LOGS);
            *s = card::redact_card_numbers(&masked, "[digits redacted]");
        }
        Value::Array(a) => a.iter_mut().for_each(mask_strings),
        Value::Object(m) => m.values_mut().for_each(mask_strings),
        _ => {}
    }
}

/// The masked view of a payload: PII fields masked by name, e-mails and phone-like digit runs
/// masked in every string (a renamed field keeps no PII in the clear either), cut to
/// [`VIEW_MAX_BYTES`] (then only the field names remain).
pub fn masked_view(payload: &Value) -> Value {
    let mut v = pii::masked_json(payload, MaskPolicy::LOGS);
    mask_strings(&mut v);
    if v.to_string().len() <= VIEW_MAX_BYTES {
        return v;
    }
    let inner = payload.get("order").unwrap_or(payload);
    let fields: Vec<&String> = inner
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    json!({"truncated": true, "fields": fields})
}

/// The minute a time falls in (`2026-12-07T10:31`), the rate counter's window.
pub fn minute_of(t: Timestamp) -> String {
    t.to_rfc3339()[..16].to_string()
}

impl Quarantine {
    /// Keep a verified event that failed (see the module documentation).
    pub async fn keep(
        &self,
        body: &[u8],
        body_hash: &str,
        envelope: &EventEnvelope,
        failure: Failure,
        spec_version: &str,
    ) -> Result<Kept, StoreError> {
        let now = self.clock.now();
        let kept_body = (body.len() <= self.config.max_body_bytes)
            .then(|| String::from_utf8_lossy(body).into_owned());
        let record = Quarantined {
            event_id: envelope.id.clone(),
            event_type: envelope.event_type.clone(),
            order_id: order_id_of(&envelope.payload),
            failure,
            spec_version: spec_version.to_string(),
            received_at: now,
            expires_at: now.plus(self.config.ttl),
            body_bytes: body.len(),
            body_hash: body_hash.to_string(),
            body: kept_body,
            view: masked_view(&envelope.payload),
            deliveries: 1,
            resolution: None,
        };
        let existing = match self.store.put(&record).await? {
            QuarantinePut::Created => None,
            QuarantinePut::Exists(r) => Some(*r),
        };
        if let Some(stored) = existing {
            tracing::info!(
                deliveries = stored.deliveries,
                open = stored.is_open(),
                "redelivery of a quarantined event; no new alert"
            );
            return Ok(Kept {
                record: stored,
                new: false,
                alerted: "none",
            });
        }
        o2c_runtime::metrics::count_by(
            self.function,
            "Quarantined",
            "class",
            record.failure.class.name(),
        );
        if record.body.is_none() {
            o2c_runtime::metrics::count(self.function, "QuarantineBodyTooLarge");
        }
        let minute = minute_of(now);
        let n = self
            .store
            .count(&minute, now.plus(Duration::from_secs(3600)))
            .await?;
        let limit = self.config.alerts_per_minute;
        let (alerted, subject, message) = if n <= limit {
            let (s, m) = alert::event_alert(&self.stage, &record);
            ("event", s, m)
        } else if n == limit + 1 {
            let (s, m) = alert::flood_alert(&self.stage, &minute, limit, &record);
            ("flood", s, m)
        } else {
            ("none", String::new(), String::new())
        };
        if alerted != "none" {
            // The record is kept and the metric alarmed: a failed alert is logged, not retried
            // (a retry would only duplicate the others).
            if let Err(e) = self.alerts.alert(&subject, &message).await {
                tracing::error!(error = %e, "quarantine alert not delivered");
            }
        }
        tracing::warn!(class = %record.failure.class, path = %record.failure.path, spec = %record.spec_version, body_kept = record.body.is_some(), alerted, "event quarantined");
        Ok(Kept {
            record,
            new: true,
            alerted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_masks_pii_under_any_field_name_and_is_cut() {
        let payload = json!({"order": {"id": "ORD-1", "customer": {"emailAddress": "ann@example.com", "firstName": "Ann"},
            "note": "call +1 512 555 0100", "totals": {"grandTotal": "10.00"}}});
        let v = masked_view(&payload);
        let text = v.to_string();
        assert!(!text.contains("ann@example.com"), "{text}");
        assert!(!text.contains("555 0100"), "{text}");
        assert!(!text.contains("\"Ann\""), "{text}");
        assert_eq!(v["order"]["id"], "ORD-1");
        assert_eq!(v["order"]["totals"]["grandTotal"], "10.00");
        let big = json!({"order": {"id": "ORD-2", "blob": "x".repeat(VIEW_MAX_BYTES)}});
        let v = masked_view(&big);
        assert_eq!(v, json!({"truncated": true, "fields": ["blob", "id"]}));
    }

    #[test]
    fn order_ids_and_minutes() {
        assert_eq!(
            order_id_of(&json!({"order": {"id": "A"}})).as_deref(),
            Some("A")
        );
        assert_eq!(
            order_id_of(&json!({"return": {"orderId": "B"}})).as_deref(),
            Some("B")
        );
        assert_eq!(order_id_of(&json!({})), None);
        assert_eq!(
            minute_of(Timestamp::parse_rfc3339("2026-12-07T10:31:59.999Z").unwrap()),
            "2026-12-07T10:31"
        );
    }
}
