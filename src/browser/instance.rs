//! One Chromium the pool runs: its process, its `DevTools` connection and
//! the tasks that serve it, how it starts (our own spawn, see `launch`),
//! dies and shuts down, and the crawler errors it gives when it goes away
//! or stops answering. What the pool counts about it (pages in flight and
//! rendered, whether it is being recycled) is kept on it too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::CloseParams;
use chromiumoxide::cdp::browser_protocol::target::{
    CloseTargetParams, EventTargetCrashed, EventTargetCreated,
};
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::listeners::EventStream;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::cdp::timed;
use super::device::BrowserVersion;
use super::launch::{ChromeProcess, LAUNCH_TIMEOUT};
use super::{BrowserError, ChromeConfig};
use crate::page::Unreachable;

/// Longest a browser-level command (context, page creation) may take before
/// the browser counts as hung and is replaced.
pub(super) const BROWSER_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a page teardown may take; the browser finishes it on its own.
pub(super) const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a closing browser may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long a crashed render waits for the browser's word on why.
const CRASH_NEWS: Duration = Duration::from_millis(500);

/// One connected Chromium.
pub(super) struct Instance {
    /// The `DevTools` connection.
    pub(super) browser: Browser,
    /// The browser process's id.
    pub(super) pid: u32,
    /// Which of the pool's launches it is (a dead slot's replacement is
    /// told apart from the browser it replaces).
    pub(super) generation: u64,
    /// What it reports about itself (device emulation matches it).
    pub(super) version: BrowserVersion,
    /// False once its connection ended.
    alive: watch::Receiver<bool>,
    /// The process, until it is killed or reaped.
    process: tokio::sync::Mutex<Option<ChromeProcess>>,
    /// Its connection's handler and its popup closer.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Pages in flight on it.
    pub(super) in_flight: AtomicUsize,
    /// Pages it has rendered.
    pub(super) pages: AtomicU64,
    /// A replacement is being started for it.
    pub(super) recycling: AtomicBool,
    /// Out of its slot: takes no new page, closes after its last one.
    pub(super) draining: AtomicBool,
    /// Its shutdown has started.
    pub(super) retired: AtomicBool,
    /// How each of its pages' renderers ended, by target id (Chromium's
    /// termination status: `oom`, `killed`, `crashed`, …).
    crashes: watch::Sender<HashMap<String, String>>,
    /// When the memory watch last killed one of its renderers.
    pub(super) memory_kill: Mutex<Option<Instant>>,
}

impl Instance {
    pub(super) fn is_alive(&self) -> bool {
        *self.alive.borrow()
    }

    /// Resolves once the browser's connection has ended.
    pub(super) async fn died(&self) {
        let mut alive = self.alive.clone();
        let _ = alive.wait_for(|a| !*a).await;
    }

    /// Kill a browser that stopped answering; its handler then ends and the
    /// pool replaces it.
    pub(super) async fn kill(&self) {
        tracing::warn!(pid = self.pid, "killing an unresponsive Chromium");
        if let Some(process) = self.process.lock().await.take() {
            process.kill().await;
        }
    }

