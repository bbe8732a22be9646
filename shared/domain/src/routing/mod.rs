//! Dynamic payment routing: which Cybersource route (merchant id / processor profile) an
//! authorization goes to.
//!
//! 1. [`config`]: the routes and an ordered, declarative rule set (one validated JSON document).
//! 2. [`OrderFacts`] + the first matching rule → the ordered list of eligible routes, filtered by
//!    what each route accepts (currency, card brand, region).
//! 3. [`stats`]: approval statistics per route and segment in time buckets with exponential
//!    decay, and the circuit breaker derived from the same buckets.
//! 4. [`decide`]: Thompson sampling among the eligible routes whose statistics are trusted,
//!    bounded exploration of the others, and a [`Decision`] that explains itself (candidates,
//!    scores, the choice and why) for the order's timeline.
//!
//! Cascading on soft declines is the caller's loop: each attempt asks [`decide`] again with the
//! routes already tried excluded.

pub mod config;
pub mod decide;
pub mod stats;

pub use config::{ConfigError, ConfigIssue, Mode, RouteSpec, RoutingConfig, Rule};
pub use decide::{decide, Candidate, Decision, Exclusion};
pub use stats::{BreakerState, Bucket, Counts, Observation};

use crate::money::{Currency, Money};
use crate::Order;
use serde::{Deserialize, Serialize};

/// What the card token says about the card (never the number: brand and BIN only, which PCI
/// DSS allows to be kept).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardMeta {
    /// Lower-case brand name (`visa`, `mastercard`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// The first 6–8 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
}

/// The facts about an order that rules look at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFacts {
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    pub billing_country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl OrderFacts {
    pub fn of(order: &Order, card: &CardMeta) -> Self {
        OrderFacts {
            amount: order.total,
            card_brand: card.brand.clone(),
            bin: card.bin.clone(),
            billing_country: order.bill_to.country.to_ascii_uppercase(),
            channel: order.channel.clone(),
        }
    }

    pub fn currency(&self) -> Currency {
        self.amount.currency()
    }

    /// The statistics segment: currency and card brand (`USD|visa`, `EUR|any`).
    pub fn segment(&self) -> String {
        format!(
            "{}|{}",
            self.currency().code(),
            self.card_brand.as_deref().unwrap_or("any")
        )
    }
}

/// Why a rule did or did not match, and which routes it made eligible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// The first rule that matched (`None`: no rule matched; nothing is eligible).
    pub rule: Option<String>,
    /// The matched rule's routes in its order, each with the reason it is left out, if it is.
    pub routes: Vec<(String, Option<Exclusion>)>,
}

impl Eligibility {
    pub fn eligible(&self) -> impl Iterator<Item = &str> {
        self.routes
            .iter()
            .filter(|(_, excluded)| excluded.is_none())
            .map(|(r, _)| r.as_str())
    }
}

impl RoutingConfig {
    /// The first rule whose conditions hold for `facts`, and its routes filtered by what each
    /// route accepts.
    pub fn eligible(&self, facts: &OrderFacts) -> Eligibility {
        let Some(rule) = self.rules.iter().find(|r| matches(&r.when, facts)) else {
            return Eligibility {
                rule: None,
                routes: Vec::new(),
            };
        };
        let routes = rule
            .routes
            .iter()
            .map(|name| {
                let why = self.route(name).and_then(|r| refuses(r, facts));
                (name.clone(), why)
            })
            .collect();
        Eligibility {
            rule: Some(rule.name.clone()),
            routes,
        }
    }
}

fn matches(when: &config::Conditions, f: &OrderFacts) -> bool {
    let any_or = |list: &[String], v: Option<&str>| {
        list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
    };
    let currency_ok = when.currencies.is_empty() || when.currencies.contains(&f.currency());
    let amount_ok = {
        let parse =
            |v: &Option<String>| v.as_ref().and_then(|v| Money::parse(v, f.currency()).ok());
        let min_ok = parse(&when.amount_min).is_none_or(|m| f.amount.minor() >= m.minor());
        let max_ok = parse(&when.amount_max).is_none_or(|m| f.amount.minor() < m.minor());
        min_ok && max_ok
    };
    let bin_ok = when.bin_ranges.is_empty()
        || f.bin.as_deref().is_some_and(|bin| {
            let key = config::bin_key(bin);
            when.bin_ranges
                .iter()
                .any(|r| config::bin_key(&r.from) <= key && key <= config::bin_key_upper(&r.to))
        });
    currency_ok
        && amount_ok
        && any_or(&when.card_brands, f.card_brand.as_deref())
        && bin_ok
        && any_or(&when.billing_countries, Some(&f.billing_country))
        && any_or(&when.channels, f.channel.as_deref())
}

fn refuses(route: &RouteSpec, f: &OrderFacts) -> Option<Exclusion> {
    if !route.currencies.is_empty() && !route.currencies.contains(&f.currency()) {
        return Some(Exclusion::Unsupported(format!(
            "does not accept {}",
            f.currency().code()
        )));
    }
    if !route.card_brands.is_empty() {
        match f.card_brand.as_deref() {
            Some(b) if route.card_brands.iter().any(|x| x == b) => {}
            Some(b) => return Some(Exclusion::Unsupported(format!("does not accept {b}"))),
            None => {
                return Some(Exclusion::Unsupported(
                    "accepts listed brands only and the card brand is unknown".into(),
                ))
            }
        }
    }
    if !route.regions.is_empty() && !route.regions.contains(&f.billing_country) {
        return Some(Exclusion::Unsupported(format!(
            "does not serve {}",
            f.billing_country
        )));
    }
    None
}

#[cfg(test)]
mod tests;
