//! Rendering one target on a page (fresh, or a record's tab after its last
//! render): emulate the device, navigate, settle, extract. Produces a
//! [`PageSnapshot`] or says whose fault it is that there is none;
//! recognises nothing.
//!
//! Every step runs under a deadline derived from the target's budget:
//! navigation and settling get [`SETTLE_SHARE`] of it, extraction the rest.

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::dom::{GetFrameOwnerParams, ResolveNodeParams};
use chromiumoxide::cdp::browser_protocol::inspector;
use chromiumoxide::cdp::browser_protocol::log::DisableParams as LogDisableParams;
use chromiumoxide::cdp::browser_protocol::page::{
    AddScriptToEvaluateOnNewDocumentParams, CreateIsolatedWorldParams, FrameId, FrameTree,
    GetFrameTreeParams, NavigateParams,
};
use chromiumoxide::cdp::browser_protocol::performance::DisableParams as PerformanceDisableParams;
use chromiumoxide::cdp::js_protocol::runtime::{
    CallFunctionOnParams, EvaluateParams, ExecutionContextId, TimeDelta,
};
use chromiumoxide::{Command, Page};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::device::DeviceProfile;
use super::guard_view::{self, block_local_schemes, pause_requests};
use super::tracker::{pump, subscribe, NavState, Tracker};
use super::{BrowserError, RenderError};
use crate::guard::Session;
use crate::page::{PageLink, PageSnapshot, TextBlock, Unreachable};

/// The in-page extraction function (see extract.js), called on a frame's
/// owner element to place the frame.
const EXTRACT_FN: &str = include_str!("extract.js");
/// The extraction of a whole document, evaluated in an isolated world.
///
/// It waits for the document to be parsed first (1 s at most): a page that
/// navigated again at the end of the settle budget (a refresh loop) would
/// otherwise be read half-parsed, its footer not yet there.
const EXTRACT_JS: &str = concat!(
    "new Promise((parsed) => { if (document.readyState !== 'loading') { parsed(); return; } \
     document.addEventListener('DOMContentLoaded', () => parsed(), { once: true }); \
     setTimeout(parsed, 1000); }).then(() => (",
    include_str!("extract.js"),
    ").call(null))"
);
/// Scrolling to the bottom and waiting for animations (see reveal.js).
const REVEAL_JS: &str = include_str!("reveal.js");
/// The main-world settle helper, installed before the site's scripts run.
const SETTLE_JS: &str = include_str!("settle.js");
/// Waits in the page for settle.js to call it quiet (argument: the longest
/// wait in ms); also answers at once on documents settle.js never reached
/// (error pages), so a wait always tells where the main frame is.
const WAIT_JS: &str =
    "(ms => globalThis.__beianAuditSettleWait ? globalThis.__beianAuditSettleWait(ms) : \
     ({ injected: false, href: location.href, ready: document.readyState }))";
/// Name of the isolated world extract.js runs in.
const WORLD_NAME: &str = "beian-audit";

/// A page that showed a document this big is not reused: leaving a DOM of
/// hundreds of thousands of nodes takes its renderer seconds (6 s for a
/// 20 MB page on a busy 2-core machine), which would be charged to the
/// next target's budget; a fresh page costs a few hundred milliseconds.
const HEAVY_DOCUMENT: u64 = 4 << 20;

/// Share of the budget for navigation and settling; the rest is kept for
/// extraction, which must run even when settling never ends.
pub(crate) const SETTLE_SHARE: f64 = 0.85;
/// How often settling looks at the tracker between network events (a
/// local read, no CDP): the quiet window passes without an event.
const NETWORK_CHECK: Duration = Duration::from_millis(50);
/// How long past its own limit an in-page wait may take to answer before
/// the page counts as busy.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a render that read its page waits for chromiumoxide's answer
/// to its `Page.navigate` before giving up reusing the page.
const NAVIGATE_REPLY_GRACE: Duration = Duration::from_millis(250);
/// How much sooner than the settle deadline the in-page wait gives up, so
/// its answer can still be read.
const PROBE_MARGIN: Duration = Duration::from_millis(200);
/// After an error page commits, how long to wait for the failure's name.
const ERROR_DETAIL_WAIT: Duration = Duration::from_millis(500);

