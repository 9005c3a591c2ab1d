//! How the harness behaves as a client of one target: the rate it sends
//! at, how many cases it runs at once, how long it waits for a reply, and
//! when and how it retries.
//!
//! A real cloud throttles a client that sends too fast and refuses a
//! change while another runs on the same interface; the vendors' SDKs and
//! the IPAM code built on them retry those answers after a pause. The
//! harness does the same, within limits that keep a case honest: it
//! retries only the vendor's throttling and busy codes (the catalog's
//! `throttled` and `busy` kinds), and only a call that cannot do harm when
//! repeated — a read, a call carrying the dialect's idempotency token, or a
//! step that says `retry: true`. A change without a token is sent once,
//! whatever comes back: repeating it could apply it twice.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The client behaviour of one target. The embedded emulator and plain URL
/// targets use [`ClientPolicy::DEFAULT`]; a profile sets its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPolicy {
    /// At most this many requests per period, over every case of the
    /// target; none: as fast as replies come.
    pub rate_limit: Option<RateLimit>,
    /// Cases at once on a target that does not isolate them (a URL, a
    /// profile); the embedded emulator gives every case its own world and
    /// takes `--jobs` instead.
    pub concurrency: usize,
    /// How long one request may take, connection to last byte of the reply.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientPolicy {
    pub const DEFAULT: ClientPolicy = ClientPolicy {
        rate_limit: None,
        concurrency: 1,
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy::DEFAULT,
    };
}

impl Default for ClientPolicy {
    fn default() -> Self {
        ClientPolicy::DEFAULT
    }
}

/// Retries of the vendor's throttling and busy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included: 1 never retries.
    pub max_attempts: u32,
    /// The ceiling of the first pause; each next one doubles, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// Four attempts, pauses under 200 ms, 400 ms, 800 ms: about what the
    /// Alibaba and Tencent SDKs do, and short enough for a CI run.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base: Duration::from_millis(200),
        cap: Duration::from_secs(5),
    };

    /// The ceiling of the pause before retry `n` (1 for the first retry):
    /// `base * 2^(n-1)`, at most `cap`.
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The pause before retry `n`: half its ceiling plus a random part of
    /// the other half ("equal jitter"). Clients that were throttled
    /// together spread out, and every pause still grows with `n`, so a
    /// retried call always backs off.
    pub fn pause(&self, n: u32) -> Duration {
        let ceiling = self.ceiling(n);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_micros()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            rand::random_range(0..=spread)
        };
        half + Duration::from_micros(jitter)
    }
}

/// A request rate: `requests` per `per`, with bursts of `burst` at most.
/// Written `5/s`, `300/min`, `200/60s` (Alibaba's quota notation), with an
/// optional burst: `5/s burst 10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub requests: NonZeroU32,
    pub per: Duration,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// The token bucket of this rate: one request every `per / requests`,
    /// `burst` of them saved up at most.
    pub fn quota(&self) -> governor::Quota {
        let interval = (self.per / self.requests.get()).max(Duration::from_nanos(1));
        governor::Quota::with_period(interval)
            .unwrap_or_else(|| governor::Quota::per_second(self.requests))
            .allow_burst(self.burst)
    }
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<RateLimit, String> {
        let bad = |why: &str| {
            format!("`{text}` is not a rate: {why}; write requests per period, as `5/s`, `300/min` or `200/60s`, optionally `5/s burst 10`")
        };
        let (rate, burst) = match text.split_once("burst") {
            Some((rate, burst)) => (rate.trim(), Some(burst.trim())),
            None => (text.trim(), None),
        };
        let (count, period) = rate.split_once('/').ok_or_else(|| bad("no `/`"))?;
        let requests: NonZeroU32 = count
            .trim()
            .parse()
            .map_err(|_| bad("the request count is not a whole number above 0"))?;
        let period = period.trim();
        let per = match period {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other)
                .map_err(|_| bad("the period is not a duration (`s`, `min`, `60s`)"))?,
        };
        if per.is_zero() {
            return Err(bad("the period is zero"));
        }
        let burst = match burst {
            Some(b) => b
                .parse()
                .map_err(|_| bad("the burst is not a whole number above 0"))?,
            None => NonZeroU32::MIN,
        };
        Ok(RateLimit {
            requests,
            per,
            burst,
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = if self.per == Duration::from_secs(1) {
            "s".to_string()
        } else if self.per == Duration::from_secs(60) {
            "min".to_string()
        } else {
            humantime::format_duration(self.per).to_string()
        };
        write!(f, "{}/{per}", self.requests)?;
        if self.burst.get() > 1 {
            write!(f, " burst {}", self.burst)?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RateLimit, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for RateLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Client settings as given, every field optional, the default's value
/// where absent: what `ipconform run` reads from `--rate-limit`,
/// `--request-timeout` and `--retries` for a URL target. (A profile's
/// `client:` block is not read through this: [`crate::profile`] parses it
/// itself, to place each error at its key.)
///
/// ```yaml
/// {rate_limit: 5/s, concurrency: 1, request_timeout: 30s, retries: 3}
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default, deserialize_with = "duration")]
    pub request_timeout: Option<Duration>,
    /// Retries after the first attempt (0: never retry).
    #[serde(default)]
    pub retries: Option<u32>,
    /// The ceiling of the first retry's pause (`200ms`).
    #[serde(default, deserialize_with = "duration")]
    pub retry_base: Option<Duration>,
    /// The longest pause between two attempts (`5s`).
    #[serde(default, deserialize_with = "duration")]
    pub retry_cap: Option<Duration>,
}

