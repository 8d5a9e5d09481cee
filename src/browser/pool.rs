//! `BrowserPool`: N Chromium processes, each rendering several pages at
//! once, each page in its own browser context; a [`Tab`] keeps its page for
//! several renders in a row (a record's targets). A browser that dies is
//! replaced; the targets that were on it get [`BrowserError::Crashed`] so
//! the scan can retry them. A browser that served its quota of pages or
//! grew past its memory limit ([`RecyclePolicy`]) is recycled: a fresh one
//! is started, takes its place for new pages, and the old one closes after
//! its last page, failing none of them.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::{
    BrowserContextId, CloseParams, GetVersionParams, SetDownloadBehaviorBehavior,
    SetDownloadBehaviorParams,
};
use chromiumoxide::cdp::browser_protocol::network::ClearBrowserCacheParams;
use chromiumoxide::cdp::browser_protocol::storage::{ClearCookiesParams, ClearDataForOriginParams};
use chromiumoxide::cdp::browser_protocol::target::{
    CloseTargetParams, CreateBrowserContextParams, CreateTargetParams, DisposeBrowserContextParams,
    EventTargetCreated,
};
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::device::{BrowserVersion, DeviceProfile};
use super::launch::{ChromeProcess, LAUNCH_TIMEOUT};
use super::recycle::{self, RecyclePolicy, RecycleReason};
use super::render::{self, timed, PageSetup, RenderJob};
use super::{BrowserError, ChromeConfig, RenderError};
use crate::guard::{Policy, Proxy, ProxyConfig, Session};
use crate::page::{PageSnapshot, Unreachable};
use crate::targets::{Device, Target};

/// Longest a browser-level command (context, page creation) may take before
/// the browser counts as hung and is replaced.
const BROWSER_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a page teardown may take; the browser finishes it on its own.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a closing browser may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
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
    /// The page facts, as [`BrowserPool::render`] returns them.
    pub snapshot: PageSnapshot,
    /// The PNG of the page's bottom, when asked for and it could be taken.
    pub screenshot: Option<Vec<u8>>,
}

/// A pool of Chromium processes. `Send + Sync`: render from many tasks
/// through `&self`.
pub struct BrowserPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    config: ChromeConfig,
    /// The network guard every browser and every page goes through.
    guard: Proxy,
    slots: Vec<Slot>,
    closed: AtomicBool,
    /// Woken whenever a slot changes state.
    changed: Notify,
    /// Relaunches, recycles and retirements in progress, awaited by `close`.
    background: Mutex<Vec<JoinHandle<()>>>,
    generations: AtomicU64,
    /// When browsers are recycled.
    recycle: RecyclePolicy,
    /// Recycled browsers out of their slot, with pages still in flight.
    draining: Mutex<Vec<Arc<Instance>>>,
    /// Samples the browsers' memory (when there is a limit).
    monitor: Mutex<Option<JoinHandle<()>>>,
}

struct Slot {
    state: Mutex<SlotState>,
}

enum SlotState {
    Live(Arc<Instance>),
    Starting,
    Down(String),
}

/// One connected Chromium.
struct Instance {
    browser: Browser,
    pid: u32,
    generation: u64,
    version: BrowserVersion,
    alive: watch::Receiver<bool>,
    process: tokio::sync::Mutex<Option<ChromeProcess>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Pages in flight on it.
    in_flight: AtomicUsize,
    /// Pages it has rendered.
    pages: AtomicU64,
    /// A replacement is being started for it.
    recycling: AtomicBool,
    /// Out of its slot: takes no new page, closes after its last one.
    draining: AtomicBool,
    /// Its shutdown has started.
    retired: AtomicBool,
}

impl Instance {
    fn is_alive(&self) -> bool {
        *self.alive.borrow()
    }

    /// Resolves once the browser's connection has ended.
    async fn died(&self) {
        let mut alive = self.alive.clone();
        let _ = alive.wait_for(|a| !*a).await;
    }

