//! When the pool replaces a browser that is still healthy (See: #7): after
//! it has rendered a number of pages, or once the memory of its process tree
//! grows past a limit. Chromium keeps a little of every browser context it
//! ever had (caches, histograms, host state), so a long-lived browser only
//! grows; a fresh one costs a launch (0.3–1 s) that the pool hides by
//! starting the replacement before the old one stops taking pages.
//!
//! This module decides (`RecyclePolicy::reason`) and measures
//! (`tree_memory`); `pool` acts on it.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::time::Duration;

/// Pages a browser opens before it is recycled, by default.
///
/// A relaunch costs about half a second of CPU, and the replacement starts
/// while the old browser still serves, so pages never wait for it: at 1000
/// pages (several minutes of work for one browser) the cost is well under
/// 0.1%, while what Chromium keeps per context stays in the tens of MiB.
/// Faster growth is the memory limit's job.
pub const DEFAULT_RECYCLE_PAGES: u64 = 1000;

/// How often the pool samples its browsers' memory: reading `/proc` for a
/// process tree costs a few milliseconds, and memory does not run away
/// within seconds of a page opening.
pub const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// When a browser of the pool is recycled. `Default`: after
/// [`DEFAULT_RECYCLE_PAGES`] pages, no memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecyclePolicy {
    /// Recycle a browser once it has rendered this many pages; `None`: never.
    pub after_pages: Option<NonZeroU64>,
    /// Recycle a browser once its process tree (the browser and every
    /// helper it started) holds more than this many bytes (PSS, else RSS);
    /// `None`: never.
    pub memory_limit: Option<u64>,
    /// How often memory is sampled (when there is a limit).
    pub sample_every: Duration,
}

impl Default for RecyclePolicy {
    fn default() -> Self {
        RecyclePolicy {
            after_pages: NonZeroU64::new(DEFAULT_RECYCLE_PAGES),
            memory_limit: None,
            sample_every: MEMORY_SAMPLE_INTERVAL,
        }
    }
}

/// Why a browser is recycled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecycleReason {
    /// It rendered its quota of pages.
    Pages,
    /// Its process tree grew past the memory limit.
    Memory,
}

impl RecycleReason {
    /// The name logged.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RecycleReason::Pages => "pages",
            RecycleReason::Memory => "memory",
        }
    }
}

impl RecyclePolicy {
    /// Whether a browser that has opened `pages` pages and whose process
    /// tree holds `memory` bytes (`None`: not sampled) is due for recycling.
    pub(crate) fn reason(&self, pages: u64, memory: Option<u64>) -> Option<RecycleReason> {
        if self.after_pages.is_some_and(|n| pages >= n.get()) {
            return Some(RecycleReason::Pages);
        }
        match (memory, self.memory_limit) {
            (Some(used), Some(limit)) if used > limit => Some(RecycleReason::Memory),
            _ => None,
        }
    }
}

/// The memory held by process `root` and all its descendants: the sum of
/// their PSS (shared pages counted once across the tree), or of their RSS
/// where the kernel has no `smaps_rollup` or will not show it. `None` when
/// `root` is gone. Reads `/proc`: call it off the async runtime.
pub(crate) fn tree_memory(root: u32) -> Option<u64> {
    tree_memory_in(root, &process_parents()?)
}

/// [`tree_memory`] given every process's parent ([`process_parents`]).
pub(crate) fn tree_memory_in(root: u32, parents: &[(u32, u32)]) -> Option<u64> {
    let mut total = None;
    for pid in descendants(root, parents) {
        if let Some(bytes) = process_memory(pid) {
            *total.get_or_insert(0) += bytes;
        }
    }
    total
}

/// The renderers below browser `root`, given every process's parent
/// ([`process_parents`]), and the memory each holds (its RSS: cheap to read
/// twice a second, and what a cgroup's OOM killer counts). Reads `/proc`:
/// call it off the async runtime.
pub(crate) fn renderers(root: u32, parents: &[(u32, u32)]) -> Vec<(u32, u64)> {
    descendants(root, parents)
        .into_iter()
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| is_renderer(&cmdline))
        })
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            Some((pid, kib_field(&status, "VmRSS:")? * 1024))
        })
        .collect()
}

/// Whether a `/proc/PID/cmdline` is a Chromium renderer's (not a utility,
/// GPU or zygote process's). Arguments are NUL-separated, or space-separated
/// where the zygote that forked the process rewrote its title.
fn is_renderer(cmdline: &[u8]) -> bool {
    cmdline
        .split(|&b| b == 0 || b == b' ')
        .any(|arg| arg == b"--type=renderer")
}

/// (pid, parent pid) of every process: one pass over `/proc`, for as many
/// trees as are looked at together.
pub(crate) fn process_parents() -> Option<Vec<(u32, u32)>> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if let Some(parent) = parent_pid(&stat) {
            parents.push((pid, parent));
        }
    }
    Some(parents)
}

/// `root` and every process below it, given (pid, parent pid) pairs.
fn descendants(root: u32, parents: &[(u32, u32)]) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(pid, parent) in parents {
        children.entry(parent).or_default().push(pid);
    }
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if found.contains(&pid) {
            continue;
        }
        found.push(pid);
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    found
}

