//! What the machine has to spare while a scan runs: how busy the CPUs the
//! worker may use are, and how much memory is left before its limit. The
//! scan's page level (`scan::level`) reads these; a wrong reading there
//! changes how fast a scan goes, never a finding.
//!
//! In a container with a CPU quota the cgroup's own CPU time against the
//! quota is what counts; elsewhere the whole machine's idle time, because
//! on a shared host other work takes the cores as surely as our pages do.
//! Memory likewise: the cgroup's working set against its limit, else the
//! machine's `MemAvailable` against its total.

use std::time::Instant;

use crate::cgroup::{self, MemoryUse};

/// Reads the CPUs' busy share between two calls of [`CpuMeter::busy`].
#[derive(Debug)]
pub(crate) struct CpuMeter {
    /// The cgroup's quota in CPUs, when one is set.
    quota: Option<f64>,
    last: Option<Count>,
}

/// One reading of a CPU counter.
#[derive(Debug, Clone, Copy)]
enum Count {
    /// The cgroup's CPU time (µs) at a moment.
    Cgroup { at: Instant, used_us: u64 },
    /// The machine's busy and total ticks (`/proc/stat`).
    Machine(ProcStat),
}

/// The first line of `/proc/stat`: all CPUs' ticks so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    busy: u64,
    total: u64,
}

impl CpuMeter {
    /// A meter for the worker's CPUs (the cgroup's quota, when set).
    pub(crate) fn new() -> CpuMeter {
        CpuMeter {
            quota: cgroup::cpu_quota(),
            last: None,
        }
    }

    /// The share (0 to 1, more under a quota briefly overdrawn) of the
    /// usable CPU time that was used since the last call; `None` at the
    /// first call or where nothing can be read.
    pub(crate) fn busy(&mut self) -> Option<f64> {
        let now = self.read()?;
        match (self.last.replace(now), now) {
            (
                Some(Count::Cgroup {
                    at: before,
                    used_us: was,
                }),
                Count::Cgroup { at, used_us },
            ) => {
                let spent = at.saturating_duration_since(before).as_secs_f64();
                let quota = self.quota?;
                (spent > 0.0).then(|| to_f64(used_us.saturating_sub(was)) / 1e6 / spent / quota)
            }
            (Some(Count::Machine(was)), Count::Machine(now)) => busy_share(was, now),
            _ => None,
        }
    }

    fn read(&self) -> Option<Count> {
        if self.quota.is_some() {
            let used_us = cgroup::cpu_usage()?;
            return Some(Count::Cgroup {
                at: Instant::now(),
                used_us,
            });
        }
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        parse_proc_stat(&text).map(Count::Machine)
    }
}

/// The memory the scan may still take: the cgroup's limit and working set
/// where a limit is set, else the machine's total and what is not
/// available (`MemTotal − MemAvailable`).
pub(crate) fn memory() -> Option<MemoryUse> {
    cgroup::memory_use().or_else(|| {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        parse_meminfo(&text)
    })
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
pub(crate) fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_value(&text, "MemAvailable:")
}

/// The busy share of the CPU ticks between two `/proc/stat` readings.
fn busy_share(before: ProcStat, after: ProcStat) -> Option<f64> {
    let total = after.total.checked_sub(before.total).filter(|&t| t > 0)?;
    let busy = after.busy.saturating_sub(before.busy);
    Some(to_f64(busy) / to_f64(total))
}

/// The `cpu` line of `/proc/stat`: user nice system idle iowait irq softirq
/// steal (guest time is already in user). Idle and iowait are not busy;
/// steal is: the hypervisor gave the time to someone else.
fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    if ticks.len() < 4 {
        return None;
    }
    let total: u64 = ticks.iter().sum();
    let idle = ticks[3] + ticks.get(4).copied().unwrap_or(0);
    Some(ProcStat {
        busy: total - idle,
        total,
    })
}

/// The machine's memory from `/proc/meminfo` as a [`MemoryUse`].
fn parse_meminfo(text: &str) -> Option<MemoryUse> {
    let limit = meminfo_value(text, "MemTotal:")?;
    let available = meminfo_value(text, "MemAvailable:")?;
    Some(MemoryUse {
        limit,
        used: limit.saturating_sub(available),
    })
}

/// A `Key:   N kB` line of `/proc/meminfo`, in bytes.
fn meminfo_value(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `n` as a float, for ratios of counters (exact below 2^52).
#[expect(clippy::cast_precision_loss, reason = "a ratio of counters")]
pub(crate) fn to_f64(n: u64) -> f64 {
    n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::linux_5("cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 1 1 1 1\n", Some(ProcStat { busy: 170, total: 990 }))]
    #[case::old_kernel_four_fields("cpu  100 0 50 850\n", Some(ProcStat { busy: 150, total: 1000 }))]
    #[case::per_cpu_lines_only("cpu0 1 2 3 4\n", None)]
    #[case::malformed("cpu  a b c d\n", None)]
    #[case::too_short("cpu  1 2\n", None)]
    fn proc_stat_cases(#[case] text: &str, #[case] want: Option<ProcStat>) {
        assert_eq!(parse_proc_stat(text), want);
    }

    #[rstest]
    #[case::half_busy(ProcStat { busy: 100, total: 400 }, ProcStat { busy: 200, total: 600 }, Some(0.5))]
    #[case::idle(ProcStat { busy: 100, total: 400 }, ProcStat { busy: 100, total: 500 }, Some(0.0))]
    #[case::no_time_passed(ProcStat { busy: 100, total: 400 }, ProcStat { busy: 100, total: 400 }, None)]
    #[case::counter_went_back(ProcStat { busy: 100, total: 400 }, ProcStat { busy: 1, total: 2 }, None)]
    fn busy_share_cases(
        #[case] before: ProcStat,
        #[case] after: ProcStat,
        #[case] want: Option<f64>,
    ) {
        assert_eq!(busy_share(before, after), want);
    }

    #[rstest]
    #[case::machine(
        "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   18000000 kB\n",
        Some(MemoryUse { limit: 24_000_000 * 1024, used: 6_000_000 * 1024 })
    )]
    #[case::no_available("MemTotal:       24000000 kB\n", None)]
    #[case::malformed("MemTotal: lots kB\nMemAvailable: 1 kB\n", None)]
    fn meminfo_cases(#[case] text: &str, #[case] want: Option<MemoryUse>) {
        assert_eq!(parse_meminfo(text), want);
    }
}
