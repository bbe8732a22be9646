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
//! The order is found through the reference index ([`crate::references`]): the payload's
//! `clientReferenceInformation.code`, then its transaction id, then — neither in the payload nor
//! in the index — the reference Cybersource's transaction details (TSS) give for the transaction.
//! Parsing `<order>-<suffix>` is kept only as the fallback for orders from before the index
//! (a long order id's reference is a hash and cannot be parsed). Transitions are conditional
//! writes; a redelivery after a crash between the transition and the enqueue finds the new state
//! and sends the (same, deduplicated) command again.
//!
//! An authentic notification about something we do not know — no reference and no transaction
//! id, a transaction Cybersource's details do not know (404), a reference that names no order,
//! an order that is not in the table — is acknowledged with 200 `unknown_transaction`, counted
//! (`NotificationUnknownTransaction`) and recorded in the unknown-notifications list (one entry
//! per notification, kept 90 days) for the console and reconciliation: answering 5xx would make
//! Cybersource retry until it disables the subscription. 5xx is only for our own outages (the
//! table, or Cybersource's transaction details, unavailable).

#![allow(clippy::result_large_err)]

use crate::messages::{PaymentCommand, SyncNudge};
use crate::payment::PaymentContext;
use crate::references::order_of_reference_stem;
use crate::webhook::{payload_hash, raw_body};
use async_trait::async_trait;
use lambda_http::{Body, Request, Response};
use o2c_connectors::cybersource::{
    CybersourceError, EventKind, Notification, TerminalError, WebhookVerifier, SIGNATURE_HEADER,
};
use o2c_domain::card::payload_holds_card_number;
use o2c_domain::model::CapturePolicy;
use o2c_domain::ports::{
    Clock, IdempotencyRecord, OrderRecord, OrderStore, OutboundMessage, Publisher, PutOutcome,
    ReferenceIndex, StoreError, UnknownNotification, UnknownNotifications,
};
use o2c_domain::{OrderId, OrderState, TimelineEntry, Timestamp, Transition};
use o2c_runtime::lambda::{json_response, problem, HttpHandler};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Idempotency scope of Cybersource notifications.
pub const SCOPE: &str = "cybs-notification";

pub struct CybersourceNotification {
    pub verifier: WebhookVerifier,
    pub store: Arc<dyn OrderStore>,
    pub publisher: Arc<dyn Publisher>,
    pub clock: Arc<dyn Clock>,
    /// For looking up a transaction's reference when the payload lacks it.
    pub payments: PaymentContext,
    /// Reference / transaction id → order.
    pub references: Arc<dyn ReferenceIndex>,
    /// Where authentic notifications about unknown transactions are listed.
    pub unknown: Arc<dyn UnknownNotifications>,
    pub remember: Duration,
    /// How long an unknown notification stays listed.
    pub keep_unknown: Duration,
    pub function: &'static str,
}

/// Which order a notification is about.
enum Lookup {
    Order(OrderId),
    /// None of ours: why.
    Unknown(String),
}

/// Does a transaction-details error say Cybersource does not know the id (as opposed to an
/// outage of either side)?
fn not_known(e: &CybersourceError) -> bool {
    matches!(
        e,
        CybersourceError::Terminal {
            error: TerminalError::NotFound { .. } | TerminalError::InvalidRequest { .. },
            ..
        }
    )
}

fn unavailable(e: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(error = %e, "notification could not be processed; Cybersource will retry");
    problem(503, "unavailable", "temporarily unavailable; retry later")
}

