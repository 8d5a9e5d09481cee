//! Linux control groups: what the cgroup this process runs in allows it
//! (a CPU quota, a memory limit) and how often it was held back (CPU
//! throttling). The machine's own numbers overstate a container's share, so
//! the defaults of [`crate::config`] are derived from these.
//!
//! Both hierarchies are read. cgroup v2 has one tree mounted at
//! `/sys/fs/cgroup` (`cpu.max`, `memory.max`); cgroup v1 mounts one tree a
//! controller (`/sys/fs/cgroup/cpu/cpu.cfs_quota_us`, also mounted as
//! `cpu,cpuacct`; `/sys/fs/cgroup/memory/memory.limit_in_bytes`). The
//! process's own cgroup is the path `/proc/self/cgroup` names in each tree
//! (`1:cpu:/some/path`, `4:cpu,cpuacct:/x`, `0::/path` for v2); a limit
//! set on any ancestor binds too, so limits are the least along the path up
//! to the mount. Inside a container without a cgroup namespace that path
//! names the host's tree, which is not mounted there: then the mount's root
//! files, which are the container's own, answer.
//!
//! Parsing is pure functions of the files' text; only [`cpu_quota`],
//! [`memory_limit`], [`memory_use`], [`cpu_throttled`] and [`cpu_usage`]
//! touch the file system. A file that
//! is missing or malformed counts as "no limit known": a wrong guess here
//! only shapes defaults, never a result.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the cgroup hierarchies are mounted.
const ROOT: &str = "/sys/fs/cgroup";

/// A v1 memory limit at or above this means none (the kernel writes
/// "unlimited" as a page-rounded `i64::MAX`).
const NO_MEMORY_LIMIT: u64 = 1 << 50;

/// CPU throttling of a cgroup so far: how often its quota ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CpuThrottle {
    /// Enforcement periods in which the cgroup used up its quota and was
    /// stopped (`nr_throttled`).
    pub(crate) periods: u64,
    /// Total time it stood stopped, in microseconds (`throttled_usec` in
    /// v2, `throttled_time` in nanoseconds in v1).
    pub(crate) throttled_us: u64,
}

/// The CPU quota in CPUs (0.2 for a fifth of one CPU), when one is set on
/// this process's cgroup or an ancestor: the least of them.
pub(crate) fn cpu_quota() -> Option<f64> {
    cpu_dirs()
        .iter()
        .filter_map(|dir| {
            read(&dir.join("cpu.max"))
                .and_then(|text| parse_cpu_max(&text))
                .or_else(|| {
                    let quota = read(&dir.join("cpu.cfs_quota_us"))?;
                    let period = read(&dir.join("cpu.cfs_period_us"))?;
                    parse_cfs_quota(&quota, &period)
                })
        })
        .min_by(f64::total_cmp)
}

/// The memory limit in bytes, when one is set on this process's cgroup or an
/// ancestor: the least of them.
pub(crate) fn memory_limit() -> Option<u64> {
    memory_dirs()
        .iter()
        .filter_map(|dir| {
            ["memory.max", "memory.limit_in_bytes"]
                .iter()
                .find_map(|file| read(&dir.join(file)))
                .and_then(|text| parse_memory_limit(&text))
        })
        .min()
}

/// The memory of this process's cgroup against its limit, where one is set
/// (on it or an ancestor): of the limited cgroups, the one with the least
/// room left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemoryUse {
    /// The limit, in bytes.
    pub(crate) limit: u64,
    /// Its working set: what it uses less the file cache the kernel can
    /// drop at once (`inactive_file`), as the kubelet counts it for
    /// eviction; the page cache of files read once would otherwise look
    /// like memory the scan holds.
    pub(crate) used: u64,
}

/// See [`MemoryUse`]; `None` where no limit is set.
pub(crate) fn memory_use() -> Option<MemoryUse> {
    memory_dirs()
        .iter()
        .filter_map(|dir| {
            let (limit, usage) = [
                ("memory.max", "memory.current"),
                ("memory.limit_in_bytes", "memory.usage_in_bytes"),
            ]
            .iter()
            .find_map(|(limit, usage)| Some((read(&dir.join(limit))?, read(&dir.join(usage))?)))?;
            let limit = parse_memory_limit(&limit)?;
            let stat = read(&dir.join("memory.stat")).unwrap_or_default();
            let used = working_set(&usage, &stat)?;
            Some(MemoryUse { limit, used })
        })
        .min_by_key(|m| m.limit.saturating_sub(m.used))
}

