//! The Cybersource notification receiver (API Gateway HTTP API, payload 2.0).
//!
//! Verify `v-c-signature` on the raw bytes (key by `keyId`, rotation, constant time, timestamp
//! tolerance, body cap) → refuse card-number-like values → parse the envelope → dedupe by
//! notification id (conditional put) → map the event:
//!
//! - Decision Manager case decided (`risk.casemanagement.decision.accept` / `.reject`, and
//!   `risk.profile.decision.reject` for an order under review): `PendingReview → Authorized` and
//!   queue the capture, or `PendingReview → Rejected` and queue the reversal; Clarity and the
//!   ERP/CRM (fraud case) hear about it through the sync nudges.
//! - Payment / refund / void status events: a timeline entry on the order.
//! - TMS network-token events and anything unknown: acknowledged and logged, never an error loop.
//!
//! The order is found from the transaction's `clientReferenceInformation.code` (our deterministic
//! reference `<order>-auth`), read from the payload or, when absent, from Cybersource's
//! transaction details. Transitions are conditional writes; a redelivery after a crash between
//! the transition and the enqueue finds the new state and sends the (same, deduplicated) command
//! again.

#![allow(clippy::result_large_err)]

use crate::messages::{PaymentCommand, SyncNudge};
use crate::payment::PaymentContext;
use crate::webhook::{payload_hash, raw_body};
use async_trait::async_trait;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use o2c_connectors::cybersource::{EventKind, Notification, WebhookVerifier, SIGNATURE_HEADER};
use o2c_domain::card::contains_card_number;
use o2c_domain::ports::{
    Clock, IdempotencyRecord, OrderRecord, OrderStore, OutboundMessage, Publisher, PutOutcome,
    StoreError,
};
use o2c_domain::{OrderId, OrderState, TimelineEntry, Transition};
use o2c_runtime::lambda::{json_response, problem, HttpHandler};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Idempotency scope of Cybersource notifications.
pub const SCOPE: &str = "cybs-notification";

pub struct CybersourceNotification {
    pub verifier: WebhookVerifier,
    pub store: Arc<dyn OrderStore>,
    pub publisher: Arc<dyn Publisher>,
    pub clock: Arc<dyn Clock>,
    /// For looking up a transaction's reference when the payload lacks it.
    pub payments: PaymentContext,
    pub remember: Duration,
    pub function: &'static str,
}

fn unavailable(e: impl std::fmt::Display) -> ApiGatewayV2httpResponse {
    tracing::error!(error = %e, "notification could not be processed; Cybersource will retry");
    problem(503, "unavailable", "temporarily unavailable; retry later")
}

/// `<order>-auth` → `<order>`.
fn order_of_reference(code: &str) -> Option<OrderId> {
    let (order, _) = code.rsplit_once('-')?;
    OrderId::new(order).ok()
}

impl CybersourceNotification {
    async fn receive(
        &self,
        req: &ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, ApiGatewayV2httpResponse> {
        let body = raw_body(req)?;
        let header = req
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok());
        let now = self.clock.now();
        let when = time::OffsetDateTime::from_unix_timestamp(now.epoch_seconds())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        self.verifier.verify(header, &body, when).map_err(|e| {
            tracing::warn!(code = e.code(), "notification refused");
            let status = match e.code() {
                "body_too_large" => 413,
                "malformed_body" => 400,
                _ => 401,
            };
            problem(status, e.code(), &e.to_string())
        })?;
        if contains_card_number(&String::from_utf8_lossy(&body)) {
            o2c_runtime::metrics::count(self.function, "CardDataRefused");
            tracing::error!(
                "refused: the notification holds a card-number-like value; nothing stored"
            );
            return Err(problem(
                422,
                "card_data_refused",
                "card data is never accepted",
            ));
        }
        let n = Notification::parse(&body)
            .map_err(|e| problem(400, "malformed_body", &e.to_string()))?;
        let key = n.dedup_id().unwrap_or_else(|| payload_hash(&body));
        let span = tracing::info_span!("cybs_notification", event_id = %key, event_type = %n.event_type.as_str());
        let _g = span.enter();

        let decision = n.event_type.review_decision().or(match n.event_type {
            EventKind::ProfileDecisionReject => Some(false),
            _ => None,
        });
        let tracked = matches!(
            n.event_type,
            EventKind::PaymentsUpdated
                | EventKind::PaymentsAccepted
                | EventKind::PaymentsFailed
                | EventKind::CreditsAccepted
                | EventKind::CreditsFailed
                | EventKind::VoidsAccepted
        );
        if decision.is_none() && !tracked {
            tracing::info!(event_type = %n.event_type.as_str(), "notification acknowledged; nothing to do for this type");
            return Ok(json_response(200, &json!({"status": "acknowledged"})));
        }
        // Only events we act on are remembered: an unknown type changes nothing.
        let duplicate = self.remember(&key, &payload_hash(&body)).await?;
        let Some(id) = self.order_for(&n).await? else {
            tracing::warn!("notification for a transaction of no known order; acknowledged");
            return Ok(json_response(200, &json!({"status": "no_order"})));
        };
        let Some(record) = self.store.get(&id).await.map_err(unavailable)? else {
            tracing::warn!(order_id = %id, "notification for an unknown order; acknowledged");
            return Ok(json_response(200, &json!({"status": "no_order"})));
        };
        let outcome = match decision {
            Some(accept) => self.review_decided(record, accept, &key).await?,
            None => self.note(record, &n, &key).await?,
        };
        tracing::info!(order_id = %id, duplicate, outcome, "notification handled");
        Ok(json_response(
            200,
            &json!({"status": outcome, "order_id": id}),
        ))
    }