impl CybersourceNotification {
    /// One notification; `deadline` is the invocation's (bounds the Cybersource look-up).
    async fn receive(
        &self,
        req: &Request,
        deadline: Option<Instant>,
    ) -> Result<Response<Body>, Response<Body>> {
        let body = raw_body(req);
        let header = req
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok());
        let now = self.clock.now();
        let when = time::OffsetDateTime::from_unix_timestamp(now.epoch_seconds())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        self.verifier.verify(header, body, when).map_err(|e| {
            tracing::warn!(code = e.code(), "notification refused");
            let status = match e.code() {
                "body_too_large" => 413,
                "malformed_body" => 400,
                _ => 401,
            };
            problem(status, e.code(), &e.to_string())
        })?;
        if payload_holds_card_number(body) {
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
        let n = Notification::parse(body)
            .map_err(|e| problem(400, "malformed_body", &e.to_string()))?;
        let key = n.dedup_id().unwrap_or_else(|| payload_hash(body));
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
        let (duplicate, first_seen) = self.remember(&key, &payload_hash(body)).await?;
        let id = match self.order_for(&n, deadline).await? {
            Lookup::Order(id) => id,
            Lookup::Unknown(why) => {
                return self.unknown_transaction(&n, &key, first_seen, why).await
            }
        };
        let Some(record) = self.store.get(&id).await.map_err(unavailable)? else {
            let why = format!("order {id} is not in the table");
            return self.unknown_transaction(&n, &key, first_seen, why).await;
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

    /// Remember the notification; answers whether it was seen before, and when it was first.
    async fn remember(&self, key: &str, hash: &str) -> Result<(bool, Timestamp), Response<Body>> {
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
            PutOutcome::Created => Ok((false, now)),
            // A redelivered notification may differ in `retryNumber`: same id, same event.
            PutOutcome::Exists(r) => Ok((true, r.created_at)),
        }
    }

    /// Acknowledge an authentic notification about something we do not know: count it, list it
    /// (one entry per notification: the key starts with its first-received time), answer 200.
    async fn unknown_transaction(
        &self,
        n: &Notification,
        key: &str,
        first_seen: Timestamp,
        why: String,
    ) -> Result<Response<Body>, Response<Body>> {
        let entry = UnknownNotification {
            notification_id: key.to_string(),
            event_type: n.event_type.as_str().to_string(),
            transaction_id: n.transaction_id(),
            reference: n
                .payload_str(&["clientReferenceInformation", "code"])
                .map(str::to_string),
            organization_id: n.organization_id.clone(),
            reason: why,
            received_at: first_seen,
            expires_at: first_seen.plus(self.keep_unknown),
        };
        self.unknown
            .record_unknown(&entry)
            .await
            .map_err(unavailable)?;
        o2c_runtime::metrics::count(self.function, "NotificationUnknownTransaction");
        tracing::warn!(
            transaction_id = entry.transaction_id.as_deref().unwrap_or_default(),
            reference = entry.reference.as_deref().unwrap_or_default(),
            reason = %entry.reason,
            "notification about a transaction of no known order; acknowledged and listed"
        );
        Ok(json_response(
            200,
            &json!({"status": "unknown_transaction", "reason": entry.reason}),
        ))
    }

    /// The order a notification is about: its reference in the index, its transaction id in the
    /// index, then (no reference in the payload) the reference of the transaction's details;
    /// an unhashed `<order>-<suffix>` of an order from before the index as the last resort.
    /// `Err` is our outage (503, Cybersource retries).
    async fn order_for(
        &self,
        n: &Notification,
        deadline: Option<Instant>,
    ) -> Result<Lookup, Response<Body>> {
        let index = self.references.as_ref();
        let code = n
            .payload_str(&["clientReferenceInformation", "code"])
            .filter(|c| !c.is_empty());
        let txn = n.transaction_id().filter(|t| !t.is_empty());
        for value in code.into_iter().chain(txn.as_deref()) {
            if let Some(id) = index.order_of(value).await.map_err(unavailable)? {
                return Ok(Lookup::Order(id));
            }
        }
        if let Some(code) = code {
            return Ok(
                match order_of_reference_stem(index, code)
                    .await
                    .map_err(unavailable)?
                {
                    Some(id) => Lookup::Order(id),
                    None => Lookup::Unknown(format!("reference {code} names no order")),
                },
            );
        }
        let Some(txn) = txn else {
            return Ok(Lookup::Unknown(
                "no reference code and no transaction id".into(),
            ));
        };
        // The notification names the merchant id as organizationId; find that route.
        let Some(route) = n
            .organization_id
            .as_deref()
            .and_then(|org| self.payments.router.by_merchant(org))
            .or_else(|| self.payments.router.all().into_iter().next())
        else {
            return Err(unavailable("no Cybersource route is configured"));
        };
        let details = match route
            .gateway
            .transaction_details(&txn, self.payments.for_invocation(deadline).deadline())
            .await
        {
            Ok(d) => d,
            Err(e) if not_known(&e) => {
                return Ok(Lookup::Unknown(format!(
                    "Cybersource does not know transaction {txn}: {e}"
                )))
            }
            Err(e) => return Err(unavailable(e)),
        };
        let Some(reference) = details.reference() else {
            return Ok(Lookup::Unknown(format!(
                "transaction {txn} carries no reference"
            )));
        };
        let found = match index.order_of(reference).await.map_err(unavailable)? {
            Some(id) => Some(id),
            None => order_of_reference_stem(index, reference)
                .await
                .map_err(unavailable)?,
        };
        Ok(match found {
            Some(id) => Lookup::Order(id),
            None => Lookup::Unknown(format!(
                "transaction {txn} has reference {reference}, which names no order"
            )),
        })
    }

    /// A Decision Manager case was decided.
    async fn review_decided(
        &self,
        record: OrderRecord,
        accept: bool,
        key: &str,
    ) -> Result<&'static str, Response<Body>> {
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
            (true, OrderState::Authorized)
                if record.order.capture_policy() != CapturePolicy::OnAccept =>
            {
                // The spec pinned at intake captures on shipment or by hand.
                tracing::info!(order_id = %id, policy = record.order.capture_policy().as_str(), "review accepted; capture deferred by the order's capture policy");
                out.extend(SyncNudge::both(&id, "review.accepted"));
                "capture_deferred"
            }
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
    ) -> Result<&'static str, Response<Body>> {
        let entry = TimelineEntry::new(
            self.clock.now(),
            format!("cybersource.{}", n.event_type.as_str()),
            format!(
                "Cybersource notification for transaction {}",
                n.transaction_id().unwrap_or_default()
            ),
        )
        .with_ref(key.to_string());
        match self.store.note_once(&record, entry).await {
            Ok(true) => Ok("noted"),
            Ok(false) => Ok("already_noted"),
            Err(StoreError::ConditionFailed { .. }) => {
                Err(problem(409, "busy", "order changed; retry"))
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl HttpHandler for CybersourceNotification {
    async fn handle(&self, request: Request) -> Response<Body> {
        self.handle_until(request, None).await
    }

    async fn handle_until(&self, request: Request, deadline: Option<Instant>) -> Response<Body> {
        match self.receive(&request, deadline).await {
            Ok(r) | Err(r) => r,
        }
    }
}
