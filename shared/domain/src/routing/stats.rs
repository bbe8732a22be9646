//! Approval statistics per route and segment, and the circuit breaker read from them.
//!
//! Observations are counted in time buckets (`bucket_secs` wide). A reader weighs each bucket by
//! `0.5^(age / half_life)` and ignores buckets older than `window_secs`, so the estimate follows
//! drift within a few half-lives and old history cannot outvote the present. The store keeps
//! the counters (see [`crate::ports::RouteStatsStore`]); everything here is pure arithmetic.

use super::config::{BreakerSettings, Optimisation};
use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// What one authorization attempt on a route showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observation {
    /// The issuer approved (Decision Manager's verdict is not the route's doing).
    Approved,
    /// A soft decline: issuer or processor unavailable and the like — another route may work.
    SoftDecline,
    /// A hard decline (insufficient funds, expired card, …): the card's answer, any route.
    HardDecline,
    /// No usable answer: timeout, 5xx, connection failure.
    Error,
}

/// Counters of one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub attempts: u64,
    pub approved: u64,
    pub soft_declined: u64,
    pub hard_declined: u64,
    pub errors: u64,
}

impl Counts {
    pub fn add(&mut self, o: Observation) {
        self.attempts += 1;
        match o {
            Observation::Approved => self.approved += 1,
            Observation::SoftDecline => self.soft_declined += 1,
            Observation::HardDecline => self.hard_declined += 1,
            Observation::Error => self.errors += 1,
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        self.attempts += other.attempts;
        self.approved += other.approved;
        self.soft_declined += other.soft_declined;
        self.hard_declined += other.hard_declined;
        self.errors += other.errors;
    }
}

/// The counters of one time bucket (all shards summed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start of the bucket.
    pub start: Timestamp,
    pub counts: Counts,
}

/// The start of the bucket `at` falls in.
pub fn bucket_start(at: Timestamp, bucket_secs: u32) -> Timestamp {
    let width = i64::from(bucket_secs.max(1)) * 1000;
    Timestamp::from_millis(at.millis().div_euclid(width) * width)
}

/// Decayed approval estimate of one route in one segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Decayed number of answered attempts (errors excluded: they say nothing about approval).
    pub volume: f64,
    /// Decayed approvals.
    pub approved: f64,
}

impl Estimate {
    /// Approval rate, when there is any volume.
    pub fn rate(&self) -> Option<f64> {
        (self.volume > 0.0).then(|| self.approved / self.volume)
    }
}

/// The decayed approval estimate at `now` from `buckets`.
pub fn estimate(buckets: &[Bucket], now: Timestamp, o: &Optimisation) -> Estimate {
    let window_ms = i64::from(o.window_secs) * 1000;
    let half_life_ms = f64::from(o.half_life_secs.max(1)) * 1000.0;
    let mut e = Estimate::default();
    for b in buckets {
        // Age from the bucket's middle, so a bucket still filling is not over-weighted.
        let mid = b.start.millis() + i64::from(o.bucket_secs) * 500;
        let age = (now.millis() - mid).max(0);
        if now.millis() - b.start.millis() > window_ms {
            continue;
        }
        let w = 0.5f64.powf(age as f64 / half_life_ms);
        let answered = b.counts.approved + b.counts.soft_declined + b.counts.hard_declined;
        e.volume += w * answered as f64;
        e.approved += w * b.counts.approved as f64;
    }
    e
}

/// A route's circuit breaker, as read from its recent buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Normal traffic.
    Closed,
    /// Errors spiked: no traffic until the cool-down has passed.
    Open,
    /// Cool-down over: a small share of traffic probes the route; enough error-free attempts
    /// close it, another error opens it again.
    HalfOpen,
}

/// The breaker state at `now`.
///
/// * A spike is an error rate ≥ `error_rate` over the `window_secs` that end with the last
///   bucket holding an error, with at least `min_attempts` attempts in it.
/// * Spike and less than `cooldown_secs` since the end of that bucket → open.
/// * Spike, cool-down over, fewer than `probes_to_close` error-free attempts in the buckets after
///   it → half-open. Those attempts are the probes; a probe that errs makes a new last-error bucket
///   whose window still holds the spike, so the breaker opens again.
/// * Otherwise closed.
pub fn breaker(
    buckets: &[Bucket],
    now: Timestamp,
    bucket_secs: u32,
    s: &BreakerSettings,
) -> BreakerState {
    let bucket_ms = i64::from(bucket_secs) * 1000;
    let Some(last_error) = buckets
        .iter()
        .filter(|b| b.counts.errors > 0 && b.start <= now)
        .map(|b| b.start)
        .max()
    else {
        return BreakerState::Closed;
    };
    let window_start = last_error.millis() + bucket_ms - i64::from(s.window_secs) * 1000;
    let mut w = Counts::default();
    for b in buckets
        .iter()
        .filter(|b| b.start.millis() >= window_start && b.start <= last_error)
    {
        w.merge(&b.counts);
    }
    let spiked = w.attempts >= u64::from(s.min_attempts)
        && w.attempts > 0
        && w.errors as f64 / w.attempts as f64 >= s.error_rate;
    if !spiked {
        return BreakerState::Closed;
    }
    let cooled =
        now.millis() >= last_error.millis() + bucket_ms + i64::from(s.cooldown_secs) * 1000;
    if !cooled {
        return BreakerState::Open;
    }
    let since: u64 = buckets
        .iter()
        .filter(|b| b.start > last_error)
        .map(|b| b.counts.attempts - b.counts.errors)
        .sum();
    if since >= u64::from(s.probes_to_close) {
        BreakerState::Closed
    } else {
        BreakerState::HalfOpen
    }
}
