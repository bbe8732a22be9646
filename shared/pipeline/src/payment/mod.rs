//! The Cybersource payment steps, each an [`o2c_domain::recipe::Step`]: authorize (with Decision
//! Manager), capture, void (authorization reversal). References are deterministic
//! (`clientReferenceInformation.code`), and each attempt carries its own
//! `clientReferenceInformation.transactionId` so an unanswered request can be cleaned up with
//! Cybersource's timeout reversal / void (`docs/cybersource.md` §2.6).

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
use std::time::{Duration, Instant};

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

/// Time kept between an external call's deadline and the invocation's: enough to record the
/// call's outcome and send the next message before the Lambda is stopped.
pub const CALL_SAFETY_MARGIN: Duration = Duration::from_secs(2);

/// What every payment step needs.
#[derive(Clone)]
pub struct PaymentContext {
    pub router: Arc<dyn Router>,
    /// How long one external call (with its retries) may take at most (derived from
    /// `FUNCTION_TIMEOUT_SECS`); the invocation's deadline, when known, cuts it shorter.
    pub call_budget: Duration,
    /// The deadline of the invocation being served (from the Lambda context); `None` without
    /// one (the local bridge, tests), and outside an invocation. Set per message with
    /// [`PaymentContext::for_invocation`].
    pub invocation_deadline: Option<Instant>,
}

impl PaymentContext {
    /// This context within an invocation that must end by `deadline`.
    pub fn for_invocation(&self, deadline: Option<Instant>) -> PaymentContext {
        PaymentContext {
            invocation_deadline: deadline,
            ..self.clone()
        }
    }

    /// When the next external call (all its retries included) must be finished:
    /// `min(now + call_budget, invocation deadline − CALL_SAFETY_MARGIN)`. The connectors'
    /// retry policy starts no retry (nor its sleep) that cannot finish before it.
    pub fn deadline(&self) -> Deadline {
        self.deadline_at(Instant::now())
    }

    fn deadline_at(&self, now: Instant) -> Deadline {
        let own = now + self.call_budget;
        match self.invocation_deadline {
            None => Deadline::at(own),
            Some(end) => {
                let cut = end.checked_sub(CALL_SAFETY_MARGIN).unwrap_or(now).max(now);
                Deadline::at(own.min(cut))
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(budget: Duration, invocation: Option<Instant>) -> PaymentContext {
        PaymentContext {
            router: Arc::new(SingleRoute(Route {
                name: "r".into(),
                gateway: Arc::new(o2c_connectors::cybersource::fake::FakeGateway::new()),
            })),
            call_budget: budget,
            invocation_deadline: invocation,
        }
    }

    #[test]
    fn a_calls_deadline_is_its_budget_cut_by_the_invocations_deadline_less_the_margin() {
        let now = Instant::now();
        let budget = Duration::from_secs(20);
        // No invocation deadline: the budget (from FUNCTION_TIMEOUT_SECS) alone.
        assert_eq!(
            ctx(budget, None).deadline_at(now),
            Deadline::at(now + budget)
        );
        // A far invocation deadline: still the budget.
        let far = now + Duration::from_secs(900);
        assert_eq!(
            ctx(budget, Some(far)).deadline_at(now),
            Deadline::at(now + budget)
        );
        // A near one: the invocation's deadline less the safety margin.
        let near = now + Duration::from_secs(5);
        assert_eq!(
            ctx(budget, Some(near)).deadline_at(now),
            Deadline::at(near - CALL_SAFETY_MARGIN)
        );
        // Closer than the margin: no time at all (never in the past).
        let closer = now + Duration::from_secs(1);
        assert_eq!(
            ctx(budget, Some(closer)).deadline_at(now),
            Deadline::at(now)
        );
        // for_invocation sets it per message and leaves the rest alone.
        let c = ctx(budget, None).for_invocation(Some(near));
        assert_eq!(c.invocation_deadline, Some(near));
        assert_eq!(c.call_budget, budget);
    }
}
