//! The one retry policy for every outbound client (Cybersource now; Clarity, the ERP and the CRM
//! later): exponential backoff with full jitter, a cap, a maximum number of attempts and a
//! deadline.
//!
//! * Retry `n` (0 for the first retry) sleeps a uniformly random time in
//!   `[0, min(cap, base · 2^n)]` ("full jitter").
//! * At most `max_attempts` attempts in all (the first one included).
//! * A deadline (an [`Instant`], typically derived from the Lambda's remaining time) bounds the
//!   whole thing: a retry is only started if its sleep plus [`RetryPolicy::min_attempt_time`]
//!   still ends before the deadline, so no retry outlives it. The operation is told the deadline
//!   (see [`Attempt`]) so it can bound its own request timeout.
//! * Only errors that say so ([`Retryable::is_retryable`]) are retried; everything else,
//!   including an "outcome unknown" error, is returned to the caller at once.
//!
//! Time is injected through [`Sleeper`] (tests use a virtual clock, never real sleeps) and
//! randomness through a seedable [`StdRng`].

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, RngExt};

/// Whether an error may be retried blindly (the request can be sent again as is).
pub trait Retryable {
    fn is_retryable(&self) -> bool;

    /// This (retryable) error, returned because the next retry could not finish before the
    /// deadline: the error should say so (`why` tells what was left), so the caller's failure
    /// reads "out of time", not just the last transient error. By default the error is returned
    /// unchanged.
    fn out_of_time(self, _why: &str) -> Self
    where
        Self: Sized,
    {
        self
    }
}

/// The text [`Retrier::run`] passes to [`Retryable::out_of_time`] starts with this.
pub const OUT_OF_TIME: &str = "no retry started: it could not finish before the deadline";

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first retry's sleep.
    pub base: Duration,
    /// No sleep is ever longer than this.
    pub cap: Duration,
    /// Attempts in all, the first one included (1 = no retries). 0 is treated as 1.
    pub max_attempts: u32,
    /// A retry is only started when at least this much time is left before the deadline after
    /// its sleep (an attempt that cannot finish is not worth starting).
    pub min_attempt_time: Duration,
}

impl Default for RetryPolicy {
    /// 100 ms base, 2 s cap, 3 attempts, 500 ms minimum attempt time.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_attempts: 3,
            min_attempt_time: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// `min(cap, base · 2^retry)`: the upper bound of retry `retry`'s sleep (0-based).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let base = self.base.as_nanos();
        let scaled = if retry >= 64 {
            u128::MAX
        } else {
            base.saturating_mul(1u128 << retry)
        };
        let nanos = scaled.min(self.cap.as_nanos());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// A full-jitter sleep for retry `retry` (0-based): uniform in `[0, ceiling(retry)]`.
    pub fn full_jitter<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }

    fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

/// The clock and the sleep, injectable.
#[async_trait]
pub trait Sleeper: Send + Sync {
    fn now(&self) -> Instant;
    async fn sleep(&self, duration: Duration);
}

/// Real time (tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    fn now(&self) -> Instant {
        Instant::now()
    }
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// What the operation is told about the attempt it is making.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// The overall deadline, if any.
    pub deadline: Option<Instant>,
}

/// Runs operations under a [`RetryPolicy`].
pub struct Retrier {
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    rng: Mutex<StdRng>,
}

