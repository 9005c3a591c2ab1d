//! The address allocator of one subnet: free addresses as disjoint
//! intervals, so allocation never walks the CIDR.
//!
//! A /8 with a million addresses taken costs the same O(log n) per
//! operation as an empty /24. Network, broadcast and reserved addresses are
//! never in the free set, so they can never be handed out.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;

use super::file::Reserved;

/// Free addresses of one subnet as disjoint inclusive intervals
/// `start -> end` (addresses as `u32`). Network, broadcast and reserved
/// addresses are never in it, so they can never be handed out.
#[derive(Clone)]
pub struct Allocator {
    free: BTreeMap<u32, u32>,
    free_count: u64,
    first_usable: u32,
    last_usable: u32,
}

impl fmt::Debug for Allocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Allocator")
            .field("free_count", &self.free_count)
            .field("intervals", &self.free.len())
            .finish()
    }
}

impl Allocator {
    /// All usable addresses of `cidr` free.
    pub fn new(cidr: Ipv4Net, reserved: Reserved) -> Allocator {
        let network = u64::from(u32::from(cidr.network()));
        let broadcast = u64::from(u32::from(cidr.broadcast()));
        let first = network + u64::from(reserved.first);
        let last = broadcast.saturating_sub(u64::from(reserved.last));
        let mut free = BTreeMap::new();
        let mut free_count = 0;
        // first/last fit u32 whenever first <= last <= broadcast.
        if first <= last {
            free.insert(first as u32, last as u32);
            free_count = last - first + 1;
        }
        Allocator {
            free,
            free_count,
            first_usable: first.min(u64::from(u32::MAX)) as u32,
            last_usable: last as u32,
        }
    }

    /// Inside the CIDR and not network, broadcast or reserved.
    pub fn is_usable(&self, ip: u32) -> bool {
        self.first_usable <= ip && ip <= self.last_usable && self.first_usable <= self.last_usable
    }

    pub fn is_free(&self, ip: u32) -> bool {
        self.free
            .range(..=ip)
            .next_back()
            .is_some_and(|(_, &end)| ip <= end)
    }

    pub fn free_count(&self) -> u64 {
        self.free_count
    }

    /// Number of free intervals (fragmentation; for tests and benches).
    pub fn intervals(&self) -> usize {
        self.free.len()
    }

    /// Takes one given address; false when it is not free.
    pub fn take(&mut self, ip: u32) -> bool {
        let Some((&start, &end)) = self.free.range(..=ip).next_back() else {
            return false;
        };
        if ip > end {
            return false;
        }
        self.free.remove(&start);
        if start < ip {
            self.free.insert(start, ip - 1);
        }
        if ip < end {
            self.free.insert(ip + 1, end);
        }
        self.free_count -= 1;
        true
    }

    /// Takes the lowest free address.
    pub fn take_lowest(&mut self) -> Option<u32> {
        let (&start, _) = self.free.first_key_value()?;
        self.take(start);
        Some(start)
    }

    /// Takes the `n` lowest free addresses, or nothing when fewer are free.
    pub fn take_lowest_n(&mut self, n: u64) -> Option<Vec<u32>> {
        if n > self.free_count {
            return None;
        }
        let mut out = Vec::with_capacity(n as usize);
        self.carve_lowest(n, |start, end| out.extend(start..=end));
        Some(out)
    }

    /// Removes the `n` lowest free addresses (or all, when fewer are free),
    /// calling `taken(start, end)` per removed run; cost per run, not per address.
    pub(super) fn carve_lowest(&mut self, mut n: u64, mut taken: impl FnMut(u32, u32)) -> u64 {
        let mut done = 0;
        while n > 0 {
            let Some((start, end)) = self.free.pop_first() else {
                break;
            };
            let len = u64::from(end - start) + 1;
            if len <= n {
                taken(start, end);
                n -= len;
                done += len;
            } else {
                let cut = start + (n as u32) - 1;
                taken(start, cut);
                self.free.insert(cut + 1, end);
                done += n;
                n = 0;
            }
        }
        self.free_count -= done;
        done
    }

    /// Gives an address back, merging with its neighbours; false when it
    /// was free already or is not usable.
    pub fn release(&mut self, ip: u32) -> bool {
        if !self.is_usable(ip) || self.is_free(ip) {
            return false;
        }
        let mut start = ip;
        let mut end = ip;
        if ip > 0 {
            if let Some((&s, &e)) = self.free.range(..ip).next_back() {
                if e == ip - 1 {
                    self.free.remove(&s);
                    start = s;
                }
            }
        }
        if ip < u32::MAX {
            if let Some(e) = self.free.remove(&(ip + 1)) {
                end = e;
            }
        }
        self.free.insert(start, end);
        self.free_count += 1;
        true
    }
}
