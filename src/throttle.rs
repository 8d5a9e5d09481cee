//! `Throttle`: politeness. One governor quota for `--rate` (page loads a
//! second, in all) and a semaphore per registrable domain so that no site
//! gets more than [`PER_SITE`] loads at once (lychee's per-host pattern).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Loads at once on one registrable domain.
pub const PER_SITE: usize = 2;

/// The rate limit and the per-site cap of one scan.
pub struct Throttle {
    rate: Option<Arc<DefaultDirectRateLimiter>>,
    sites: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held while one page of a site loads.
pub struct SitePermit {
    _permit: OwnedSemaphorePermit,
}

impl Throttle {
    /// `rate`: at most that many page loads a second in all (`None`: no limit).
    #[must_use]
    pub fn new(rate: Option<NonZeroU32>) -> Throttle {
        Throttle {
            // A burst of one: loads are spread evenly, never bunched.
            rate: rate.map(|r| {
                Arc::new(RateLimiter::direct(
                    Quota::per_second(r).allow_burst(NonZeroU32::MIN),
                ))
            }),
            sites: Mutex::new(HashMap::new()),
        }
    }

    /// Wait for a slot on `site` (a registrable domain).
    pub async fn site(&self, site: &str) -> SitePermit {
        let semaphore = {
            let mut sites = self.sites.lock().unwrap_or_else(PoisonError::into_inner);
            // Forget idle sites so the map stays as small as the work in flight.
            sites.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < PER_SITE);
            Arc::clone(
                sites
                    .entry(site.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(PER_SITE))),
            )
        };
        let permit = semaphore.acquire_owned().await;
        SitePermit {
            // The semaphore is never closed, so acquiring cannot fail.
            _permit: permit.unwrap_or_else(|_| unreachable!("site semaphores are never closed")),
        }
    }

    /// The `--rate` limiter, for the browser to wait on right before each
    /// navigation (`None`: no limit).
    pub fn rate_limiter(&self) -> Option<Arc<DefaultDirectRateLimiter>> {
        self.rate.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn at_most_two_at_once_per_site() {
        let throttle = Throttle::new(None);
        let a1 = throttle.site("a.cn").await;
        let _a2 = throttle.site("a.cn").await;
        // A third waits; another site does not.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), throttle.site("a.cn"))
                .await
                .is_err()
        );
        let _b = tokio::time::timeout(Duration::from_millis(50), throttle.site("b.cn"))
            .await
            .unwrap();
        drop(a1);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), throttle.site("a.cn"))
                .await
                .is_ok()
        );
    }

    #[test]
    fn no_rate_no_limiter() {
        assert!(Throttle::new(None).rate_limiter().is_none());
    }

    #[tokio::test]
    async fn rate_spreads_loads() {
        let limiter = Throttle::new(NonZeroU32::new(20)).rate_limiter().unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            limiter.until_ready().await;
        }
        // 5 loads at 20/s with a burst of one need at least 4 intervals of 50 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(190),
            "{:?}",
            start.elapsed()
        );
    }
}
