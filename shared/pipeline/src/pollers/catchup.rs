//! clarity-catchup: orders whose `order.created` webhook never reached us.
//!
//! Clarity retries a failed webhook delivery for a while and then gives up; an order whose
//! deliveries all failed (the receiver unreachable for a few minutes) would never be created
//! here, never charged, and nothing would say so. Every 5 minutes this poller lists Clarity's
//! orders updated since its cursor (E3 `GET /api/v1/orders?updatedSince=&limit=&cursor=`,
//! paging through `nextCursor`) and takes in every **payable** order we do not know through
//! the webhook's own idempotent intake ([`crate::intake`]): the same mapping, the same
//! conditional create, the same authorization message (same dedup id). An order we know is
//! skipped; a listed order that is not payable ([`is_payable`]) is skipped without a lookup.
//!
//! **Alerting.** Every caught-up order is a WARN log line (order id, Clarity status, when it
//! was created) and counts in the EMF metric `O2C/OrdersCaughtUp` (dimension `function`), which
//! an alarm in template.yaml sends to the alarm topic when above zero: a webhook was lost and
//! someone should find out why.
//!
//! **Window.** `[cursor − overlap, now − settle]`. `settle` (default 2 minutes) leaves young
//! orders to their webhook, so a delivery that is merely slow is not "caught up" (and alarmed);
//! an order created after the window's end is skipped and seen again by the next run, since the
//! cursor only moves to the window's end. On the first run (no cursor) the window starts
//! `first` (15 minutes) back, and never more than `max` (24 hours): an order created before
//! that is reported `stale` and left alone, because a Microform transient token lives 15
//! minutes (an old JWT instrument cannot be authorized any more) and an order that old waiting
//! for payment needs a person, not an automatic charge.
//!
//! **Failures.** A listed order that cannot be read or mapped (or carries a card-number-like
//! value) is counted in `mappingFailed` and logged with its id and the field path; it does not
//! stop the run or hold the cursor (Clarity changing the order bumps its `updatedAt`, so the
//! next window lists it again). The store or the queue failing for an order holds the cursor
//! (the next run retries it: the intake is idempotent). A list call that fails ends the run
//! with an error after reporting what it caught up so far; the cursor stays.
//!
//! Event (all optional): `{"since": RFC 3339}` reads from then (an operator's back-fill after
//! a known outage), leaving the cursor alone; still never further back than `max`.

use super::{event_time, minus, Lookback, PollCursor, Window};
use crate::intake::{Intake, IntakeError, Source};
use o2c_connectors::clarity::{ClarityOrderList, ListedOrder, OrderListQuery};
use o2c_connectors::mapping::clarity::is_payable;
use o2c_domain::card::contains_card_number;
use o2c_domain::ports::{Clock, OrderStore};
use o2c_domain::{OrderId, Timestamp};
use o2c_runtime::lambda::Error;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The function's name (cursor key, metrics, logs).
pub const POLLER: &str = "clarity-catchup";

/// The metric of caught-up orders (alarmed above zero).
pub const CAUGHT_UP_METRIC: &str = "OrdersCaughtUp";

/// Tunables (defaults suit a 5-minute schedule).
#[derive(Clone, Copy, Debug)]
pub struct CatchUpSettings {
    pub lookback: Lookback,
    /// Orders younger than this are left to their webhook (seen again next run).
    pub settle: Duration,
    /// E3 `limit` (1–100).
    pub page_size: u8,
    /// At most this many pages per run; the rest waits for the next run (cursor held).
    pub max_pages: usize,
}

impl Default for CatchUpSettings {
    fn default() -> Self {
        CatchUpSettings {
            lookback: Lookback {
                overlap: Duration::from_secs(10 * 60),
                first: Duration::from_secs(15 * 60),
                max: Duration::from_secs(24 * 3600),
            },
            settle: Duration::from_secs(2 * 60),
            page_size: 100,
            max_pages: 50,
        }
    }
}

