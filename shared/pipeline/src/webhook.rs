//! The Clarity webhook receiver (API Gateway HTTP API, payload 2.0).
//!
//! Verify the signature on the raw bytes (1 MiB cap, timestamp window, constant-time compare
//! against every `v1=`, header/body id match) → refuse any payload holding a card-number-like
//! value (422 + `CardDataRefused` metric, nothing stored) → parse and map → record the event id
//! (conditional put) → act → answer fast. An event that fails mapping or validation is
//! quarantined ([`crate::quarantine`]: kept encrypted, alerted, replayable; 202 `quarantined`)
//! rather than refused, so Clarity stops retrying and nothing is lost.
//!
//! Acting is idempotent and healing: `order.created` goes through the one intake
//! ([`crate::intake`], shared with the catch-up poller): the order is created in `Received`
//! (conditional put) and, when its Clarity status is payable, its authorization is queued with a
//! deterministic dedup id (202 `accepted`). A status that is not payable is recorded and answered
//! 200 `not_payable`; nothing is queued. A duplicate delivery answers 200 and does nothing —
//! unless an earlier delivery of a payable order died between recording and queueing, in which
//! case the order is still `Received` and the (same) authorization message is sent again.

// Errors here are complete HTTP responses, built once per request on the way out; boxing them
// would only add an allocation.
#![allow(clippy::result_large_err)]

use crate::cancel::record_cancellation;
use crate::intake::{Intake, IntakeError, Source};
use crate::messages::PaymentCommand;
use crate::quarantine::Quarantine;
use crate::spec_runtime;
use async_trait::async_trait;
use lambda_http::{Body, Request, Response};
use o2c_connectors::clarity::events::{ClarityEvent, EventEnvelope, EventError, ReturnRequest};
use o2c_connectors::clarity::webhook::{WebhookHeaders, WebhookVerifier};
use o2c_connectors::mapping::clarity::refund_from_return;
use o2c_connectors::mapping::{MappingError, MappingErrorKind};
use o2c_domain::card::payload_holds_card_number;
use o2c_domain::ports::{CancelIntent, Clock, OrderStore, Publisher, StoreError};
use o2c_domain::quarantine::{Failure, QuarantineClass};
use o2c_domain::{OrderId, TimelineEntry};
use o2c_runtime::lambda::{json_response, problem, HttpHandler};
use o2c_spec::{Spec, Specs};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Idempotency scope of Clarity events.
pub use crate::intake::SCOPE;

pub struct ClarityWebhook {
    pub verifier: WebhookVerifier,
    /// What a verified event does.
    pub events: ClarityEvents,
    /// Where events that fail mapping or validation go.
    pub quarantine: Quarantine,
}

/// Who brought a verified event.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// Clarity's signed delivery.
    Webhook,
    /// A replay from quarantine by an operator.
    Replay { by: &'a str },
}

/// Why a verified event was not acted on.
pub enum Refusal {
    /// The event does not map under the spec version it was read with: quarantine it.
    Unmappable {
        failure: Failure,
        spec_version: String,
    },
    /// Anything else, as the HTTP answer (busy, unknown order, unavailable, card data, …).
    Answer(Response<Body>),
}

impl From<Response<Body>> for Refusal {
    fn from(r: Response<Body>) -> Self {
        Refusal::Answer(r)
    }
}

/// A mapping failure as what quarantine keeps; card data is never kept (422 as ever).
pub fn unmappable(e: &MappingError, spec_version: &str) -> Refusal {
    let class = match e.kind {
        MappingErrorKind::Missing => QuarantineClass::MissingField,
        MappingErrorKind::Invalid => QuarantineClass::InvalidValue,
        MappingErrorKind::Inconsistent => QuarantineClass::Inconsistent,
        MappingErrorKind::CardData => {
            return Refusal::Answer(problem(422, "card_data_refused", &e.to_string()))
        }
    };
    Refusal::Unmappable {
        failure: Failure {
            class,
            path: e.path.clone(),
            value: e.value.clone(),
            message: e.message.clone(),
        },
        spec_version: spec_version.to_string(),
    }
}

