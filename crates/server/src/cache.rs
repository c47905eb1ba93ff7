//! The one kind of short-lived cache the service keeps: answers that are expensive to find
//! (a token's caller, a model's visibility to a user, the audit chain's verification) and may be
//! a little stale. Every entry lives a fixed time; a full cache is emptied rather than grown, so
//! a flood of distinct keys costs memory up to the bound and no more.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Values by key, each for at most `ttl`, at most `max` at once.
pub struct Ttl<K, V> {
    ttl: Duration,
    max: usize,
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash, V: Clone> Ttl<K, V> {
    /// A cache whose entries live `ttl` and that holds at most `max` of them.
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max: max.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `key`, if it was put less than the time-to-live ago. A poisoned lock is a
    /// miss: the caller then does the expensive work, which is always correct.
    pub fn get(&self, key: &K) -> Option<V> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    /// Keeps `value` for `key` from now; empties the cache first when it is full.
    pub fn put(&self, key: K, value: V) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= self.max && !map.contains_key(&key) {
                map.clear();
            }
            map.insert(key, (value, Instant::now()));
        }
    }

    /// Forgets `key`: what it stood for has changed.
    pub fn remove(&self, key: &K) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_a_full_cache_starts_again() {
        let c: Ttl<u32, &str> = Ttl::new(Duration::from_millis(50), 2);
        c.put(1, "a");
        c.put(2, "b");
        assert_eq!(c.get(&1), Some("a"));
        c.put(2, "b2");
        assert_eq!(c.get(&1), Some("a"), "replacing a key does not empty the cache");
        assert_eq!(c.get(&2), Some("b2"));
        c.put(3, "c");
        assert_eq!(c.get(&1), None, "full: emptied before the third key");
        assert_eq!(c.get(&3), Some("c"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(&3), None, "older than the time-to-live");
    }
}
