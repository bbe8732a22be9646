//! The invariant checker: reads the order table, every DLQ, and the simulators' admin state
//! (Cybersource ledger, Clarity orders, NetSuite records), and counts what must be zero.

use super::Stack;
use o2c_connectors::mapping::clarity::clarity_status_for;
use o2c_domain::ports::QueueName;
use o2c_domain::OrderState;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// What an order is expected to end as.
pub type Expectation = Box<dyn Fn(OrderState) -> bool + Send + Sync>;

/// The counts of one check.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub orders: usize,
    pub captured: usize,
    pub refunded_orders: usize,
    pub in_dlq: usize,
    pub double_charges: usize,
    pub lost: usize,
    pub wrong_state: usize,
    pub duplicate_erp: usize,
    pub missing_erp: usize,
    pub refunds_above_captured: usize,
    pub clarity_mismatch: usize,
    /// Orders with a cancellation recorded that are not `Voided`/`Refunded`/`Declined`, or
    /// whose captured money is not all refunded: a shopper charged for a cancelled order.
    pub cancelled_but_charged: usize,
    /// Dead letters by queue and failure class, with one example reason each.
    pub dlq_classes: BTreeMap<String, (usize, String)>,
    /// Dead letters whose failure class is not one we know (must be none: nothing unexplained).
    pub unclassified_dlq: usize,
}

impl Report {
    /// One line per (queue, failure class) of what is left in the DLQs, with an example reason.
    fn dlq_lines(&self) -> String {
        let mut out = String::new();
        for (key, (n, example)) in &self.dlq_classes {
            out.push_str(&format!("\ndead letters {key}: {n} (e.g. {example})"));
        }
        if self.unclassified_dlq > 0 {
            out.push_str(&format!(
                "\ndead letters WITHOUT a failure class: {}",
                self.unclassified_dlq
            ));
        }
        out
    }

    pub fn table(&self) -> String {
        format!(
            "| orders | captured | refunded | in DLQ | double charges | lost | wrong state | duplicate ERP | missing ERP | refunds above captured | Clarity/domain mismatches | cancelled but charged |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|\n\
             | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.orders,
            self.captured,
            self.refunded_orders,
            self.in_dlq,
            self.double_charges,
            self.lost,
            self.wrong_state,
            self.duplicate_erp,
            self.missing_erp,
            self.refunds_above_captured,
            self.clarity_mismatch,
            self.cancelled_but_charged
        ) + &self.dlq_lines()
    }

    /// Every count that must be zero is zero.
    pub fn clean(&self) -> bool {
        self.double_charges == 0
            && self.unclassified_dlq == 0
            && self.lost == 0
            && self.wrong_state == 0
            && self.duplicate_erp == 0
            && self.missing_erp == 0
            && self.refunds_above_captured == 0
            && self.clarity_mismatch == 0
            && self.cancelled_but_charged == 0
    }
}

/// A ledger amount (`"27.00"`) in minor units (two decimals).
pub fn cents(amount: &str) -> i64 {
    let (a, b) = amount.split_once('.').unwrap_or((amount, "0"));
    let b = format!("{b:0<2}");
    a.parse::<i64>().unwrap_or(0) * 100 + b[..2].parse::<i64>().unwrap_or(0)
}