    /// Kill a browser that stopped answering; its handler then ends and the
    /// pool replaces it.
    async fn kill(&self) {
        tracing::warn!(pid = self.pid, "killing an unresponsive Chromium");
        if let Some(process) = self.process.lock().await.take() {
            process.kill().await;
        }
    }

    /// Close the browser, kill what remains of it, remove its profile.
    async fn shutdown(&self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.browser.execute(CloseParams::default()),
        )
        .await;
        if let Some(process) = self.process.lock().await.take() {
            process.wait_or_kill(EXIT_GRACE).await;
        }
        self.abort_tasks();
    }

    fn abort_tasks(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.abort_tasks();
    }
}

/// A browser chosen for one tab; counts as one page in flight.
struct Lease {
    pool: Arc<PoolInner>,
    instance: Arc<Instance>,
    slot: usize,
}

impl Lease {
    /// Whether the browser still takes pages (alive, not being recycled).
    fn usable(&self) -> bool {
        self.instance.is_alive() && !self.instance.draining.load(Ordering::SeqCst)
    }

    /// Count one more render on the browser; start its recycle when that
    /// was its quota.
    fn count_render(&self) {
        let pages = self.instance.pages.fetch_add(1, Ordering::AcqRel) + 1;
        if let Some(reason) = self.pool.recycle.reason(pages, None) {
            start_recycle(&self.pool, self.slot, &self.instance, reason);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // SeqCst here and in `recycle`: one of the two sees both the last
        // page gone and the browser draining, and retires it.
        let left = self.instance.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
        if left == 0 && self.instance.draining.load(Ordering::SeqCst) {
            retire(&self.pool, &self.instance);
        }
    }
}

impl BrowserPool {
    /// Start `browsers` Chromium processes (at least one).
    ///
    /// Their network guard applies `config.resolve` and refuses internal
    /// addresses; [`BrowserPool::launch_behind`] takes a guard of your own.
    /// Browsers are recycled by [`RecyclePolicy::default`].
    ///
    /// # Errors
    ///
    /// [`BrowserError::Launch`] when the network guard or a browser cannot
    /// be started.
    pub async fn launch(
        config: ChromeConfig,
        browsers: usize,
    ) -> Result<BrowserPool, BrowserError> {
        let policy = Policy {
            resolve: config.resolve.clone(),
            allow_private: false,
        };
        let guard =
            Proxy::start(ProxyConfig::new(policy))
                .await
                .map_err(|e| BrowserError::Launch {
                    path: config.executable.display().to_string(),
                    reason: format!("cannot start the network guard: {e}"),
                })?;
        Self::launch_behind(config, browsers, guard, RecyclePolicy::default()).await
    }

    /// Start `browsers` Chromium processes (at least one) whose every
    /// connection goes through `guard`, the pool's from now on, and which
    /// are recycled as `recycle` says.
    ///
    /// # Errors
    ///
    /// [`BrowserError::Launch`] when a browser cannot be started (the ones
    /// that did start are closed again).
    pub async fn launch_behind(
        config: ChromeConfig,
        browsers: usize,
        guard: Proxy,
        recycle: RecyclePolicy,
    ) -> Result<BrowserPool, BrowserError> {
        let count = browsers.max(1);
        let inner = Arc::new(PoolInner {
            config,
            guard,
            slots: (0..count)
                .map(|_| Slot {
                    state: Mutex::new(SlotState::Starting),
                })
                .collect(),
            closed: AtomicBool::new(false),
            changed: Notify::new(),
            background: Mutex::new(Vec::new()),
            generations: AtomicU64::new(0),
            recycle,
            draining: Mutex::new(Vec::new()),
            monitor: Mutex::new(None),
        });
        let started =
            futures::future::join_all((0..count).map(|slot| launch_instance(&inner, slot))).await;
        let mut failure = None;
        for (slot, result) in started.into_iter().enumerate() {
            match result {
                Ok(instance) => set_state(&inner, slot, SlotState::Live(instance)),
                Err(err) => {
                    set_state(&inner, slot, SlotState::Down(err.to_string()));
                    failure.get_or_insert(err);
                }
            }
        }
        let pool = BrowserPool { inner };
        if let Some(err) = failure {
            pool.close().await;
            return Err(err);
        }
        if pool.inner.recycle.memory_limit.is_some() {
            let every = pool.inner.recycle.sample_every;
            let task = tokio::spawn(watch_memory(Arc::downgrade(&pool.inner), every));
            *lock(&pool.inner.monitor) = Some(task);
        }
        Ok(pool)
    }

