//! The Cybersource payment steps, each an [`o2c_domain::recipe::Step`]: authorize (with Decision
//! Manager), capture, void (authorization reversal). References are deterministic
//! (`clientReferenceInformation.code`), and each attempt carries its own
//! `clientReferenceInformation.transactionId` so an unanswered request can be cleaned up with
//! Cybersource's timeout reversal / void (reference §2.6).

pub mod authorize;
pub mod capture;
pub mod refund;
pub mod void;

use crate::messages::short_hash;
use o2c_connectors::cybersource::{CybersourceError, Deadline, PaymentGateway};
use o2c_domain::ports::OrderRecord;
use o2c_domain::recipe::{FailureClass, StepError};
use o2c_domain::Order;
use std::sync::Arc;
use std::time::Duration;

/// Where an order's payment goes: a named route (merchant id / processor profile) and its
/// gateway. This is the routing seam: today one route; dynamic routing plugs in here.
#[derive(Clone)]
pub struct Route {
    pub name: String,
    pub gateway: Arc<dyn PaymentGateway>,
}

/// Chooses the route for an order. Follow-on operations (capture, void, refund) use the route
/// recorded with the authorization, never a new choice.
pub trait Router: Send + Sync {
    fn choose(&self, order: &Order) -> Route;
    /// The route an order was authorized on, by name.
    fn by_name(&self, name: &str) -> Option<Route>;
    /// Every configured route.
    fn all(&self) -> Vec<Route>;
}

/// One merchant id for everything.
pub struct SingleRoute(pub Route);

impl Router for SingleRoute {
    fn choose(&self, _order: &Order) -> Route {
        self.0.clone()
    }
    fn by_name(&self, name: &str) -> Option<Route> {
        (self.0.name == name).then(|| self.0.clone())
    }
    fn all(&self) -> Vec<Route> {
        vec![self.0.clone()]
    }
}

/// What every payment step needs.
#[derive(Clone)]
pub struct PaymentContext {
    pub router: Arc<dyn Router>,
    /// How long one external call (with its retries) may take; keep it under the function's
    /// timeout so a retry never outlives the invocation.
    pub call_budget: Duration,
}

impl PaymentContext {
    pub fn deadline(&self) -> Deadline {
        Deadline::within(self.call_budget)
    }

    /// The route the order's authorization used.
    pub fn route_of(&self, record: &OrderRecord) -> Result<Route, StepError> {
        let name = record
            .effects
            .get(authorize::EFFECT_KEY)
            .and_then(|e| e.outcome.get("route"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| StepError::Terminal {
                class: FailureClass::Validation,
                reason: format!("order {} has no recorded authorization", record.order.id),
            })?;
        self.router
            .by_name(name)
            .ok_or_else(|| StepError::Terminal {
                class: FailureClass::Internal,
                reason: format!(
                    "route {name:?} of order {} is not configured",
                    record.order.id
                ),
            })
    }
}

/// A Cybersource `clientReferenceInformation.code` (at most 50 characters):
/// `<order>-<suffix>`, or a hash of the order id when that would be too long.
pub fn reference(order: &Order, suffix: &str) -> String {
    let r = format!("{}-{suffix}", order.id);
    if r.len() <= 50 {
        r
    } else {
        format!("o2c{}-{suffix}", short_hash(order.id.as_str(), 24))
    }
}

/// The `transactionId` of one attempt under a reference.
pub fn transaction_id(reference: &str, attempt: u32) -> String {
    format!("{reference}-{attempt}")
}

/// The current claim's attempt number (1 when there is no claim, as in tests).
pub fn attempt(record: &OrderRecord) -> u32 {
    record.claim.as_ref().map_or(1, |c| c.attempt)
}

/// A Cybersource error as the recipe sees it.
pub fn step_error(e: CybersourceError) -> StepError {
    e.into()
}