/// A payload without the contract's shape, as what quarantine keeps.
fn unreadable(e: &EventError, spec_version: &str) -> Refusal {
    let class = if e.reason.starts_with("missing field") {
        QuarantineClass::MissingField
    } else {
        QuarantineClass::Unreadable
    };
    Refusal::Unmappable {
        failure: Failure {
            class,
            path: e.path.clone(),
            value: None,
            message: e.reason.clone(),
        },
        spec_version: spec_version.to_string(),
    }
}

/// What a verified Clarity event does (the webhook's work after the signature, shared with
/// replay from quarantine).
pub struct ClarityEvents {
    pub store: Arc<dyn OrderStore>,
    pub publisher: Arc<dyn Publisher>,
    pub clock: Arc<dyn Clock>,
    /// How long event ids are remembered: longer than Clarity's redelivery schedule.
    pub remember: Duration,
    /// Function name, for metrics.
    pub function: &'static str,
    /// The integration spec versions: new orders are mapped under, and pin, the active one.
    pub specs: Arc<Specs>,
}

/// The raw request body, as sent (`lambda_http` has decoded API Gateway's base64).
pub fn raw_body(req: &Request) -> &[u8] {
    req.body().as_ref()
}

/// Hex SHA-256 of a payload.
pub fn payload_hash(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn unavailable(e: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(error = %e, "webhook could not be recorded; the sender will retry");
    problem(503, "unavailable", "temporarily unavailable; retry later")
}

impl ClarityWebhook {
    async fn receive(&self, req: &Request) -> Result<Response<Body>, Response<Body>> {
        let body = raw_body(req);
        let headers = WebhookHeaders::from_lookup(|n| header(req, n));
        let now = self.events.clock.now();
        let verified = self
            .verifier
            .verify(&headers, body, now.epoch_seconds())
            .map_err(|e| {
                tracing::warn!(code = e.code(), "webhook refused");
                problem(e.http_status(), e.code(), &e.to_string())
            })?;
        let event_id = verified.envelope.id.clone();
        let span = tracing::info_span!("clarity_event", event_id = %event_id, event_type = %verified.envelope.event_type);
        let _g = span.enter();
        if payload_holds_card_number(body) {
            o2c_runtime::metrics::count(self.events.function, "CardDataRefused");
            tracing::error!("refused: the payload holds a card-number-like value; nothing stored");
            return Err(problem(
                422,
                "card_data_refused",
                "the payload holds a value that looks like a card number; card data is never accepted (send a Cybersource token)",
            ));
        }
        let hash = payload_hash(body);
        match self
            .events
            .handle(&verified.envelope, &hash, Origin::Webhook)
            .await
        {
            Ok(r) => Ok(r),
            Err(Refusal::Answer(r)) => Err(r),
            Err(Refusal::Unmappable {
                failure,
                spec_version,
            }) => {
                tracing::warn!(class = %failure.class, path = %failure.path, "the event does not map under the active spec: quarantined");
                let kept = self
                    .quarantine
                    .keep(body, &hash, &verified.envelope, failure, &spec_version)
                    .await
                    .map_err(unavailable)?;
                Ok(json_response(202, &kept.answer()))
            }
        }
    }
}

impl ClarityEvents {
    /// The event as the contract reads it: the order as this merchant's Clarity sends it → the
    /// contract's, through the active spec's `clarity.order` (an order.created pins that same
    /// version, which is returned with it). Nothing is written.
    pub async fn read(
        &self,
        delivered: &EventEnvelope,
    ) -> Result<(Arc<Spec>, ClarityEvent), Refusal> {
        let spec = spec_runtime::current(&self.specs, self.function)
            .await
            .map_err(unavailable)?;
        let mut envelope = delivered.clone();
        spec_runtime::inbound(&spec, &mut envelope).map_err(|e| unmappable(&e, &spec.version))?;
        let event =
            ClarityEvent::from_envelope(&envelope).map_err(|e| unreadable(&e, &spec.version))?;
        Ok((spec, event))
    }

    /// Act on a verified, card-free event (see the module documentation). `hash` is the body's
    /// as delivered: a replay of a patched body still remembers the delivery's.
    pub async fn handle(
        &self,
        delivered: &EventEnvelope,
        hash: &str,
        origin: Origin<'_>,
    ) -> Result<Response<Body>, Refusal> {
        let event_id = delivered.id.clone();
        let now = self.clock.now();
        let (spec, event) = self.read(delivered).await?;
        match event {
            ClarityEvent::OrderCreated { order } => {
                // The one intake (`crate::intake`), shared with the catch-up poller.
                let source = match origin {
                    Origin::Webhook => Source::Webhook {
                        event_id: &event_id,
                        payload_hash: hash,
                    },
                    Origin::Replay { by } => Source::Replay {
                        event_id: &event_id,
                        payload_hash: hash,
                        by,
                    },
                };
                let done = self
                    .intake()
                    .order_created(&order, &spec, source)
                    .await
                    .map_err(|e| match e {
                        IntakeError::Mapping(m) => unmappable(&m, &spec.version),
                        other => Refusal::Answer(intake_problem(other)),
                    })?;
                let id = &done.order_id;
                tracing::info!(
                    order_id = %id, created = done.created, duplicate = done.duplicate_event,
                    clarity_status = %done.clarity_status, payable = done.payable,
                    authorize_queued = done.authorize_queued, "order.created handled"
                );
                Ok(if !done.payable {
                    json_response(
                        200,
                        &json!({"status": "not_payable", "order_id": id, "clarity_status": done.clarity_status}),
                    )
                } else if done.created {
                    json_response(202, &json!({"status": "accepted", "order_id": id}))
                } else {
                    json_response(200, &json!({"status": "duplicate", "order_id": id}))
                })
            }
            ClarityEvent::OrderCancelled { order, reason, .. } => {
                let id = OrderId::new(order.id.clone()).map_err(|e| {
                    unmappable(
                        &MappingError::invalid("order.id", &order.id, e.to_string()),
                        &spec.version,
                    )
                })?;
                let duplicate = self.remember_event(&event_id, hash).await?;
                let intent = CancelIntent {
                    event_id: event_id.clone(),
                    reason: reason.unwrap_or_else(|| "cancelled in Clarity".into()),
                    at: now,
                };
                let done =
                    record_cancellation(&*self.store, &*self.publisher, &*self.clock, &id, intent)
                        .await
                        .map_err(unavailable)?
                        .ok_or_else(|| {
                            problem(404, "order_not_found", &format!("order {id} is unknown"))
                        })?;
                tracing::info!(order_id = %id, state = %done.state, duplicate, recorded = done.newly_recorded, queued = done.queued, "order.cancelled handled");
                Ok(json_response(
                    if duplicate { 200 } else { 202 },
                    &json!({"status": if done.queued { "cancelling" } else { "nothing_to_cancel" }, "order_id": id, "state": done.state}),
                ))
            }
            ClarityEvent::ReturnRequested { request, .. } => {
                self.on_return(&request, ReturnStage::Requested, &event_id, hash)
                    .await
            }
            ClarityEvent::ReturnReceived { request, .. } => {
                self.on_return(&request, ReturnStage::Received, &event_id, hash)
                    .await
            }
            ClarityEvent::Unknown { event_type } => {
                tracing::info!(%event_type, "unknown Clarity event type acknowledged and ignored");
                Ok(json_response(
                    200,
                    &json!({"status": "ignored", "type": event_type}),
                ))
            }
            other => {
                let kind = format!("{other:?}")
                    .split([' ', '{', '('])
                    .next()
                    .unwrap_or("")
                    .to_string();
                tracing::info!(event = %kind, "Clarity event not used by this integration; acknowledged");
                Ok(json_response(200, &json!({"status": "ignored"})))
            }
        }
    }

    /// `return.requested` and `return.received`: the order's pinned spec's `refund` rule says
    /// which of the two refunds; the other is noted on the timeline. Both compute the same
    /// refund (its id is the return's), so the refund happens once whichever events arrive.
    async fn on_return(
        &self,
        request: &ReturnRequest,
        stage: ReturnStage,
        event_id: &str,
        hash: &str,
    ) -> Result<Response<Body>, Refusal> {
        let id = OrderId::new(request.order_id.clone()).map_err(|e| {
            unmappable(
                &MappingError::invalid("return.orderId", &request.order_id, e.to_string()),
                "pinned",
            )
        })?;
        let record = self
            .store
            .get(&id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| problem(404, "order_not_found", &format!("order {id} is unknown")))?;
        let spec = spec_runtime::for_order(&self.specs, &record.order)
            .await
            .map_err(|e| problem(503, "unavailable", &e.to_string()))?;
        let refund = refund_from_return(request, &record.order)
            .map_err(|e| unmappable(&e, &spec.version))?;
        let decision = spec_runtime::refund_trigger(
            &spec,
            &record.order,
            &refund,
            stage.name(),
            request.lines.len(),
        )
        .map_err(|e| unmappable(&e, &spec.version))?;
        let duplicate = self.remember_event(event_id, hash).await?;
        let what = format!("return.{}", stage.name());
        if decision.policy != stage.policy() {
            let key = format!("{what}:{}", refund.id);
            let status = match stage {
                ReturnStage::Requested => "refund_waits_for_receipt",
                ReturnStage::Received => "refunded_at_request",
            };
            let entry = TimelineEntry::new(
                self.clock.now(),
                what.clone(),
                format!(
                    "return {} ({}): {}; no refund on this event",
                    refund.id,
                    refund.amount,
                    spec_runtime::describe(&decision)
                ),
            )
            .with_ref(key);
            match self.store.note_once(&record, entry).await {
                Ok(_) => {}
                Err(StoreError::ConditionFailed { .. }) => {
                    return Err(problem(409, "busy", "order changed; retry").into())
                }
                Err(e) => return Err(unavailable(e).into()),
            }
            tracing::info!(order_id = %id, refund_id = %refund.id, duplicate, policy = %decision.policy, "{what} noted");
            return Ok(json_response(
                200,
                &json!({"status": status, "order_id": id, "refund_id": refund.id, "policy": decision.policy}),
            ));
        }
        let command = PaymentCommand::Refund {
            order_id: id.clone(),
            refund_id: refund.id.clone(),
            amount: refund.amount,
            reason: refund.reason.clone(),
        };
        self.publisher
            .publish(&command.message("return"))
            .await
            .map_err(unavailable)?;
        tracing::info!(order_id = %id, refund_id = %refund.id, duplicate, "{what} handled");
        Ok(json_response(
            if duplicate { 200 } else { 202 },
            &json!({"status": "refund_requested", "order_id": id, "refund_id": refund.id}),
        ))
    }

    /// Record the event id; `true` when it was seen before with the same payload. The same id
    /// with another payload is a conflict (409).
    async fn remember_event(&self, event_id: &str, hash: &str) -> Result<bool, Response<Body>> {
        self.intake()
            .remember_event(event_id, hash)
            .await
            .map_err(intake_problem)
    }

    /// The shared `order.created` intake over this receiver's ports.
    fn intake(&self) -> Intake {
        Intake {
            store: self.store.clone(),
            publisher: self.publisher.clone(),
            clock: self.clock.clone(),
            remember: self.remember,
        }
    }
}

/// Which return event arrived; the spec's `refund` rule names the one that refunds.
#[derive(Debug, Clone, Copy)]
enum ReturnStage {
    Requested,
    Received,
}

impl ReturnStage {
    fn name(self) -> &'static str {
        match self {
            ReturnStage::Requested => "requested",
            ReturnStage::Received => "received",
        }
    }

    /// The `refund` policy under which this event refunds.
    fn policy(self) -> &'static str {
        match self {
            ReturnStage::Requested => "on_request",
            ReturnStage::Received => "on_receipt",
        }
    }
}

/// An intake failure as the HTTP answer: 422 (mapping; only when not quarantined), 409 (event id
/// reused), 503 (the sender retries).
fn intake_problem(e: IntakeError) -> Response<Body> {
    match e {
        IntakeError::Mapping(e) => problem(422, "mapping_failed", &e.to_string()),
        IntakeError::EventIdReused => problem(
            409,
            "event_id_reused",
            "this event id was delivered before with a different payload",
        ),
        IntakeError::Unavailable(e) => unavailable(e),
    }
}

#[async_trait]
impl HttpHandler for ClarityWebhook {
    async fn handle(&self, request: Request) -> Response<Body> {
        match self.receive(&request).await {
            Ok(r) | Err(r) => r,
        }
    }
}
