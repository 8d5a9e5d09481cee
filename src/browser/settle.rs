//! Waiting for a page to settle before it is read, and revealing what an
//! inspector would see: the network (from the tracker's events) and, in
//! the page, settle.js (timers, the page's own requests, the DOM); then
//! scrolling to the bottom and waiting for animations (reveal.js). A page
//! that never settles is read anyway, and says why.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::page::FrameId;
use chromiumoxide::cdp::js_protocol::runtime::{EvaluateParams, ExecutionContextId};
use chromiumoxide::Page;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::cdp::evaluate;
use super::extract::isolated_world;
use super::tracker::Tracker;
use super::RenderError;
use crate::page::Unreachable;

/// The main-world settle helper, installed before the site's scripts run.
pub(super) const SETTLE_JS: &str = include_str!("settle.js");
/// Waits in the page for settle.js to call it quiet (argument: the longest
/// wait in ms); also answers at once on documents settle.js never reached
/// (error pages), so a wait always tells where the main frame is.
const WAIT_JS: &str =
    "(ms => globalThis.__beianAuditSettleWait ? globalThis.__beianAuditSettleWait(ms) : \
     ({ injected: false, href: location.href, ready: document.readyState }))";
/// Scrolling to the bottom and waiting for animations (see reveal.js).
const REVEAL_JS: &str = include_str!("reveal.js");
/// How often settling looks at the tracker between network events (a
/// local read, no CDP): the quiet window passes without an event.
const NETWORK_CHECK: Duration = Duration::from_millis(50);
/// How long past its own limit an in-page wait may take to answer before
/// the page counts as busy.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How much sooner than the settle deadline the in-page wait gives up, so
/// its answer can still be read.
const PROBE_MARGIN: Duration = Duration::from_millis(200);

/// What settle.js reports (see there).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Probe {
    injected: bool,
    href: String,
    ready: String,
    /// Set by the in-page wait: the page turned quiet (not just timed out).
    quiet: bool,
    /// Counted timers (and a due refresh) still pending.
    timers: u32,
    /// The page's own requests still pending.
    requests: u32,
    /// How late the in-page checks ran at worst, in ms: the renderer's
    /// starvation shows here.
    lag_ms: f64,
    /// The page listens to scrolling (a scroll listener, an
    /// IntersectionObserver): only then is it scrolled before it is read.
    scroll_aware: bool,
}

impl Probe {
    /// Quiet as far as the page can tell. A document settle.js never
    /// reached (an error page, a non-HTML body) has no timers to count.
    fn page_quiet(&self) -> bool {
        if self.injected {
            self.quiet
        } else {
            self.ready == "complete"
        }
    }
}

/// How settling ended.
#[derive(Debug, Default)]
pub(super) struct Settled {
    /// The page turned quiet before the budget ran out.
    pub(super) quiet: bool,
    /// The last in-page probe, when one answered.
    pub(super) probe: Option<Probe>,
    /// The network was still busy when the budget ran out.
    pub(super) network_busy: bool,
}

/// How long a page whose settle wait never answered is given to answer a
/// trivial evaluation (out of the extraction's share): a page parsing a huge
/// document answers between chunks, a script that never yields does not.
const ANSWER_PROBE: Duration = Duration::from_secs(1);

/// Whether the page's main thread answers a trivial evaluation before
/// `ANSWER_PROBE` or `end`, whichever comes first.
pub(super) async fn answers(page: &Page, end: Instant) -> bool {
    let deadline = (Instant::now() + ANSWER_PROBE).min(end);
    evaluate(page, EvaluateParams::new("0"), deadline)
        .await
        .is_ok()
}

/// In-page checks running this late mean the renderer was starved of CPU
/// (they are due every 50 ms).
const STARVED_LAG_MS: f64 = 500.0;

impl Settled {
    /// Why the page is judged before it settled, for the output; `None`
    /// when it settled.
    pub(super) fn why_not(&self) -> Option<String> {
        if self.quiet {
            return None;
        }
        let mut pending = Vec::new();
        if self.network_busy {
            pending.push("network requests in flight".to_owned());
        }
        match &self.probe {
            Some(p) => {
                if p.requests > 0 {
                    pending.push(format!("{} page requests pending", p.requests));
                }
                if p.timers > 0 {
                    pending.push(format!("{} page timers pending", p.timers));
                }
                if pending.is_empty() && p.injected {
                    pending.push("the page kept changing".to_owned());
                }
                if p.lag_ms >= STARVED_LAG_MS {
                    pending.push(format!(
                        "the renderer was starved (its checks ran up to {:.1} s late)",
                        p.lag_ms / 1000.0
                    ));
                }
            }
            None => pending.push("the page never answered a settle check".to_owned()),
        }
        Some(format!(
            "budget ran out before the page settled: {}",
            pending.join(", ")
        ))
    }
}