/// The catch-up poller.
pub struct ClarityCatchUp {
    pub store: Arc<dyn OrderStore>,
    pub cursor: Arc<dyn PollCursor>,
    pub clarity: Arc<dyn ClarityOrderList>,
    /// The webhook's intake (same store and orders queue).
    pub intake: Intake,
    /// The integration spec versions: a caught-up order is mapped under, and pins, the active
    /// one, as through the webhook.
    pub specs: Arc<o2c_spec::Specs>,
    pub clock: Arc<dyn Clock>,
    pub settings: CatchUpSettings,
}

#[derive(Default)]
struct Report {
    pages: usize,
    listed: usize,
    caught_up: Vec<OrderId>,
    known: usize,
    not_payable: usize,
    settling: usize,
    stale: Vec<Value>,
    mapping_failed: Vec<Value>,
    failed: Vec<Value>,
    truncated: bool,
}

impl Report {
    fn into_json(self, window: Window, cursor: Option<Timestamp>) -> Value {
        json!({
            "window": window.to_json(),
            "cursor": cursor,
            "pages": self.pages,
            "listed": self.listed,
            "caughtUp": self.caught_up,
            "known": self.known,
            "notPayable": self.not_payable,
            "settling": self.settling,
            "stale": self.stale,
            "mappingFailed": self.mapping_failed,
            "failed": self.failed,
            "truncated": self.truncated,
        })
    }

    fn mapping_failed(&mut self, order: Option<&str>, field: &str, reason: &str) {
        tracing::error!(
            order_id = order.unwrap_or("?"), field, reason,
            "catch-up: a listed Clarity order cannot be taken in; fix it in Clarity (the next change lists it again)"
        );
        self.mapping_failed
            .push(json!({"order": order, "field": field, "reason": reason}));
    }
}

