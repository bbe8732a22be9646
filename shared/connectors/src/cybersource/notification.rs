//! The Cybersource notification (webhook) envelope (docs/cybersource.md, notifications):
//! `eventType`, `webhookId`, `productId`, `organizationId`, `eventDate`, `transactionTraceId`,
//! `retryNumber`, `payload`, `requestType` (and `notificationId`, which deliveries carry as the
//! notification's own id).
//!
//! Parse only after [`super::WebhookVerifier::verify`] accepted the raw bytes. `payload` is kept
//! as JSON: the TMS guide shows an object (`payload.data...`), the SFCC plugin reads an array
//! (`payload[0]`); [`Notification::payload_items`] hides the difference.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The documented event types (`docs/cybersource.md` §3.3); anything else is kept verbatim in
/// [`EventKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `risk.casemanagement.decision.accept`: a reviewer accepted a Decision Manager case.
    CaseDecisionAccept,
    /// `risk.casemanagement.decision.reject`: a reviewer rejected a Decision Manager case.
    CaseDecisionReject,
    /// `risk.profile.decision.reject`: a profile rule rejected the transaction.
    ProfileDecisionReject,
    /// `risk.profile.decision.monitor` (seen in a community post only).
    ProfileDecisionMonitor,
    /// `risk.casemanagement.addnote`.
    CaseAddNote,
    /// `tms.networktoken.provisioned`.
    NetworkTokenProvisioned,
    /// `tms.networktoken.updated`.
    NetworkTokenUpdated,
    /// `payments.payments.updated` (alternative payment methods).
    PaymentsUpdated,
    /// `payments.payments.accepted` (eCheck).
    PaymentsAccepted,
    /// `payments.payments.failed` (eCheck).
    PaymentsFailed,
    /// `payments.credits.accepted` (eCheck).
    CreditsAccepted,
    /// `payments.credits.failed` (eCheck).
    CreditsFailed,
    /// `payments.voids.accepted` (eCheck).
    VoidsAccepted,
    /// Anything else, verbatim.
    Other(String),
}

const KNOWN: &[(&str, EventKind)] = &[
    (
        "risk.casemanagement.decision.accept",
        EventKind::CaseDecisionAccept,
    ),
    (
        "risk.casemanagement.decision.reject",
        EventKind::CaseDecisionReject,
    ),
    (
        "risk.profile.decision.reject",
        EventKind::ProfileDecisionReject,
    ),
    (
        "risk.profile.decision.monitor",
        EventKind::ProfileDecisionMonitor,
    ),
    ("risk.casemanagement.addnote", EventKind::CaseAddNote),
    (
        "tms.networktoken.provisioned",
        EventKind::NetworkTokenProvisioned,
    ),
    ("tms.networktoken.updated", EventKind::NetworkTokenUpdated),
    ("payments.payments.updated", EventKind::PaymentsUpdated),
    ("payments.payments.accepted", EventKind::PaymentsAccepted),
    ("payments.payments.failed", EventKind::PaymentsFailed),
    ("payments.credits.accepted", EventKind::CreditsAccepted),
    ("payments.credits.failed", EventKind::CreditsFailed),
    ("payments.voids.accepted", EventKind::VoidsAccepted),
];

