//! Crash points for fault-injection runs, compiled only with the `fault-injection` feature
//! (never in a release build). `O2C_CRASH_RATE` (0.0–1.0) is the chance that a worker "dies" at
//! each step boundary (after claim, after the external effect, after recording, after sending):
//! the invocation stops there and the message fails, leaving exactly the state a crash would.

use o2c_domain::recipe::{Checkpoint, Checkpoints, StepFailure};
use std::sync::atomic::{AtomicU64, Ordering};

/// Random crashes at step boundaries (xorshift; seeded by `O2C_CRASH_SEED`).
pub struct RandomCrashes {
    rate_per_million: u64,
    state: AtomicU64,
    crashes: AtomicU64,
}

impl RandomCrashes {
    pub fn new(rate: f64, seed: u64) -> Self {
        RandomCrashes {
            rate_per_million: (rate.clamp(0.0, 1.0) * 1_000_000.0) as u64,
            state: AtomicU64::new(seed | 1),
            crashes: AtomicU64::new(0),
        }
    }

    /// From `O2C_CRASH_RATE` / `O2C_CRASH_SEED`; `None` when no rate is set.
    pub fn from_env() -> Option<Self> {
        let rate: f64 = std::env::var("O2C_CRASH_RATE").ok()?.parse().ok()?;
        let seed = std::env::var("O2C_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Some(Self::new(rate, seed))
    }

    /// How many crashes were injected so far.
    pub fn crashes(&self) -> u64 {
        self.crashes.load(Ordering::Relaxed)
    }

    fn next(&self) -> u64 {
        let mut x = self.state.load(Ordering::Relaxed);
        loop {
            let mut y = x;
            y ^= y << 13;
            y ^= y >> 7;
            y ^= y << 17;
            match self
                .state
                .compare_exchange_weak(x, y, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return y,
                Err(cur) => x = cur,
            }
        }
    }
}

impl Checkpoints for RandomCrashes {
    fn reached(&self, step: &str, point: Checkpoint) -> Result<(), StepFailure> {
        if self.next() % 1_000_000 < self.rate_per_million {
            self.crashes.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(step, ?point, "fault injection: crash");
            return Err(StepFailure::RetryLater(format!(
                "injected crash in {step} at {point:?}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_bounds() {
        let never = RandomCrashes::new(0.0, 7);
        let always = RandomCrashes::new(1.0, 7);
        for _ in 0..1000 {
            assert!(never.reached("s", Checkpoint::AfterClaim).is_ok());
            assert!(always.reached("s", Checkpoint::AfterClaim).is_err());
        }
        let half = RandomCrashes::new(0.5, 7);
        let crashes = (0..10_000)
            .filter(|_| half.reached("s", Checkpoint::AfterEffect).is_err())
            .count();
        assert!((4_000..6_000).contains(&crashes), "{crashes}");
    }
}