/// The parent pid in a `/proc/PID/stat` line: `pid (comm) S ppid …`, where
/// comm may hold spaces and parentheses.
fn parent_pid(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// One process's PSS (`smaps_rollup`, Linux 4.14+), else its RSS, in bytes.
fn process_memory(pid: u32) -> Option<u64> {
    let proc = format!("/proc/{pid}");
    std::fs::read_to_string(format!("{proc}/smaps_rollup"))
        .ok()
        .and_then(|text| kib_field(&text, "Pss:"))
        .or_else(|| {
            let status = std::fs::read_to_string(format!("{proc}/status")).ok()?;
            kib_field(&status, "VmRSS:")
        })
        .map(|kib| kib * 1024)
}

/// The value of a `Name:   123 kB` line.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const MIB: u64 = 1 << 20;

    fn policy(pages: u64, memory_mib: Option<u64>) -> RecyclePolicy {
        RecyclePolicy {
            after_pages: NonZeroU64::new(pages),
            memory_limit: memory_mib.map(|m| m * MIB),
            sample_every: MEMORY_SAMPLE_INTERVAL,
        }
    }

    #[rstest]
    #[case::fresh(policy(3, Some(100)), 0, Some(10), None)]
    #[case::below_quota(policy(3, None), 2, None, None)]
    #[case::quota_reached(policy(3, None), 3, None, Some(RecycleReason::Pages))]
    #[case::past_quota(policy(3, None), 7, None, Some(RecycleReason::Pages))]
    #[case::pages_win_over_memory(policy(3, Some(100)), 3, Some(500), Some(RecycleReason::Pages))]
    #[case::memory_at_limit(policy(1000, Some(100)), 5, Some(100), None)]
    #[case::memory_past_limit(policy(1000, Some(100)), 5, Some(101), Some(RecycleReason::Memory))]
    #[case::memory_not_sampled(policy(1000, Some(100)), 5, None, None)]
    #[case::no_memory_limit(policy(1000, None), 5, Some(100_000), None)]
    #[case::never(policy(0, None), u64::MAX, Some(100_000), None)]
    fn recycle_decision(
        #[case] policy: RecyclePolicy,
        #[case] pages: u64,
        #[case] memory_mib: Option<u64>,
        #[case] want: Option<RecycleReason>,
    ) {
        assert_eq!(policy.reason(pages, memory_mib.map(|m| m * MIB)), want);
    }

    #[test]
    fn the_default_recycles_after_1000_pages_only() {
        let policy = RecyclePolicy::default();
        assert_eq!(policy.reason(999, Some(u64::MAX)), None);
        assert_eq!(policy.reason(1000, None), Some(RecycleReason::Pages));
    }

    #[rstest]
    #[case::plain("42 (chromium) S 7 42 42 0", Some(7))]
    #[case::spaces_and_parens("43 (Web (Content) x) S 42 42 42", Some(42))]
    #[case::truncated("44 (a)", None)]
    fn parent_pids_are_read_past_the_command_name(#[case] stat: &str, #[case] want: Option<u32>) {
        assert_eq!(parent_pid(stat), want);
    }

    #[test]
    fn descendants_are_the_whole_subtree_and_nothing_else() {
        // 10 → 11 → 13, 10 → 12; 20 is another tree; 1 is everyone's init.
        let parents = [(10, 1), (11, 10), (12, 10), (13, 11), (20, 1), (21, 20)];
        let mut tree = descendants(10, &parents);
        tree.sort_unstable();
        assert_eq!(tree, vec![10, 11, 12, 13]);
        assert_eq!(descendants(99, &parents), vec![99]);
    }

    #[rstest]
    #[case::renderer(b"/usr/lib/chromium/chromium\0--type=renderer\0--lang=en\0", true)]
    #[case::forked_by_the_zygote(b"/usr/lib/chromium/chromium --type=renderer --lang=en\0", true)]
    #[case::utility(b"/usr/lib/chromium/chromium\0--type=utility\0--utility-sub-type=network.mojom.NetworkService\0", false)]
    #[case::browser(b"/usr/lib/chromium/chromium\0--headless\0about:blank\0", false)]
    #[case::only_a_prefix(b"chromium\0--type=renderer-x\0", false)]
    fn renderers_are_told_by_their_type(#[case] cmdline: &[u8], #[case] want: bool) {
        assert_eq!(is_renderer(cmdline), want);
    }

    #[test]
    fn kib_fields_are_read() {
        let rollup = "Rss:              123456 kB\nPss:               65432 kB\n";
        assert_eq!(kib_field(rollup, "Pss:"), Some(65432));
        assert_eq!(kib_field(rollup, "Swap:"), None);
    }

    #[test]
    fn this_process_has_a_memory_footprint() {
        let bytes = tree_memory(std::process::id()).expect("our own /proc entry");
        assert!(bytes > MIB, "{bytes} bytes");
        assert_eq!(tree_memory(u32::MAX), None);
    }
}
