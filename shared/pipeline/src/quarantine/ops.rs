//! The operations on kept events, for `o2c quarantine` and the console: list (masked), show,
//! replay (optionally JSON-patched, or as a dry run).
//!
//! **Exactly once.** A replay runs the kept event through the same code as a delivery
//! ([`ClarityEvents::handle`]) with the delivery's event id and body hash: the order is created
//! by a conditional put and its authorization sent with a deterministic dedup id, so two
//! replays racing each other, or a replay racing Clarity's late redelivery of the event, take
//! the order in once; the record is then resolved by a conditional write (the loser reports
//! the winner's resolution).

use crate::intake::map_order;
use crate::redrive::patch::{apply_patch, PatchOp};
use crate::webhook::{ClarityEvents, Origin, Refusal};
use o2c_connectors::clarity::events::{ClarityEvent, EventEnvelope};
use o2c_domain::ports::{Clock, StoreError};
use o2c_domain::quarantine::{Failure, QuarantineStore, Quarantined, Resolution};
use o2c_domain::Timestamp;
use serde_json::{json, Value};
use std::sync::Arc;

/// The operations' ports.
pub struct QuarantineOps {
    pub store: Arc<dyn QuarantineStore>,
    pub events: ClarityEvents,
    pub clock: Arc<dyn Clock>,
}

/// What a replay did (or, in a dry run, would do).
#[derive(Clone, Debug, PartialEq)]
pub enum Replay {
    /// The event was taken in now (`status` is the webhook's answer: `accepted`, `duplicate`,
    /// `not_payable`, `cancelling`, …).
    Done {
        order_id: Option<String>,
        status: String,
        resolved_now: bool,
    },
    /// Resolved before (an earlier or racing replay): nothing done.
    AlreadyResolved(Resolution),
    /// Dry run: it maps now; nothing was written.
    WouldSucceed { summary: Value },
    /// It still does not map under the current spec; still kept.
    StillFailing {
        failure: Failure,
        spec_version: String,
    },
    /// It maps but was refused (unknown order, busy, …); still kept.
    Refused { status: u16, answer: Value },
}

impl Replay {
    pub fn name(&self) -> &'static str {
        match self {
            Replay::Done { .. } => "replayed",
            Replay::AlreadyResolved(_) => "already_resolved",
            Replay::WouldSucceed { .. } => "would_succeed",
            Replay::StillFailing { .. } => "still_failing",
            Replay::Refused { .. } => "refused",
        }
    }

    /// Done, or would be.
    pub fn ok(&self) -> bool {
        matches!(
            self,
            Replay::Done { .. } | Replay::AlreadyResolved(_) | Replay::WouldSucceed { .. }
        )
    }

    pub fn to_json(&self, event_id: &str) -> Value {
        let mut v = match self {
            Replay::Done {
                order_id,
                status,
                resolved_now,
            } => json!({"order_id": order_id, "status": status, "resolved_now": resolved_now}),
            Replay::AlreadyResolved(r) => json!({"resolution": r}),
            Replay::WouldSucceed { summary } => json!({"would": summary}),
            Replay::StillFailing {
                failure,
                spec_version,
            } => json!({"failure": failure, "spec_version": spec_version}),
            Replay::Refused { status, answer } => json!({"status": status, "answer": answer}),
        };
        v["event_id"] = json!(event_id);
        v["outcome"] = json!(self.name());
        v
    }
}

/// Why an operation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("no quarantined event {0}")]
    NotFound(String),
    #[error(
        "event {0}: its body was over the size cap and was not kept; ask Clarity to resend it"
    )]
    NoBody(String),
    #[error("event {id}: the patch does not apply: {detail}")]
    Patch { id: String, detail: String },
    #[error("event {id}: the kept body is not an event: {detail}")]
    Corrupt { id: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The days a listing covers: today and the `days - 1` before it (UTC).
pub fn days_back(now: Timestamp, days: u32) -> Vec<String> {
    (0..days.max(1))
        .map(|d| now.0 - i64::from(d) * 86_400_000)
        .map(|ms| Timestamp(ms).to_rfc3339()[..10].to_string())
        .collect()
}

fn answer_of(r: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null);
    (status, body)
}

impl QuarantineOps {
    /// Kept events of the last `days` days, newest first, without bodies (masked view only);
    /// `open_only` leaves out resolved ones.
    pub async fn list(&self, days: u32, open_only: bool) -> Result<Vec<Quarantined>, OpsError> {
        let all = self.store.list(&days_back(self.clock.now(), days)).await?;
        Ok(all
            .into_iter()
            .filter(|q| !open_only || q.is_open())
            .collect())
    }

    /// One kept event, body included.
    pub async fn show(&self, event_id: &str) -> Result<Quarantined, OpsError> {
        self.store
            .get(event_id)
            .await?
            .ok_or_else(|| OpsError::NotFound(event_id.to_string()))
    }