impl ClientSettings {
    /// The policy these settings give, or why they give none.
    pub fn policy(&self) -> Result<ClientPolicy, String> {
        let mut policy = ClientPolicy::DEFAULT;
        policy.rate_limit = self.rate_limit;
        if let Some(n) = self.concurrency {
            if n == 0 {
                return Err("`concurrency` must be at least 1".into());
            }
            policy.concurrency = n;
        }
        if let Some(t) = self.request_timeout {
            if t.is_zero() {
                return Err("`request_timeout` must be above zero".into());
            }
            policy.request_timeout = t;
        }
        if let Some(r) = self.retries {
            policy.retry.max_attempts = r.saturating_add(1);
        }
        if let Some(b) = self.retry_base {
            policy.retry.base = b;
        }
        if let Some(c) = self.retry_cap {
            policy.retry.cap = c;
        }
        if policy.retry.cap < policy.retry.base {
            return Err("`retry_cap` must not be below `retry_base`".into());
        }
        Ok(policy)
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({e}); write `30s` or `500ms`"
        ))
    })
}

/// A duration as reports say it: `2 s`, `1.5 s`, `300 ms`.
pub fn spoken(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else if d.as_millis() >= 1000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_the_documented_notations() {
        let r: RateLimit = "5/s".parse().unwrap();
        assert_eq!(
            (r.requests.get(), r.per, r.burst.get()),
            (5, Duration::from_secs(1), 1)
        );
        let r: RateLimit = "200/60s".parse().unwrap();
        assert_eq!((r.requests.get(), r.per), (200, Duration::from_secs(60)));
        let r: RateLimit = "300/min burst 10".parse().unwrap();
        assert_eq!(
            (r.requests.get(), r.per, r.burst.get()),
            (300, Duration::from_secs(60), 10)
        );
        assert_eq!(r.to_string(), "300/min burst 10");
        for bad in [
            "",
            "5",
            "0/s",
            "x/s",
            "5/0s",
            "5/fortnights",
            "5/s burst 0",
            "-1/s",
        ] {
            let e = bad.parse::<RateLimit>().unwrap_err();
            assert!(e.contains("is not a rate"), "{bad}: {e}");
        }
    }

    #[test]
    fn pauses_grow_within_their_ceilings() {
        let p = RetryPolicy::DEFAULT;
        assert_eq!(p.ceiling(1), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(800));
        assert_eq!(
            p.ceiling(40),
            p.cap,
            "a large retry number saturates at the cap"
        );
        for n in 1..=6 {
            for _ in 0..50 {
                let pause = p.pause(n);
                assert!(
                    pause >= p.ceiling(n) / 2 && pause <= p.ceiling(n),
                    "retry {n}: {pause:?}"
                );
            }
        }
    }

    #[test]
    fn settings_fill_the_default_and_refuse_nonsense() {
        let s: ClientSettings =
            serde_yaml::from_str("{rate_limit: 5/s, request_timeout: 2s, retries: 0}").unwrap();
        let p = s.policy().unwrap();
        assert_eq!(p.rate_limit, Some("5/s".parse().unwrap()));
        assert_eq!(p.request_timeout, Duration::from_secs(2));
        assert_eq!(p.retry.max_attempts, 1);
        assert_eq!(p.concurrency, 1);
        let s: ClientSettings = serde_yaml::from_str("{concurrency: 0}").unwrap();
        assert!(s.policy().is_err());
        assert!(serde_yaml::from_str::<ClientSettings>("{retrys: 2}").is_err());
        assert!(serde_yaml::from_str::<ClientSettings>("{request_timeout: soon}").is_err());
    }

    #[test]
    fn a_rate_becomes_a_token_bucket_of_that_rate() {
        use governor::clock::FakeRelativeClock;
        let clock = FakeRelativeClock::default();
        let rate: RateLimit = "5/s".parse().unwrap();
        let bucket = governor::RateLimiter::direct_with_clock(rate.quota(), clock.clone());
        assert!(bucket.check().is_ok());
        assert!(bucket.check().is_err(), "burst 1: the second request waits");
        clock.advance(Duration::from_millis(199));
        assert!(bucket.check().is_err());
        clock.advance(Duration::from_millis(1));
        assert!(bucket.check().is_ok(), "one request every 200 ms");

        let rate: RateLimit = "200/60s burst 3".parse().unwrap();
        let bucket = governor::RateLimiter::direct_with_clock(rate.quota(), clock.clone());
        for _ in 0..3 {
            assert!(bucket.check().is_ok());
        }
        assert!(bucket.check().is_err());
        clock.advance(Duration::from_millis(300));
        assert!(bucket.check().is_ok(), "200 a minute: one every 300 ms");
    }

    #[test]
    fn durations_are_spoken_plainly() {
        assert_eq!(spoken(Duration::from_secs(2)), "2 s");
        assert_eq!(spoken(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(spoken(Duration::from_millis(300)), "300 ms");
    }
}
