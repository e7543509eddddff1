//! Backoff for failed authentications, per client address and per account.
//!
//! A few failures are free (typos happen); after that each further failure doubles the time
//! the key must wait before its next attempt, up to a cap. A success clears the key. The state
//! is per process: with N nodes an attacker gets at most N times the attempts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before backoff starts, unless configured otherwise.
pub const DEFAULT_FREE_FAILURES: u32 = 5;
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// A key with no failure for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
/// Bounds memory under a spray of addresses: past this, forgotten keys are pruned and, if
/// that is not enough, the oldest entries go.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Instant,
    last_failure: Instant,
}

#[derive(Debug)]
pub struct FailureLimiter {
    free_failures: u32,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Default for FailureLimiter {
    fn default() -> Self {
        FailureLimiter::new(DEFAULT_FREE_FAILURES)
    }
}

impl FailureLimiter {
    pub fn new(free_failures: u32) -> Self {
        FailureLimiter {
            free_failures,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` while `key` must wait.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some(entry) if entry.blocked_until > now => Err(entry.blocked_until - now),
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, key: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_KEYS && !entries.contains_key(key) {
            entries.retain(|_, e| now.duration_since(e.last_failure) < FORGET_AFTER);
            if entries.len() >= MAX_KEYS {
                // Still full of live keys: keep the blocked ones (the attacks in progress)
                // and drop the rest in one sweep rather than scanning per insert.
                entries.retain(|_, e| e.blocked_until > now);
            }
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            blocked_until: now,
            last_failure: now,
        });
        if now.duration_since(entry.last_failure) >= FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures > self.free_failures {
            let exponent = (entry.failures - self.free_failures - 1).min(20);
            let backoff = Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF);
            entry.blocked_until = now + backoff;
        }
    }

    pub fn record_success(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(key);
    }
}

/// A failure that counts unless cancelled: taken before a credential check and recorded
/// when dropped, so a check cut short (its request dropped mid-way) still counts, while
/// concurrent checks in progress do not count against each other.
#[must_use]
pub struct PendingFailure<'a> {
    limiter: &'a FailureLimiter,
    key: Option<String>,
}

impl<'a> PendingFailure<'a> {
    pub fn new(limiter: &'a FailureLimiter, key: &str) -> Self {
        PendingFailure {
            limiter,
            key: Some(key.to_owned()),
        }
    }

    /// The check passed, or could not be made: nothing is recorded.
    pub fn cancel(mut self) {
        self.key = None;
    }
}

impl Drop for PendingFailure<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.limiter.record_failure(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_then_doubling_backoff() {
        let limiter = FailureLimiter::default();
        for _ in 0..DEFAULT_FREE_FAILURES {
            assert!(limiter.check("ip:1").is_ok());
            limiter.record_failure("ip:1");
        }
        assert!(limiter.check("ip:1").is_ok());
        limiter.record_failure("ip:1");
        let first = limiter.check("ip:1").unwrap_err();
        assert!(first <= Duration::from_secs(1) && first > Duration::ZERO);
        limiter.record_failure("ip:1");
        let second = limiter.check("ip:1").unwrap_err();
        assert!(second > Duration::from_secs(1) && second <= Duration::from_secs(2));
        // Other keys are untouched; success clears.
        assert!(limiter.check("ip:2").is_ok());
        limiter.record_success("ip:1");
        assert!(limiter.check("ip:1").is_ok());
    }

    #[test]
    fn a_pending_failure_counts_unless_cancelled() {
        let limiter = FailureLimiter::new(0);
        PendingFailure::new(&limiter, "ip:1").cancel();
        assert!(limiter.check("ip:1").is_ok());
        // Dropped without a verdict, as when its request is dropped mid-check.
        drop(PendingFailure::new(&limiter, "ip:1"));
        assert!(limiter.check("ip:1").is_err());
    }

    #[test]
    fn backoff_is_capped() {
        let limiter = FailureLimiter::default();
        for _ in 0..200 {
            limiter.record_failure("acct:x");
        }
        assert!(limiter.check("acct:x").unwrap_err() <= MAX_BACKOFF);
    }
}
