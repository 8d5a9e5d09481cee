//! A [`Tab`]: one page kept for several renders in a row (a record's
//! targets), each a first visit; its browser context with a guard session
//! of its own; what a render takes ([`RenderOptions`]) and gives
//! ([`Rendered`]).

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::{
    BrowserContextId, GetVersionParams, SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::cdp::browser_protocol::network::ClearBrowserCacheParams;
use chromiumoxide::cdp::browser_protocol::storage::{ClearCookiesParams, ClearDataForOriginParams};
use chromiumoxide::cdp::browser_protocol::target::{
    CloseTargetParams, CreateBrowserContextParams, CreateTargetParams, DisposeBrowserContextParams,
};
use chromiumoxide::cdp::js_protocol::heap_profiler::CollectGarbageParams;
use chromiumoxide::cdp::js_protocol::runtime::GetHeapUsageParams;
use chromiumoxide::Page;
use tokio::time::Instant;

use super::cdp::timed;
use super::device::DeviceProfile;
use super::instance::{Instance, BROWSER_COMMAND_TIMEOUT, TEARDOWN_TIMEOUT};
use super::pool::{BrowserPool, Lease};
use super::render::{self, PageSetup, RenderJob};
use super::screenshot::screenshot_bottom;
use super::{BrowserError, RenderError};
use crate::guard::Session;
use crate::page::{PageSnapshot, Unreachable};
use crate::targets::{Device, Target};

/// How long a browser may take to answer whether it is still there, after
/// a render failed the way a dead browser's renders fail (see
/// `OpenTab::render`).
const DEATH_NEWS: Duration = Duration::from_secs(1);

/// What a render captures besides the page facts.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Also take a PNG of the bottom of the page (`--evidence`): one more
    /// CDP round trip and an encode, so only when asked for.
    pub screenshot_bottom: bool,
    /// A rate limit to wait for right before `Page.navigate` (`--rate`):
    /// there, and not before the page is set up, so that the loads a server
    /// sees are spread as evenly as the limit says. The wait does not count
    /// against the target's budget.
    pub navigate_gate: Option<Arc<governor::DefaultDirectRateLimiter>>,
    /// A URL another render of the same device already landed on (the
    /// `www.` page an apex redirects to): when this navigation's document
    /// request reaches it, the render stops there and returns the redirect
    /// facts marked [`crate::page::PageSnapshot::joined`], instead of rendering the same
    /// page twice.
    pub join_at: Option<String>,
}

/// A render's page facts, and what [`RenderOptions`] asked for.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The page facts.
    pub snapshot: PageSnapshot,
    /// The PNG of the page's bottom, when asked for and it could be taken.
    pub screenshot: Option<Vec<u8>>,
}

/// A page kept open for several renders in a row: the targets of one
/// record render one after another in it.
///
/// Opening a page is half of what a plain visit costs Chromium (a browser
/// context, a target and a renderer process: about 0.12 CPU s of a visit's
/// 0.25 in `bench-floor` on this project's benchmark machine), and a
/// record's `www.` and apex hosts are one site, so their renders in one page
/// share one renderer process as well.
///
/// Each render still starts as a first visit: before it, the context's
/// cookies and the storage of the origins the last render went through are
/// cleared, and the HTTP cache when the device changes (it is kept between
/// `www.` and the apex of one device, and so is the tab's session
/// storage). After a
/// failed render, one whose page never loaded (see `PageSetup::reusable`),
/// or once its browser is being recycled, the page is closed and the next
/// render opens a fresh one.
pub struct Tab<'p> {
    /// Where its pages come from.
    pool: &'p BrowserPool,
    /// Its page, between renders.
    open: Option<OpenTab>,
}

