//! Rendering one target on a page (fresh, or a record's tab after its last
//! render): emulate the device, navigate, settle (`settle`), extract
//! (`extract`), and the verdict on what arrived. Produces a
//! [`PageSnapshot`] or says whose fault it is that there is none;
//! recognises nothing.
//!
//! Every step runs under a deadline derived from the target's budget:
//! navigation and settling get [`SETTLE_SHARE`] of it, extraction the rest.

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::inspector;
use chromiumoxide::cdp::browser_protocol::log::DisableParams as LogDisableParams;
use chromiumoxide::cdp::browser_protocol::page::{
    AddScriptToEvaluateOnNewDocumentParams, FrameId, NavigateParams,
};
use chromiumoxide::cdp::browser_protocol::performance::DisableParams as PerformanceDisableParams;
use chromiumoxide::Page;
use tokio::sync::watch;
use tokio::time::Instant;

use super::cdp::{timed, unless, CommandError};
use super::device::DeviceProfile;
use super::extract::{extract_page, ExtractError};
use super::guard_view::{self, block_local_schemes, pause_requests};
use super::settle::{answers, reveal, settle, SETTLE_JS};
use super::tracker::{pump, subscribe, NavState, Tracker};
use super::RenderError;
use crate::fault::http_status;
use crate::guard::Session;
use crate::page::{PageSnapshot, Unreachable};

/// A page that showed a document this big is not reused: leaving a DOM of
/// hundreds of thousands of nodes takes its renderer seconds (6 s for a
/// 20 MB page on a busy 2-core machine), which would be charged to the
/// next target's budget; a fresh page costs a few hundred milliseconds.
const HEAVY_DOCUMENT: u64 = 4 << 20;

/// Share of the budget for navigation and settling; the rest is kept for
/// extraction, which must run even when settling never ends.
pub(crate) const SETTLE_SHARE: f64 = 0.85;
/// How long a render that read its page waits for chromiumoxide's answer
/// to its `Page.navigate` before giving up reusing the page.
const NAVIGATE_REPLY_GRACE: Duration = Duration::from_millis(250);
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
/// `tab::Tab`).
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
        if let Some(joined) = rx.borrow().joined(job.join_at) {
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
    if let Some(joined) = rx.borrow().joined(job.join_at) {
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
    if let Some(joined) = rx.borrow().joined(job.join_at) {
        return Ok(joined);
    }
    // 3. What an inspector does next (see `reveal`).
    let mut world = if settled.quiet {
        reveal(page, rx, &main_frame, settle_end, job.join_at, &mut settled).await?
    } else {
        None
    };
    if let Some(joined) = rx.borrow().joined(job.join_at) {
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
                if let Some(joined) = rx.borrow().joined(job.join_at) {
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
    if let Some(joined) = tracker.joined(job.join_at) {
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
        && http_status(snapshot.status).is_none()
        && extracted.title.trim().is_empty()
    {
        return Err(Unreachable::EmptyDocument.into());
    }
    snapshot.final_url = extracted.url;
    snapshot.title = extracted.title;
    snapshot.blocks = extracted.blocks;
    snapshot.links = extracted.links;
    snapshot.headings = extracted.headings;
    snapshot.unsettled = settled.why_not();
    Ok(snapshot)
}