impl ClarityCatchUp {
    /// One scheduled (or operator) run; the answer says what was caught up.
    pub async fn run(&self, event: Value) -> Result<Value, Error> {
        let now = self.clock.now();
        let end = minus(now, self.settings.settle);
        let oldest = minus(now, self.settings.lookback.max);
        let (window, scheduled) = match event_time(&event, "since")? {
            Some(start) => (
                Window {
                    start: start.max(oldest),
                    end,
                },
                false,
            ),
            None => {
                let cursor = self.cursor.load(POLLER).await?;
                (Window::scheduled(cursor, end, self.settings.lookback), true)
            }
        };
        let mut report = Report::default();
        // Every order of this run is mapped under (and pins) the version active now.
        let spec = crate::spec_runtime::current(&self.specs, POLLER).await?;
        let mut page_cursor: Option<String> = None;
        let mut list_error = None;
        loop {
            let query = OrderListQuery {
                status: None,
                updated_since: Some(window.start.to_rfc3339()),
                limit: Some(self.settings.page_size),
                cursor: page_cursor.take(),
            };
            let page = match self.clarity.list_orders(&query).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, pages = report.pages, "catch-up: listing Clarity orders failed");
                    report
                        .failed
                        .push(json!({"list": report.pages + 1, "reason": e.to_string()}));
                    list_error = Some(e.to_string());
                    break;
                }
            };
            report.pages += 1;
            report.listed += page.orders.len();
            for raw in page.orders {
                // The merchant's order → the contract's, through the spec, then read.
                // A card number anywhere in what Clarity sent (even where the spec does not
                // look) refuses the order, as the webhook does.
                let id = || raw.get("id").and_then(Value::as_str).map(str::to_owned);
                let listed = if carries_card_number(&raw) {
                    ListedOrder::Unreadable {
                        id: id(),
                        path: "order".into(),
                        reason: "holds a value that looks like a card number; card data is never accepted".into(),
                    }
                } else {
                    match crate::spec_runtime::inbound_order(&spec, &raw) {
                        Ok(mapped) => ListedOrder::read(&mapped),
                        Err(e) => ListedOrder::Unreadable {
                            id: id(),
                            path: "order".into(),
                            reason: e.to_string(),
                        },
                    }
                };
                self.consider(listed, &spec, window, oldest, &mut report)
                    .await;
            }
            match page.next_cursor {
                Some(c) if report.pages < self.settings.max_pages => page_cursor = Some(c),
                Some(_) => {
                    tracing::warn!(
                        pages = report.pages,
                        "catch-up: page limit reached; the next run continues"
                    );
                    report.truncated = true;
                    break;
                }
                None => break,
            }
        }

        let n = report.caught_up.len() as u64;
        if n > 0 {
            o2c_runtime::metrics::count_n(POLLER, CAUGHT_UP_METRIC, n);
        }
        let advanced_to = if scheduled && report.failed.is_empty() && !report.truncated {
            Some(self.cursor.advance(POLLER, window.end).await?)
        } else {
            None
        };
        tracing::info!(
            window_start = %window.start, window_end = %window.end, pages = report.pages,
            listed = report.listed, caught_up = n, known = report.known,
            not_payable = report.not_payable, settling = report.settling,
            stale = report.stale.len(), mapping_failed = report.mapping_failed.len(),
            failed = report.failed.len(), "clarity catch-up finished"
        );
        let out = report.into_json(window, advanced_to);
        match list_error {
            Some(e) => Err(format!("listing Clarity orders failed: {e}; so far: {out}").into()),
            None => Ok(out),
        }
    }

    /// One listed order: skip it, or take it in.
    async fn consider(
        &self,
        listed: ListedOrder,
        spec: &o2c_spec::Spec,
        window: Window,
        oldest: Timestamp,
        report: &mut Report,
    ) {
        let order = match listed {
            ListedOrder::Order(o) => o,
            ListedOrder::Unreadable { id, path, reason } => {
                report.mapping_failed(id.as_deref(), &path, &reason);
                return;
            }
        };
        if !is_payable(order.status) {
            report.not_payable += 1;
            return;
        }
        let Some(created_at) = Timestamp::parse_rfc3339(&order.created_at) else {
            report.mapping_failed(
                Some(&order.id),
                "order.createdAt",
                "is not an RFC 3339 time",
            );
            return;
        };
        if created_at > window.end {
            report.settling += 1;
            return;
        }
        let Ok(id) = OrderId::new(order.id.clone()) else {
            report.mapping_failed(
                Some(&order.id),
                "order.id",
                "is not a usable id (1-64 of A-Z a-z 0-9 - _ .)",
            );
            return;
        };
        match self.store.get(&id).await {
            Ok(Some(_)) => {
                report.known += 1;
                return;
            }
            Ok(None) => {}
            Err(e) => {
                report
                    .failed
                    .push(json!({"order": id, "reason": e.to_string()}));
                return;
            }
        }
        if created_at < oldest {
            tracing::warn!(order_id = %id, created_at = %order.created_at, "catch-up: a payable order we do not know is older than the look-back; not charged automatically");
            report
                .stale
                .push(json!({"order": id, "createdAt": order.created_at}));
            return;
        }
        match self
            .intake
            .order_created(&order, spec, Source::CatchUp { poller: POLLER })
            .await
        {
            Ok(done) if done.created => {
                tracing::warn!(
                    order_id = %id, clarity_status = %order.status, created_at = %order.created_at,
                    authorize_queued = done.authorize_queued,
                    "caught up an order whose order.created webhook never arrived"
                );
                report.caught_up.push(id);
            }
            // Its webhook arrived meanwhile.
            Ok(_) => report.known += 1,
            Err(IntakeError::Mapping(e)) => {
                report.mapping_failed(Some(&order.id), &e.path, &e.to_string());
            }
            Err(e) => {
                tracing::error!(order_id = %id, error = %e, "catch-up: intake failed; the next run retries");
                report
                    .failed
                    .push(json!({"order": id, "reason": e.to_string()}));
            }
        }
    }
}

