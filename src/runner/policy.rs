//! How the runner behaves as an API client towards one target: its rate
//! limit, how many cases run at once, the per-request timeout and the
//! retry policy.
//!
//! Placeholder on the `profiles` branch: the profile parser fills this in
//! from a profile's `client:` block and hands it on; the client behaviour
//! itself (rate limiting, retries, timeouts) is built on the `faults`
//! branch, whose full version of this module replaces this one.

use std::time::Duration;

/// Everything a target asks of the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientPolicy {
    /// Requests per second, when the target limits them.
    pub rate_limit: Option<RateLimit>,
    /// Cases at once on this target.
    pub concurrency: usize,
    /// How long one request may take before its step fails.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

/// A token bucket: `per_second` requests a second on average, at most
/// `burst` at once.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// Retries of a throttled or busy reply, with exponential backoff and full
/// jitter between `base` and `cap`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one counted.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        ClientPolicy {
            rate_limit: None,
            concurrency: 1,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
        }
    }
}