/// One render's inputs.
#[derive(Debug)]
pub(crate) struct RenderJob<'a> {
    /// The URL to open.
    pub url: &'a str,
    /// How to emulate the device.
    pub profile: &'a DeviceProfile,
    /// The whole budget of the target.
    pub budget: Duration,
    /// When the budget started.
    pub started: Instant,
    /// Waited for right before navigating (see `RenderOptions::navigate_gate`).
    pub gate: Option<&'a governor::DefaultDirectRateLimiter>,
    /// Stop, joined, when the main frame's document request reaches this
    /// URL (see `RenderOptions::join_at`).
    pub join_at: Option<&'a str>,
}

impl RenderJob<'_> {
    fn end(&self) -> Instant {
        self.started + self.budget
    }

    fn settle_end(&self) -> Instant {
        // Extraction keeps at least a little time even on tiny budgets.
        let reserve = self
            .budget
            .mul_f64(1.0 - SETTLE_SHARE)
            .max(Duration::from_millis(750).min(self.budget / 2));
        self.end() - reserve
    }

    /// Seconds spent on the render so far, for a timeout's message: the
    /// time actually spent, not the budget (a render that started late, or
    /// a retry with what a crash left, spent less).
    fn spent_secs(&self) -> u64 {
        (self.started.elapsed() + Duration::from_millis(500))
            .as_secs()
            .max(1)
    }
}

/// What earlier renders set up on a page that is rendered again (see
/// `pool::Tab`).
#[derive(Debug, Default)]
pub(crate) struct PageSetup {
    /// The settle script and the page-wide settings are in place.
    installed: bool,
    /// The device the page emulates.
    device: Option<DeviceProfile>,
    /// The document URL `Fetch.enable`'s patterns pause (once installed).
    paused_at: Option<String>,
    /// The last render's navigation ended with a loaded document.
    loaded: bool,
}

impl PageSetup {
    /// Whether the page can take another render. Only after a navigation
    /// that ended in a loaded document and that chromiumoxide answered:
    /// it runs one `Page.navigate` of a page at a time, until it has seen
    /// the document (and every frame it knows of) load, and holds the next
    /// one back until then (or for 30 s), so a page whose load never came,
    /// whose navigation it still watches, or whose navigation was stopped
    /// to join another render, is closed instead.
    pub(crate) fn reusable(&self) -> bool {
        self.installed && self.loaded
    }

    /// Whether the page emulates `profile` already.
    pub(crate) fn emulates(&self, profile: &DeviceProfile) -> bool {
        self.device.as_ref() == Some(profile)
    }
}

