//! The console's JSON API (paths below `/console/api`). Reads for every role (PII masked for
//! viewers); changes for operators only, audited. The caller ([`crate::Console`]) has already
//! checked the session, the role of a change and its CSRF token.
//!
//! - `GET /orders?id=…` | `?txn=…` (a Cybersource transaction id or reference) | `?email=…` |
//!   `?state=…&from=…&to=…` (RFC 3339 or `YYYY-MM-DD`): summaries, through the table's key,
//!   the reference index or the `by_email` / `by_state` indexes — never a scan;
//! - `GET /orders/{id}`: the order, its state, its timeline and its ids in every system;
//! - `GET /quarantine`, `GET /quarantine/{event}`: kept events (masked), with the suggested fix;
//! - `POST /quarantine/{event}/replay` `{"dry_run": bool, "patch": [RFC 6902]}`;
//! - `GET /dead-letters`: every DLQ's messages with class, reason, hint and the suggested patch
//!   (dlq-redrive's listing: bodies masked);
//! - `POST /dead-letters/replay` `{"queue", "message_ids", "apply_suggested" | "patch",
//!   "dry_run"}`: dlq-redrive's replay (back on the source queue with a deterministic dedup
//!   id, deleted from the DLQ only after the send);
//! - `GET /audit`: the newest operator actions.

use crate::session::{Role, Session};
use crate::{json_answer, problem};
use lambda_http::{Body, Response};
use o2c_domain::pii::{self, MaskPolicy};
use o2c_domain::ports::{
    AuditEntry, AuditLog, Clock, OrderQuery, OrderSearch, OrderStore, ReferenceIndex,
};
use o2c_domain::{OrderId, OrderState, Timestamp};
use o2c_pipeline::quarantine::alert::fix_for;
use o2c_pipeline::quarantine::ops::QuarantineOps;
use o2c_pipeline::redrive::patch::PatchOp;
use o2c_pipeline::redrive::{Redrive, RedriveRequest};
use serde_json::{json, Value};
use std::sync::Arc;

/// The API's ports.
pub struct Api {
    pub stage: String,
    pub orders: Arc<dyn OrderStore>,
    pub search: Arc<dyn OrderSearch>,
    pub references: Arc<dyn ReferenceIndex>,
    pub quarantine: QuarantineOps,
    pub audit: Arc<dyn AuditLog>,
    pub clock: Arc<dyn Clock>,
    pub redrive: Redrive,
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

/// `2026-12-07` (a whole day: its start, or its end when `end`) or RFC 3339.
fn time_param(v: &str, end: bool) -> Option<Timestamp> {
    if v.len() == 10 {
        let t = Timestamp::parse_rfc3339(&format!("{v}T00:00:00Z"))?;
        return Some(if end {
            t.plus(std::time::Duration::from_millis(86_399_999))
        } else {
            t
        });
    }
    Timestamp::parse_rfc3339(v)
}

fn unavailable(e: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(error = %e, "console: backend unavailable");
    problem(503, "unavailable", "the store is unavailable; try again")
}

/// What a viewer sees of a JSON document: PII fields masked by name, and e-mails and phone-like
/// digit runs masked inside free text (`why`, `reason`, …); ids stay readable.
fn for_role(v: Value, role: Role) -> Value {
    match role {
        Role::Operator => v,
        Role::Viewer => {
            let mut m = pii::masked_json(&v, MaskPolicy::Mask);
            mask_free_text(&mut m);
            m
        }
    }
}

const FREE_TEXT: &[&str] = &[
    "why",
    "reason",
    "note",
    "message",
    "description",
    "status_reason",
];

fn mask_free_text(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(mask_free_text),
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                match v {
                    Value::String(s) if FREE_TEXT.contains(&k.as_str()) => {
                        *s = pii::mask_text(s, MaskPolicy::Mask).into_owned();
                    }
                    _ => mask_free_text(v),
                }
            }
        }
        _ => {}
    }
}