impl EventKind {
    /// Exact (case-sensitive) match of a documented name, else [`EventKind::Other`].
    pub fn parse(event_type: &str) -> Self {
        KNOWN
            .iter()
            .find(|(name, _)| *name == event_type)
            .map_or_else(
                || EventKind::Other(event_type.to_owned()),
                |(_, k)| k.clone(),
            )
    }

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Other(s) => s,
            known => KNOWN
                .iter()
                .find(|(_, k)| k == known)
                .map(|(name, _)| *name)
                .unwrap_or_default(),
        }
    }

    /// The `productId` the event belongs to (`docs/cybersource.md` §3.3 table).
    pub fn product(&self) -> Option<&'static str> {
        Some(match self {
            EventKind::CaseDecisionAccept
            | EventKind::CaseDecisionReject
            | EventKind::ProfileDecisionReject
            | EventKind::ProfileDecisionMonitor
            | EventKind::CaseAddNote => "decisionManager",
            EventKind::NetworkTokenProvisioned | EventKind::NetworkTokenUpdated => {
                "tokenManagement"
            }
            EventKind::PaymentsUpdated => "alternativePaymentMethods",
            EventKind::PaymentsAccepted
            | EventKind::PaymentsFailed
            | EventKind::CreditsAccepted
            | EventKind::CreditsFailed
            | EventKind::VoidsAccepted => "eCheck",
            EventKind::Other(_) => return None,
        })
    }

    /// A Decision Manager outcome the pipeline acts on: `Some(true)` accept, `Some(false)`
    /// reject.
    pub fn review_decision(&self) -> Option<bool> {
        match self {
            EventKind::CaseDecisionAccept => Some(true),
            EventKind::CaseDecisionReject | EventKind::ProfileDecisionReject => Some(false),
            _ => None,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(EventKind::parse(&String::deserialize(d)?))
    }
}

/// A notification body (`docs/cybersource.md` §3.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub event_type: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_trace_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_number: Option<u32>,
    /// `NEW` for a first delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    #[serde(default)]
    pub payload: Value,
}

/// Why a (verified) body is not a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Not JSON, or `eventType` missing / not a string. Carries serde's location, not content.
    #[error("not a Cybersource notification envelope (line {line}, column {column})")]
    Malformed { line: usize, column: usize },
}

impl Notification {
    /// Parses the raw body (after the signature was verified).
    pub fn parse(raw_body: &[u8]) -> Result<Self, NotificationError> {
        serde_json::from_slice(raw_body).map_err(|e| NotificationError::Malformed {
            line: e.line(),
            column: e.column(),
        })
    }

    /// The id to deduplicate deliveries on: `notificationId`, else `transactionTraceId`, else
    /// `webhookId` + `eventDate` + `eventType`. Retries of one notification keep their id.
    pub fn dedup_id(&self) -> Option<String> {
        if let Some(id) = self.notification_id.as_ref().filter(|s| !s.is_empty()) {
            return Some(id.clone());
        }
        if let Some(id) = self.transaction_trace_id.as_ref().filter(|s| !s.is_empty()) {
            return Some(format!("trace:{id}"));
        }
        match (&self.webhook_id, &self.event_date) {
            (Some(w), Some(d)) => Some(format!("{w}:{d}:{}", self.event_type)),
            _ => None,
        }
    }

