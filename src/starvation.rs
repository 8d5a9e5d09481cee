//! Whether the worker itself was starved of CPU while a target rendered.
//!
//! A page read on a starved machine (a pod's CPU quota used up, a busy
//! shared host) can look like a broken site: a document that never
//! committed, a script that never yielded, a page caught before it
//! settled. Those outcomes are the worker's fault when the worker was
//! starved, so the scan retries such a target with a fresh budget and
//! never reports it as the site's fault (README "Load never changes a
//! finding"). Two signals, each read before and after a render:
//!
//! - the cgroup's own throttled time (`cpu.stat`), when the worker runs
//!   under a CPU quota: starved when it is at least [`THROTTLED_SHARE`] of
//!   the render's time (a period now and then is a quota well used);
//! - the worker's own clock: a tick due every [`TICK`] that came more than
//!   [`LATE`] late means nothing of the worker's could run, and neither,
//!   most likely, could the browser's renderers.
//!
//! A page that burns the CPU itself (`while (true) {}`) starves neither
//! signal on a machine without a quota: one renderer takes one core.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::cgroup::{cpu_throttled, CpuThrottle};

/// How often the worker's clock ticks.
const TICK: Duration = Duration::from_millis(100);
/// A tick this late means the worker was starved.
const LATE: Duration = Duration::from_secs(1);
/// The share of a render's time the cgroup spent throttled past which the
/// render counts as starved.
const THROTTLED_SHARE: f64 = 0.25;

/// Watches for starvation; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Starvation {
    late_ticks: Arc<AtomicU64>,
}

/// The signals at one moment (see [`Starvation::mark`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    at: Instant,
    late_ticks: u64,
    throttle: Option<CpuThrottle>,
}

impl Starvation {
    /// Start the worker's clock (a task of the current runtime; it ends
    /// with the runtime).
    pub(crate) fn start() -> Starvation {
        let late_ticks = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&late_ticks);
        tokio::spawn(async move {
            let mut due = Instant::now() + TICK;
            loop {
                tokio::time::sleep_until(due).await;
                let now = Instant::now();
                if now.saturating_duration_since(due) >= LATE {
                    counter.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(late = ?now - due, "the worker was starved of CPU");
                }
                due = now + TICK;
            }
        });
        Starvation { late_ticks }
    }

    /// The signals now.
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            at: Instant::now(),
            late_ticks: self.late_ticks.load(Ordering::Relaxed),
            throttle: cpu_throttled(),
        }
    }

    /// Why the worker counts as starved since `before`, or `None`.
    pub(crate) fn since(&self, before: Mark) -> Option<String> {
        judge(before, self.mark())
    }
}

/// Starvation between two marks, said for people.
fn judge(before: Mark, after: Mark) -> Option<String> {
    if let (Some(b), Some(a)) = (before.throttle, after.throttle) {
        let periods = a.periods.saturating_sub(b.periods);
        let throttled = Duration::from_micros(a.throttled_us.saturating_sub(b.throttled_us));
        let spent = after.at.saturating_duration_since(before.at);
        if periods > 0 && throttled.as_secs_f64() >= spent.as_secs_f64() * THROTTLED_SHARE {
            return Some(format!(
                "the worker's CPU quota was used up ({periods} periods throttled, {} ms of {} ms)",
                throttled.as_millis(),
                spent.as_millis()
            ));
        }
    }
    let late = after.late_ticks.saturating_sub(before.late_ticks);
    (late > 0).then(|| format!("the worker got no CPU for over a second ({late} times)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// A mark `at_ms` after a fixed start.
    fn mark(at_ms: u64, late_ticks: u64, throttle: Option<(u64, u64)>) -> Mark {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        Mark {
            at: *START.get_or_init(Instant::now) + Duration::from_millis(at_ms),
            late_ticks,
            throttle: throttle.map(|(periods, throttled_us)| CpuThrottle {
                periods,
                throttled_us,
            }),
        }
    }

    #[rstest]
    #[case::nothing(mark(0, 0, None), mark(1000, 0, None), None)]
    #[case::quota_idle(mark(0, 0, Some((5, 1000))), mark(1000, 0, Some((5, 1000))), None)]
    #[case::quota_throttled_a_third(
        mark(0, 0, Some((5, 1000))),
        mark(1000, 0, Some((8, 334_000))),
        Some("the worker's CPU quota was used up (3 periods throttled, 333 ms of 1000 ms)")
    )]
    // A period now and then: a quota well used, not a starved render.
    #[case::quota_throttled_a_little(
        mark(0, 0, Some((5, 1000))),
        mark(1000, 0, Some((6, 101_000))),
        None
    )]
    #[case::late_tick(
        mark(0, 2, None),
        mark(1000, 3, None),
        Some("the worker got no CPU for over a second (1 times)")
    )]
    #[case::quota_file_gone(mark(0, 0, Some((5, 0))), mark(1000, 0, None), None)]
    fn starvation_between_marks(
        #[case] before: Mark,
        #[case] after: Mark,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(judge(before, after).as_deref(), expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tick_held_back_past_a_second_counts_as_starved() {
        let starvation = Starvation::start();
        let before = starvation.mark();
        tokio::time::sleep(TICK * 3).await;
        assert!(starvation.since(before).is_none(), "on time: not starved");
        // The clock jumps past the next tick by more than LATE, as a frozen
        // process sees it when it runs again.
        tokio::time::advance(LATE + TICK * 2).await;
        tokio::task::yield_now().await;
        let late = starvation.since(before);
        assert!(late.is_some_and(|why| why.contains("no CPU")));
    }
}
