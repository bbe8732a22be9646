//! The reference index at work: every reference and transaction id we send to Cybersource is
//! remembered with its order *before* the request goes out, every id Cybersource returns right
//! after, and everything that comes back from Cybersource (notifications, chargeback report
//! rows) finds its order through [`order_of_reference`] / [`ReferenceIndex::order_of`].
//!
//! Why: an order id over 45 characters does not fit a reference (`<order>-<suffix>`, at most 50
//! characters), so it goes out hashed (`o2c<24 hex>-<suffix>`, [`crate::payment::reference`])
//! and cannot be read back.
//!
//! How: [`IndexedRouter`] wraps the payment steps' [`Router`], and every gateway it hands out is
//! an [`IndexedGateway`] — so no payment step changes:
//!
//! - The route chosen for an authorization is scoped to its order: before `authorize` the
//!   gateway remembers the reference, the attempt's `transactionId` and — for a hashed reference —
//!   its stem (`o2c<hash>`, shared by every reference of the order); after it, the
//!   authorization id.
//! - A follow-on (capture, refund, reversal, void, timeout reversal/void) on a route looked up by
//!   name finds its order from what the request carries: the parent transaction id (remembered
//!   when it came back), the reference or its stem, or — for orders authorized before the index
//!   existed — the order id in an unhashed reference. It remembers its reference before the call
//!   and the new transaction id after.
//!
//! A failure to remember *before* the call fails the call as retryable with nothing sent (an
//! unrecorded lookup never lets a request go out). After the call the reference is already
//! recorded, so a failure to remember the returned id is logged, never fails the payment.

use crate::payment::{Route, RouteChoice, Router};
use async_trait::async_trait;
use o2c_connectors::cybersource::{
    AuthorizationInput, AuthorizationResult, CaptureInput, ChargebackReportEntry, CustomerInput,
    CybersourceError, Deadline, FollowOnResult, PaymentGateway, RefundInput, ReversalInput,
    TerminalError, TimeoutReversalInput, TimeoutVoidInput, TmsCustomer, TmsPaymentInstrument,
    TmsTokens, TokenizeInput, TransactionDetails, TransactionSummary, VoidInput, VoidTarget,
};
use o2c_domain::ports::{CybsKey, ReferenceIndex, StoreError};
use o2c_domain::routing::Observation;
use o2c_domain::{Order, OrderId};
use std::sync::Arc;
use time::OffsetDateTime;

/// The stem of a reference: `<order or its hash>` of `<order or its hash>-<suffix>`.
pub fn reference_stem(reference: &str) -> Option<&str> {
    reference
        .rsplit_once('-')
        .map(|(stem, _)| stem)
        .filter(|s| !s.is_empty())
}