/// Render `job` on `page` (in a browser context of its own, whose
/// connections all go through `guard`). `setup` says what earlier renders
/// on the page set up already; it is brought up to date.
pub(crate) async fn render(
    page: &Page,
    job: &RenderJob<'_>,
    guard: &Session,
    setup: &mut PageSetup,
) -> Result<PageSnapshot, RenderError> {
    let prep_end = job.settle_end();
    let main_frame = match timed(page.mainframe(), prep_end).await {
        Some(Ok(Some(frame))) => frame,
        _ => page.target_id().as_ref().to_owned().into(),
    };

    // Listeners first: events of a navigation started before them are lost.
    let events = subscribe(page, prep_end).await?;
    // The page's setup, sent at once: CDP answers a session's commands in
    // order, so nothing is gained by waiting for each reply before sending
    // the next, and nine round trips under load cost more than the work.
    // chromiumoxide enables the Performance and Log domains on every page;
    // nothing here reads them, and the renderer then stops collecting for
    // them (a few per cent of the scan's CPU in the benchmark). A page
    // rendered again keeps what it has: only a new device or a new page to
    // join is sent.
    let installed = setup.installed;
    let emulated = setup.emulates(job.profile);
    let paused = installed && setup.paused_at.as_deref() == job.join_at;
    let emulation = |e: CommandError| e.crawler("emulation");
    let (metrics, touch, agent, inspector, settle_script, blocked, skipped, _, _) = tokio::join!(
        unless(emulated, page, job.profile.metrics(), prep_end),
        unless(emulated, page, job.profile.touch(), prep_end),
        unless(emulated, page, job.profile.user_agent_override(), prep_end),
        unless(
            installed,
            page,
            inspector::EnableParams::default(),
            prep_end
        ),
        unless(
            installed,
            page,
            AddScriptToEvaluateOnNewDocumentParams::new(SETTLE_JS),
            prep_end
        ),
        unless(installed, page, block_local_schemes(), prep_end),
        unless(paused, page, pause_requests(job.join_at), prep_end),
        unless(
            installed,
            page,
            PerformanceDisableParams::default(),
            prep_end
        ),
        unless(installed, page, LogDisableParams::default(), prep_end),
    );
    metrics.map_err(emulation)?;
    touch.map_err(emulation)?;
    agent.map_err(emulation)?;
    inspector.map_err(emulation)?;
    settle_script.map_err(|e| e.crawler("settle script"))?;
    blocked.map_err(|e| e.crawler("Network.setBlockedURLs"))?;
    skipped.map_err(|e| e.crawler("Fetch.enable"))?;
    setup.installed = true;
    setup.device = Some(job.profile.clone());
    setup.paused_at = job.join_at.map(str::to_owned);
    setup.loaded = false;

    let (tx, mut rx) = watch::channel(Tracker::new(
        main_frame.as_ref().to_owned(),
        job.url,
        installed,
    ));
    let tx = Arc::new(tx);
    let pump = tokio::spawn(pump(page.clone(), events, Arc::clone(&tx)));
    // chromiumoxide turns Page.navigate into "navigate and wait for load with
    // a fixed 30 s timeout"; its reply is only a late hint here, the events
    // drive everything.
    // The rate limit: waited for here, just before the load the server
    // sees, and not charged to the target's budget.
    let gated;
    let job = match job.gate {
        Some(gate) => {
            let waited = Instant::now();
            gate.until_ready().await;
            gated = RenderJob {
                started: job.started + waited.elapsed(),
                ..*job
            };
            &gated
        }
        None => job,
    };
    let navigate = {
        let page = page.clone();
        let url = job.url.to_owned();
        let tx = Arc::clone(&tx);
        let end = job.end();
        tokio::spawn(async move {
            if let Some(Ok(reply)) = timed(page.execute(NavigateParams::new(url)), end).await {
                tx.send_modify(|t| {
                    t.on_navigate_reply(reply.error_text.clone(), reply.is_download);
                });
            }
        })
    };
    tracing::trace!(elapsed = ?job.started.elapsed(), "navigating");
    let result = drive(page, job, &mut rx, main_frame).await;
    setup.loaded = result.as_ref().is_ok_and(|page| !page.joined)
        && rx.borrow().loaded()
        && rx
            .borrow()
            .document_bytes()
            .is_none_or(|b| b < HEAVY_DOCUMENT)
        && navigation_released(&mut rx, job).await;
    pump.abort();
    navigate.abort();
    let failed_url = rx.borrow().docs.last().map(|d| d.url.clone());
    guard_view::apply(
        result,
        failed_url.as_deref().unwrap_or(job.url),
        guard,
        job.spent_secs(),
    )
}

/// Whether chromiumoxide has let go of the render's navigation.
///
/// It answers `Page.navigate` only once its own watch of the navigation is
/// over (the main frame and every child frame it knows of loaded). Its
/// watch can outlive the load the tracker saw: a page that changes its URL
/// by pushState or its hash right after load, a lazy iframe that never
/// loads. Until it answers it holds the page's next `Page.navigate` back
/// (30 s): the next render on the page would never reach the server. Such
/// a page is not reused.
async fn navigation_released(rx: &mut watch::Receiver<Tracker>, job: &RenderJob<'_>) -> bool {
    if rx.borrow().navigate_replied {
        return true;
    }
    let grace = (Instant::now() + NAVIGATE_REPLY_GRACE).min(job.end());
    let released = tokio::time::timeout_at(grace, rx.wait_for(|t| t.navigate_replied))
        .await
        .is_ok_and(|r| r.is_ok());
    if !released {
        tracing::debug!(
            url = job.url,
            "the navigation is still watched; the page will not be reused"
        );
    }
    released
}