/// The webhook refuses a payload holding a card-number-like value; so does the catch-up.
fn carries_card_number(order: &Value) -> bool {
    contains_card_number(&order.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pollers::MemoryCursor;
    use async_trait::async_trait;
    use o2c_connectors::clarity::{ClarityError, OrderPage};
    use o2c_domain::fakes::{InMemoryPublisher, InMemoryStore, ManualClock};
    use std::sync::Mutex;

    const NOW: i64 = 1_717_243_200_000; // 2024-06-01T12:00:00Z

    fn at(offset_secs: i64) -> String {
        Timestamp::from_millis(NOW + offset_secs * 1000).to_rfc3339()
    }

    fn order(id: &str, status: &str, created: i64) -> Value {
        o2c_connectors::clarity::sample::order_json(id, status, &at(created))
    }

    /// Pages of raw order documents; records each query.
    struct FakeList {
        pages: Vec<Vec<Value>>,
        queries: Mutex<Vec<OrderListQuery>>,
    }

    #[async_trait]
    impl ClarityOrderList for FakeList {
        async fn list_orders(&self, q: &OrderListQuery) -> Result<OrderPage, ClarityError> {
            self.queries.lock().unwrap().push(q.clone());
            let i: usize = q.cursor.as_deref().map_or(0, |c| c.parse().unwrap());
            let next = (i + 1 < self.pages.len()).then(|| (i + 1).to_string());
            Ok(OrderPage::from_json(&json!({"data": self.pages[i], "nextCursor": next})).unwrap())
        }
    }

    fn poller(
        pages: Vec<Vec<Value>>,
    ) -> (
        ClarityCatchUp,
        Arc<InMemoryStore>,
        Arc<InMemoryPublisher>,
        Arc<FakeList>,
    ) {
        let store = Arc::new(InMemoryStore::new());
        let publisher = Arc::new(InMemoryPublisher::new());
        let clock = Arc::new(ManualClock::at(NOW));
        let list = Arc::new(FakeList {
            pages,
            queries: Mutex::new(Vec::new()),
        });
        let p = ClarityCatchUp {
            specs: Arc::new(o2c_spec::Specs::bundled()),
            store: store.clone(),
            cursor: Arc::new(MemoryCursor::default()),
            clarity: list.clone(),
            intake: Intake {
                store: store.clone(),
                publisher: publisher.clone(),
                clock: clock.clone(),
                remember: Duration::from_secs(3600),
            },
            clock,
            settings: CatchUpSettings::default(),
        };
        (p, store, publisher, list)
    }

    #[tokio::test]
    async fn payable_unknown_orders_are_taken_in_once_and_everything_else_is_skipped() {
        let mut bad = order("ORD-BAD", "pending_payment", -600);
        bad["lineItems"][0]["unitPrice"] = json!("12.345");
        let mut unreadable = order("ORD-UNREADABLE", "pending_payment", -600);
        unreadable["totals"] = json!("none");
        let pages = vec![
            vec![
                order("ORD-1", "pending_payment", -600),
                order("ORD-CANCELLED", "cancelled", -600),
                bad,
            ],
            vec![
                order("ORD-2", "pending_payment", -400),
                unreadable,
                // Younger than `settle`: its webhook may still come.
                order("ORD-YOUNG", "pending_payment", -30),
                // Older than the look-back: not charged automatically.
                order("ORD-OLD", "pending_payment", -2 * 24 * 3600),
            ],
        ];
        let (p, store, publisher, list) = poller(pages);
        let first = p.run(json!({})).await.unwrap();
        assert_eq!(first["caughtUp"], json!(["ORD-1", "ORD-2"]), "{first}");
        assert_eq!(first["notPayable"], 1);
        assert_eq!(first["settling"], 1);
        assert_eq!(first["stale"][0]["order"], "ORD-OLD");
        assert_eq!(first["pages"], 2);
        let failed = first["mappingFailed"].as_array().unwrap();
        assert_eq!(failed.len(), 2, "{first}");
        assert_eq!(failed[0]["order"], "ORD-BAD");
        assert_eq!(failed[0]["field"], "order.lineItems[0].unitPrice");
        assert_eq!(failed[1]["order"], "ORD-UNREADABLE");
        assert_eq!(failed[1]["field"], "order.totals");
        // Mapping failures do not hold the cursor: it moves to now − settle.
        assert_eq!(
            first["cursor"],
            json!(Timestamp::from_millis(NOW - 120_000))
        );
        let sent = publisher.sent();
        assert_eq!(
            sent.iter().map(|m| m.dedup_id.as_str()).collect::<Vec<_>>(),
            ["ORD-1-webhook-authorize", "ORD-2-webhook-authorize"]
        );
        let r = store
            .get(&OrderId::new("ORD-1").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(r.timeline[0].why.contains("catch-up"), "{:?}", r.timeline);
        assert!(store
            .get(&OrderId::new("ORD-CANCELLED").unwrap())
            .await
            .unwrap()
            .is_none());

        // The second run: known orders are skipped, nothing is sent again.
        let second = p.run(json!({})).await.unwrap();
        assert_eq!(second["caughtUp"], json!([]), "{second}");
        assert_eq!(second["known"], 2);
        assert_eq!(publisher.sent().len(), 2);
        // It read from the stored cursor less the overlap.
        let queries = list.queries.lock().unwrap();
        assert_eq!(
            queries.last().unwrap().updated_since.as_deref(),
            Some(at(-120 - 600).as_str())
        );
        assert_eq!(queries[1].cursor.as_deref(), Some("1"));
    }

    #[tokio::test]
    async fn a_card_number_in_a_listed_order_is_refused() {
        let mut o = order("ORD-PAN", "pending_payment", -600);
        o["billingAddress"]["line2"] = json!("4111 1111 1111 1111");
        let (p, store, publisher, _) = poller(vec![vec![o]]);
        let out = p.run(json!({})).await.unwrap();
        assert_eq!(out["caughtUp"], json!([]));
        assert_eq!(out["mappingFailed"][0]["order"], "ORD-PAN");
        assert!(publisher.sent().is_empty());
        assert!(store
            .get(&OrderId::new("ORD-PAN").unwrap())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn listed_orders_are_mapped_by_the_spec_before_they_are_read() {
        // The merchant's Clarity names the status `awaiting_payment` and sends the total as
        // `grandTotalAmount`; their spec maps both. Under the bundled spec this order is
        // unreadable; under theirs it is caught up and pins their version.
        let mut o = order("ORD-M", "pending_payment", -600);
        o["status"] = json!("awaiting_payment");
        let total = o["totals"]["grandTotal"].take();
        o["totals"].as_object_mut().unwrap().remove("grandTotal");
        o["totals"]["grandTotalAmount"] = total;
        let (p, ..) = poller(vec![vec![o.clone()]]);
        let out = p.run(json!({})).await.unwrap();
        assert_eq!(out["caughtUp"], json!([]), "{out}");
        assert_eq!(out["mappingFailed"][0]["order"], "ORD-M", "{out}");

        let mut doc = o2c_spec::bundled().document.clone();
        doc.mappings.get_mut("clarity.order").unwrap().expr = Some(
            ".status |= (if . == \"awaiting_payment\" then \"pending_payment\" else . end) \
             | .totals.grandTotal = .totals.grandTotalAmount | del(.totals.grandTotalAmount) \
             | .status |= lookup(\"clarity_status\"; .)"
                .into(),
        );
        let merchant = Arc::new(o2c_spec::Spec::compile(doc, "v2").unwrap());
        let (mut p, store, publisher, _) = poller(vec![vec![o]]);
        p.specs = Arc::new(o2c_spec::Specs::with_active(merchant, None, Duration::MAX));
        let out = p.run(json!({})).await.unwrap();
        assert_eq!(out["caughtUp"], json!(["ORD-M"]), "{out}");
        assert_eq!(publisher.sent().len(), 1);
        let r = store
            .get(&OrderId::new("ORD-M").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.order.spec_version.as_deref(), Some("v2"));
    }
}