    /// The kept body as an envelope, patched when asked.
    fn envelope(q: &Quarantined, patch: Option<&[PatchOp]>) -> Result<EventEnvelope, OpsError> {
        let body = q
            .body
            .as_deref()
            .ok_or_else(|| OpsError::NoBody(q.event_id.clone()))?;
        let corrupt = |detail: String| OpsError::Corrupt {
            id: q.event_id.clone(),
            detail,
        };
        let mut v: Value = serde_json::from_str(body).map_err(|e| corrupt(e.to_string()))?;
        if let Some(p) = patch {
            v = apply_patch(&v, p).map_err(|e| OpsError::Patch {
                id: q.event_id.clone(),
                detail: e.to_string(),
            })?;
        }
        let envelope: EventEnvelope =
            serde_json::from_value(v).map_err(|e| corrupt(e.to_string()))?;
        if envelope.id != q.event_id {
            return Err(OpsError::Patch {
                id: q.event_id.clone(),
                detail: "a patch may not change the event id".into(),
            });
        }
        Ok(envelope)
    }

    /// Re-run one kept event through the current spec (see the module documentation).
    pub async fn replay(
        &self,
        event_id: &str,
        patch: Option<&[PatchOp]>,
        dry_run: bool,
        by: &str,
    ) -> Result<Replay, OpsError> {
        let q = self.show(event_id).await?;
        if let Some(r) = q.resolution.clone() {
            return Ok(Replay::AlreadyResolved(r));
        }
        let envelope = Self::envelope(&q, patch)?;
        if dry_run {
            return self.dry_run(&envelope).await;
        }
        let spec_version = self
            .events
            .specs
            .current()
            .await
            .map(|(s, _)| s.version.clone())
            .map_err(|e| OpsError::Unavailable(e.to_string()))?;
        match self
            .events
            .handle(&envelope, &q.body_hash, Origin::Replay { by })
            .await
        {
            Ok(r) => {
                let (code, answer) = answer_of(r);
                if code >= 300 {
                    return Ok(Replay::Refused {
                        status: code,
                        answer,
                    });
                }
                let status = answer["status"].as_str().unwrap_or("done").to_string();
                let order_id = answer["order_id"]
                    .as_str()
                    .map(str::to_string)
                    .or(q.order_id.clone());
                let resolution = Resolution {
                    outcome: if status == "duplicate" {
                        "already_known".into()
                    } else {
                        "replayed".into()
                    },
                    order_id: order_id.clone(),
                    by: by.to_string(),
                    at: self.clock.now(),
                    spec_version,
                    patched: patch.is_some(),
                };
                let resolved_now = self.store.resolve(event_id, &resolution).await?;
                if !resolved_now {
                    if let Some(r) = self.store.get(event_id).await?.and_then(|q| q.resolution) {
                        return Ok(Replay::AlreadyResolved(r));
                    }
                }
                Ok(Replay::Done {
                    order_id,
                    status,
                    resolved_now,
                })
            }
            Err(Refusal::Unmappable {
                failure,
                spec_version,
            }) => Ok(Replay::StillFailing {
                failure,
                spec_version,
            }),
            Err(Refusal::Answer(r)) => {
                let (status, answer) = answer_of(r);
                Ok(Replay::Refused { status, answer })
            }
        }
    }

    /// What a replay would do: the event read and its order mapped and pinned, no write.
    async fn dry_run(&self, envelope: &EventEnvelope) -> Result<Replay, OpsError> {
        let (spec, event) = match self.events.read(envelope).await {
            Ok(x) => x,
            Err(Refusal::Unmappable {
                failure,
                spec_version,
            }) => {
                return Ok(Replay::StillFailing {
                    failure,
                    spec_version,
                })
            }
            Err(Refusal::Answer(r)) => {
                let (status, answer) = answer_of(r);
                return Ok(Replay::Refused { status, answer });
            }
        };
        let summary = match &event {
            ClarityEvent::OrderCreated { order } => {
                match map_order(order, &spec, self.clock.now()) {
                    Ok((o, pinned)) => json!({
                        "event": "order.created",
                        "order_id": o.id.as_str(),
                        "total": o.total.to_string(),
                        "currency": o.currency().code(),
                        "lines": o.lines.len(),
                        "spec": pinned.why,
                    }),
                    Err(e) => {
                        return Ok(match crate::webhook::unmappable(&e, &spec.version) {
                            Refusal::Unmappable {
                                failure,
                                spec_version,
                            } => Replay::StillFailing {
                                failure,
                                spec_version,
                            },
                            Refusal::Answer(r) => {
                                let (status, answer) = answer_of(r);
                                Replay::Refused { status, answer }
                            }
                        })
                    }
                }
            }
            _ => json!({"event": envelope.event_type, "spec": spec.version}),
        };
        Ok(Replay::WouldSucceed { summary })
    }
}
