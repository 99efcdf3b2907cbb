//! Per-key request rate: a token bucket per SCIM API key, in this process. A key may send
//! `burst` requests at once and `per_second` requests each second after that; beyond, it is told
//! when to come back. With several replicas each keeps its own buckets (a key's limit is then
//! per replica), which keeps the hot path free of shared state.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use foldhash::HashMap; // fast, seeded per process: these maps are on every request's path

/// Buckets kept before idle (full) ones are dropped: a bound on memory, far above real key counts.
const MAX_BUCKETS: usize = 10_000;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_second` of 0 turns the limit off.
    pub fn new(per_second: f64, burst: u32) -> Self {
        RateLimiter {
            per_second: per_second.max(0.0),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::default()),
        }
    }

    pub fn is_off(&self) -> bool {
        self.per_second == 0.0
    }

    /// Takes one request from the key's bucket; `Err(wait)` when it is empty, with the time
    /// until it holds one again.
    pub fn take(&self, key_id: &str, now: Instant) -> Result<(), Duration> {
        self.take_n(key_id, 1, now)
    }

    /// Takes `cost` requests' worth at once (a request that costs more than most), or none:
    /// `Err(wait)` until the bucket holds that many. A cost above the burst is taken as the
    /// whole burst, so such a request is never refused for good.
    pub fn take_n(&self, key_id: &str, cost: u32, now: Instant) -> Result<(), Duration> {
        if self.is_off() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key_id) {
            self.make_room(&mut buckets, now);
        }
        let bucket = buckets.entry(key_id.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        *bucket = self.refilled(*bucket, now);
        let cost = f64::from(cost.max(1)).min(self.burst);
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (cost - bucket.tokens) / self.per_second,
            ))
        }
    }

    /// Drops the buckets that are full again (forgetting them changes nothing); when too few
    /// are, also the half touched longest ago, so that memory stays bounded however many keys
    /// (client addresses) a caller brings, at a cost spread over the half that was freed.
    fn make_room(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        buckets.retain(|_, b| self.refilled(*b, now).tokens < self.burst);
        if buckets.len() < MAX_BUCKETS * 3 / 4 {
            return;
        }
        let mut touched: Vec<Instant> = buckets.values().map(|b| b.at).collect();
        let middle = touched.len() / 2;
        let (_, cut, _) = touched.select_nth_unstable(middle);
        let cut = *cut;
        buckets.retain(|_, b| b.at > cut);
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        Bucket {
            tokens: (bucket.tokens + elapsed * self.per_second).min(self.burst),
            at: now.max(bucket.at),
        }
    }
}

/// `Retry-After` in whole seconds, never 0 (a client told 0 would retry at once).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("k", t0).is_ok());
        }
        let wait = limiter.take("k", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        // Another key has its own bucket.
        assert!(limiter.take("other", t0).is_ok());
        // Half a second later one request is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(limiter.take("k", t1).is_ok());
        assert!(limiter.take("k", t1).is_err());
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.take("k", t2).is_ok());
        }
        assert!(limiter.take("k", t2).is_err());
    }

    #[test]
    fn a_costly_request_takes_its_cost_or_nothing() {
        let limiter = RateLimiter::new(2.0, 10);
        let t0 = Instant::now();
        assert!(limiter.take_n("k", 8, t0).is_ok());
        // Two left: a request costing three waits for the third, and takes nothing meanwhile.
        let wait = limiter.take_n("k", 3, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert!(limiter.take_n("k", 2, t0).is_ok());
        assert!(limiter.take("k", t0).is_err());
        // A cost above the burst costs the whole burst: refused only until it is full.
        let full = t0 + Duration::from_secs(5);
        assert!(limiter.take_n("k", 1000, full).is_ok());
        assert!(limiter.take("k", full).is_err());
    }

    #[test]
    fn memory_stays_bounded_however_many_keys_come() {
        let limiter = RateLimiter::new(0.001, 1);
        let t0 = Instant::now();
        for i in 0..3 * MAX_BUCKETS {
            // Each key spends its only token: none is full again, none can simply be forgotten.
            let at = t0 + Duration::from_micros(i as u64);
            assert!(limiter.take(&format!("k{i}"), at).is_ok());
        }
        let kept = limiter.buckets.lock().unwrap().len();
        assert!(kept <= MAX_BUCKETS, "{kept}");
        // The most recent keys are still held to their budget.
        let last = format!("k{}", 3 * MAX_BUCKETS - 1);
        assert!(limiter.take(&last, t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(0.0, 1);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.take("k", now).is_ok()));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
