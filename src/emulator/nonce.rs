//! Nonces seen per access key, for every signature that carries one
//! (Alibaba v1 and V3, Tencent legacy).
//!
//! Each nonce is kept until a replay of it would fall outside the clock
//! window anyway, so memory is bounded by time (expired nonces of every
//! key are pruned on every insert, and the tables shrink once mostly
//! empty) and by a hard cap per key (the soonest to expire goes first).
//! Nonces are kept as SHA-256 digests so a client sending huge nonces
//! cannot inflate the store. Only keys that passed their signature are
//! recorded, so the keys are the world's, a handful.
//!
//! Expiry is kept by the second: each second a nonce can expire in holds
//! the digests that do, so pruning drops whole seconds and the cap takes
//! from the earliest one, each in constant time however full the store
//! is (a binary heap of 200,000 entries cost a cache-missing sift on
//! every insert once full, under the store's lock).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

/// What the store keeps of a nonce: its SHA-256.
pub fn digest(nonce: &str) -> [u8; 32] {
    Sha256::digest(nonce.as_bytes()).into()
}

#[derive(Default)]
pub struct NonceStore {
    per_key: HashMap<String, KeyNonces>,
}

#[derive(Default)]
struct KeyNonces {
    expiry_of: HashMap<[u8; 32], i64>,
    /// Expiry second -> the digests recorded to expire then.
    by_expiry: BTreeMap<i64, Vec<[u8; 32]>>,
}

const NONCE_CAP_PER_KEY: usize = 200_000;

impl NonceStore {
    /// Records `nonce` for `key` until `expires` (Unix seconds); false when
    /// it was seen and has not expired at `now`.
    pub fn record(&mut self, key: &str, nonce: &str, now: i64, expires: i64) -> bool {
        self.record_digest(key, digest(nonce), now, expires)
    }

    /// [`NonceStore::record`] of a nonce's [`digest`], taken before the
    /// store's lock so that the lock is held for the tables alone.
    pub fn record_digest(&mut self, key: &str, digest: [u8; 32], now: i64, expires: i64) -> bool {
        // Every key's expired nonces go, not only this key's: a key that
        // falls silent must not keep its window's nonces for ever.
        for nonces in self.per_key.values_mut() {
            nonces.prune(now);
        }
        self.per_key
            .retain(|_, nonces| !nonces.expiry_of.is_empty());
        let entry = match self.per_key.get_mut(key) {
            Some(e) => e,
            None => self.per_key.entry(key.to_string()).or_default(),
        };
        while entry.expiry_of.len() >= NONCE_CAP_PER_KEY {
            let Some(mut soonest) = entry.by_expiry.first_entry() else {
                break;
            };
            let at = *soonest.key();
            let oldest = soonest.get_mut().pop();
            if soonest.get().is_empty() {
                soonest.remove();
            }
            if let Some(oldest) = oldest {
                if entry.expiry_of.get(&oldest) == Some(&at) {
                    entry.expiry_of.remove(&oldest);
                }
            }
        }
        match entry.expiry_of.entry(digest) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(expires);
                entry.by_expiry.entry(expires).or_default().push(digest);
                true
            }
        }
    }

    /// Nonces held, over every key (for memory figures).
    pub fn len(&self) -> usize {
        self.per_key.values().map(|k| k.expiry_of.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the tables hold (their capacity, not their length): what the
    /// store costs in memory, for the load test's figures.
    pub fn approx_bytes(&self) -> usize {
        const ENTRY: usize = 32 + 8 + 8; // digest, expiry, table overhead
        const SECOND: usize = 8 + 24 + 16; // expiry, vector, tree overhead
        self.per_key
            .iter()
            .map(|(k, n)| {
                let queued: usize = n.by_expiry.values().map(|v| v.capacity() * 32).sum();
                k.len() + n.expiry_of.capacity() * ENTRY + n.by_expiry.len() * SECOND + queued
            })
            .sum()
    }
}

impl KeyNonces {
    /// Forgets the nonces expired at `now`; gives memory back once the
    /// tables are mostly empty (after a burst, the window passes).
    fn prune(&mut self, now: i64) {
        while let Some(second) = self.by_expiry.first_entry() {
            if *second.key() > now {
                break;
            }
            let (at, digests) = second.remove_entry();
            for digest in digests {
                if self.expiry_of.get(&digest) == Some(&at) {
                    self.expiry_of.remove(&digest);
                }
            }
        }
        if self.expiry_of.capacity() > 1024 && self.expiry_of.len() * 4 < self.expiry_of.capacity()
        {
            self.expiry_of.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_only_after_expiry_and_stays_bounded() {
        let mut store = NonceStore::default();
        assert!(store.record("k", "n1", 0, 900));
        assert!(
            !store.record("k", "n1", 100, 1000),
            "replay inside the window"
        );
        assert!(
            store.record("other-key", "n1", 100, 1000),
            "nonces are per key"
        );
        assert!(
            store.record("k", "n1", 901, 1800),
            "expired nonce may be reused"
        );
        for i in 0..(NONCE_CAP_PER_KEY + 10) {
            store.record("flood", &i.to_string(), 0, 10_000);
        }
        assert!(store.per_key["flood"].expiry_of.len() <= NONCE_CAP_PER_KEY + 1);
    }

    /// At the cap, the nonce that expires soonest goes first, whatever
    /// order the nonces came in; one recorded again after it expired holds
    /// its new expiry.
    #[test]
    fn the_cap_takes_the_soonest_to_expire() {
        let mut store = NonceStore::default();
        assert!(store.record("k", "late", 0, 20_000));
        assert!(store.record("k", "soon", 0, 9_000));
        assert!(store.record("k", "again", 0, 60));
        assert!(store.record("k", "again", 70, 30_000), "expired at 70");
        for i in 0..NONCE_CAP_PER_KEY {
            store.record("k", &i.to_string(), 70, 10_000 + (i % 7) as i64);
        }
        assert!(store.len() <= NONCE_CAP_PER_KEY);
        assert!(!store.record("k", "late", 80, 20_080), "the latest stays");
        assert!(
            !store.record("k", "again", 80, 30_080),
            "its new expiry stands"
        );
        assert!(
            store.record("k", "soon", 80, 20_080),
            "the soonest went first"
        );
    }

    /// Pinned by tests/load.rs too: expired nonces were pruned only when their
    /// own key recorded another, so a key that fell silent kept its whole
    /// window's nonces (and their memory) for ever.
    #[test]
    fn a_silent_keys_expired_nonces_go_when_any_key_records() {
        let mut store = NonceStore::default();
        for i in 0..5_000 {
            assert!(store.record("busy-then-silent", &i.to_string(), 0, 900));
        }
        let peak = store.approx_bytes();
        assert!(store.record("other", "n", 100, 1000));
        assert_eq!(store.len(), 5_001, "nothing expired yet");
        assert!(store.record("other", "m", 901, 1801));
        assert_eq!(store.len(), 2, "only the other key's two remain");
        assert!(
            store.approx_bytes() * 10 < peak,
            "memory given back: {} of {peak}",
            store.approx_bytes()
        );
        assert!(
            store.record("busy-then-silent", "0", 902, 1802),
            "expired: usable again"
        );
    }
}