    /// Close the browser, kill what remains of it, remove its profile.
    pub(super) async fn shutdown(&self) {
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

    /// Why the renderer of `page`, which crashed during a render that
    /// started at `since`, is gone, when memory is why: the memory watch
    /// killed it (`killed`), or it ran out of memory where the system says
    /// so (`oom`). Waits a moment for the browser's news of the crash, which
    /// comes beside the page's own. (V8 running out of its heap ends a
    /// renderer as `crashed`, like any other crash.)
    pub(super) async fn out_of_memory(
        &self,
        page: &Page,
        since: Instant,
        limit: Option<u64>,
    ) -> Option<Unreachable> {
        let limit_mib = limit? >> 20;
        let target = page.target_id().as_ref().to_owned();
        let mut crashes = self.crashes.subscribe();
        let news = crashes.wait_for(|c| c.contains_key(&target));
        let status = match timed(news, Instant::now() + CRASH_NEWS).await {
            Some(Ok(crashes)) => crashes.get(&target).cloned(),
            _ => None,
        };
        let killed = lock(&self.memory_kill).is_some_and(|at| at >= since);
        let memory = match status.as_deref() {
            Some("oom") => true,
            Some("killed") | None => killed,
            Some(_) => false,
        };
        memory.then_some(Unreachable::OutOfMemory { limit_mib })
    }

    /// The crawler's error when this browser went away under a render.
    pub(super) fn crashed(&self) -> BrowserError {
        BrowserError::Crashed {
            reason: format!("Chromium (pid {}) went away", self.pid),
        }
    }

    /// The crawler's error when `step` failed with `err`: a protocol
    /// error, or the browser's death when it is gone.
    pub(super) fn protocol_error(
        &self,
        step: &str,
        err: chromiumoxide::error::CdpError,
    ) -> BrowserError {
        if self.is_alive() {
            BrowserError::protocol(step, err)
        } else {
            self.crashed()
        }
    }

    /// A browser-level command did not answer. Past `hang_at` the browser is
    /// hung and is killed (the pool replaces it); before it, only the
    /// target's budget ran out.
    pub(super) async fn hung(&self, step: &str, hang_at: Instant) -> BrowserError {
        if Instant::now() < hang_at {
            return BrowserError::Protocol {
                reason: format!("the budget ran out waiting for {step}"),
            };
        }
        self.kill().await;
        BrowserError::Crashed {
            reason: format!("Chromium (pid {}) did not answer {step}", self.pid),
        }
    }

    /// Start, connect and describe one browser of `config`, whose every
    /// connection goes through the guard at `proxy`. It counts as launch
    /// `generation`; `on_death` runs once its connection has ended.
    pub(super) async fn launch(
        config: &ChromeConfig,
        proxy: SocketAddr,
        generation: u64,
        on_death: impl FnOnce() + Send + 'static,
    ) -> Result<Arc<Instance>, BrowserError> {
        let launch_err = |reason: String| BrowserError::Launch {
            path: config.executable.display().to_string(),
            reason,
        };
        let process = ChromeProcess::spawn(config, proxy, LAUNCH_TIMEOUT).await?;
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

        let (alive_tx, alive) = watch::channel(true);
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
            on_death();
        });

        let version = match timed(browser.version(), Instant::now() + BROWSER_COMMAND_TIMEOUT).await
        {
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
            crashes: watch::Sender::new(HashMap::new()),
            memory_kill: Mutex::new(None),
        });
        if let Some(Ok(crashed)) = timed(
            instance.browser.event_listener::<EventTargetCrashed>(),
            Instant::now() + BROWSER_COMMAND_TIMEOUT,
        )
        .await
        {
            record_crashes(&instance, crashed);
        }
        if let Some(Ok(created)) = popups {
            close_popups(&instance, created);
        }
        tracing::debug!(pid, generation, version = %instance.version.full_version, "browser ready");
        Ok(instance)
    }
}

/// Keep the browser's word on how each page's renderer ended (see
/// `Instance::out_of_memory`).
fn record_crashes(instance: &Arc<Instance>, mut crashed: EventStream<EventTargetCrashed>) {
    let weak: Weak<Instance> = Arc::downgrade(instance);
    let task = tokio::spawn(async move {
        while let Some(event) = crashed.next().await {
            let Some(instance) = weak.upgrade() else {
                break;
            };
            tracing::debug!(status = %event.status, code = event.error_code, "a page's renderer ended");
            instance.crashes.send_modify(|c| {
                c.insert(event.target_id.as_ref().to_owned(), event.status.clone());
            });
        }
    });
    lock(&instance.tasks).push(task);
}

/// Close popups as they open, never follow them (SPEC §2).
fn close_popups(instance: &Arc<Instance>, mut created: EventStream<EventTargetCreated>) {
    let weak: Weak<Instance> = Arc::downgrade(instance);
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

impl Drop for Instance {
    fn drop(&mut self) {
        self.abort_tasks();
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a slot lock leaves plain data behind; keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