impl<'p> Tab<'p> {
    /// A tab of `pool` for several renders in a row, such as the targets of
    /// one record. It opens a page at its first render.
    #[must_use]
    pub fn new(pool: &'p BrowserPool) -> Tab<'p> {
        Tab { pool, open: None }
    }

    /// Render `url` as `target.device` within `budget` in this tab, and
    /// capture what `options` ask for while the page is open. Once: retries
    /// are the scan's.
    ///
    /// Every render is a first visit (see [`Tab`]), on the live browser with
    /// the fewest pages in flight when the tab opens a page.
    ///
    /// # Errors
    ///
    /// [`RenderError`]: whose fault it is that the target has no page.
    pub async fn render(
        &mut self,
        target: &Target,
        url: &str,
        budget: Duration,
        options: RenderOptions,
    ) -> Result<Rendered, RenderError> {
        let started = Instant::now();
        let open = self.ready(url, target.device, started + budget).await?;
        let profile = DeviceProfile::for_device(target.device, &open.lease.instance.version);
        let job = RenderJob {
            url,
            profile: &profile,
            budget,
            started,
            gate: options.navigate_gate.as_deref(),
            join_at: options.join_at.as_deref(),
        };
        let mut result = open.render(&job, &options).await;
        if let Err(RenderError::Site(Unreachable::RendererCrashed)) = result {
            let limit = open.lease.page_memory();
            let instance = &open.lease.instance;
            if let Some(why) = instance.out_of_memory(&open.page, started, limit).await {
                result = Err(RenderError::Site(why));
            }
        }
        // A page that cannot take the next render goes now, not when
        // that render comes (its teardown would eat that budget).
        if result.is_err() || !open.setup.reusable() || !open.lease.usable() {
            self.close_page().await;
        }
        result
    }

    /// Close the tab's page, if it has one.
    pub async fn close(mut self) {
        self.close_page().await;
    }

    /// Close the page, if there is one; the next render opens another.
    async fn close_page(&mut self) {
        if let Some(open) = self.open.take() {
            open.close().await;
        }
    }

    /// The open page, made ready for a new render of `url` on `device`, or
    /// a fresh one.
    async fn ready(
        &mut self,
        url: &str,
        device: Device,
        end: Instant,
    ) -> Result<&mut OpenTab, RenderError> {
        // Reset in place: a record cancelled meanwhile still closes the page
        // (see `Drop`).
        // A page that could not take it was closed after its last render;
        // only its browser may have started recycling since.
        let reused = match self.open.as_mut() {
            Some(open) => open.lease.usable() && open.reset(device).await,
            None => false,
        };
        if reused {
            let open = self.open.as_mut().expect("a page to reuse");
            open.lease.count_render();
            tracing::debug!(pid = open.lease.instance.pid, url, "page reused");
            return Ok(open);
        }
        self.close_page().await;
        let lease = self.pool.lease(end).await?;
        lease.count_render();
        let open = OpenTab::open(lease, end).await?;
        tracing::debug!(pid = open.lease.instance.pid, url, "page opened");
        Ok(self.open.insert(open))
    }
}

impl Drop for Tab<'_> {
    fn drop(&mut self) {
        // Dropped without `close` (a cancelled record): close it anyway.
        if let (Some(open), Ok(runtime)) = (self.open.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(open.close());
        }
    }
}

/// A tab's page: a browser context with a guard session of its own (its
/// proxy sees this page's requests and no other's), one page in it.
struct OpenTab {
    lease: Lease,
    context: BrowserContextId,
    session: Session,
    page: Page,
    /// What earlier renders set up on the page.
    setup: PageSetup,
    /// The origins the last render's document passed through and ended
    /// on, whose storage the next clears.
    origins: Vec<String>,
}

