//! How many pages the scan keeps open, adapted while it runs:
//! `--concurrency` is the ceiling, not the constant.
//!
//! A page is worth opening only while it raises throughput: locally the
//! CPU runs out first (a few pages keep two cores busy, more only queue
//! behind them and hold memory), while against slow servers each page
//! mostly waits and many more pay. So the scan starts with a few pages
//! and, once a window of renders has been measured:
//!
//! - gives pages back when memory nears its budget (the cgroup's limit in
//!   a container, else the machine's), before anything else;
//! - holds when the records, not the level, bound it (the input's tail, a
//!   `--rate`): no measure of a level it does not use;
//! - takes back a step up after which throughput fell, and waits longer
//!   each time before trying again;
//! - gives a page back when the worker was starved of CPU, or when the CPU
//!   stayed full for several windows (down to where it started: pages
//!   added for a lull do not stay for good), holds while the CPU is busy,
//!   and otherwise adds pages as far as the memory left allows: the more,
//!   the idler the CPU, and twice as many each window until the CPU is
//!   first busy (against slow servers the CPU a page will cost shows only
//!   once its responses arrive, so a careful first climb lags a step
//!   behind all the way up).
//!
//! It decides from the CPU first because the CPU answers at once, while a
//! step's throughput shows only once its pages have finished renders (a
//! few seconds against slow servers): a scan of a few dozen records is
//! over before a climb judged by throughput alone has reached its level.
//!
//! [`Controller::next`] is the whole policy, a pure function of readings
//! tested by named cases; [`run`] feeds it from the machine every window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::pages::PageLimit;
use crate::cgroup::MemoryUse;
use crate::config::whole;
use crate::load::{self, to_f64, CpuMeter};
use crate::starvation::Starvation;

/// How often the pages in use are sampled within a window.
const SAMPLE: Duration = Duration::from_millis(250);
/// A window is at least this long …
const MIN_WINDOW: Duration = Duration::from_millis(500);
/// … and, when a step up is on trial, has seen a target finished for
/// every two pages, unless it reaches this length.
const MAX_WINDOW: Duration = Duration::from_secs(6);
/// The CPUs count as busy past this share: no more pages …
const CPU_BUSY: f64 = 0.85;
/// … as far from it below this one: twice the pages at once …
const CPU_IDLE: f64 = 0.5;
/// … and near it past this one: a small step, judged by throughput.
const CPU_NEAR: f64 = 0.7;
/// The CPUs count as full past this share: after [`FULL_WINDOWS`] such
/// windows in a row (two seconds at least) pages go back.
const CPU_FULL: f64 = 0.95;
const FULL_WINDOWS: u32 = 4;
/// A step up that lowered throughput by more than this share (more than
/// a window's noise) is taken back.
const LOSS_TOLERATED: f64 = 0.1;
/// Memory past this share of the budget gives pages back …
const MEMORY_HIGH: f64 = 0.85;
/// … and no step up may be expected to take it past this share.
const MEMORY_GROW_TO: f64 = 0.75;
/// What a page is taken to cost before one has been measured, and at
/// least: the benchmark's light pages measure about 25 MiB a page, a heavy
/// portal page several times more.
const MIN_PAGE_COST: u64 = 32 << 20;
/// Windows to wait before trying a step up again after one that did not
/// pay, at most.
const MAX_BACKOFF: u32 = 16;

/// One window's readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Window {
    /// Targets finished per second.
    pub rate: f64,
    /// Whether records waited for a page through most of the window: the
    /// level, not the input, bounded the scan.
    pub bound: bool,
    /// The mean of the pages in use.
    pub in_use: f64,
    /// The share of the usable CPU in use, when known.
    pub cpu: Option<f64>,
    /// Whether the worker was starved of CPU (see [`Starvation`]).
    pub starved: bool,
    /// Memory against its budget, when known.
    pub memory: Option<MemoryUse>,
}