/// The CPU time this process's cgroup used so far (v2 `cpu.stat`
/// `usage_usec`, v1 `cpuacct.usage` in nanoseconds), in microseconds;
/// `None` where no CPU cgroup counts it.
pub(crate) fn cpu_usage() -> Option<u64> {
    // v1 `cpuacct` is mounted with `cpu` (`cpu,cpuacct`) or on its own.
    cpu_dirs().iter().chain(cpuacct_dirs()).find_map(|dir| {
        read(&dir.join("cpu.stat"))
            .and_then(|text| stat_value(&text, "usage_usec"))
            .or_else(|| {
                read(&dir.join("cpuacct.usage"))
                    .and_then(|ns| ns.trim().parse::<u64>().ok())
                    .map(|ns| ns / 1000)
            })
    })
}

/// How much this process's cgroup has been CPU-throttled so far, from its
/// `cpu.stat` (or, when its own directory is not mounted here, the nearest
/// one above it that is). `None` where no `cpu.stat` has the counters (no
/// cgroup CPU controller).
pub(crate) fn cpu_throttled() -> Option<CpuThrottle> {
    cpu_dirs()
        .iter()
        .find_map(|dir| read(&dir.join("cpu.stat")).and_then(|text| parse_cpu_stat(&text)))
}

/// The directories of this process's CPU cgroups, most specific first.
/// Looked up once: a process stays in its cgroup, and [`cpu_throttled`] is
/// read around every render.
fn cpu_dirs() -> &'static [PathBuf] {
    static DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    dirs_once(&DIRS, "cpu")
}

/// The directories of this process's v1 `cpuacct` cgroups, most specific
/// first (looked up once, as [`cpu_dirs`]).
fn cpuacct_dirs() -> &'static [PathBuf] {
    static DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    dirs_once(&DIRS, "cpuacct")
}

/// The directories of this process's memory cgroups, most specific first
/// (looked up once, as [`cpu_dirs`]).
fn memory_dirs() -> &'static [PathBuf] {
    static DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    dirs_once(&DIRS, "memory")
}

/// The directories of `controller`, looked up the first time and kept in
/// `cell`.
fn dirs_once(cell: &'static OnceLock<Vec<PathBuf>>, controller: &str) -> &'static [PathBuf] {
    cell.get_or_init(|| dirs(proc_self_cgroup().as_deref(), controller))
}

fn proc_self_cgroup() -> Option<String> {
    read(Path::new("/proc/self/cgroup"))
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The directories that may hold `controller`'s files for the process whose
/// `/proc/self/cgroup` reads `proc_self_cgroup` (`None`: unreadable): in
/// the v1 tree of the controller, then in the v2 tree, each from the
/// process's own cgroup up to the mount's root. Without a line for a tree,
/// only its root.
fn dirs(proc_self_cgroup: Option<&str>, controller: &str) -> Vec<PathBuf> {
    let lines: Vec<(&str, &str)> = proc_self_cgroup
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            Some((parts.next()?, parts.next()?))
        })
        .collect();
    let v1 = lines
        .iter()
        .find(|(controllers, _)| controllers.split(',').any(|c| c == controller));
    let v2 = lines.iter().find(|(controllers, _)| controllers.is_empty());

    // A v1 controller is mounted under its own name, or under the joint
    // name of the controllers it shares a tree with (`cpu,cpuacct`).
    let mut mounts = vec![controller.to_owned()];
    if let Some((controllers, _)) = v1 {
        mounts.push((*controllers).to_owned());
    }
    if controller == "cpu" {
        mounts.push("cpu,cpuacct".to_owned());
    }
    let v1_path = v1.map_or("/", |(_, path)| path);
    let mut out: Vec<PathBuf> = Vec::new();
    for mount in mounts {
        for dir in up_to(&Path::new(ROOT).join(mount), v1_path) {
            if !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    let v2_path = v2.map_or("/", |(_, path)| path);
    out.extend(up_to(Path::new(ROOT), v2_path));
    out
}

/// `mount` joined with `path` (`/a/b`), then each ancestor up to `mount`:
/// `[mount/a/b, mount/a, mount]`. A path that could step outside the mount
/// (`..`) gives only `mount`.
fn up_to(mount: &Path, path: &str) -> Vec<PathBuf> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|&p| p == "." || p == "..") {
        return vec![mount.to_path_buf()];
    }
    (0..=parts.len())
        .rev()
        .map(|n| {
            parts[..n]
                .iter()
                .fold(mount.to_path_buf(), |dir, p| dir.join(p))
        })
        .collect()
}