/// Wait until the page has settled or `end` passes (or the render reached
/// the page to join). Never fails on a slow page: a page that never
/// settles is judged on what it shows at `end`, and says so.
///
/// The network is watched here, from the tracker's events; timers, the
/// page's own requests and the DOM are watched in the page by settle.js,
/// which answers one `Runtime.evaluate` when they are quiet. Polling over
/// CDP instead cost a round trip through the browser every 50 ms of every
/// page's settle.
pub(super) async fn settle(
    page: &Page,
    rx: &mut watch::Receiver<Tracker>,
    end: Instant,
    join_at: Option<&str>,
) -> Result<Settled, RenderError> {
    let started = Instant::now();
    let mut last_probe: Option<Probe> = None;
    loop {
        // 1. The network, from events: wake on each, and at least every
        //    NETWORK_CHECK for the quiet window to pass (no CDP involved).
        loop {
            let t = rx.borrow_and_update();
            if t.crashed {
                return Err(Unreachable::RendererCrashed.into());
            }
            if t.status_failure().is_some() || t.joined(join_at).is_some() {
                return Ok(Settled {
                    quiet: true,
                    ..Settled::default()
                });
            }
            let network_quiet = t.network_quiet(Instant::now());
            drop(t);
            if Instant::now() >= end {
                tracing::debug!(waited = ?started.elapsed(), "settle budget spent; extracting anyway");
                return Ok(Settled {
                    quiet: false,
                    probe: last_probe,
                    network_busy: !network_quiet,
                });
            }
            if network_quiet {
                break;
            }
            let wake = (Instant::now() + NETWORK_CHECK).min(end);
            let _ = tokio::time::timeout_at(wake, rx.changed()).await;
        }
        // 2. Timers, requests and the DOM, in the page. A wait that fails
        //    or cannot be read says nothing (a busy main thread, or a
        //    navigation that destroyed the context): look again after the
        //    next event.
        // The in-page wait ends a little before `end`, so that its answer
        // (what is still pending, how late its checks ran) arrives in time
        // to say why a page did not settle.
        let now = Instant::now();
        let max_wait = end.saturating_duration_since(now);
        let in_page_wait = max_wait.saturating_sub(PROBE_MARGIN.min(max_wait / 4));
        let params = EvaluateParams::builder()
            .expression(format!("{WAIT_JS}({})", in_page_wait.as_millis()))
            .await_promise(true)
            .build()
            .expect("expression is set");
        let probe = match evaluate(page, params, (now + max_wait + PROBE_TIMEOUT).min(end)).await {
            Ok(value) => serde_json::from_value::<Probe>(value)
                .map_err(|e| tracing::debug!(error = %e, "unreadable settle probe"))
                .ok(),
            Err(e) => {
                tracing::debug!(error = %e, "settle wait failed");
                None
            }
        };
        // 3. Quiet in the page and still quiet on the network: a request a
        //    timer started while the page waited holds settling back.
        match probe {
            Some(probe) if probe.page_quiet() => {
                let t = rx.borrow_and_update();
                if t.crashed {
                    return Err(Unreachable::RendererCrashed.into());
                }
                if t.network_quiet(Instant::now()) {
                    tracing::debug!(waited = ?started.elapsed(), href = %probe.href, "page settled");
                    return Ok(Settled {
                        quiet: true,
                        probe: Some(probe),
                        network_busy: false,
                    });
                }
                last_probe = Some(probe);
            }
            other => {
                if other.is_some() {
                    last_probe = other;
                }
                let wake = (Instant::now() + NETWORK_CHECK).min(end);
                let _ = tokio::time::timeout_at(wake, rx.changed()).await;
            }
        }
    }
}

/// What an inspector does before reading the footer: scroll to the
/// bottom, let what that loads settle (`settled` is brought up to date),
/// let running animations finish (reveal.js), all before `end`. Returns
/// the isolated world these steps ran in, for the extraction.
pub(super) async fn reveal(
    page: &Page,
    rx: &mut watch::Receiver<Tracker>,
    main_frame: &FrameId,
    end: Instant,
    join_at: Option<&str>,
    settled: &mut Settled,
) -> Result<Option<ExecutionContextId>, RenderError> {
    if Instant::now() >= end {
        return Ok(None);
    }
    let Ok(context) = isolated_world(page, main_frame, end).await else {
        return Ok(None);
    };
    // A page that does not listen to scrolling would show nothing new
    // (and scrolling it is paint work); one that did not scroll had its
    // animations waited for in the same call.
    let scroll_aware = settled.probe.as_ref().is_some_and(|p| p.scroll_aware);
    if !scroll_aware {
        in_page(page, context, "animations", end).await;
    } else if in_page(page, context, "scroll", end).await > 0 {
        *settled = settle(page, rx, end, join_at).await?;
        if rx.borrow().joined(join_at).is_some() {
            return Ok(None);
        }
        in_page(page, context, "animations", end).await;
    }
    Ok(Some(context))
}

/// Run one step of reveal.js (`scroll` or `animations`) in the isolated
/// world `context`, until `end` at most; how many steps it scrolled or
/// animations it waited for. Best effort: a page that will not scroll or
/// answer is read as it is (0).
async fn in_page(page: &Page, context: ExecutionContextId, what: &str, end: Instant) -> u64 {
    let left = end.saturating_duration_since(Instant::now());
    let mut params = EvaluateParams::new(format!("({REVEAL_JS})('{what}', {})", left.as_millis()));
    params.context_id = Some(context);
    params.await_promise = Some(true);
    match evaluate(page, params, end).await {
        Ok(count) => {
            tracing::trace!(what, %count, "revealed");
            count.as_u64().unwrap_or(0)
        }
        Err(e) => {
            tracing::debug!(what, error = %e, "revealing failed");
            0
        }
    }
}