/// Check `orders` (id → expectation).
pub async fn check(s: &Stack, orders: &[(String, Expectation)]) -> Report {
    let ledger = s.ledger().await;
    // Per order: successful captures, and money captured / refunded (minor units).
    let mut captures: BTreeMap<String, usize> = BTreeMap::new();
    let mut captured_amt: BTreeMap<String, i64> = BTreeMap::new();
    let mut refunded_amt: BTreeMap<String, i64> = BTreeMap::new();
    for row in &ledger {
        let code = row["code"].as_str().unwrap_or_default();
        let Some((order, _)) = code.rsplit_once('-') else {
            continue;
        };
        let amount = cents(row["amount"].as_str().unwrap_or("0"));
        match row["type"].as_str().unwrap_or_default() {
            "capture" => {
                *captures.entry(order.to_string()).or_default() += 1;
                *captured_amt.entry(order.to_string()).or_default() += amount;
            }
            "refund" => *refunded_amt.entry(order.to_string()).or_default() += amount,
            _ => {}
        }
    }
    let mut dead: HashSet<String> = HashSet::new();
    let mut dlq_classes: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut unclassified_dlq = 0;
    for q in QueueName::ALL {
        for m in s.dlq(q).await {
            let body: Value = serde_json::from_str(m.body().unwrap_or("{}")).unwrap_or_default();
            if let Some(id) = body["order_id"].as_str() {
                dead.insert(id.to_string());
            }
            // Classified exactly as the dlq-redrive function does (a dead letter SQS moved after
            // maxReceiveCount carries no attributes: retries exhausted).
            let attributes: std::collections::BTreeMap<String, String> = m
                .message_attributes()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| v.string_value().map(|s| (k.clone(), s.to_string())))
                .collect();
            let c = o2c_pipeline::redrive::classify(&attributes);
            if c.reason.starts_with("unrecognised failure_class") {
                unclassified_dlq += 1;
            }
            let class = serde_json::to_value(c.class).unwrap_or_default();
            let e = dlq_classes
                .entry(format!("{q:?}: {}", class.as_str().unwrap_or("?")))
                .or_insert((
                    0,
                    format!(
                        "{}; body {}",
                        c.reason.chars().take(120).collect::<String>(),
                        m.body()
                            .unwrap_or_default()
                            .chars()
                            .take(160)
                            .collect::<String>()
                    ),
                ));
            e.0 += 1;
        }
    }
    let so = s.admin_get("netsuite", "records/salesOrder").await;
    let so_eids: Vec<String> = so["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["externalId"].as_str().map(str::to_string))
        .collect();

    let mut r = Report {
        orders: orders.len(),
        dlq_classes,
        unclassified_dlq,
        ..Report::default()
    };
    for (id, expect) in orders {
        let rec = s.record(id).await;
        let n_captures = captures.get(id).copied().unwrap_or(0);
        if n_captures > 1 {
            r.double_charges += 1;
            println!("DOUBLE CHARGE {id}: {n_captures} captures");
        }
        let cap = captured_amt.get(id).copied().unwrap_or(0);
        let refd = refunded_amt.get(id).copied().unwrap_or(0);
        if refd > cap {
            r.refunds_above_captured += 1;
            println!("OVER-REFUND {id}: refunded {refd} > captured {cap}");
        }
        if matches!(
            rec.state,
            OrderState::Captured | OrderState::PartiallyRefunded | OrderState::Refunded
        ) {
            r.captured += 1;
            let sos = so_eids.iter().filter(|e| e.ends_with(id.as_str())).count();
            if sos > 1 {
                r.duplicate_erp += 1;
            }
            if sos == 0 && !dead.contains(id) {
                r.missing_erp += 1;
                println!("MISSING ERP sales order for {id}");
            }
        }
        if matches!(
            rec.state,
            OrderState::PartiallyRefunded | OrderState::Refunded
        ) {
            r.refunded_orders += 1;
        }
        if rec.cancel.is_some()
            && (!matches!(
                rec.state,
                OrderState::Voided | OrderState::Refunded | OrderState::Declined
            ) || refd != cap)
        {
            r.cancelled_but_charged += 1;
            println!(
                "CANCELLED BUT CHARGED {id}: {} captured {cap} refunded {refd}",
                rec.state
            );
        }
        if dead.contains(id) {
            r.in_dlq += 1;
            continue;
        }
        if !expect(rec.state) {
            if rec.state.is_in_progress() || rec.state == OrderState::Received {
                r.lost += 1;
            } else {
                r.wrong_state += 1;
            }
            println!(
                "{id}: {} — {:?}",
                rec.state,
                rec.timeline
                    .iter()
                    .map(|e| e.what.as_str())
                    .collect::<Vec<_>>()
            );
        }
        if let Some(want) = clarity_status_for(&o2c_spec::bundled(), rec.state).unwrap() {
            let have = s.clarity_status(id).await;
            if have != want.to_string() {
                r.clarity_mismatch += 1;
                let view = s.admin_get("clarity", &format!("orders/{id}")).await;
                println!(
                    "{id}: Clarity {have}, domain {} → {want}\n  timeline: {:?}\n  Clarity history: {}",
                    rec.state,
                    rec.timeline
                        .iter()
                        .map(|e| format!("{} {}", e.at, e.what))
                        .collect::<Vec<_>>(),
                    view["statusHistory"]
                );
            }
        }
    }
    r
}
