//! A small bounded map of values that expire, keyed by a 32-byte hash (never by a secret).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) struct ExpiringCache<V> {
    entries: Mutex<HashMap<[u8; 32], (V, Instant)>>,
    capacity: usize,
}

impl<V: Clone> ExpiringCache<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        ExpiringCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value, while it has not expired.
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(value, _)| value.clone())
    }

    /// Remembers `value` for `lifetime`. When full, expired entries go; if that is not
    /// enough, everything does (a cache miss costs a recomputation, nothing more).
    pub(crate) fn insert(&self, key: [u8; 32], value: V, lifetime: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            let now = Instant::now();
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now() + lifetime));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_and_capacity_holds() {
        let cache = ExpiringCache::new(2);
        cache.insert([1; 32], "a", Duration::from_secs(60));
        cache.insert([2; 32], "b", Duration::ZERO);
        assert_eq!(cache.get(&[1; 32]), Some("a"));
        assert_eq!(cache.get(&[2; 32]), None, "expired");
        cache.insert([3; 32], "c", Duration::from_secs(60));
        assert_eq!(cache.get(&[3; 32]), Some("c"));
        assert_eq!(
            cache.get(&[1; 32]),
            Some("a"),
            "only the expired entry made room"
        );
        assert!(cache.entries.lock().unwrap().len() <= 2);
    }
}
