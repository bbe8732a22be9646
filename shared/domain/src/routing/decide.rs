//! The routing decision: rules → eligible routes → breaker → success-rate choice, explained.

use super::config::{Mode, RoutingConfig};
use super::stats::{breaker, estimate, BreakerState, Bucket};
use super::OrderFacts;
use crate::Timestamp;
use rand::{Rng, RngExt};
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Why a route named by the matched rule is not a candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Exclusion {
    /// The route does not accept this currency, brand or region.
    Unsupported(String),
    /// Already tried for this order (it soft-declined).
    AlreadyTried,
    /// Its circuit breaker is open.
    BreakerOpen,
    /// Its breaker is half-open and this order was not picked as a probe.
    NotProbed,
}

/// One route the matched rule named, as the router saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub route: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Exclusion>,
    pub breaker: BreakerState,
    /// Decayed answered attempts in this segment.
    pub volume: f64,
    /// Decayed approval rate, when there is volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<f64>,
    /// Volume ≥ `min_volume`.
    pub trusted: bool,
    /// The Thompson sample net of the route's cost, when one was drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// A routing decision, recorded on the order's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub config_version: u32,
    pub mode: Mode,
    pub segment: String,
    /// The rule that matched (`None`: no rule matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub candidates: Vec<Candidate>,
    /// The route to use (`None`: nothing left to try).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    pub why: String,
}

impl Decision {
    /// One line for the timeline: the choice, why, and every candidate with its numbers.
    pub fn summary(&self) -> String {
        let mut s = match &self.chosen {
            Some(r) => format!("route {r}: {}", self.why),
            None => format!("no route: {}", self.why),
        };
        let _ = write!(
            s,
            " [rule {}, segment {}, {:?}, config v{}; candidates:",
            self.rule.as_deref().unwrap_or("-"),
            self.segment,
            self.mode,
            self.config_version
        );
        for c in &self.candidates {
            let _ = write!(s, " {}(", c.route);
            match c.approval {
                Some(a) => {
                    let _ = write!(s, "approval {a:.3} over {:.1}", c.volume);
                }
                None => s.push_str("no data"),
            }
            if let Some(score) = c.score {
                let _ = write!(s, ", score {score:.3}");
            }
            if c.breaker != BreakerState::Closed {
                let _ = write!(s, ", breaker {:?}", c.breaker);
            }
            if let Some(e) = &c.excluded {
                let _ = write!(s, ", excluded: {e:?}");
            }
            s.push(')');
        }
        s.push(']');
        s
    }
}