    /// Render `url` as `target.device` within `budget` and extract its facts.
    ///
    /// Each call gets a fresh browser context (no cookies or storage shared
    /// between sites) on the live browser with the fewest pages in flight.
    ///
    /// # Errors
    ///
    /// [`RenderError`]: whose fault it is that the target has no page.
    pub async fn render(
        &self,
        target: &Target,
        url: &str,
        budget: Duration,
    ) -> Result<PageSnapshot, RenderError> {
        let rendered = self
            .render_with(target, url, budget, RenderOptions::default())
            .await?;
        Ok(rendered.snapshot)
    }

    /// [`BrowserPool::render`], plus what `options` ask to capture while the
    /// page is still open (a screenshot for `--evidence`).
    ///
    /// # Errors
    ///
    /// [`RenderError`]: whose fault it is that the target has no page.
    pub async fn render_with(
        &self,
        target: &Target,
        url: &str,
        budget: Duration,
        options: RenderOptions,
    ) -> Result<Rendered, RenderError> {
        let mut tab = self.tab();
        let rendered = tab.render_with(target, url, budget, options).await;
        tab.close().await;
        rendered
    }

    /// A tab for several renders in a row, such as the targets of one record
    /// (see [`Tab`]). It opens a page at its first render.
    #[must_use]
    pub fn tab(&self) -> Tab<'_> {
        Tab {
            pool: self,
            open: None,
        }
    }

    /// Process ids of the pool's live browsers (for tests and diagnostics);
    /// a recycled browser still finishing its pages is not among them.
    #[must_use]
    pub fn pids(&self) -> Vec<u32> {
        self.inner
            .slots
            .iter()
            .filter_map(|slot| match &*lock(&slot.state) {
                SlotState::Live(instance) if instance.is_alive() => Some(instance.pid),
                _ => None,
            })
            .collect()
    }