/// A v2 `cpu.max` (`$QUOTA $PERIOD` in microseconds, `max` for none) as
/// CPUs.
fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut fields = text.split_whitespace();
    let quota = fields.next()?;
    let period = fields.next()?;
    if fields.next().is_some() || quota == "max" {
        return None;
    }
    cpus(quota, period)
}

/// The v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (quota `-1` for none)
/// as CPUs.
fn parse_cfs_quota(quota: &str, period: &str) -> Option<f64> {
    cpus(quota.trim(), period.trim())
}

/// `quota / period`, both positive microsecond counts. A quota past `u32`
/// (over 4000 CPUs at the longest period) is as good as none.
fn cpus(quota: &str, period: &str) -> Option<f64> {
    let quota: u32 = quota.parse().ok().filter(|&q| q > 0)?;
    let period: u32 = period.parse().ok().filter(|&p| p > 0)?;
    Some(f64::from(quota) / f64::from(period))
}

/// A v2 `memory.max` (`max` for none) or v1 `memory.limit_in_bytes` (a huge
/// number for none) as bytes.
fn parse_memory_limit(text: &str) -> Option<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|&n| n < NO_MEMORY_LIMIT)
}

/// The throttling counters of a `cpu.stat` (`key value` lines): v2
/// `nr_throttled` and `throttled_usec`, v1 `nr_throttled` and
/// `throttled_time` (nanoseconds). `None` without them (a v2 `cpu.stat` of
/// a cgroup without the cpu controller has only usage).
fn parse_cpu_stat(text: &str) -> Option<CpuThrottle> {
    let value = |key: &str| stat_value(text, key);
    let periods = value("nr_throttled")?;
    let throttled_us =
        value("throttled_usec").or_else(|| value("throttled_time").map(|ns| ns / 1000))?;
    Some(CpuThrottle {
        periods,
        throttled_us,
    })
}

/// The value of `key` in a `key value` file (`cpu.stat`, `memory.stat`).
fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(char::is_whitespace)?;
        (k == key).then(|| v.trim().parse::<u64>().ok()).flatten()
    })
}

