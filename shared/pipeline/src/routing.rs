//! [`DynamicRouter`]: the routing document's rules, success-rate statistics and circuit breakers
//! behind the payment steps' [`Router`] seam (the decision logic itself is
//! `o2c_domain::routing`; this adds the store, the clock, randomness and a short read cache).

use crate::payment::{Route, RouteChoice, Router};
use async_trait::async_trait;
use o2c_connectors::cybersource::card::{brand_name, transient_token_card};
use o2c_domain::ports::{Clock, RoutingStore};
use o2c_domain::routing::stats::bucket_start;
use o2c_domain::routing::{decide, Bucket, CardMeta, Observation, OrderFacts, RoutingConfig};
use o2c_domain::{Order, PaymentInstrument, Timestamp};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Cached = (Instant, Vec<Bucket>);

/// How long a container reuses the statistics it read for a (route, segment).
pub const STATS_CACHE: Duration = Duration::from_secs(5);

/// Routes chosen by the routing document: rules, then success rate among the eligible routes.
pub struct DynamicRouter {
    config: RoutingConfig,
    routes: BTreeMap<String, Route>,
    store: Arc<dyn RoutingStore>,
    clock: Arc<dyn Clock>,
    rng: Mutex<StdRng>,
    /// (route, segment) → when read, and the buckets.
    cache: Mutex<HashMap<(String, String), Cached>>,
    cache_for: Duration,
}

impl DynamicRouter {
    /// `routes` must hold a gateway for every route the document names.
    pub fn new(
        config: RoutingConfig,
        routes: BTreeMap<String, Route>,
        store: Arc<dyn RoutingStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        if let Some(missing) = config.routes.iter().find(|r| !routes.contains_key(&r.name)) {
            return Err(format!("route {:?} has no gateway", missing.name));
        }
        Ok(DynamicRouter {
            config,
            routes,
            store,
            clock,
            rng: Mutex::new(rand::make_rng::<StdRng>()),
            cache: Mutex::new(HashMap::new()),
            cache_for: STATS_CACHE,
        })
    }

    /// Deterministic randomness and no read cache (benchmarks and tests).
    pub fn seeded(mut self, seed: u64) -> Self {
        self.rng = Mutex::new(StdRng::seed_from_u64(seed));
        self.cache_for = Duration::ZERO;
        self
    }

    pub fn config(&self) -> &RoutingConfig {
        &self.config
    }

    fn facts(order: &Order) -> OrderFacts {
        let card = match &order.instrument {
            PaymentInstrument::TransientToken { jwt } => transient_token_card(jwt),
            PaymentInstrument::Tms { .. } => CardMeta {
                brand: order
                    .payment
                    .as_ref()
                    .and_then(|p| p.card_brand.clone())
                    .map(|b| brand_name(&b)),
                bin: None,
            },
        };
        OrderFacts::of(order, &card)
    }

    async fn buckets(&self, route: &str, segment: &str) -> Vec<Bucket> {
        let key = (route.to_string(), segment.to_string());
        if !self.cache_for.is_zero() {
            if let Some((at, b)) = self.cache.lock().unwrap().get(&key) {
                if at.elapsed() < self.cache_for {
                    return b.clone();
                }
            }
        }
        let o = &self.config.optimisation;
        let window_start = self
            .clock
            .now()
            .millis()
            .saturating_sub(i64::from(o.window_secs) * 1000);
        let since = bucket_start(Timestamp::from_millis(window_start), o.bucket_secs);
        match self.store.buckets(route, segment, since, o.shards).await {
            Ok(b) => {
                self.cache
                    .lock()
                    .unwrap()
                    .insert(key, (Instant::now(), b.clone()));
                b
            }
            Err(e) => {
                // Without statistics the decision falls back to the rule order; never fail a
                // payment because the statistics are unreadable.
                tracing::warn!(%route, %segment, error = %e, "route statistics unavailable");
                Vec::new()
            }
        }
    }
}

#[async_trait]
impl Router for DynamicRouter {
    async fn choose(&self, order: &Order, tried: &[String]) -> RouteChoice {
        let facts = Self::facts(order);
        let segment = facts.segment();
        let eligibility = self.config.eligible(&facts);
        let mut stats = BTreeMap::new();
        for (route, _) in &eligibility.routes {
            stats.insert(route.clone(), self.buckets(route, &segment).await);
        }
        let now = self.clock.now();
        let decision = {
            let mut rng = self.rng.lock().unwrap();
            decide(&self.config, &facts, &stats, now, tried, &mut *rng)
        };
        tracing::info!(order_id = %order.id, decision = %decision.summary(), "routing decision");
        RouteChoice {
            route: decision
                .chosen
                .as_ref()
                .and_then(|r| self.routes.get(r).cloned()),
            decision: Some(decision),
        }
    }

    fn has_alternative(&self, order: &Order, tried: &[String]) -> bool {
        self.config
            .eligible(&Self::facts(order))
            .eligible()
            .any(|r| !tried.iter().any(|t| t == r))
    }

    fn by_name(&self, name: &str) -> Option<Route> {
        self.routes.get(name).cloned()
    }