/// Choose a route for `facts`, not one of `tried`, from the per-route buckets of the facts'
/// segment (`stats[route]`). `rng` drives the Thompson samples, probes and exploration.
pub fn decide(
    config: &RoutingConfig,
    facts: &OrderFacts,
    stats: &BTreeMap<String, Vec<Bucket>>,
    now: Timestamp,
    tried: &[String],
    rng: &mut impl Rng,
) -> Decision {
    let o = &config.optimisation;
    let eligibility = config.eligible(facts);
    let empty = Vec::new();
    let mut candidates: Vec<Candidate> = eligibility
        .routes
        .iter()
        .map(|(route, unsupported)| {
            let buckets = stats.get(route).unwrap_or(&empty);
            let est = estimate(buckets, now, o);
            let state = breaker(buckets, now, o.bucket_secs, &o.breaker);
            let excluded = unsupported.clone().or_else(|| {
                if tried.contains(route) {
                    Some(Exclusion::AlreadyTried)
                } else {
                    match state {
                        BreakerState::Closed => None,
                        BreakerState::Open => Some(Exclusion::BreakerOpen),
                        BreakerState::HalfOpen => {
                            (!rng.random_bool(o.breaker.probe_rate)).then_some(Exclusion::NotProbed)
                        }
                    }
                }
            });
            Candidate {
                route: route.clone(),
                excluded,
                breaker: state,
                volume: round(est.volume, 1),
                approval: est.rate().map(|r| round(r, 4)),
                trusted: est.volume >= o.min_volume,
                score: None,
            }
        })
        .collect();
    let mut decision = Decision {
        config_version: config.version,
        mode: o.mode,
        segment: facts.segment(),
        rule: eligibility.rule.clone(),
        candidates: Vec::new(),
        chosen: None,
        why: String::new(),
    };
    let open: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].excluded.is_none())
        .collect();
    let (chosen, why) = if eligibility.rule.is_none() {
        (None, "no rule matches this order".to_string())
    } else if let Some(&probe) = open
        .iter()
        .find(|&&i| candidates[i].breaker == BreakerState::HalfOpen)
    {
        (
            Some(probe),
            "half-open circuit breaker: this order probes the route".to_string(),
        )
    } else if open.is_empty() {
        // Every remaining route is only held back by its breaker: rather than hold the order,
        // try the first of them in rule order (the breaker protects the route, not the order).
        match (0..candidates.len()).find(|&i| {
            matches!(
                candidates[i].excluded,
                Some(Exclusion::BreakerOpen | Exclusion::NotProbed)
            )
        }) {
            Some(i) if !candidates.iter().any(|c| c.excluded.is_none()) && tried.is_empty() => (
                Some(i),
                "every eligible route's breaker is open; first in rule order rather than holding the order"
                    .to_string(),
            ),
            _ if !tried.is_empty() => (None, "every eligible route has been tried".to_string()),
            _ => (None, "no eligible route accepts this order".to_string()),
        }
    } else if o.mode == Mode::Rules {
        (
            Some(open[0]),
            "first eligible route in rule order".to_string(),
        )
    } else {
        choose_dynamic(&mut candidates, &open, facts, config, rng)
    };
    decision.chosen = chosen.map(|i| candidates[i].route.clone());
    decision.why = why;
    decision.candidates = candidates;
    decision
}

fn choose_dynamic(
    candidates: &mut [Candidate],
    open: &[usize],
    facts: &OrderFacts,
    config: &RoutingConfig,
    rng: &mut impl Rng,
) -> (Option<usize>, String) {
    let o = &config.optimisation;
    let untrusted: Vec<usize> = open
        .iter()
        .copied()
        .filter(|&i| !candidates[i].trusted)
        .collect();
    let trusted: Vec<usize> = open
        .iter()
        .copied()
        .filter(|&i| candidates[i].trusted)
        .collect();
    if !untrusted.is_empty() && (trusted.is_empty() || rng.random_bool(o.max_exploration)) {
        if trusted.is_empty() {
            // Nothing is trusted yet: the rule's order, exploring the rest within the bound.
            if untrusted.len() > 1 && rng.random_bool(o.max_exploration) {
                let i = untrusted[rng.random_range(1..untrusted.len())];
                return (
                    Some(i),
                    format!(
                        "exploring: no route has {} answered attempts yet in this segment",
                        o.min_volume
                    ),
                );
            }
            return (
                Some(untrusted[0]),
                "no trusted statistics yet: first eligible route in rule order".to_string(),
            );
        }
        let i = untrusted[rng.random_range(0..untrusted.len())];
        return (
            Some(i),
            format!(
                "exploring (≤ {:.0} % of traffic): statistics not yet trusted ({:.1} < {})",
                o.max_exploration * 100.0,
                candidates[i].volume,
                o.min_volume
            ),
        );
    }
    let mut best: Option<(usize, f64)> = None;
    for &i in &trusted {
        let c = &candidates[i];
        let approved = c.approval.unwrap_or(0.0) * c.volume;
        let failed = (c.volume - approved).max(0.0);
        let sample = Beta::new(approved + 1.0, failed + 1.0)
            .map(|b| b.sample(rng))
            .unwrap_or(0.0);
        let cost = config
            .route(&c.route)
            .map_or(0.0, |r| r.cost.fraction_of(facts.amount));
        let score = round(sample - cost, 4);
        candidates[i].score = Some(score);
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((i, score));
        }
    }
    let (i, _) = best.expect("trusted is not empty");
    (
        Some(i),
        "highest Thompson-sampled approval net of cost among routes with trusted statistics"
            .to_string(),
    )
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}