/// Wait until the main frame commits a document (`None`), or the
/// navigation fails, or its request (or a redirect hop) reaches the page to
/// join (that render's snapshot).
async fn commit(
    job: &RenderJob<'_>,
    rx: &mut watch::Receiver<Tracker>,
) -> Result<Option<PageSnapshot>, RenderError> {
    let settle_end = job.settle_end();
    let mut error_page_seen: Option<Instant> = None;
    loop {
        if let Some(joined) = joined(&rx.borrow(), job.join_at) {
            return Ok(Some(joined));
        }
        let state = rx.borrow_and_update().navigation_state();
        match state {
            NavState::Committed => break,
            NavState::Crashed => return Err(Unreachable::RendererCrashed.into()),
            NavState::Failed => return Err(rx.borrow().failure(job.spent_secs()).into()),
            NavState::ErrorPage => {
                let since = *error_page_seen.get_or_insert_with(Instant::now);
                if since.elapsed() >= ERROR_DETAIL_WAIT {
                    return Err(rx.borrow().failure(job.spent_secs()).into());
                }
            }
            NavState::Pending => {}
        }
        let wake = match error_page_seen {
            Some(since) => (since + ERROR_DETAIL_WAIT).min(settle_end),
            None => settle_end,
        };
        if Instant::now() >= settle_end {
            return Err(Unreachable::Timeout {
                seconds: job.spent_secs(),
            }
            .into());
        }
        let _ = tokio::time::timeout_at(wake, rx.changed()).await;
    }
    Ok(None)
}