    /// Close every browser, kill stragglers and remove their profiles.
    pub async fn close(self) {
        let inner = self.inner;
        inner.closed.store(true, Ordering::Release);
        inner.changed.notify_waiters();
        if let Some(monitor) = lock(&inner.monitor).take() {
            monitor.abort();
        }
        // A task may start another while we wait (a recycle retires the
        // browser it replaced): wait until none is left.
        loop {
            let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&inner.background));
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                let _ = tokio::time::timeout(LAUNCH_TIMEOUT + BROWSER_COMMAND_TIMEOUT, task).await;
            }
        }
        let mut instances: Vec<Arc<Instance>> = inner
            .slots
            .iter()
            .filter_map(|slot| {
                match std::mem::replace(
                    &mut *lock(&slot.state),
                    SlotState::Down("closed".to_owned()),
                ) {
                    SlotState::Live(instance) => Some(instance),
                    _ => None,
                }
            })
            .collect();
        instances.append(&mut lock(&inner.draining));
        futures::future::join_all(instances.iter().map(|i| i.shutdown())).await;
        tracing::debug!(browsers = instances.len(), "browser pool closed");
    }

    /// The live browser with the fewest pages in flight, relaunching a dead
    /// one when none is live; waits for a starting one until `end`.
    async fn lease(&self, end: Instant) -> Result<Lease, BrowserError> {
        let inner = &self.inner;
        loop {
            if inner.closed.load(Ordering::Acquire) {
                return Err(BrowserError::PoolClosed);
            }
            let notified = inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let mut best: Option<(usize, Arc<Instance>, usize)> = None;
            let mut starting = false;
            let mut down = None;
            for (index, slot) in inner.slots.iter().enumerate() {
                match &*lock(&slot.state) {
                    SlotState::Live(instance) if instance.is_alive() => {
                        let load = instance.in_flight.load(Ordering::Acquire);
                        if best.as_ref().is_none_or(|(_, _, b)| load < *b) {
                            best = Some((index, Arc::clone(instance), load));
                        }
                    }
                    // Dead but not yet replaced: its handler task is on it.
                    SlotState::Live(_) | SlotState::Starting => starting = true,
                    SlotState::Down(reason) => down = Some((index, reason.clone())),
                }
            }
            if let Some((slot, instance, _)) = best {
                // Counted under the slot's lock, which a recycle holds to
                // swap the browser out: a page never lands on a browser
                // that already drains.
                let state = lock(&inner.slots[slot].state);
                if !matches!(&*state, SlotState::Live(live) if Arc::ptr_eq(live, &instance)) {
                    continue;
                }
                instance.in_flight.fetch_add(1, Ordering::SeqCst);
                drop(state);
                return Ok(Lease {
                    pool: Arc::clone(inner),
                    instance,
                    slot,
                });
            }
            if let Some((slot, reason)) = down {
                if !starting {
                    tracing::debug!(slot, %reason, "no live browser; relaunching");
                    set_state(inner, slot, SlotState::Starting);
                    match launch_instance(inner, slot).await {
                        Ok(instance) => set_state(inner, slot, SlotState::Live(instance)),
                        Err(err) => {
                            set_state(inner, slot, SlotState::Down(err.to_string()));
                            return Err(err);
                        }
                    }
                    continue;
                }
            }
            if tokio::time::timeout_at(end, notified).await.is_err() {
                return Err(BrowserError::Crashed {
                    reason: "no browser became ready within the budget".to_owned(),
                });
            }
        }
    }
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
    pool: &'p BrowserPool,
    open: Option<OpenTab>,
}