/// Why the level moved or did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Up: the CPU and memory had room.
    Up,
    /// Back to where it was: throughput fell after the last step up.
    Back,
    /// Down: memory is near its budget.
    Memory,
    /// Down: the worker was starved.
    Starved,
    /// Down: the CPU was full window after window.
    Full,
    /// Unchanged.
    Hold,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Up => "cpu and memory to spare",
            Step::Back => "the last step up did not raise throughput",
            Step::Memory => "memory near its budget",
            Step::Starved => "the worker was starved of CPU",
            Step::Full => "the CPU was full",
            Step::Hold => "hold",
        }
    }
}

/// The policy (see the module docs).
#[derive(Debug)]
pub(super) struct Controller {
    ceiling: usize,
    level: usize,
    /// The last step up, not yet judged: the level and rate before it.
    trial: Option<(usize, f64)>,
    /// Windows left before the next step up may be tried.
    cooldown: u32,
    /// The wait after the next step up that does not pay.
    backoff: u32,
    /// Memory in use at the start, before the pages: what a page costs is
    /// measured above it.
    base_memory: Option<u64>,
    /// The level it started at: the CPU alone never takes it lower.
    start: usize,
    /// Windows in a row with the CPU full.
    full: u32,
    /// Whether the CPU has not been busy yet: until it is, a step below
    /// busy doubles the pages.
    climbing: bool,
}

impl Controller {
    /// A controller that starts at `start` pages and never goes past
    /// `ceiling`; `base_memory` is what was in use before any page.
    pub(super) fn new(start: usize, ceiling: usize, base_memory: Option<u64>) -> Controller {
        let ceiling = ceiling.max(1);
        let start = start.clamp(1, ceiling);
        Controller {
            ceiling,
            level: start,
            trial: None,
            cooldown: 0,
            backoff: 1,
            base_memory,
            start,
            full: 0,
            climbing: true,
        }
    }

    /// The pages allowed now.
    pub(super) fn level(&self) -> usize {
        self.level
    }

    /// Whether a step up waits to be judged by the next window's
    /// throughput.
    pub(super) fn judging(&self) -> bool {
        self.trial.is_some()
    }

    /// The level after `w`, and why.
    pub(super) fn next(&mut self, w: &Window) -> (usize, Step) {
        if w.memory
            .is_some_and(|m| share(m.used, m.limit) > MEMORY_HIGH)
        {
            self.trial = None;
            self.cooldown = self.backoff;
            // Pages given back take effect as their records end: go lower
            // only once the last step down has.
            if w.in_use > to_f64(self.level as u64) + 0.5 {
                return (self.level, Step::Hold);
            }
            let level = (self.level * 3 / 4).max(1);
            return self.go(level, Step::Memory);
        }
        if !w.bound {
            // A trial the input cut short proves nothing either way.
            self.trial = None;
            return (self.level, Step::Hold);
        }
        if let Some((before, rate)) = self.trial.take() {
            // A window measures a level only once its pages are in use;
            // their first renders are still on the way, so the rate may
            // not have risen yet, but it must not have fallen.
            if w.in_use < 0.9 * to_f64(self.level as u64) {
                self.trial = Some((before, rate));
                return (self.level, Step::Hold);
            }
            if w.rate < rate * (1.0 - LOSS_TOLERATED) {
                self.cooldown = self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                return self.go(before, Step::Back);
            }
            self.backoff = 1;
        }
        if w.starved {
            return self.go(self.level.saturating_sub(1).max(1), Step::Starved);
        }
        let cpu = w.cpu.unwrap_or(CPU_BUSY);
        self.climbing &= cpu < CPU_BUSY;
        // Pages added for a lull stay only while the CPU needs them: a
        // CPU full window after window gives one back, down to the start.
        self.full = if cpu >= CPU_FULL { self.full + 1 } else { 0 };
        if self.full >= FULL_WINDOWS && self.level > self.start {
            self.full = 0;
            let level = self.level - (self.level / 8).max(1);
            return self.go(level.max(self.start), Step::Full);
        }
        if cpu >= CPU_BUSY || self.level >= self.ceiling {
            return (self.level, Step::Hold);
        }
        if self.cooldown > 0 {
            self.cooldown -= 1;
            return (self.level, Step::Hold);
        }
        // The further from busy, the bigger the step: twice the pages below
        // half busy, half as many again below `CPU_NEAR`, untried (the CPU
        // more pages would contend for is idle); a quarter more near busy,
        // on trial. While climbing, twice the pages below busy (on trial
        // near it): the first windows' CPU is the browser's start and pages
        // whose responses have not arrived yet, and a quarter a window
        // left a list against slow servers half over before its level.
        let near = cpu >= CPU_NEAR;
        let step = if cpu < CPU_IDLE || self.climbing {
            self.level
        } else if near {
            self.level / 4
        } else {
            self.level / 2
        };
        let step = step.max(1).min(self.room(w));
        if step == 0 {
            return (self.level, Step::Hold);
        }
        if near {
            self.trial = Some((self.level, w.rate));
        }
        let level = (self.level + step).min(self.ceiling);
        self.go(level, Step::Up)
    }