impl Api {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Dispatch one API call (`path` without the `/console/api` prefix).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &Value,
        session: &Session,
    ) -> Response<Body> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            ("GET", ["orders"]) => self.orders(query, session.role).await,
            ("GET", ["orders", id]) => self.order(id, session.role).await,
            ("GET", ["quarantine"]) => self.quarantine_list(query).await,
            ("GET", ["quarantine", id]) => self.quarantine_show(id).await,
            ("POST", ["quarantine", id, "replay"]) => self.replay(id, body, session).await,
            ("GET", ["dead-letters"]) => self.dead_letters(session.role).await,
            ("POST", ["dead-letters", "replay"]) => self.redrive(body, session).await,
            ("GET", ["audit"]) => match self.audit.recent(100).await {
                Ok(v) => json_answer(200, &for_role(json!(v), session.role)),
                Err(e) => unavailable(e),
            },
            _ => problem(404, "not_found", &format!("no API {method} {path}")),
        }
    }

    async fn orders(&self, query: &[(String, String)], role: Role) -> Response<Body> {
        let limit = 100;
        if let Some(id) = param(query, "id").or_else(|| param(query, "txn")) {
            let id = match param(query, "id") {
                Some(_) => OrderId::new(id.to_string()).ok(),
                None => match self.references.order_of(id).await {
                    Ok(o) => o,
                    Err(e) => return unavailable(e),
                },
            };
            let Some(id) = id else {
                return json_answer(200, &json!([]));
            };
            return match self.orders.get(&id).await {
                Ok(Some(r)) => json_answer(
                    200,
                    &for_role(
                        json!([{"id": r.order.id, "state": r.state, "email": r.order.customer.email.as_str(),
                               "total": r.order.total.to_string(), "created_at": r.order.created_at}]),
                        role,
                    ),
                ),
                Ok(None) => json_answer(200, &json!([])),
                Err(e) => unavailable(e),
            };
        }
        let q = if let Some(email) = param(query, "email") {
            OrderQuery::Email(email.to_string())
        } else if let Some(state) = param(query, "state") {
            let Some(state) = OrderState::ALL.into_iter().find(|s| s.as_str() == state) else {
                return problem(
                    400,
                    "bad_request",
                    &format!("{state} is not an order state"),
                );
            };
            let from = param(query, "from").map_or(Some(Timestamp(0)), |v| time_param(v, false));
            let to =
                param(query, "to").map_or(Some(Timestamp(i64::MAX / 2)), |v| time_param(v, true));
            let (Some(from), Some(to)) = (from, to) else {
                return problem(400, "bad_request", "from / to: YYYY-MM-DD or RFC 3339");
            };
            OrderQuery::State { state, from, to }
        } else {
            return problem(
                400,
                "bad_request",
                "search by id, txn, email, or state (with from / to)",
            );
        };
        match self.search.search(&q, limit).await {
            Ok(found) => json_answer(200, &for_role(json!(found), role)),
            Err(e) => unavailable(e),
        }
    }

    async fn order(&self, id: &str, role: Role) -> Response<Body> {
        let Ok(id) = OrderId::new(id.to_string()) else {
            return problem(400, "bad_request", "not an order id");
        };
        let r = match self.orders.get(&id).await {
            Ok(Some(r)) => r,
            Ok(None) => return problem(404, "not_found", &format!("no order {id}")),
            Err(e) => return unavailable(e),
        };
        let o = &r.order;
        let payment = o.payment.as_ref();
        let ids = json!({
            "clarity": o.external.clarity.clone().unwrap_or_else(|| o.id.to_string()),
            "cybersource": payment.and_then(|p| p.external.cybersource.clone()).or(o.external.cybersource.clone()),
            "cybersource_capture": payment.and_then(|p| p.capture_id.clone()),
            "cybersource_reference": payment.map(|p| p.reference.clone()),
            "netsuite": o.external.erp, "salesforce": o.external.crm,
        });
        let v = json!({
            "id": o.id, "state": r.state, "version": r.version, "spec_version": o.spec_version,
            "capture_policy": o.capture_policy, "ids": ids, "order": o, "timeline": r.timeline,
            "cancel": r.cancel,
        });
        json_answer(200, &for_role(v, role))
    }

    async fn quarantine_list(&self, query: &[(String, String)]) -> Response<Body> {
        let open = param(query, "open").is_some_and(|v| v == "true");
        match self.quarantine.list(14, open).await {
            Ok(items) => json_answer(
                200,
                &json!(items
                    .iter()
                    .map(|q| {
                        let mut v = json!(q);
                        v.as_object_mut().map(|m| m.remove("body"));
                        v
                    })
                    .collect::<Vec<_>>()),
            ),
            Err(e) => unavailable(e),
        }
    }

    async fn quarantine_show(&self, id: &str) -> Response<Body> {
        match self.quarantine.show(id).await {
            Ok(q) => {
                let fix = fix_for(&q).map(|f| f.line());
                let mut v = json!(q);
                v.as_object_mut().map(|m| m.remove("body"));
                v["suggested_fix"] = json!(fix);
                json_answer(200, &v)
            }
            Err(o2c_pipeline::quarantine::ops::OpsError::NotFound(_)) => {
                problem(404, "not_found", &format!("no quarantined event {id}"))
            }
            Err(e) => unavailable(e),
        }
    }

    async fn dead_letters(&self, role: Role) -> Response<Body> {
        match self.redrive.handle(&RedriveRequest::list("all")).await {
            Ok(r) => json_answer(200, &for_role(json!(r), role)),
            Err(e) => problem(400, "bad_request", &e.to_string()),
        }
    }

    async fn redrive(&self, body: &Value, session: &Session) -> Response<Body> {
        let mut request = body.clone();
        request["action"] = json!("replay");
        let request: RedriveRequest = match serde_json::from_value(request) {
            Ok(r) => r,
            Err(e) => return problem(400, "bad_request", &e.to_string()),
        };
        if request.message_ids.as_ref().is_none_or(Vec::is_empty) {
            return problem(400, "bad_request", "name the message_ids to replay");
        }
        let r = match self.redrive.handle(&request).await {
            Ok(r) => r,
            Err(e) => return problem(400, "bad_request", &e.to_string()),
        };
        if !request.dry_run {
            self.audited(
                session,
                "dead-letters.replay",
                &request.queue,
                json!({"message_ids": request.message_ids}),
                json!({"summary": r.summary, "apply_suggested": request.apply_suggested, "patched": request.patch.is_some()}),
            )
            .await;
        }
        json_answer(200, &json!(r))
    }

    async fn audited(
        &self,
        session: &Session,
        action: &str,
        target: &str,
        before: Value,
        after: Value,
    ) {
        let entry = AuditEntry {
            at: self.now(),
            who: session.user.clone(),
            role: "operator".into(),
            action: action.into(),
            target: target.to_string(),
            before,
            after,
        };
        if let Err(e) = self.audit.record(&entry).await {
            tracing::error!(error = %e, "console: audit entry not written");
        }
    }

    async fn replay(&self, id: &str, body: &Value, session: &Session) -> Response<Body> {
        let dry_run = body["dry_run"].as_bool().unwrap_or(true);
        let patch: Option<Vec<PatchOp>> = match body.get("patch") {
            None | Some(Value::Null) => None,
            Some(p) => match serde_json::from_value(p.clone()) {
                Ok(p) => Some(p),
                Err(e) => return problem(400, "bad_request", &format!("patch: {e}")),
            },
        };
        let before = match self.quarantine.show(id).await {
            Ok(q) => json!({"open": q.is_open(), "resolution": q.resolution}),
            Err(e) => return problem(404, "not_found", &e.to_string()),
        };
        let by = format!("{} (console)", session.user);
        let r = match self
            .quarantine
            .replay(id, patch.as_deref(), dry_run, &by)
            .await
        {
            Ok(r) => r,
            Err(e) => return problem(409, "refused", &e.to_string()),
        };
        let out = r.to_json(id);
        if !dry_run {
            self.audited(
                session,
                "quarantine.replay",
                id,
                before,
                json!({"outcome": out["outcome"], "patched": patch.is_some()}),
            )
            .await;
        }
        json_answer(200, &out)
    }
}