/// Is `stem` the hash form of an order id (`o2c` + 24 lowercase hex digits)?
pub fn is_hashed_stem(stem: &str) -> bool {
    stem.len() == 27
        && stem.starts_with("o2c")
        && stem[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The order of one of our references: the index (the reference itself, then its stem), else —
/// an order from before the index — the order id an unhashed `<order>-<suffix>` carries. `None`
/// for a hashed reference the index does not know. A store failure is an error (retry later),
/// never "unknown".
pub async fn order_of_reference(
    index: &dyn ReferenceIndex,
    reference: &str,
) -> Result<Option<OrderId>, StoreError> {
    if let Some(order) = index.order_of(reference).await? {
        return Ok(Some(order));
    }
    order_of_reference_stem(index, reference).await
}

/// [`order_of_reference`] without the lookup of the reference itself (for a caller that did
/// that already): its stem in the index, else the order id of an unhashed reference.
pub async fn order_of_reference_stem(
    index: &dyn ReferenceIndex,
    reference: &str,
) -> Result<Option<OrderId>, StoreError> {
    let Some(stem) = reference_stem(reference) else {
        return Ok(None);
    };
    if let Some(order) = index.order_of(stem).await? {
        return Ok(Some(order));
    }
    if is_hashed_stem(stem) {
        return Ok(None);
    }
    Ok(OrderId::new(stem).ok())
}

/// The keys a request under `reference` (and attempt id) carries, for `order`.
fn request_keys(order: &OrderId, reference: Option<&str>, attempt: Option<&str>) -> Vec<CybsKey> {
    let mut keys = Vec::new();
    if let Some(r) = reference.filter(|r| !r.is_empty()) {
        keys.push(CybsKey::Reference(r.to_string()));
        if let Some(stem) = reference_stem(r).filter(|s| *s != order.as_str()) {
            keys.push(CybsKey::ReferenceStem(stem.to_string()));
        }
    }
    if let Some(a) = attempt.filter(|a| !a.is_empty()) {
        keys.push(CybsKey::AttemptId(a.to_string()));
    }
    keys
}

/// A store failure before a request, as the gateway's error: retryable with nothing sent, or
/// terminal when the index refuses the key for good (it names another order).
fn index_error(operation: &'static str, e: StoreError) -> CybersourceError {
    match e {
        StoreError::ConditionFailed { .. } | StoreError::Corrupt { .. } => {
            CybersourceError::terminal(
                operation,
                TerminalError::Configuration(format!("reference index: {e}")),
            )
        }
        _ => CybersourceError::Retryable {
            operation,
            reason: format!("reference index unavailable, request not sent: {e}"),
            http_status: None,
            effect_may_have_happened: false,
        },
    }
}

/// A [`PaymentGateway`] that keeps the reference index (see the module docs).
pub struct IndexedGateway {
    inner: Arc<dyn PaymentGateway>,
    index: Arc<dyn ReferenceIndex>,
    /// The order every request is about, when the gateway was handed out for one.
    order: Option<OrderId>,
}

impl IndexedGateway {
    pub fn new(
        inner: Arc<dyn PaymentGateway>,
        index: Arc<dyn ReferenceIndex>,
        order: Option<OrderId>,
    ) -> Self {
        IndexedGateway {
            inner,
            index,
            order,
        }
    }

    /// The order a request is about: the scoped one, else from its parent ids, else from its
    /// reference.
    async fn order_for(
        &self,
        parents: &[&str],
        reference: Option<&str>,
    ) -> Result<Option<OrderId>, StoreError> {
        if let Some(o) = &self.order {
            return Ok(Some(o.clone()));
        }
        for p in parents.iter().filter(|p| !p.is_empty()) {
            if let Some(o) = self.index.order_of(p).await? {
                return Ok(Some(o));
            }
        }
        match reference {
            Some(r) => order_of_reference(self.index.as_ref(), r).await,
            None => Ok(None),
        }
    }

    /// Before a request: remember its reference (and stem) and attempt id for its order.
    async fn before(
        &self,
        operation: &'static str,
        parents: &[&str],
        reference: Option<&str>,
        attempt: Option<&str>,
    ) -> Result<Option<OrderId>, CybersourceError> {
        let order = self
            .order_for(parents, reference.or(attempt))
            .await
            .map_err(|e| index_error(operation, e))?;
        let Some(order) = order else {
            // Only an order from before the index, with a hashed reference, gets here: nothing
            // can name it. Blocking its payments would not help; it keeps the old behaviour.
            tracing::warn!(
                operation,
                reference = reference.unwrap_or_default(),
                "no order found for a Cybersource request; it goes out without an index entry"
            );
            return Ok(None);
        };
        let keys = request_keys(&order, reference, attempt);
        self.index
            .remember(&order, &keys)
            .await
            .map_err(|e| index_error(operation, e))?;
        Ok(Some(order))
    }

    /// After a request: remember the id Cybersource gave it (best effort: the reference is
    /// already recorded).
    async fn after(&self, operation: &'static str, order: Option<&OrderId>, id: &str) {
        let Some(order) = order else { return };
        if id.is_empty() {
            return;
        }
        if let Err(e) = self
            .index
            .remember(order, &[CybsKey::Transaction(id.to_string())])
            .await
        {
            tracing::warn!(operation, order_id = %order, transaction_id = id, error = %e,
                "Cybersource transaction id not remembered; its reference still names the order");
        }
    }

    /// A follow-on on `parent` under `reference`.
    async fn follow_on<F, Fut>(
        &self,
        operation: &'static str,
        parent: &str,
        reference: &str,
        call: F,
    ) -> Result<FollowOnResult, CybersourceError>
    where
        F: FnOnce() -> Fut + Send,
        Fut: std::future::Future<Output = Result<FollowOnResult, CybersourceError>> + Send,
    {
        let order = self
            .before(operation, &[parent], Some(reference), None)
            .await?;
        let result = call().await?;
        self.after(operation, order.as_ref(), &result.id).await;
        Ok(result)
    }

    /// Search results name transactions of our requests: remember them (best effort).
    async fn found(&self, reference: &str, ids: &[&str]) {
        let order = match self.order_for(&[], Some(reference)).await {
            Ok(Some(o)) => o,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(reference, error = %e, "reference index unavailable; search results not remembered");
                return;
            }
        };
        for id in ids {
            self.after("search", Some(&order), id).await;
        }
    }
}

#[async_trait]
impl PaymentGateway for IndexedGateway {
    async fn authorize(
        &self,
        input: &AuthorizationInput,
        deadline: Deadline,
    ) -> Result<AuthorizationResult, CybersourceError> {
        let order = self
            .before(
                "authorize",
                &[],
                Some(&input.reference),
                Some(&input.transaction_id),
            )
            .await?;
        let result = self.inner.authorize(input, deadline).await?;
        self.after("authorize", order.as_ref(), &result.id).await;
        Ok(result)
    }

    async fn capture(
        &self,
        payment_id: &str,
        input: &CaptureInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        self.follow_on("capture", payment_id, &input.reference, || {
            self.inner.capture(payment_id, input, deadline)
        })
        .await
    }

    async fn refund_payment(
        &self,
        payment_id: &str,
        input: &RefundInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        self.follow_on("refund", payment_id, &input.reference, || {
            self.inner.refund_payment(payment_id, input, deadline)
        })
        .await
    }

    async fn refund_capture(
        &self,
        capture_id: &str,
        input: &RefundInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        self.follow_on("refund", capture_id, &input.reference, || {
            self.inner.refund_capture(capture_id, input, deadline)
        })
        .await
    }

    async fn reverse_authorization(
        &self,
        payment_id: &str,
        input: &ReversalInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        self.follow_on("reversal", payment_id, &input.reference, || {
            self.inner
                .reverse_authorization(payment_id, input, deadline)
        })
        .await
    }

    async fn void(
        &self,
        target: VoidTarget,
        id: &str,
        input: &VoidInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        self.follow_on("void", id, &input.reference, || {
            self.inner.void(target, id, input, deadline)
        })
        .await
    }

    async fn timeout_reversal(
        &self,
        input: &TimeoutReversalInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        let order = self
            .before(
                "timeout-reversal",
                &[&input.transaction_id],
                input.reference.as_deref(),
                Some(&input.transaction_id),
            )
            .await?;
        let result = self.inner.timeout_reversal(input, deadline).await?;
        self.after("timeout-reversal", order.as_ref(), &result.id)
            .await;
        Ok(result)
    }

    async fn timeout_void(
        &self,
        input: &TimeoutVoidInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        let order = self
            .before(
                "timeout-void",
                &[&input.transaction_id],
                input.reference.as_deref(),
                Some(&input.transaction_id),
            )
            .await?;
        let result = self.inner.timeout_void(input, deadline).await?;
        self.after("timeout-void", order.as_ref(), &result.id).await;
        Ok(result)
    }

    async fn transaction_details(
        &self,
        id: &str,
        deadline: Deadline,
    ) -> Result<TransactionDetails, CybersourceError> {
        self.inner.transaction_details(id, deadline).await
    }

    async fn search_by_reference(
        &self,
        reference: &str,
        deadline: Deadline,
    ) -> Result<Vec<TransactionSummary>, CybersourceError> {
        let found = self.inner.search_by_reference(reference, deadline).await?;
        let ids: Vec<&str> = found.iter().map(|t| t.id.as_str()).collect();
        if !ids.is_empty() {
            self.found(reference, &ids).await;
        }
        Ok(found)
    }

    async fn reconcile_by_reference(
        &self,
        reference: &str,
        deadline: Deadline,
    ) -> Result<Option<TransactionSummary>, CybersourceError> {
        let found = self
            .inner
            .reconcile_by_reference(reference, deadline)
            .await?;
        if let Some(t) = &found {
            self.found(reference, &[t.id.as_str()]).await;
        }
        Ok(found)
    }

    async fn create_customer_from_token(
        &self,
        input: &TokenizeInput,
        deadline: Deadline,
    ) -> Result<TmsTokens, CybersourceError> {
        self.inner.create_customer_from_token(input, deadline).await
    }

    async fn create_customer(
        &self,
        input: &CustomerInput,
        deadline: Deadline,
    ) -> Result<TmsCustomer, CybersourceError> {
        self.inner.create_customer(input, deadline).await
    }

    async fn get_customer(
        &self,
        customer_id: &str,
        deadline: Deadline,
    ) -> Result<TmsCustomer, CybersourceError> {
        self.inner.get_customer(customer_id, deadline).await
    }

    async fn get_payment_instrument(
        &self,
        customer_id: &str,
        payment_instrument_id: &str,
        deadline: Deadline,
    ) -> Result<TmsPaymentInstrument, CybersourceError> {
        self.inner
            .get_payment_instrument(customer_id, payment_instrument_id, deadline)
            .await
    }

    async fn chargeback_details(
        &self,
        start: OffsetDateTime,
        end: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Vec<ChargebackReportEntry>, CybersourceError> {
        self.inner.chargeback_details(start, end, deadline).await
    }
}

/// A [`Router`] whose routes keep the reference index: the route chosen for an order is scoped
/// to it; routes looked up by name find their order from each request.
pub struct IndexedRouter {
    inner: Arc<dyn Router>,
    index: Arc<dyn ReferenceIndex>,
}

impl IndexedRouter {
    pub fn new(inner: Arc<dyn Router>, index: Arc<dyn ReferenceIndex>) -> Self {
        IndexedRouter { inner, index }
    }

    fn wrap(&self, route: Route, order: Option<&OrderId>) -> Route {
        Route {
            gateway: Arc::new(IndexedGateway::new(
                route.gateway,
                self.index.clone(),
                order.cloned(),
            )),
            ..route
        }
    }
}

#[async_trait]
impl Router for IndexedRouter {
    async fn choose(&self, order: &Order, tried: &[String]) -> RouteChoice {
        let choice = self.inner.choose(order, tried).await;
        RouteChoice {
            route: choice.route.map(|r| self.wrap(r, Some(&order.id))),
            decision: choice.decision,
        }
    }

    fn has_alternative(&self, order: &Order, tried: &[String]) -> bool {
        self.inner.has_alternative(order, tried)
    }

    fn by_name(&self, name: &str) -> Option<Route> {
        self.inner.by_name(name).map(|r| self.wrap(r, None))
    }

    fn by_merchant(&self, merchant_id: &str) -> Option<Route> {
        self.inner
            .by_merchant(merchant_id)
            .map(|r| self.wrap(r, None))
    }

    fn all(&self) -> Vec<Route> {
        self.inner
            .all()
            .into_iter()
            .map(|r| self.wrap(r, None))
            .collect()
    }

    async fn observe(&self, order: &Order, route: &str, observation: Observation) {
        self.inner.observe(order, route, observation).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::{reference, transaction_id, SingleRoute};
    use o2c_connectors::cybersource::fake::FakeGateway;
    use o2c_domain::fakes::InMemoryReferences;
    use o2c_domain::model::sample;
    use o2c_domain::Money;

    fn long_order(len: usize) -> Order {
        let mut id = "ORD-LONG-".to_string();
        while id.len() < len {
            id.push('x');
        }
        sample::order(&id)
    }

    #[test]
    fn stems_and_hashed_stems() {
        assert_eq!(reference_stem("ORD-1-auth"), Some("ORD-1"));
        assert_eq!(reference_stem("auth"), None);
        let hashed = reference(&long_order(46), "auth");
        let stem = reference_stem(&hashed).unwrap();
        assert!(is_hashed_stem(stem), "{hashed}");
        assert!(!is_hashed_stem("ORD-1"));
    }

    #[tokio::test]
    async fn legacy_references_still_parse_and_hashed_ones_need_the_index() {
        let index = InMemoryReferences::new();
        let order = long_order(64);
        let hashed = reference(&order, "auth");
        assert_eq!(order_of_reference(&index, &hashed).await.unwrap(), None);
        assert_eq!(
            order_of_reference(&index, "ORD-1-auth").await.unwrap(),
            Some(OrderId::new("ORD-1").unwrap())
        );
        index
            .remember(
                &order.id,
                &[CybsKey::ReferenceStem(
                    reference_stem(&hashed).unwrap().into(),
                )],
            )
            .await
            .unwrap();
        // Any reference of the order, through its stem.
        let cap = reference(&order, "cap");
        assert_eq!(
            order_of_reference(&index, &cap).await.unwrap(),
            Some(order.id.clone())
        );
        index.set_failing(true);
        assert!(order_of_reference(&index, &cap).await.is_err());
    }

    #[tokio::test]
    async fn every_request_is_remembered_and_an_index_outage_sends_nothing() {
        let index = Arc::new(InMemoryReferences::new());
        let fake = Arc::new(FakeGateway::new());
        let router = IndexedRouter::new(
            Arc::new(SingleRoute(Route {
                name: "primary".into(),
                gateway: fake.clone(),
            })),
            index.clone(),
        );
        let order = long_order(46);
        let auth_ref = reference(&order, "auth");
        let attempt = transaction_id(&auth_ref, 1);
        let route = router.choose(&order, &[]).await.route.unwrap();
        let input = AuthorizationInput::from_order(&order, &auth_ref, &attempt);
        let auth = route
            .gateway
            .authorize(&input, Deadline::NONE)
            .await
            .unwrap();
        for v in [&auth_ref, &attempt, &auth.id] {
            assert_eq!(
                index.order_of(v).await.unwrap(),
                Some(order.id.clone()),
                "{v}"
            );
        }
        // A follow-on on a route looked up by name finds the order from its parent id.
        let cap_ref = reference(&order, "cap");
        let capture = router
            .by_name("primary")
            .unwrap()
            .gateway
            .capture(
                &auth.id,
                &CaptureInput {
                    reference: cap_ref.clone(),
                    amount: order.total,
                },
                Deadline::NONE,
            )
            .await
            .unwrap();
        for v in [&cap_ref, &capture.id] {
            assert_eq!(
                index.order_of(v).await.unwrap(),
                Some(order.id.clone()),
                "{v}"
            );
        }
        // The index is down: the refund is refused as retryable and never reaches Cybersource.
        index.set_failing(true);
        let err = router
            .by_name("primary")
            .unwrap()
            .gateway
            .refund_capture(
                &capture.id,
                &RefundInput {
                    reference: reference(&order, "rf1"),
                    amount: Money::parse_with_code("1.00", "USD").unwrap(),
                },
                Deadline::NONE,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                CybersourceError::Retryable {
                    effect_may_have_happened: false,
                    ..
                }
            ),
            "{err:?}"
        );
        index.set_failing(false);
        let refunds = fake
            .calls()
            .iter()
            .filter(|c| c.starts_with("refund"))
            .count();
        assert_eq!(refunds, 0, "{:?}", fake.calls());
    }
}