    async fn remember(&self, key: &str, hash: &str) -> Result<bool, ApiGatewayV2httpResponse> {
        let now = self.clock.now();
        let record = IdempotencyRecord {
            scope: SCOPE.into(),
            key: key.to_string(),
            payload_hash: hash.to_string(),
            created_at: now,
            expires_at: now.plus(self.remember),
            result: None,
        };
        match self
            .store
            .put_idempotency(&record)
            .await
            .map_err(unavailable)?
        {
            PutOutcome::Created => Ok(false),
            // A redelivered notification may differ in `retryNumber`: same id, same event.
            PutOutcome::Exists(_) => Ok(true),
        }
    }

    async fn order_for(
        &self,
        n: &Notification,
    ) -> Result<Option<OrderId>, ApiGatewayV2httpResponse> {
        if let Some(code) = n.payload_str(&["clientReferenceInformation", "code"]) {
            return Ok(order_of_reference(code));
        }
        let Some(txn) = n.transaction_id() else {
            return Ok(None);
        };
        // The notification names the merchant id as organizationId; find that route.
        let Some(route) = n
            .organization_id
            .as_deref()
            .and_then(|org| self.payments.router.by_merchant(org))
            .or_else(|| self.payments.router.all().into_iter().next())
        else {
            return Ok(None);
        };
        let details = route
            .gateway
            .transaction_details(&txn, self.payments.deadline())
            .await
            .map_err(unavailable)?;
        Ok(details.reference().and_then(order_of_reference))
    }

    /// A Decision Manager case was decided.
    async fn review_decided(
        &self,
        record: OrderRecord,
        accept: bool,
        key: &str,
    ) -> Result<&'static str, ApiGatewayV2httpResponse> {
        let id = record.order.id.clone();
        let (to, what, why) = if accept {
            (
                OrderState::Authorized,
                "review.accepted",
                "Decision Manager case accepted by a reviewer",
            )
        } else {
            (
                OrderState::Rejected,
                "review.rejected",
                "Decision Manager case rejected by a reviewer",
            )
        };
        let state = if record.state == OrderState::PendingReview {
            let t = Transition::new(OrderState::PendingReview, to)
                .map_err(|e| problem(409, "illegal_transition", &e.to_string()))?;
            let entry = TimelineEntry::new(self.clock.now(), what, why).with_ref(key.to_string());
            match self
                .store
                .transition(&id, t, record.version, None, entry)
                .await
            {
                Ok(r) => r.state,
                Err(StoreError::ConditionFailed { .. }) => {
                    // Someone moved first: decide from the fresh state.
                    self.store
                        .get(&id)
                        .await
                        .map_err(unavailable)?
                        .map_or(record.state, |r| r.state)
                }
                Err(e) => return Err(unavailable(e)),
            }
        } else {
            record.state
        };
        let mut out: Vec<OutboundMessage> = Vec::new();
        let result = match (accept, state) {
            (true, OrderState::Authorized) => {
                out.push(
                    PaymentCommand::Capture {
                        order_id: id.clone(),
                    }
                    .message("review"),
                );
                "capture_queued"
            }
            (false, OrderState::Rejected) => {
                out.push(
                    PaymentCommand::Void {
                        order_id: id.clone(),
                        reason: "fraud review rejected".into(),
                    }
                    .message("review"),
                );
                "reversal_queued"
            }
            _ => {
                tracing::info!(order_id = %id, %state, accept, "review decision already applied or not applicable");
                "already_applied"
            }
        };
        if !out.is_empty() {
            out.extend(SyncNudge::both(
                &id,
                if accept {
                    "review.accepted"
                } else {
                    "review.rejected"
                },
            ));
            self.publisher
                .publish_all(&out)
                .await
                .map_err(unavailable)?;
        }
        Ok(result)
    }

    /// A payment / refund / void status event: a timeline entry.
    async fn note(
        &self,
        record: OrderRecord,
        n: &Notification,
        key: &str,
    ) -> Result<&'static str, ApiGatewayV2httpResponse> {
        if record
            .timeline
            .iter()
            .any(|e| e.external_ref.as_deref() == Some(key))
        {
            return Ok("already_noted");
        }
        let entry = TimelineEntry::new(
            self.clock.now(),
            format!("cybersource.{}", n.event_type.as_str()),
            format!(
                "Cybersource notification for transaction {}",
                n.transaction_id().unwrap_or_default()
            ),
        )
        .with_ref(key.to_string());
        match self
            .store
            .append_timeline(&record.order.id, record.state, record.version, entry)
            .await
        {
            Ok(_) => Ok("noted"),
            Err(StoreError::ConditionFailed { .. }) => {
                Err(problem(409, "busy", "order changed; retry"))
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl HttpHandler for CybersourceNotification {
    async fn handle(&self, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        match self.receive(&request).await {
            Ok(r) | Err(r) => r,
        }
    }
}