/// Navigation outcome, settle, extraction, verdict.
async fn drive(
    page: &Page,
    job: &RenderJob<'_>,
    rx: &mut watch::Receiver<Tracker>,
    main_frame: FrameId,
) -> Result<PageSnapshot, RenderError> {
    let settle_end = job.settle_end();

    // 1. Until the main frame commits a document.
    if let Some(joined) = commit(job, rx).await? {
        return Ok(joined);
    }
    if let Some(joined) = joined(&rx.borrow(), job.join_at) {
        return Ok(joined);
    }
    if rx.borrow().status_failure().is_some() {
        // An error page: no need to settle or read it; the caller judges the
        // status, and the output reports its URL, status and address.
        return Ok(rx.borrow().snapshot());
    }

    tracing::trace!(elapsed = ?job.started.elapsed(), "committed");
    // 2. Settle: load, then quiet network, no short timers or requests of
    //    the page's, quiet DOM.
    let mut settled = settle(page, rx, settle_end, job.join_at).await?;
    if let Some(joined) = joined(&rx.borrow(), job.join_at) {
        return Ok(joined);
    }
    // 3. What an inspector does next (see `reveal`).
    let mut world = if settled.quiet {
        reveal(page, rx, &main_frame, settle_end, job.join_at, &mut settled).await?
    } else {
        None
    };
    if let Some(joined) = joined(&rx.borrow(), job.join_at) {
        return Ok(joined);
    }

    tracing::trace!(elapsed = ?job.started.elapsed(), quiet = settled.quiet, "settled");
    // A page that cannot be read in time is one still loading, not one
    // whose script never yields, when its document is heavy (parsing,
    // laying out and reading a 20 MB page keeps its thread busy for seconds
    // at a time), or when its main thread answered and its load event
    // never came.
    let answered = settled.quiet || settled.probe.is_some() || answers(page, job.end()).await;
    let hung = |tracker: &Tracker| {
        let heavy = tracker
            .document_bytes()
            .is_some_and(|b| b >= HEAVY_DOCUMENT);
        if tracker.crashed {
            Unreachable::RendererCrashed
        } else if heavy || (answered && !tracker.loaded()) {
            Unreachable::StillLoading {
                seconds: job.spent_secs(),
                bytes: tracker.document_bytes(),
            }
        } else {
            Unreachable::ScriptHung
        }
    };
    // 4. Extract in isolated worlds, every frame a visitor sees; retried
    //    once if a late navigation destroyed the world under us.
    let mut extracted = None;
    let mut tries = 0;
    while tries < 2 {
        // A failure in the world reveal made (a navigation since) costs no try.
        if world.is_none() {
            tries += 1;
        }
        if rx.borrow().crashed {
            return Err(Unreachable::RendererCrashed.into());
        }
        match extract_page(page, &main_frame, world.take(), job.end()).await {
            Ok(value) => {
                extracted = Some(value);
                break;
            }
            Err(ExtractError::Hung) => return Err(hung(&rx.borrow()).into()),
            Err(ExtractError::Retry(reason)) => {
                if let Some(joined) = joined(&rx.borrow(), job.join_at) {
                    return Ok(joined);
                }
                tracing::debug!(url = job.url, %reason, "extraction lost its world; retrying");
            }
            Err(ExtractError::Failed(err)) => return Err(err.into()),
        }
    }
    let Some(extracted) = extracted else {
        return Err(hung(&rx.borrow()).into());
    };

    // 5. Verdict on what arrived.
    let tracker = rx.borrow();
    if tracker.crashed {
        return Err(Unreachable::RendererCrashed.into());
    }
    if let Some(joined) = joined(&tracker, job.join_at) {
        return Ok(joined);
    }
    if extracted.url.starts_with("chrome-error://") {
        return Err(tracker.failure(job.spent_secs()).into());
    }
    let mut snapshot = tracker.snapshot();
    drop(tracker);
    snapshot.status = snapshot.status.or(extracted.status);
    // An HTTP error page is returned as a page: whether it counts as
    // unreachable is the caller's call (SPEC §2 says it does), and its facts
    // (final URL, status, address) belong in the output either way.
    if extracted.empty
        && snapshot.status.is_none_or(|s| s < 400)
        && extracted.title.trim().is_empty()
    {
        return Err(Unreachable::EmptyDocument.into());
    }
    snapshot.final_url = extracted.url;
    snapshot.title = extracted.title;
    snapshot.blocks = extracted.blocks;
    snapshot.links = extracted.links;
    snapshot.unsettled = settled.why_not();
    Ok(snapshot)
}

/// The snapshot of a render that reached `join_at` (see `RenderJob`).
fn joined(tracker: &Tracker, join_at: Option<&str>) -> Option<PageSnapshot> {
    let join_at = join_at?;
    let reached = tracker.join_paused
        || tracker
            .docs
            .last()
            .is_some_and(|doc| same_url(&doc.url, join_at));
    reached.then(|| PageSnapshot {
        joined: true,
        ..tracker.snapshot()
    })
}

