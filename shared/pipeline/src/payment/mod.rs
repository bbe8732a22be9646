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
use async_trait::async_trait;
use o2c_connectors::cybersource::{CybersourceError, Deadline, PaymentGateway};
use o2c_domain::ports::OrderRecord;
use o2c_domain::recipe::{FailureClass, StepError};
use o2c_domain::routing::{Decision, Observation};
use o2c_domain::Order;
use std::sync::Arc;
use std::time::Duration;

/// Where an order's payment goes: a named route (merchant id / processor profile) and its
/// gateway.
#[derive(Clone)]
pub struct Route {
    pub name: String,
    pub gateway: Arc<dyn PaymentGateway>,
}

/// A route for the next authorization attempt, and the decision that chose it.
#[derive(Clone)]
pub struct RouteChoice {
    /// `None`: no route is left for this order (none eligible, or every one tried).
    pub route: Option<Route>,
    /// The explained decision, when a router made one (not for a single fixed route).
    pub decision: Option<Decision>,
}

/// Chooses the route of each authorization attempt. Follow-on operations (capture, void,
/// refund) use the route recorded with the authorization, never a new choice.
#[async_trait]
pub trait Router: Send + Sync {
    /// The route for the next attempt on `order`, never one of `tried`.
    async fn choose(&self, order: &Order, tried: &[String]) -> RouteChoice;
    /// Whether any route besides `tried` could still take `order` (rules and what routes
    /// accept; not the breakers, which can change before the next attempt).
    fn has_alternative(&self, order: &Order, tried: &[String]) -> bool;
    /// The route an order was authorized on, by name.
    fn by_name(&self, name: &str) -> Option<Route>;
    /// The route of a merchant id (notifications name the merchant as `organizationId`).
    fn by_merchant(&self, merchant_id: &str) -> Option<Route> {
        self.by_name(merchant_id)
    }
    /// Every configured route.
    fn all(&self) -> Vec<Route>;
    /// What an attempt on `route` showed; feeds success-rate routing (best effort: a failure
    /// to record is logged, never fails the payment).
    async fn observe(&self, _order: &Order, _route: &str, _observation: Observation) {}
}

/// One merchant id for everything (no routing document).
pub struct SingleRoute(pub Route);

#[async_trait]
impl Router for SingleRoute {
    async fn choose(&self, _order: &Order, tried: &[String]) -> RouteChoice {
        RouteChoice {
            route: (!tried.contains(&self.0.name)).then(|| self.0.clone()),
            decision: None,
        }
    }
    fn has_alternative(&self, _order: &Order, tried: &[String]) -> bool {
        !tried.contains(&self.0.name)
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
        let name = authorize::final_attempt(record)
            .map(|(_, outcome)| outcome.route)
            .ok_or_else(|| StepError::Terminal {
                class: FailureClass::Validation,
                reason: format!("order {} has no recorded authorization", record.order.id),
            })?;
        self.router
            .by_name(&name)
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