impl OpenTab {
    /// A new browser context on `lease`'s browser, with a guard session of
    /// its own and downloads denied, and one blank page in it; by `end`.
    async fn open(lease: Lease, end: Instant) -> Result<OpenTab, RenderError> {
        let instance = &lease.instance;
        let browser = &instance.browser;
        let hang_at = Instant::now() + BROWSER_COMMAND_TIMEOUT;
        let setup_end = hang_at.min(end);
        let session = lease
            .session()
            .await
            .map_err(|e| BrowserError::protocol("network guard session", e))?;
        let create = CreateBrowserContextParams {
            dispose_on_detach: Some(true),
            proxy_server: Some(session.server()),
            proxy_bypass_list: Some("<-loopback>".to_owned()),
            ..CreateBrowserContextParams::default()
        };
        let context = match timed(browser.execute(create), setup_end).await {
            Some(Ok(reply)) => reply.result.browser_context_id,
            Some(Err(e)) => {
                return Err(instance
                    .protocol_error("Target.createBrowserContext", e)
                    .into())
            }
            None => {
                return Err(instance
                    .hung("Target.createBrowserContext", hang_at)
                    .await
                    .into())
            }
        };
        let page = async {
            let mut deny = SetDownloadBehaviorParams::new(SetDownloadBehaviorBehavior::Deny);
            deny.browser_context_id = Some(context.clone());
            match timed(browser.execute(deny), setup_end).await {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return Err(instance.protocol_error("Browser.setDownloadBehavior", e))
                }
                None => return Err(instance.hung("Browser.setDownloadBehavior", hang_at).await),
            }
            let mut params = CreateTargetParams::new("about:blank");
            params.browser_context_id = Some(context.clone());
            match timed(browser.new_page(params), setup_end).await {
                Some(Ok(page)) => Ok(page),
                Some(Err(e)) => Err(instance.protocol_error("Target.createTarget", e)),
                None => Err(instance.hung("Target.createTarget", hang_at).await),
            }
        }
        .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                dispose(instance, context).await;
                return Err(e.into());
            }
        };
        Ok(OpenTab {
            lease,
            context,
            session,
            page,
            setup: PageSetup::default(),
            origins: Vec::new(),
        })
    }

    /// One render on the page; a browser that died under it is a crash.
    async fn render(
        &mut self,
        job: &RenderJob<'_>,
        options: &RenderOptions,
    ) -> Result<Rendered, RenderError> {
        let instance = &self.lease.instance;
        let result = tokio::select! {
            result = render::render(&self.page, job, &self.session, &mut self.setup) => result,
            () = instance.died() => Err(instance.crashed().into()),
        };
        tracing::trace!(elapsed = ?job.started.elapsed(), "rendered");
        let snapshot = match result {
            Ok(snapshot) => snapshot,
            // A browser killed under the render fails its commands (seen as
            // a protocol error, or as an extraction whose world kept
            // vanishing) a moment before the pool hears the connection end:
            // ask it.
            Err(
                e @ (RenderError::Crawler(BrowserError::Protocol { .. })
                | RenderError::Site(Unreachable::ScriptHung)),
            ) => {
                let asked = instance.browser.execute(GetVersionParams::default());
                let answered = timed(asked, Instant::now() + DEATH_NEWS).await;
                if !instance.is_alive() || !matches!(answered, Some(Ok(_))) {
                    return Err(instance.crashed().into());
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let screenshot = if options.screenshot_bottom {
            screenshot_bottom(&self.page, job.profile).await
        } else {
            None
        };
        self.origins.clear();
        for url in snapshot.redirects.iter().chain([&snapshot.final_url]) {
            let origin = url::Url::parse(url).ok().map(|u| u.origin());
            if let Some(origin) = origin.filter(url::Origin::is_tuple) {
                let origin = origin.ascii_serialization();
                if !self.origins.contains(&origin) {
                    self.origins.push(origin);
                }
            }
        }
        Ok(Rendered {
            snapshot,
            screenshot,
        })
    }

    /// Make the page a first visit again, on `device`; `false` when it
    /// cannot be.
    ///
    /// The HTTP cache is kept for renders on the same device, and emptied
    /// when the device changes: a server that picks the page by user agent
    /// without saying `Vary: User-Agent` would otherwise hand the phone the
    /// desktop page (or the desktop's redirect) from the cache.
    async fn reset(&mut self, device: Device) -> bool {
        let end = Instant::now() + TEARDOWN_TIMEOUT;
        let cookies = ClearCookiesParams {
            browser_context_id: Some(self.context.clone()),
        };
        let cookies = async {
            matches!(
                timed(self.lease.instance.browser.execute(cookies), end).await,
                Some(Ok(_))
            )
        };
        let storage = futures::future::join_all(self.origins.iter().map(|origin| async {
            let clear = ClearDataForOriginParams::new(origin.clone(), FIRST_VISIT_STORAGE);
            matches!(timed(self.page.execute(clear), end).await, Some(Ok(_)))
        }));
        let profile = DeviceProfile::for_device(device, &self.lease.instance.version);
        let same_device = self.setup.emulates(&profile);
        let cache = async {
            if same_device {
                return true;
            }
            let clear = ClearBrowserCacheParams::default();
            matches!(timed(self.page.execute(clear), end).await, Some(Ok(_)))
        };
        let gc = async {
            let heap = match timed(self.page.execute(GetHeapUsageParams::default()), end).await {
                Some(Ok(usage)) => usage.result.total_size + usage.result.embedder_heap_used_size,
                _ => return,
            };
            tracing::trace!(
                heap_mib = heap / f64::from(1 << 20),
                "page heap before reuse"
            );
            if heap > GC_PAST {
                let _ = timed(self.page.execute(CollectGarbageParams::default()), end).await;
            }
        };
        let (cookies, storage, cache, ()) = tokio::join!(cookies, storage, cache, gc);
        self.session.begin_render();
        cookies && storage.into_iter().all(|cleared| cleared) && cache
    }

    /// Close the page and dispose of its context.
    async fn close(self) {
        let instance = &self.lease.instance;
        // Closing the target rather than Page.close: the latter runs
        // beforeunload handlers and can hang.
        let _ = timed(
            instance
                .browser
                .execute(CloseTargetParams::new(self.page.target_id().clone())),
            Instant::now() + TEARDOWN_TIMEOUT,
        )
        .await;
        dispose(instance, self.context).await;
    }
}

/// A page reused with more than this in its heaps (V8's and Blink's) is
/// garbage-collected first. V8 collects when it needs room, not when a
/// document is left, so a page reused for a record's four renders held the
/// garbage of the earlier ones: a portal homepage's renderer measured
/// 163–214 MiB PSS in the scan against 44–81 MiB loaded once, and 103–138
/// MiB with this collection (README "Memory and the page level"). A light
/// page's heaps (a few MiB) are not worth the CPU of a full collection.
const GC_PAST: f64 = 16.0 * 1024.0 * 1024.0;

/// The storage `OpenTab::reset` clears for the origins a render went through
/// (`Storage.clearDataForOrigin`'s list; cookies are cleared for the
/// whole context).
const FIRST_VISIT_STORAGE: &str =
    "local_storage,indexeddb,service_workers,cache_storage,file_systems,websql";

/// Dispose of `context` on `instance` (when it is still there), bounded.
async fn dispose(instance: &Instance, context: BrowserContextId) {
    if !instance.is_alive() {
        return;
    }
    let disposed = timed(
        instance
            .browser
            .execute(DisposeBrowserContextParams::new(context)),
        Instant::now() + TEARDOWN_TIMEOUT,
    )
    .await;
    match disposed {
        Some(Ok(_)) => {}
        Some(Err(e)) => {
            tracing::debug!(pid = instance.pid, error = %e, "disposing a browser context failed");
        }
        None => tracing::debug!(pid = instance.pid, "disposing a browser context timed out"),
    }
}