    fn go(&mut self, level: usize, why: Step) -> (usize, Step) {
        // A step down, for whatever reason, ends the first climb.
        self.climbing &= level >= self.level;
        self.level = level;
        (level, why)
    }

    /// How many more pages the memory left can be expected to hold: each
    /// costs what the pages in use cost on average over the base, at least
    /// [`MIN_PAGE_COST`]; unlimited when memory is unknown.
    fn room(&self, w: &Window) -> usize {
        let Some(m) = w.memory else {
            return usize::MAX;
        };
        let over_base = m.used.saturating_sub(self.base_memory.unwrap_or(m.used));
        let pages = w.in_use.max(1.0);
        let per_page = (to_f64(over_base) / pages).max(to_f64(MIN_PAGE_COST));
        let left = to_f64(m.limit) * MEMORY_GROW_TO - to_f64(m.used);
        whole((left / per_page).floor())
    }
}

/// The level the scan starts at: a few pages a CPU, enough to keep the
/// cores busy with light pages, within `ceiling`.
pub(super) fn start_level(cpus: f64, ceiling: usize) -> usize {
    whole((4.0 * cpus).ceil()).max(2).min(ceiling.max(1))
}

/// Drive `pages`' level (which starts at `control`'s) until the scan
/// ends: `finished` counts the targets done; the level and every change
/// are logged, and `shown` (the progress line's) follows it.
pub(super) async fn run(
    pages: Arc<PageLimit>,
    mut control: Controller,
    finished: Arc<AtomicU64>,
    starvation: Starvation,
    shown: Arc<AtomicU64>,
) {
    let mut cpu = CpuMeter::new();
    let _ = cpu.busy();
    shown.store(control.level() as u64, Ordering::Relaxed);
    let mut tick = tokio::time::interval(SAMPLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let started = Instant::now();
        let mark = starvation.mark();
        let done_before = finished.load(Ordering::Relaxed);
        let (mut samples, mut waited, mut in_use) = (0u32, 0u32, 0usize);
        loop {
            tick.tick().await;
            let (held, waiting) = pages.usage();
            samples += 1;
            waited += u32::from(waiting > 0);
            in_use += held;
            let done = finished.load(Ordering::Relaxed) - done_before;
            let long = started.elapsed();
            // A step on trial is judged by throughput, which needs
            // finished renders; otherwise the CPU, read at once, decides.
            let enough = !control.judging() || done * 2 >= control.level() as u64;
            if long >= MAX_WINDOW || (long >= MIN_WINDOW && enough) {
                break;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let done = finished.load(Ordering::Relaxed) - done_before;
        let memory = tokio::task::spawn_blocking(load::memory)
            .await
            .ok()
            .flatten();
        let window = Window {
            rate: to_f64(done) / elapsed,
            bound: waited * 2 > samples,
            in_use: f64::from(u32::try_from(in_use).unwrap_or(u32::MAX)) / f64::from(samples),
            cpu: cpu.busy(),
            starved: starvation.since(mark).is_some(),
            memory,
        };
        let before = control.level();
        let (level, why) = control.next(&window);
        if level != before {
            pages.set_level(level);
            shown.store(level as u64, Ordering::Relaxed);
            tracing::info!(
                pages = level,
                was = before,
                why = why.as_str(),
                targets_per_s = format!("{:.2}", window.rate),
                cpu = window.cpu.map(|c| format!("{c:.2}")),
                "page level changed"
            );
        }
        tracing::debug!(
            pages = level,
            was = before,
            step = ?why,
            targets_per_s = format!("{:.2}", window.rate),
            cpu = window.cpu.map(|c| format!("{c:.2}")),
            memory_mib = window.memory.map(|m| m.used >> 20),
            bound = window.bound,
            "page level"
        );
    }
}

/// `part / whole` as a share.
fn share(part: u64, whole: u64) -> f64 {
    to_f64(part) / to_f64(whole.max(1))
}

#[cfg(test)]
#[expect(clippy::cast_precision_loss, reason = "page counts")]
mod tests {
    use super::*;
    use rstest::rstest;

    const MIB: u64 = 1 << 20;

    /// A window bound by the level, all pages in use, at `rate` and `cpu`.
    fn window(level: usize, rate: f64, cpu: f64) -> Window {
        Window {
            rate,
            bound: true,
            in_use: level as f64,
            cpu: Some(cpu),
            starved: false,
            memory: None,
        }
    }

    fn memory(used_mib: u64, limit_mib: u64) -> MemoryUse {
        MemoryUse {
            limit: limit_mib * MIB,
            used: used_mib * MIB,
        }
    }

    #[rstest]
    #[case::idle_cpu_doubles(window(8, 4.0, 0.3), (16, Step::Up))]
    #[case::some_cpu_doubles_while_the_cpu_was_never_busy(window(8, 4.0, 0.6), (16, Step::Up))]
    #[case::near_busy_doubles_while_the_cpu_was_never_busy(window(8, 4.0, 0.75), (16, Step::Up))]
    #[case::busy_cpu_holds(window(8, 4.0, 0.9), (8, Step::Hold))]
    #[case::unknown_cpu_holds(Window { cpu: None, ..window(8, 4.0, 0.0) }, (8, Step::Hold))]
    #[case::input_bound_holds(Window { bound: false, ..window(8, 4.0, 0.1) }, (8, Step::Hold))]
    #[case::starved_gives_one_back(Window { starved: true, ..window(8, 4.0, 0.1) }, (7, Step::Starved))]
    #[case::memory_near_budget_gives_a_quarter_back(
        Window { memory: Some(memory(900, 1000)), ..window(8, 4.0, 0.1) },
        (6, Step::Memory)
    )]
    #[case::memory_step_down_waits_for_the_last(
        Window { memory: Some(memory(900, 1000)), in_use: 10.0, ..window(8, 4.0, 0.1) },
        (8, Step::Hold)
    )]
    // 400 MiB over the base for 8 pages is 50 MiB a page; up to 75% of
    // 1000 MiB leaves room for 2 more.
    #[case::memory_room_bounds_the_step(
        Window { memory: Some(memory(650, 1000)), ..window(8, 4.0, 0.1) },
        (10, Step::Up)
    )]
    #[case::no_memory_room_holds(
        Window { memory: Some(memory(740, 1000)), ..window(8, 4.0, 0.1) },
        (8, Step::Hold)
    )]
    #[case::ceiling_holds(window(32, 4.0, 0.1), (32, Step::Hold))]
    fn one_window(#[case] w: Window, #[case] want: (usize, Step)) {
        let level = if want.0 == 32 { 32 } else { 8 };
        let mut control = Controller::new(level, 32, Some(250 * MIB));
        assert_eq!(control.next(&w), want);
    }

    /// A controller past its first climb: one busy window at the start.
    fn climbed(start: usize) -> Controller {
        let mut control = Controller::new(start, 32, None);
        assert_eq!(control.next(&window(start, 4.0, 0.9)), (start, Step::Hold));
        control
    }

    #[rstest]
    #[case::once_the_cpu_was_busy(window(8, 4.0, 0.9), 0.6, (12, Step::Up))]
    #[case::near_busy_once_the_cpu_was_busy(window(8, 4.0, 0.9), 0.75, (10, Step::Up))]
    #[case::once_pages_went_back(Window { starved: true, ..window(8, 4.0, 0.1) }, 0.6, (10, Step::Up))]
    fn the_first_climb_ends_when_the_cpu_is_busy_or_pages_go_back(
        #[case] first: Window,
        #[case] cpu: f64,
        #[case] want: (usize, Step),
    ) {
        let mut control = Controller::new(8, 32, None);
        let (level, _) = control.next(&first);
        assert_eq!(control.next(&window(level, 4.0, cpu)), want);
    }

    #[test]
    fn the_first_climb_doubles_near_busy_on_trial() {
        let mut control = Controller::new(8, 32, None);
        assert_eq!(control.next(&window(8, 10.0, 0.8)), (16, Step::Up));
        assert_eq!(control.next(&window(16, 8.0, 0.8)), (8, Step::Back));
    }

    #[rstest]
    #[case::throughput_held_keeps_the_step(10.0, (12, Step::Up))]
    #[case::throughput_fell_takes_it_back(8.0, (8, Step::Back))]
    fn a_step_up_near_busy_is_judged_by_the_next_window(
        #[case] rate_after: f64,
        #[case] want: (usize, Step),
    ) {
        let mut control = climbed(8);
        assert_eq!(control.next(&window(8, 10.0, 0.75)), (10, Step::Up));
        assert_eq!(control.next(&window(10, rate_after, 0.75)), want);
    }

    #[test]
    fn a_trial_waits_until_its_pages_are_in_use() {
        let mut control = climbed(8);
        assert_eq!(control.next(&window(8, 10.0, 0.75)), (10, Step::Up));
        let ramping = Window {
            in_use: 8.0,
            ..window(10, 2.0, 0.75)
        };
        assert_eq!(control.next(&ramping), (10, Step::Hold), "not judged yet");
        assert_eq!(control.next(&window(10, 2.0, 0.75)), (8, Step::Back));
    }

    #[test]
    fn after_a_step_back_it_waits_longer_each_time() {
        let mut control = climbed(8);
        let mut ups = Vec::new();
        for round in 0..40 {
            let level = control.level();
            // Every step up lowers the rate: 10 at 8 pages, 5 above.
            let rate = if level > 8 { 5.0 } else { 10.0 };
            if control.next(&window(level, rate, 0.75)).1 == Step::Up {
                ups.push(round);
            }
        }
        let gaps: Vec<usize> = ups.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.len() >= 3, "kept trying: {ups:?}");
        assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "gaps grow: {gaps:?}");
        assert!(gaps.last() > gaps.first(), "gaps grow: {gaps:?}");
    }

    #[test]
    fn a_full_cpu_gives_back_what_a_lull_added_but_no_more() {
        let mut control = Controller::new(8, 32, None);
        assert_eq!(control.next(&window(8, 4.0, 0.3)), (16, Step::Up));
        let mut levels = Vec::new();
        for _ in 0..40 {
            let level = control.level();
            levels.push(control.next(&window(level, 10.0, 0.99)).0);
        }
        assert_eq!(
            levels[..3],
            [16, 16, 16],
            "a full window or two is no reason"
        );
        assert_eq!(levels[3], 14, "the fourth gives an eighth back");
        assert_eq!(levels.last(), Some(&8), "down to the start, not below");
        assert!(levels.windows(2).all(|w| w[1] <= w[0]), "{levels:?}");
    }

    #[rstest]
    #[case::two_cpus(2.0, 32, 8)]
    #[case::fifth_of_a_cpu(0.2, 2, 2)]
    #[case::ceiling_below_start(2.0, 4, 4)]
    #[case::ceiling_one(8.0, 1, 1)]
    fn start_levels(#[case] cpus: f64, #[case] ceiling: usize, #[case] want: usize) {
        assert_eq!(start_level(cpus, ceiling), want);
    }
}