impl std::fmt::Debug for Retrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrier")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Retrier {
    /// Real time, entropy-seeded jitter.
    pub fn new(policy: RetryPolicy) -> Self {
        Self::with_parts(policy, Arc::new(TokioSleeper), rand::make_rng::<StdRng>())
    }

    /// Injected clock/sleep and RNG (tests).
    pub fn with_parts(policy: RetryPolicy, sleeper: Arc<dyn Sleeper>, rng: StdRng) -> Self {
        Self {
            policy,
            sleeper,
            rng: Mutex::new(rng),
        }
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The injected clock.
    pub fn now(&self) -> Instant {
        self.sleeper.now()
    }

    fn jitter(&self, retry: u32) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        self.policy.full_jitter(retry, &mut *rng)
    }

    /// Runs `op` until it succeeds, fails with a non-retryable error, runs out of attempts, or
    /// the next retry would not end before `deadline`; returns the last result.
    pub async fn run<T, E, F, Fut>(&self, deadline: Option<Instant>, mut op: F) -> Result<T, E>
    where
        E: Retryable + std::fmt::Display,
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut retry: u32 = 0;
        loop {
            let attempt = Attempt {
                number: retry + 1,
                deadline,
            };
            let err = match op(attempt).await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            if !err.is_retryable() {
                return Err(err);
            }
            if attempt.number >= self.policy.attempts() {
                tracing::warn!(attempts = attempt.number, error = %err, "retries exhausted");
                return Err(err);
            }
            let delay = self.jitter(retry);
            if let Some(deadline) = deadline {
                let now = self.sleeper.now();
                let resume = now + delay + self.policy.min_attempt_time;
                if resume > deadline {
                    let why = format!(
                        "{OUT_OF_TIME} (attempt {} would start after a {} ms sleep and needs at \
                         least {} ms; {} ms left)",
                        attempt.number + 1,
                        delay.as_millis(),
                        self.policy.min_attempt_time.as_millis(),
                        deadline.saturating_duration_since(now).as_millis(),
                    );
                    tracing::warn!(attempts = attempt.number, error = %err, %why, "no time left for another attempt");
                    return Err(err.out_of_time(&why));
                }
            }
            tracing::info!(attempt = attempt.number, delay_ms = delay.as_millis() as u64, error = %err, "retrying");
            self.sleeper.sleep(delay).await;
            retry += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, PartialEq)]
    enum E {
        Transient,
        Fatal,
    }
    impl Retryable for E {
        fn is_retryable(&self) -> bool {
            matches!(self, E::Transient)
        }
    }

    /// An error that says when it was not retried for lack of time.
    #[derive(Debug, PartialEq)]
    enum Timed {
        Transient,
        /// A transient error that was not retried for lack of time, and why.
        OutOfTime(String),
    }
    impl Retryable for Timed {
        fn is_retryable(&self) -> bool {
            matches!(self, Timed::Transient)
        }
        fn out_of_time(self, why: &str) -> Self {
            match self {
                Timed::Transient => Timed::OutOfTime(why.to_string()),
                other => other,
            }
        }
    }
    impl std::fmt::Display for Timed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    /// A virtual clock: `sleep` advances it and records the duration; nothing really waits.
    struct VirtualClock {
        start: Instant,
        elapsed: Mutex<Duration>,
        sleeps: Mutex<Vec<Duration>>,
    }
    impl VirtualClock {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                start: Instant::now(),
                elapsed: Mutex::new(Duration::ZERO),
                sleeps: Mutex::new(Vec::new()),
            })
        }
        fn sleeps(&self) -> Vec<Duration> {
            self.sleeps.lock().unwrap().clone()
        }
    }
    #[async_trait]
    impl Sleeper for VirtualClock {
        fn now(&self) -> Instant {
            self.start + *self.elapsed.lock().unwrap()
        }
        async fn sleep(&self, d: Duration) {
            *self.elapsed.lock().unwrap() += d;
            self.sleeps.lock().unwrap().push(d);
        }
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1_000),
            max_attempts,
            min_attempt_time: Duration::ZERO,
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn ceiling_is_min_of_cap_and_exponential() {
        let p = policy(10);
        let ms = |n| p.ceiling(n).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(3), ms(4), ms(5)],
            [100, 200, 400, 800, 1000, 1000]
        );
        // No overflow for huge retry numbers or bases.
        assert_eq!(p.ceiling(63), Duration::from_secs(1));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(1));
        let big = RetryPolicy {
            base: Duration::MAX,
            cap: Duration::MAX,
            ..p
        };
        assert!(big.ceiling(5) > Duration::from_secs(1_000_000));
    }

    #[test]
    fn full_jitter_stays_within_bounds_and_spreads() {
        let p = policy(10);
        let mut rng = StdRng::seed_from_u64(7);
        for n in 0..8 {
            let ceiling = p.ceiling(n);
            let samples: Vec<_> = (0..2_000).map(|_| p.full_jitter(n, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "retry {n}");
            // Full jitter really uses the whole range: some samples in the lowest and the
            // highest tenth.
            let tenth = ceiling / 10;
            assert!(samples.iter().any(|d| *d < tenth), "retry {n}");
            assert!(samples.iter().any(|d| *d > ceiling - tenth), "retry {n}");
        }
        // Deterministic for a seed.
        let a: Vec<_> = {
            let mut r = StdRng::seed_from_u64(42);
            (0..5).map(|n| p.full_jitter(n, &mut r)).collect()
        };
        let b: Vec<_> = {
            let mut r = StdRng::seed_from_u64(42);
            (0..5).map(|n| p.full_jitter(n, &mut r)).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn retries_retryable_errors_up_to_max_attempts_with_bounded_sleeps() {
        let clock = VirtualClock::new();
        let r = Retrier::with_parts(policy(4), clock.clone(), StdRng::seed_from_u64(1));
        let calls = AtomicU32::new(0);
        let out: Result<(), E> = block_on(r.run(None, |a| {
            assert_eq!(a.number, calls.fetch_add(1, Ordering::SeqCst) + 1);
            async { Err(E::Transient) }
        }));
        assert_eq!(out, Err(E::Transient));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 3);
        for (n, d) in sleeps.iter().enumerate() {
            assert!(*d <= policy(4).ceiling(n as u32), "sleep {n} = {d:?}");
        }
    }

    #[test]
    fn succeeds_after_transient_failures() {
        let clock = VirtualClock::new();
        let r = Retrier::with_parts(policy(3), clock.clone(), StdRng::seed_from_u64(2));
        let calls = AtomicU32::new(0);
        let out = block_on(r.run(None, |_| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(E::Transient)
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(out, Ok(2));
        assert_eq!(clock.sleeps().len(), 2);
    }

    #[test]
    fn non_retryable_errors_are_returned_at_once() {
        let clock = VirtualClock::new();
        let r = Retrier::with_parts(policy(5), clock.clone(), StdRng::seed_from_u64(3));
        let calls = AtomicU32::new(0);
        let out: Result<(), E> = block_on(r.run(None, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E::Fatal) }
        }));
        assert_eq!(out, Err(E::Fatal));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(clock.sleeps().is_empty());
    }

    #[test]
    fn deadline_stops_retries_before_it_is_passed() {
        let clock = VirtualClock::new();
        let p = RetryPolicy {
            base: Duration::from_millis(400),
            cap: Duration::from_secs(10),
            max_attempts: 100,
            min_attempt_time: Duration::from_millis(50),
        };
        let r = Retrier::with_parts(p, clock.clone(), StdRng::seed_from_u64(4));
        let deadline = clock.now() + Duration::from_secs(2);
        let calls = AtomicU32::new(0);
        let out: Result<(), E> = block_on(r.run(Some(deadline), |a| {
            assert_eq!(a.deadline, Some(deadline));
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E::Transient) }
        }));
        assert_eq!(out, Err(E::Transient));
        let n = calls.load(Ordering::SeqCst);
        assert!(
            n < 100,
            "deadline must stop retries well before max_attempts ({n})"
        );
        // Every attempt started with at least min_attempt_time left: nothing outlived the
        // deadline.
        assert!(clock.now() + p.min_attempt_time <= deadline);
        assert_eq!(clock.sleeps().len() as u32, n - 1);
    }

    #[test]
    fn a_retry_whose_sleep_and_attempt_would_pass_the_deadline_is_not_started() {
        let clock = VirtualClock::new();
        // Each attempt takes 1 s and a retry needs at least 1 s after its (≤ 1 s) sleep, with
        // 3.5 s in all.
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(1),
            max_attempts: 10,
            min_attempt_time: Duration::from_secs(1),
        };
        let r = Retrier::with_parts(p, clock.clone(), StdRng::seed_from_u64(9));
        let deadline = clock.now() + Duration::from_millis(3_500);
        let calls = AtomicU32::new(0);
        let c = clock.clone();
        let out: Result<(), Timed> = block_on(r.run(Some(deadline), |a| {
            calls.fetch_add(1, Ordering::SeqCst);
            // Each attempt takes 1 s of (virtual) time and fails transiently.
            *c.elapsed.lock().unwrap() += Duration::from_secs(1);
            assert!(
                c.now() <= deadline,
                "attempt {} ended after the deadline",
                a.number
            );
            async { Err(Timed::Transient) }
        }));
        let sleeps = clock.sleeps();
        let n = calls.load(Ordering::SeqCst);
        assert_eq!(sleeps.len() as u32, n - 1);
        // Whatever the jitter drew, no retry was started unless its sleep plus the minimum
        // attempt time ended before the deadline, and the next one would not have.
        assert!(clock.now() <= deadline);
        assert!(n < 10, "the deadline, not max_attempts, ended the retries");
        // The returned error says why it was not retried.
        let Err(Timed::OutOfTime(why)) = out else {
            panic!("expected an out-of-time error, got {out:?}");
        };
        assert!(why.starts_with(OUT_OF_TIME), "{why}");
        assert!(why.contains(&format!("attempt {}", n + 1)), "{why}");
        assert!(why.contains("needs at least 1000 ms"), "{why}");

        // Whatever the jitter: a retry needing 2 s with 1.9 s left is never started, nor is
        // its sleep.
        let clock = VirtualClock::new();
        let p = RetryPolicy {
            min_attempt_time: Duration::from_secs(2),
            ..p
        };
        let r = Retrier::with_parts(p, clock.clone(), StdRng::seed_from_u64(10));
        let deadline = clock.now() + Duration::from_millis(1_900);
        let calls = AtomicU32::new(0);
        let out: Result<(), Timed> = block_on(r.run(Some(deadline), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Timed::Transient) }
        }));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "no retry may start");
        assert!(clock.sleeps().is_empty(), "not even its sleep");
        assert!(
            matches!(&out, Err(Timed::OutOfTime(why)) if why.contains("1900 ms left")),
            "{out:?}"
        );
    }

    #[test]
    fn past_deadline_means_a_single_attempt() {
        let clock = VirtualClock::new();
        let r = Retrier::with_parts(policy(5), clock.clone(), StdRng::seed_from_u64(5));
        let deadline = clock.now();
        let calls = AtomicU32::new(0);
        let _: Result<(), E> = block_on(r.run(Some(deadline), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E::Transient) }
        }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(clock.sleeps().is_empty());
    }

    #[test]
    fn zero_max_attempts_still_makes_one_attempt() {
        let clock = VirtualClock::new();
        let r = Retrier::with_parts(policy(0), clock, StdRng::seed_from_u64(6));
        let calls = AtomicU32::new(0);
        let _: Result<(), E> = block_on(r.run(None, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E::Transient) }
        }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