    fn by_merchant(&self, merchant_id: &str) -> Option<Route> {
        self.config
            .routes
            .iter()
            .find(|r| r.merchant_id == merchant_id)
            .and_then(|r| self.by_name(&r.name))
    }

    fn all(&self) -> Vec<Route> {
        self.routes.values().cloned().collect()
    }

    async fn observe(&self, order: &Order, route: &str, observation: Observation) {
        let o = &self.config.optimisation;
        let now = self.clock.now();
        let shard = self.rng.lock().unwrap().random_range(0..o.shards.max(1));
        let expires = now.plus(Duration::from_secs(u64::from(o.window_secs) * 2));
        let segment = Self::facts(order).segment();
        if let Err(e) = self
            .store
            .record(
                route,
                &segment,
                bucket_start(now, o.bucket_secs),
                shard,
                observation,
                expires,
            )
            .await
        {
            tracing::warn!(%route, error = %e, "route statistics not recorded");
        }
        // The read cache is left alone: dropping it here would make the next decision query
        // every shard again, once per authorization. Decisions see counts at most
        // STATS_CACHE old.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use o2c_connectors::cybersource::fake::FakeGateway;
    use o2c_domain::fakes::{InMemoryRouting, ManualClock};
    use o2c_domain::model::sample;
    use o2c_domain::ports::StoreError;
    use o2c_domain::routing::Bucket;

    fn router(mode: &str, store: Arc<dyn RoutingStore>, clock: &ManualClock) -> DynamicRouter {
        let doc = format!(
            r#"{{"version": 2,
                "routes": [{{"name": "a", "merchant_id": "mid_a", "secret": "primary"}},
                           {{"name": "b", "merchant_id": "mid_b", "secret": "b"}}],
                "rules": [{{"name": "default", "routes": ["a", "b"]}}],
                "optimisation": {{"mode": "{mode}", "min_volume": 20}}}}"#
        );
        let routes = ["a", "b"]
            .into_iter()
            .map(|n| {
                (
                    n.to_string(),
                    Route {
                        name: n.to_string(),
                        gateway: Arc::new(FakeGateway::new()),
                    },
                )
            })
            .collect();
        DynamicRouter::new(
            RoutingConfig::from_json(&doc).unwrap(),
            routes,
            store,
            Arc::new(clock.clone()),
        )
        .unwrap()
        .seeded(11)
    }

    #[tokio::test]
    async fn observed_outcomes_steer_traffic_to_the_better_route() {
        let clock = ManualClock::at(1_800_000_000_000);
        let stats = Arc::new(InMemoryRouting::default());
        let r = router("dynamic", stats.clone(), &clock);
        let order = sample::order("o-1");
        // Route a approves 60 of 100, route b 95 of 100.
        for i in 0..100 {
            let a = if i < 60 {
                Observation::Approved
            } else {
                Observation::HardDecline
            };
            let b = if i < 95 {
                Observation::Approved
            } else {
                Observation::HardDecline
            };
            r.observe(&order, "a", a).await;
            r.observe(&order, "b", b).await;
            clock.advance_ms(100);
        }
        let mut to_b = 0;
        for _ in 0..200 {
            let c = r.choose(&order, &[]).await;
            let d = c.decision.unwrap();
            assert_eq!(d.segment, "USD|any");
            to_b += usize::from(c.route.unwrap().name == "b");
        }
        assert!(to_b > 190, "{to_b}");
        // The cascade excludes what was tried; the notification lookup goes by merchant id.
        let c = r.choose(&order, &["b".into()]).await;
        assert_eq!(c.route.unwrap().name, "a");
        assert!(r.has_alternative(&order, &["a".into()]));
        assert!(!r.has_alternative(&order, &["a".into(), "b".into()]));
        assert_eq!(r.by_merchant("mid_b").unwrap().name, "b");
    }

    struct Down;

    #[async_trait]
    impl RoutingStore for Down {
        async fn routing_document(&self) -> Result<Option<String>, StoreError> {
            Err(StoreError::Unavailable("down".into()))
        }
        async fn record(
            &self,
            _: &str,
            _: &str,
            _: Timestamp,
            _: u8,
            _: Observation,
            _: Timestamp,
        ) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("down".into()))
        }
        async fn buckets(
            &self,
            _: &str,
            _: &str,
            _: Timestamp,
            _: u8,
        ) -> Result<Vec<Bucket>, StoreError> {
            Err(StoreError::Unavailable("down".into()))
        }
    }

    #[tokio::test]
    async fn unreadable_statistics_fall_back_to_the_rule_order() {
        let clock = ManualClock::at(1_800_000_000_000);
        let r = router("dynamic", Arc::new(Down), &clock);
        let order = sample::order("o-2");
        r.observe(&order, "a", Observation::Approved).await; // logged, not fatal
        let c = r.choose(&order, &[]).await;
        assert_eq!(c.route.unwrap().name, "a");
        let d = c.decision.unwrap();
        assert!(d.candidates.iter().all(|c| c.volume == 0.0 && !c.trusted));
    }
}