/// Whether two URLs name the same page (as parsed: `HTTP://A.cn` is `http://a.cn/`).
pub(crate) fn same_url(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// What settle.js reports (see there).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Probe {
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
struct Settled {
    /// The page turned quiet before the budget ran out.
    quiet: bool,
    /// The last in-page probe, when one answered.
    probe: Option<Probe>,
    /// The network was still busy when the budget ran out.
    network_busy: bool,
}

/// How long a page whose settle wait never answered is given to answer a
/// trivial evaluation (out of the extraction's share): a page parsing a huge
/// document answers between chunks, a script that never yields does not.
const ANSWER_PROBE: Duration = Duration::from_secs(1);

/// Whether the page's main thread answers a trivial evaluation before
/// `ANSWER_PROBE` or `end`, whichever comes first.
async fn answers(page: &Page, end: Instant) -> bool {
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
    fn why_not(&self) -> Option<String> {
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
async fn settle(
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
            if t.status_failure().is_some() || joined(&t, join_at).is_some() {
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
async fn reveal(
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
        if joined(&rx.borrow(), join_at).is_some() {
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

/// The facts extract.js returns.
#[derive(Debug, Deserialize)]
struct Extracted {
    title: String,
    url: String,
    empty: bool,
    #[serde(default)]
    status: Option<u16>,
    blocks: Vec<TextBlock>,
    links: Vec<PageLink>,
}

/// Where a frame's owner element sits in its parent document (extract.js
/// called on it).
#[derive(Debug, Deserialize)]
struct Placement {
    width: f64,
    height: f64,
    visible: bool,
    in_footer: bool,
    view_width: f64,
    view_height: f64,
}

impl Placement {
    /// A frame that fills its parent's window (a frameset's one frame, a
    /// full-window iframe): its own document decides what is at the bottom.
    fn fills_window(&self) -> bool {
        self.width >= self.view_width * 0.9 && self.height >= self.view_height * 0.9
    }
}

enum ExtractError {
    /// The page never answered: its main thread is stuck.
    Hung,
    /// The world vanished (a navigation); worth one more try.
    Retry(String),
    /// Our own failure.
    Failed(BrowserError),
}

/// Frames read at most, and how deep: the footer's widget or a 隐性转发
/// frameset are one or two; ads and trackers beyond these add nothing.
const MAX_FRAMES: usize = 16;
/// Frames looked at (placed) at most, seen or not: hundreds of hidden
/// tracking frames must not eat the extraction's time.
const MAX_PLACED_FRAMES: usize = 64;
const MAX_FRAME_DEPTH: usize = 3;

/// The facts of the page: the top document's, and those of every frame a
/// visitor sees, placed in the top page (each text and link names the
/// frame it came from). A frame that cannot be read is left out (logged):
/// the top document decides whether the render succeeded.
async fn extract_page(
    page: &Page,
    main_frame: &FrameId,
    world: Option<ExecutionContextId>,
    end: Instant,
) -> Result<Extracted, ExtractError> {
    let (mut top, top_context) = extract(page, main_frame, world, end).await?;
    let tree = match command(page, GetFrameTreeParams::default(), end).await {
        Ok(reply) => reply.frame_tree,
        Err(e) => {
            tracing::debug!(error = ?e, "no frame tree; reading the top document only");
            return Ok(top);
        }
    };
    // (frame tree node, its parent's isolated world, whether its texts are
    // at the bottom whatever its own document says, depth)
    let mut queue: Vec<(FrameTree, ExecutionContextId, Option<bool>, usize)> = tree
        .child_frames
        .unwrap_or_default()
        .into_iter()
        .map(|child| (child, top_context, None, 1))
        .collect();
    let mut read = 0;
    let mut placed = 0;
    while let Some((node, parent_context, footer_override, depth)) = queue.pop() {
        if read >= MAX_FRAMES || placed >= MAX_PLACED_FRAMES || Instant::now() >= end {
            break;
        }
        placed += 1;
        let frame_id = node.frame.id.clone();
        let frame_url = node.frame.url.clone();
        let Some(placement) = place_frame(page, &frame_id, parent_context, end).await else {
            continue;
        };
        if !placement.visible {
            continue;
        }
        // In a frame that fills the window, the frame's own document says
        // what is at its bottom; in a smaller one, where the frame sits does.
        let in_footer = if placement.fills_window() {
            footer_override
        } else {
            Some(footer_override.unwrap_or(placement.in_footer))
        };
        read += 1;
        let Ok((facts, context)) = extract(page, &frame_id, None, end).await else {
            tracing::debug!(frame = %frame_url, "frame not read");
            continue;
        };
        for mut block in facts.blocks {
            block.frame = Some(frame_url.clone());
            for segment in &mut block.segments {
                if let Some(footer) = in_footer {
                    segment.in_footer = footer;
                }
            }
            top.blocks.push(block);
        }
        for mut link in facts.links {
            link.frame = Some(frame_url.clone());
            if let Some(footer) = in_footer {
                link.in_footer = footer;
            }
            top.links.push(link);
        }
        top.empty &= facts.empty;
        if depth < MAX_FRAME_DEPTH {
            for child in node.child_frames.unwrap_or_default() {
                queue.push((child, context, in_footer, depth + 1));
            }
        }
    }
    Ok(top)
}

/// Where `frame`'s owner element sits in its parent document (whose
/// isolated world is `parent_context`), or `None` when it cannot be told.
async fn place_frame(
    page: &Page,
    frame: &FrameId,
    parent_context: ExecutionContextId,
    end: Instant,
) -> Option<Placement> {
    let owner = command(page, GetFrameOwnerParams::new(frame.clone()), end)
        .await
        .map_err(|e| tracing::debug!(error = ?e, "frame owner unknown"))
        .ok()?;
    let resolve = ResolveNodeParams {
        backend_node_id: Some(owner.backend_node_id),
        execution_context_id: Some(parent_context),
        ..ResolveNodeParams::default()
    };
    let object = command(page, resolve, end)
        .await
        .map_err(|e| tracing::debug!(error = ?e, "frame owner not resolved"))
        .ok()?
        .object
        .object_id?;
    let mut call = CallFunctionOnParams::new(EXTRACT_FN);
    call.object_id = Some(object);
    call.return_by_value = Some(true);
    call.silent = Some(true);
    let reply = command(page, call, end)
        .await
        .map_err(|e| tracing::debug!(error = ?e, "frame owner not placed"))
        .ok()?;
    if reply.exception_details.is_some() {
        return None;
    }
    serde_json::from_value(reply.result.value?).ok()
}

/// A fresh isolated world in `frame` (see extract.js).
async fn isolated_world(
    page: &Page,
    frame: &FrameId,
    end: Instant,
) -> Result<ExecutionContextId, ExtractError> {
    let mut world = CreateIsolatedWorldParams::new(frame.clone());
    world.world_name = Some(WORLD_NAME.to_owned());
    match command(page, world, end).await {
        Ok(reply) => Ok(reply.execution_context_id),
        Err(CommandError::Timeout) => Err(ExtractError::Hung),
        Err(CommandError::Cdp(e)) => Err(ExtractError::Retry(e)),
    }
}

/// One document's facts (extract.js in an isolated world of `frame`:
/// `world`, or a new one), and that world.
async fn extract(
    page: &Page,
    frame: &FrameId,
    world: Option<ExecutionContextId>,
    end: Instant,
) -> Result<(Extracted, ExecutionContextId), ExtractError> {
    let context = match world {
        Some(context) => context,
        None => isolated_world(page, frame, end).await?,
    };
    let mut params = EvaluateParams::new(EXTRACT_JS);
    params.context_id = Some(context);
    params.await_promise = Some(true);
    let left = end.saturating_duration_since(Instant::now());
    params.timeout = Some(TimeDelta::new(left.as_secs_f64() * 1000.0));
    let value = match evaluate(page, params, end).await {
        Ok(value) => value,
        Err(EvalError::Timeout) => return Err(ExtractError::Hung),
        // Runtime.evaluate's own `timeout` stopped extract.js: the page
        // left it no time (a renderer pegged by the site's scripts).
        Err(EvalError::Exception(e)) if e.contains("terminated") => return Err(ExtractError::Hung),
        Err(EvalError::Cdp(e)) if e.contains("context") => return Err(ExtractError::Retry(e)),
        Err(EvalError::Cdp(e) | EvalError::Exception(e)) => {
            return Err(ExtractError::Failed(BrowserError::protocol(
                "extract.js",
                e,
            )))
        }
    };
    let facts = serde_json::from_value(value)
        .map_err(|e| ExtractError::Failed(BrowserError::protocol("extract.js result", e)))?;
    Ok((facts, context))
}

// ---------------------------------------------------------------------------
// Evidence

/// Longest a `--evidence` screenshot may take (on top of the target's budget:
/// it is taken after extraction, only when asked for).
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(5);

/// A PNG of the bottom of the rendered page — the last viewport-height of
/// the document, where the filing number must be — at one image pixel per
/// CSS pixel. `None` (logged) when it cannot be taken: evidence never turns
/// a render into a failure. Runs no script in the page.
pub(crate) async fn screenshot_bottom(page: &Page, profile: &DeviceProfile) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use chromiumoxide::cdp::browser_protocol::page::{
        CaptureScreenshotFormat, CaptureScreenshotParams, GetLayoutMetricsParams, Viewport,
    };
    let end = Instant::now() + SCREENSHOT_TIMEOUT;
    let metrics = match command(page, GetLayoutMetricsParams::default(), end).await {
        Ok(metrics) => metrics,
        Err(e) => {
            tracing::debug!(error = ?e, "layout metrics for the screenshot failed");
            return None;
        }
    };
    let content = &metrics.css_content_size;
    let viewport = &metrics.css_layout_viewport;
    #[expect(clippy::cast_precision_loss, reason = "CSS pixel sizes")]
    let (view_width, view_height) = (viewport.client_width as f64, viewport.client_height as f64);
    let width = view_width.max(1.0);
    let height = view_height.min(content.height).max(1.0);
    let params = CaptureScreenshotParams {
        format: Some(CaptureScreenshotFormat::Png),
        clip: Some(Viewport {
            x: 0.0,
            y: (content.height - height).max(0.0),
            width,
            height,
            scale: 1.0 / profile.device_scale_factor.max(1.0),
        }),
        capture_beyond_viewport: Some(true),
        from_surface: Some(true),
        ..CaptureScreenshotParams::default()
    };
    let shot = match command(page, params, end).await {
        Ok(shot) => shot,
        Err(e) => {
            tracing::debug!(error = ?e, "screenshot failed");
            return None;
        }
    };
    let data: &str = shot.data.as_ref();
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .inspect_err(|e| tracing::debug!(error = %e, "screenshot is not base64"))
        .ok()
}

// ---------------------------------------------------------------------------
// Commands under deadlines

/// A command that did not answer in time, or answered with an error.
#[derive(Debug)]
pub(crate) enum CommandError {
    Timeout,
    Cdp(String),
}

impl CommandError {
    fn crawler(self, step: &str) -> RenderError {
        match self {
            CommandError::Timeout => BrowserError::protocol(step, "timed out").into(),
            CommandError::Cdp(e) => BrowserError::protocol(step, e).into(),
        }
    }
}

/// Run `fut` until `deadline`; `None` when it did not finish.
pub(crate) async fn timed<F: std::future::Future>(fut: F, deadline: Instant) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, fut).await.ok()
}

/// [`command`], unless `done` says the page has it already.
async fn unless<T: Command>(
    done: bool,
    page: &Page,
    cmd: T,
    deadline: Instant,
) -> Result<Option<T::Response>, CommandError> {
    if done {
        return Ok(None);
    }
    command(page, cmd, deadline).await.map(Some)
}

/// Send `cmd` to `page` and wait for its reply until `deadline`.
pub(crate) async fn command<T: Command>(
    page: &Page,
    cmd: T,
    deadline: Instant,
) -> Result<T::Response, CommandError> {
    match timed(page.execute(cmd), deadline).await {
        Some(Ok(reply)) => Ok(reply.result),
        Some(Err(e)) => Err(CommandError::Cdp(e.to_string())),
        None => Err(CommandError::Timeout),
    }
}

enum EvalError {
    Timeout,
    Cdp(String),
    Exception(String),
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Timeout => f.write_str("timed out"),
            EvalError::Cdp(e) => write!(f, "protocol: {e}"),
            EvalError::Exception(e) => write!(f, "exception: {e}"),
        }
    }
}

/// `Runtime.evaluate` by value; the value, or why there is none.
async fn evaluate(
    page: &Page,
    mut params: EvaluateParams,
    deadline: Instant,
) -> Result<serde_json::Value, EvalError> {
    params.return_by_value = Some(true);
    params.silent = Some(true);
    let reply = match command(page, params, deadline).await {
        Ok(reply) => reply,
        Err(CommandError::Timeout) => return Err(EvalError::Timeout),
        Err(CommandError::Cdp(e)) => return Err(EvalError::Cdp(e)),
    };
    if let Some(exception) = reply.exception_details {
        let text = exception
            .exception
            .and_then(|e| e.description)
            .unwrap_or(exception.text);
        return Err(EvalError::Exception(text));
    }
    Ok(reply.result.value.unwrap_or(serde_json::Value::Null))
}
