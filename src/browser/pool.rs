//! `BrowserPool`: N Chromium processes (see `instance`) in slots, each
//! rendering several pages at once, each page in its own browser context;
//! it leases a browser to a [`Tab`](super::Tab) (see `tab`), which keeps its page for
//! several renders in a row (a record's targets). A browser that dies is
//! replaced; the targets that were on it get [`BrowserError::Crashed`] so
//! the scan can retry them. A browser that served its quota of pages or
//! grew past its memory limit ([`RecyclePolicy`]) is recycled: a fresh one
//! is started, takes its place for new pages, and the old one closes after
//! its last page, failing none of them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::instance::{lock, Instance, BROWSER_COMMAND_TIMEOUT};
use super::launch::LAUNCH_TIMEOUT;
use super::process;
use super::recycle::{self, RecyclePolicy, RecycleReason};
use super::{BrowserError, ChromeConfig};
use crate::guard::{Proxy, Session};

/// How often each renderer's memory is checked against `--page-memory`: a
/// page that allocates without end grows by hundreds of MiB a second, and
/// V8's own heap limit stops its scripts in between.
const RENDERER_SAMPLE: Duration = Duration::from_millis(500);

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

/// A browser chosen for one tab; counts as one page in flight.
pub(super) struct Lease {
    pool: Arc<PoolInner>,
    /// The browser.
    pub(super) instance: Arc<Instance>,
    slot: usize,
}

impl Lease {
    /// A guard session for one browser context on it (see [`Session`]).
    pub(super) async fn session(&self) -> std::io::Result<Session> {
        self.pool.guard.session().await
    }

    /// What one page's renderer may hold (`--page-memory`).
    pub(super) fn page_memory(&self) -> Option<u64> {
        self.pool.config.page_memory
    }

    /// Whether the browser still takes pages (alive, not being recycled).
    pub(super) fn usable(&self) -> bool {
        self.instance.is_alive() && !self.instance.draining.load(Ordering::SeqCst)
    }

    /// Count one more render on the browser; start its recycle when that
    /// was its quota.
    pub(super) fn count_render(&self) {
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
    /// Start `browsers` Chromium processes (at least one) whose every
    /// connection goes through `guard`, the pool's from now on, and which
    /// are recycled as `recycle` says.
    ///
    /// # Errors
    ///
    /// [`BrowserError::Launch`] when a browser cannot be started (the ones
    /// that did start are closed again).
    pub async fn launch(
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
        if pool.inner.recycle.memory_limit.is_some() || pool.inner.config.page_memory.is_some() {
            let task = tokio::spawn(watch_memory(Arc::downgrade(&pool.inner)));
            *lock(&pool.inner.monitor) = Some(task);
        }
        Ok(pool)
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
    pub(super) async fn lease(&self, end: Instant) -> Result<Lease, BrowserError> {
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

fn set_state(inner: &PoolInner, slot: usize, state: SlotState) {
    *lock(&inner.slots[slot].state) = state;
    inner.changed.notify_waiters();
}

/// Start a browser for `slot`; the pool hears of its death.
async fn launch_instance(
    inner: &Arc<PoolInner>,
    slot: usize,
) -> Result<Arc<Instance>, BrowserError> {
    let generation = inner.generations.fetch_add(1, Ordering::AcqRel);
    let pool = Arc::downgrade(inner);
    let on_death = move || {
        if let Some(pool) = pool.upgrade() {
            instance_died(&pool, slot, generation);
        }
    };
    Instance::launch(&inner.config, inner.guard.addr(), generation, on_death).await
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

/// Every [`RENDERER_SAMPLE`], kill the renderers holding more than one page
/// may (`--page-memory`); every `sample_every`, recycle the browsers whose
/// process tree grew past the memory limit. Ends with the pool.
async fn watch_memory(pool: Weak<PoolInner>) {
    let mut tick = tokio::time::interval(RENDERER_SAMPLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last_tree_sample = Instant::now();
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
        let sample_trees = inner.recycle.memory_limit.is_some()
            && last_tree_sample.elapsed() >= inner.recycle.sample_every;
        if sample_trees {
            last_tree_sample = Instant::now();
        }
        let page_limit = inner.config.page_memory;
        if page_limit.is_none() && !sample_trees {
            continue;
        }
        let pids: Vec<u32> = live.iter().map(|(_, i)| i.pid).collect();
        // One pass over /proc a tick serves every browser's tree.
        let sampled = tokio::task::spawn_blocking(move || {
            let parents = recycle::process_parents();
            pids.into_iter()
                .map(|pid| {
                    let Some(parents) = &parents else {
                        return (Vec::new(), None);
                    };
                    let over: Vec<(u32, u64)> = page_limit.map_or_else(Vec::new, |limit| {
                        recycle::renderers(pid, parents)
                            .into_iter()
                            .filter(|&(_, rss)| rss > limit)
                            .collect()
                    });
                    (
                        over,
                        sample_trees
                            .then(|| recycle::tree_memory_in(pid, parents))
                            .flatten(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(sampled) = sampled else {
            continue;
        };
        for ((slot, instance), (over, memory)) in live.iter().zip(sampled) {
            for (renderer, rss) in over {
                tracing::warn!(
                    pid = instance.pid,
                    renderer,
                    mib = rss >> 20,
                    "stopping a page whose renderer holds more than one page may"
                );
                *lock(&instance.memory_kill) = Some(Instant::now());
                process::kill_process(renderer);
            }
            if sample_trees {
                let pages = instance.pages.load(Ordering::Acquire);
                tracing::trace!(pid = instance.pid, pages, memory, "browser memory");
                if let Some(reason) = inner.recycle.reason(pages, memory) {
                    start_recycle(&inner, *slot, instance, reason);
                }
            }
        }
    }
}