impl Tab<'_> {
    /// Render `url` as `target.device` within `budget` in this tab (see
    /// [`BrowserPool::render_with`]), once: retries are the scan's.
    ///
    /// # Errors
    ///
    /// [`RenderError`]: whose fault it is that the target has no page.
    pub async fn render_with(
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
        let result = open.render(&job, &options).await;
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
    async fn open(lease: Lease, end: Instant) -> Result<OpenTab, RenderError> {
        let instance = &lease.instance;
        let browser = &instance.browser;
        let hang_at = Instant::now() + BROWSER_COMMAND_TIMEOUT;
        let setup_end = hang_at.min(end);
        let session = lease
            .pool
            .guard
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
                return Err(crawler_error(instance, "Target.createBrowserContext", e).into())
            }
            None => {
                return Err(hung(instance, "Target.createBrowserContext", hang_at)
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
                    return Err(crawler_error(instance, "Browser.setDownloadBehavior", e))
                }
                None => return Err(hung(instance, "Browser.setDownloadBehavior", hang_at).await),
            }
            let mut params = CreateTargetParams::new("about:blank");
            params.browser_context_id = Some(context.clone());
            match timed(browser.new_page(params), setup_end).await {
                Some(Ok(page)) => Ok(page),
                Some(Err(e)) => Err(crawler_error(instance, "Target.createTarget", e)),
                None => Err(hung(instance, "Target.createTarget", hang_at).await),
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

    async fn render(
        &mut self,
        job: &RenderJob<'_>,
        options: &RenderOptions,
    ) -> Result<Rendered, RenderError> {
        let instance = &self.lease.instance;
        let result = tokio::select! {
            result = render::render(&self.page, job, &self.session, &mut self.setup) => result,
            () = instance.died() => Err(crashed(instance).into()),
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
                    return Err(crashed(instance).into());
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let screenshot = if options.screenshot_bottom {
            render::screenshot_bottom(&self.page, job.profile).await
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
        let (cookies, storage, cache) = tokio::join!(cookies, storage, cache);
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

/// The storage `OpenTab::reset` clears for the origins a render went through
/// (`Storage.clearDataForOrigin`'s list; cookies are cleared for the
/// whole context).
const FIRST_VISIT_STORAGE: &str =
    "local_storage,indexeddb,service_workers,cache_storage,file_systems,websql";

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

fn crashed(instance: &Instance) -> BrowserError {
    BrowserError::Crashed {
        reason: format!("Chromium (pid {}) went away", instance.pid),
    }
}

fn crawler_error(
    instance: &Instance,
    step: &str,
    err: chromiumoxide::error::CdpError,
) -> BrowserError {
    if instance.is_alive() {
        BrowserError::protocol(step, err)
    } else {
        crashed(instance)
    }
}

/// A browser-level command did not answer. Past `hang_at` the browser is
/// hung and is replaced; before it, only the target's budget ran out.
async fn hung(instance: &Instance, step: &str, hang_at: Instant) -> BrowserError {
    if Instant::now() < hang_at {
        return BrowserError::Protocol {
            reason: format!("the budget ran out waiting for {step}"),
        };
    }
    instance.kill().await;
    BrowserError::Crashed {
        reason: format!("Chromium (pid {}) did not answer {step}", instance.pid),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a slot lock leaves plain data behind; keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn set_state(inner: &PoolInner, slot: usize, state: SlotState) {
    *lock(&inner.slots[slot].state) = state;
    inner.changed.notify_waiters();
}

/// Start, connect and describe one browser for `slot`.
async fn launch_instance(
    inner: &Arc<PoolInner>,
    slot: usize,
) -> Result<Arc<Instance>, BrowserError> {
    let config = &inner.config;
    let launch_err = |reason: String| BrowserError::Launch {
        path: config.executable.display().to_string(),
        reason,
    };
    let process = ChromeProcess::spawn(config, inner.guard.addr(), LAUNCH_TIMEOUT).await?;
    let pid = process.pid;
    let handler_config = HandlerConfig {
        // chromiumoxide ignores certificate errors by default; a bad
        // certificate is the site's fault and must surface as net::ERR_CERT_*.
        ignore_https_errors: false,
        // With a viewport chromiumoxide emulates one and turns touch on for
        // every page; device.rs does emulation, per page.
        viewport: None,
        ..HandlerConfig::default()
    };
    let connect = Browser::connect_with_config(process.ws_url.clone(), handler_config);
    let (browser, mut handler) =
        match timed(connect, Instant::now() + BROWSER_COMMAND_TIMEOUT).await {
            Some(Ok(pair)) => pair,
            Some(Err(e)) => {
                process.kill().await;
                return Err(launch_err(format!("cannot connect to DevTools: {e}")));
            }
            None => {
                process.kill().await;
                return Err(launch_err("DevTools connection timed out".to_owned()));
            }
        };

    let generation = inner.generations.fetch_add(1, Ordering::AcqRel);
    let (alive_tx, alive) = watch::channel(true);
    let pool = Arc::downgrade(inner);
    // The handler logs CDP messages it cannot parse and goes on; it ends
    // only when the connection does, and that means the browser is gone.
    let handler_task = tokio::spawn(async move {
        let reason = loop {
            match handler.next().await {
                Some(Ok(())) => {}
                Some(Err(e)) => break e.to_string(),
                None => break "DevTools connection closed".to_owned(),
            }
        };
        alive_tx.send_replace(false);
        tracing::debug!(pid, %reason, "Chromium connection ended");
        if let Some(pool) = pool.upgrade() {
            instance_died(&pool, slot, generation);
        }
    });

    let version = match timed(browser.version(), Instant::now() + BROWSER_COMMAND_TIMEOUT).await {
        Some(Ok(v)) => BrowserVersion::parse(&v.product, &v.user_agent),
        other => {
            handler_task.abort();
            process.kill().await;
            return Err(launch_err(format!("Browser.getVersion failed: {other:?}")));
        }
    };
    let popups = timed(
        browser.event_listener::<EventTargetCreated>(),
        Instant::now() + BROWSER_COMMAND_TIMEOUT,
    )
    .await;
    let instance = Arc::new(Instance {
        browser,
        pid,
        generation,
        version,
        alive,
        process: tokio::sync::Mutex::new(Some(process)),
        tasks: Mutex::new(vec![handler_task]),
        in_flight: AtomicUsize::new(0),
        pages: AtomicU64::new(0),
        recycling: AtomicBool::new(false),
        draining: AtomicBool::new(false),
        retired: AtomicBool::new(false),
    });
    if let Some(Ok(mut created)) = popups {
        // Popups are closed, never followed (SPEC §2).
        let weak: Weak<Instance> = Arc::downgrade(&instance);
        let task = tokio::spawn(async move {
            while let Some(event) = created.next().await {
                let info = &event.target_info;
                if info.r#type != "page" || info.opener_id.is_none() {
                    continue;
                }
                let Some(instance) = weak.upgrade() else {
                    break;
                };
                tracing::debug!(url = %info.url, "closing a popup");
                let close = instance
                    .browser
                    .execute(CloseTargetParams::new(info.target_id.clone()));
                let _ = tokio::time::timeout(TEARDOWN_TIMEOUT, close).await;
            }
        });
        lock(&instance.tasks).push(task);
    }
    tracing::debug!(pid, slot, version = %instance.version.full_version, "browser ready");
    Ok(instance)
}

/// A browser's connection ended: replace it in the background.
fn instance_died(inner: &Arc<PoolInner>, slot: usize, generation: u64) {
    if inner.closed.load(Ordering::Acquire) {
        return;
    }
    let dead = {
        let mut state = lock(&inner.slots[slot].state);
        match &*state {
            SlotState::Live(instance) if instance.generation == generation => {
                std::mem::replace(&mut *state, SlotState::Starting)
            }
            _ => return,
        }
    };
    inner.changed.notify_waiters();
    let pool = Arc::clone(inner);
    let task = tokio::spawn(async move {
        if let SlotState::Live(instance) = dead {
            // Reap the dead process and its helpers, remove its profile.
            instance.shutdown().await;
        }
        let result = launch_instance(&pool, slot).await;
        if pool.closed.load(Ordering::Acquire) {
            if let Ok(instance) = result {
                instance.shutdown().await;
            }
            return;
        }
        match result {
            Ok(instance) => {
                tracing::info!(slot, pid = instance.pid, "replaced a dead Chromium");
                set_state(&pool, slot, SlotState::Live(instance));
            }
            Err(err) => {
                tracing::warn!(slot, error = %err, "cannot replace a dead Chromium");
                set_state(&pool, slot, SlotState::Down(err.to_string()));
            }
        }
    });
    track(inner, task);
}

/// Keep `task` for `close` to await.
fn track(inner: &PoolInner, task: JoinHandle<()>) {
    let mut background = lock(&inner.background);
    background.retain(|t| !t.is_finished());
    background.push(task);
}

/// Start replacing `old`, the browser of `slot`, unless that has begun.
fn start_recycle(inner: &Arc<PoolInner>, slot: usize, old: &Arc<Instance>, reason: RecycleReason) {
    if inner.closed.load(Ordering::Acquire) || old.recycling.swap(true, Ordering::AcqRel) {
        return;
    }
    let pool = Arc::clone(inner);
    let old = Arc::clone(old);
    track(
        inner,
        tokio::spawn(async move { recycle(&pool, slot, old, reason).await }),
    );
}

/// Make before break: launch a replacement while `old` serves on, put it
/// in `old`'s slot, then let `old` drain: its pages in flight finish, and
/// it closes after the last one.
async fn recycle(inner: &Arc<PoolInner>, slot: usize, old: Arc<Instance>, reason: RecycleReason) {
    let pid = old.pid;
    let memory = tokio::task::spawn_blocking(move || recycle::tree_memory(pid))
        .await
        .ok()
        .flatten();
    let fresh = match launch_instance(inner, slot).await {
        Ok(fresh) => fresh,
        Err(err) => {
            tracing::warn!(
                slot,
                pid,
                error = %err,
                "cannot start a replacement to recycle a Chromium into; it serves on"
            );
            // Its next page (or memory sample) tries again.
            old.recycling.store(false, Ordering::Release);
            return;
        }
    };
    let swapped = {
        let mut state = lock(&inner.slots[slot].state);
        let swap = matches!(&*state, SlotState::Live(live) if Arc::ptr_eq(live, &old))
            && !inner.closed.load(Ordering::Acquire);
        if swap {
            *state = SlotState::Live(Arc::clone(&fresh));
        }
        swap
    };
    if !swapped {
        // `old` died meanwhile (and is being replaced) or the pool closes.
        fresh.shutdown().await;
        return;
    }
    inner.changed.notify_waiters();
    tracing::info!(
        slot,
        pid,
        new_pid = fresh.pid,
        reason = reason.as_str(),
        pages = old.pages.load(Ordering::Acquire),
        memory_mib = memory.map(|bytes| bytes >> 20),
        in_flight = old.in_flight.load(Ordering::Acquire),
        "recycling a Chromium"
    );
    lock(&inner.draining).push(Arc::clone(&old));
    old.draining.store(true, Ordering::SeqCst);
    if old.in_flight.load(Ordering::SeqCst) == 0 {
        retire(inner, &old);
    }
}

/// Close a drained browser (once) and reap its processes.
fn retire(inner: &Arc<PoolInner>, instance: &Arc<Instance>) {
    if instance.retired.swap(true, Ordering::AcqRel) {
        return;
    }
    lock(&inner.draining).retain(|i| !Arc::ptr_eq(i, instance));
    // Outside a runtime the last `Arc` going kills the process group.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let instance = Arc::clone(instance);
    let task = runtime.spawn(async move {
        instance.shutdown().await;
        tracing::debug!(pid = instance.pid, "recycled Chromium closed");
    });
    track(inner, task);
}

/// Every `every`, recycle the browsers whose process tree grew past the
/// memory limit. Ends with the pool.
async fn watch_memory(pool: Weak<PoolInner>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = pool.upgrade() else {
            return;
        };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let live: Vec<(usize, Arc<Instance>)> = inner
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| match &*lock(&s.state) {
                SlotState::Live(i) if i.is_alive() && !i.recycling.load(Ordering::Acquire) => {
                    Some((slot, Arc::clone(i)))
                }
                _ => None,
            })
            .collect();
        let pids: Vec<u32> = live.iter().map(|(_, i)| i.pid).collect();
        let sampled = tokio::task::spawn_blocking(move || {
            pids.into_iter()
                .map(recycle::tree_memory)
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(memory) = sampled else {
            continue;
        };
        for ((slot, instance), memory) in live.iter().zip(memory) {
            let pages = instance.pages.load(Ordering::Acquire);
            tracing::trace!(pid = instance.pid, pages, memory, "browser memory");
            if let Some(reason) = inner.recycle.reason(pages, memory) {
                start_recycle(&inner, *slot, instance, reason);
            }
        }
    }
}