    /// `payload` as a list of objects: an object payload is one item, an array payload is its
    /// items (the two shapes seen in the sources, `docs/cybersource.md` §3.3).
    pub fn payload_items(&self) -> Vec<&Value> {
        match &self.payload {
            Value::Array(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            other => vec![other],
        }
    }

    /// A string found at `path` (member names) in the first payload item that has it, also
    /// looking under its `data` member. E.g. `["id"]` finds `payload.data.id` or `payload.id`.
    pub fn payload_str(&self, path: &[&str]) -> Option<&str> {
        self.payload_items().into_iter().find_map(|item| {
            [item.get("data"), Some(item)]
                .into_iter()
                .flatten()
                .find_map(|root| {
                    path.iter()
                        .try_fold(root, |v, key| v.get(key))
                        .and_then(Value::as_str)
                })
        })
    }

    /// The Cybersource transaction id the notification is about, where the payload has one
    /// (`data.id`, `id`, `transactionId`, `requestId`, or the `data._links.self.href` tail).
    pub fn transaction_id(&self) -> Option<String> {
        for path in [&["id"][..], &["transactionId"], &["requestId"]] {
            if let Some(v) = self.payload_str(path) {
                return Some(v.to_owned());
            }
        }
        let href = self.payload_str(&["_links", "self", "href"])?;
        href.rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64().and_then(|v| u32::try_from(v).ok()),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_documented_event_type_round_trips() {
        let documented = [
            "risk.casemanagement.decision.accept",
            "risk.casemanagement.decision.reject",
            "risk.profile.decision.reject",
            "risk.profile.decision.monitor",
            "risk.casemanagement.addnote",
            "tms.networktoken.provisioned",
            "tms.networktoken.updated",
            "payments.payments.updated",
            "payments.payments.accepted",
            "payments.payments.failed",
            "payments.credits.accepted",
            "payments.credits.failed",
            "payments.voids.accepted",
        ];
        for name in documented {
            let k = EventKind::parse(name);
            assert!(!matches!(k, EventKind::Other(_)), "{name}");
            assert_eq!(k.as_str(), name);
            assert!(k.product().is_some());
            assert_eq!(serde_json::to_value(&k).unwrap(), json!(name));
        }
        assert_eq!(
            EventKind::parse("risk.casemanagement.decision.accept").review_decision(),
            Some(true)
        );
        assert_eq!(
            EventKind::parse("risk.casemanagement.decision.reject").review_decision(),
            Some(false)
        );
        assert_eq!(
            EventKind::parse("risk.profile.decision.reject").product(),
            Some("decisionManager")
        );
        let other = EventKind::parse("payments.capture.status.accepted");
        assert_eq!(
            other,
            EventKind::Other("payments.capture.status.accepted".into())
        );
        assert_eq!(other.as_str(), "payments.capture.status.accepted");
        assert_eq!(other.product(), None);
        assert_eq!(other.review_decision(), None);
        // Case matters: an unexpected spelling is not silently a known event.
        assert!(matches!(
            EventKind::parse("RISK.CASEMANAGEMENT.DECISION.ACCEPT"),
            EventKind::Other(_)
        ));
    }

    #[test]
    fn parses_the_envelope_with_object_payload() {
        let body = json!({
            "eventType": "risk.casemanagement.decision.reject",
            "notificationId": "n-1",
            "webhookId": "w-1",
            "productId": "decisionManager",
            "organizationId": "o2c_local_sandbox",
            "eventDate": "2026-01-20T10:00:00Z",
            "transactionTraceId": "t-1",
            "retryNumber": 0,
            "requestType": "NEW",
            "payload": {"data": {"id": "70001", "decision": "REJECT",
                                 "_links": {"self": {"href": "/pts/v2/payments/70001"}}}}
        });
        let n = Notification::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(n.event_type, EventKind::CaseDecisionReject);
        assert_eq!(n.dedup_id().as_deref(), Some("n-1"));
        assert_eq!(n.retry_number, Some(0));
        assert_eq!(n.payload_items().len(), 1);
        assert_eq!(n.payload_str(&["decision"]), Some("REJECT"));
        assert_eq!(n.transaction_id().as_deref(), Some("70001"));
    }

    #[test]
    fn parses_array_payload_and_lenient_fields() {
        let body = json!({
            "eventType": "something.new",
            "retryNumber": "2",
            "transactionTraceId": "t-9",
            "payload": [{"data": {"_links": {"self": {"href": "https://x/tms/v2/tokens/ABC"}}}}]
        });
        let n = Notification::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(n.event_type, EventKind::Other("something.new".into()));
        assert_eq!(n.retry_number, Some(2));
        assert_eq!(n.dedup_id().as_deref(), Some("trace:t-9"));
        assert_eq!(n.transaction_id().as_deref(), Some("ABC"));
        let n = Notification::parse(br#"{"eventType":"x"}"#).unwrap();
        assert!(n.payload_items().is_empty());
        assert_eq!(n.dedup_id(), None);
        assert_eq!(n.transaction_id(), None);
    }

    #[test]
    fn malformed_envelopes() {
        for bad in [
            &b"not json"[..],
            br#"{"payload": {}}"#,
            br#"{"eventType": 5}"#,
            b"[]",
        ] {
            assert!(Notification::parse(bad).is_err());
        }
    }
}