/// A cgroup's usage (`memory.current`, v1 `memory.usage_in_bytes`) less
/// the inactive file cache its `memory.stat` names (v1 `total_inactive_file`
/// counts the cgroup's children too and is preferred; `inactive_file`
/// otherwise; neither: nothing to take off).
fn working_set(usage: &str, stat: &str) -> Option<u64> {
    let usage: u64 = usage.trim().parse().ok()?;
    let inactive = stat_value(stat, "total_inactive_file")
        .or_else(|| stat_value(stat, "inactive_file"))
        .unwrap_or(0);
    Some(usage.saturating_sub(inactive))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::v2_none("max 100000\n", None)]
    #[case::v2_fifth("20000 100000\n", Some(0.2))]
    #[case::v2_one_and_a_half("150000 100000\n", Some(1.5))]
    #[case::v2_short_period("50000 50000", Some(1.0))]
    #[case::v2_malformed("lots 100000\n", None)]
    #[case::v2_quota_only("20000\n", None)]
    #[case::v2_extra_field("20000 100000 7\n", None)]
    #[case::v2_period_zero("20000 0\n", None)]
    #[case::v2_empty("", None)]
    fn cpu_max_cases(#[case] text: &str, #[case] want: Option<f64>) {
        assert_eq!(parse_cpu_max(text), want);
    }

    #[rstest]
    #[case::v1_none("-1\n", "100000\n", None)]
    #[case::v1_fifth("20000\n", "100000\n", Some(0.2))]
    #[case::v1_two("200000\n", "100000\n", Some(2.0))]
    #[case::v1_period_zero("20000\n", "0\n", None)]
    #[case::v1_quota_zero("0\n", "100000\n", None)]
    #[case::v1_malformed("x\n", "100000\n", None)]
    fn cfs_quota_cases(#[case] quota: &str, #[case] period: &str, #[case] want: Option<f64>) {
        assert_eq!(parse_cfs_quota(quota, period), want);
    }

    #[rstest]
    #[case::v2_none("max\n", None)]
    #[case::v2_two_gib("2147483648\n", Some(2 << 30))]
    #[case::v1_unlimited("9223372036854771712\n", None)]
    #[case::v1_one_gib("1073741824\n", Some(1 << 30))]
    #[case::malformed("1G\n", None)]
    fn memory_limit_cases(#[case] text: &str, #[case] want: Option<u64>) {
        assert_eq!(parse_memory_limit(text), want);
    }

    #[rstest]
    #[case::v2(
        "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 50\nnr_throttled 7\nthrottled_usec 350000\n",
        Some(CpuThrottle { periods: 7, throttled_us: 350_000 })
    )]
    #[case::v1_nanoseconds(
        "nr_periods 50\nnr_throttled 7\nthrottled_time 350000123\nnr_bursts 0\nburst_time 0\n",
        Some(CpuThrottle { periods: 7, throttled_us: 350_000 })
    )]
    #[case::v1_never_throttled(
        "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
        Some(CpuThrottle::default())
    )]
    #[case::v2_without_cpu_controller("usage_usec 1000\nuser_usec 600\nsystem_usec 400\n", None)]
    #[case::no_time("nr_throttled 7\n", None)]
    #[case::malformed_count("nr_throttled many\nthrottled_usec 5\n", None)]
    #[case::key_prefix_is_not_key("nr_throttled_x 7\nnr_throttled 2\nthrottled_usec 5\n", Some(CpuThrottle { periods: 2, throttled_us: 5 }))]
    #[case::empty("", None)]
    fn cpu_stat_cases(#[case] text: &str, #[case] want: Option<CpuThrottle>) {
        assert_eq!(parse_cpu_stat(text), want);
    }

    #[rstest]
    #[case::v1_root(
        Some("2:cpuacct:/\n1:cpu:/\n0::/\n"),
        "cpu",
        &["cpu", "cpu,cpuacct", ""]
    )]
    #[case::v1_own(
        Some("1:cpu:/some/path\n0::/\n"),
        "cpu",
        &["cpu/some/path", "cpu/some", "cpu", "cpu,cpuacct/some/path", "cpu,cpuacct/some", "cpu,cpuacct", ""]
    )]
    #[case::v1_joint(
        Some("4:cpu,cpuacct:/x\n"),
        "cpu",
        &["cpu/x", "cpu", "cpu,cpuacct/x", "cpu,cpuacct", ""]
    )]
    #[case::v2_own(Some("0::/kubepods/pod1\n"), "cpu", &["cpu", "cpu,cpuacct", "kubepods/pod1", "kubepods", ""])]
    #[case::v1_memory(
        Some("4:memory:/process_api/6f6b\n1:cpu:/\n0::/\n"),
        "memory",
        &["memory/process_api/6f6b", "memory/process_api", "memory", ""]
    )]
    #[case::unreadable(None, "memory", &["memory", ""])]
    #[case::escaping_path(Some("1:cpu:/../etc\n"), "cpu", &["cpu", "cpu,cpuacct", ""])]
    #[case::controller_name_is_whole(Some("1:cpuset:/x\n"), "cpu", &["cpu", "cpu,cpuacct", ""])]
    fn dirs_cases(
        #[case] proc_self: Option<&str>,
        #[case] controller: &str,
        #[case] want: &[&str],
    ) {
        let want: Vec<PathBuf> = want
            .iter()
            .map(|d| {
                if d.is_empty() {
                    PathBuf::from(ROOT)
                } else {
                    Path::new(ROOT).join(d)
                }
            })
            .collect();
        assert_eq!(dirs(proc_self, controller), want);
    }

    #[rstest]
    #[case::v2(
        "524288000\n",
        "anon 400000000\ninactive_file 104857600\nactive_file 1\n",
        Some(419_430_400)
    )]
    #[case::v1_total_preferred(
        "524288000\n",
        "inactive_file 1\ntotal_inactive_file 104857600\n",
        Some(419_430_400)
    )]
    #[case::no_stat("524288000\n", "", Some(524_288_000))]
    #[case::cache_over_usage("100\n", "inactive_file 200\n", Some(0))]
    #[case::malformed_usage("lots\n", "inactive_file 1\n", None)]
    #[case::key_prefix_is_not_key("1000\n", "inactive_file_x 600\ninactive_file 100\n", Some(900))]
    fn working_set_cases(#[case] usage: &str, #[case] stat: &str, #[case] want: Option<u64>) {
        assert_eq!(working_set(usage, stat), want);
    }

    #[rstest]
    #[case::v2_usage("usage_usec 1500\nuser_usec 1000\n", "usage_usec", Some(1500))]
    #[case::missing("user_usec 1000\n", "usage_usec", None)]
    #[case::malformed("usage_usec x\n", "usage_usec", None)]
    fn stat_value_cases(#[case] text: &str, #[case] key: &str, #[case] want: Option<u64>) {
        assert_eq!(stat_value(text, key), want);
    }
}
