//! Nonces seen per access key, for every signature that carries one
//! (Alibaba v1 and V3, Tencent legacy later).
//!
//! Each nonce is kept until a replay of it would fall outside the clock
//! window anyway, so memory is bounded by time (expired nonces are pruned
//! on every insert) and by a hard cap per key (the soonest to expire goes
//! first). Nonces are kept as SHA-256 digests so a client sending huge
//! nonces cannot inflate the store.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use sha2::{Digest, Sha256};

#[derive(Default)]
pub struct NonceStore {
    per_key: HashMap<String, KeyNonces>,
}

#[derive(Default)]
struct KeyNonces {
    expiry_of: HashMap<[u8; 32], i64>,
    by_expiry: BinaryHeap<Reverse<(i64, [u8; 32])>>,
}

const NONCE_CAP_PER_KEY: usize = 200_000;

impl NonceStore {
    /// Records `nonce` for `key` until `expires` (Unix seconds); false when
    /// it was seen and has not expired at `now`.
    pub fn record(&mut self, key: &str, nonce: &str, now: i64, expires: i64) -> bool {
        let entry = match self.per_key.get_mut(key) {
            Some(e) => e,
            None => self.per_key.entry(key.to_string()).or_default(),
        };
        while let Some(Reverse((at, digest))) = entry.by_expiry.peek().cloned() {
            if at > now && entry.expiry_of.len() < NONCE_CAP_PER_KEY {
                break;
            }
            entry.by_expiry.pop();
            if entry.expiry_of.get(&digest) == Some(&at) {
                entry.expiry_of.remove(&digest);
            }
        }
        let digest: [u8; 32] = Sha256::digest(nonce.as_bytes()).into();
        if entry.expiry_of.contains_key(&digest) {
            return false;
        }
        entry.expiry_of.insert(digest, expires);
        entry.by_expiry.push(Reverse((expires, digest)));
        true
    }

    /// Nonces held, over every key (for memory figures).
    pub fn len(&self) -> usize {
        self.per_key.values().map(|k| k.expiry_of.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
}
