//! `ScanConfig`: the scan's settings, validated and resolved once from the
//! raw flags, then read-only. Defaults "from the machine" are decided here,
//! and clap's types end here: the scan reads the domain types they map to.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::browser::launch::ResolveRule;
use crate::browser::recycle::MEMORY_SAMPLE_INTERVAL;
use crate::browser::{ChromeConfig, RecyclePolicy};
use crate::cgroup;
use crate::cli::{self, DiffArgs, LogFormat, ReportArgs, ScanArgs};
use crate::error::Error;
use crate::exit::FailOn;
use crate::input::record::to_ascii_host;
use crate::input::shard::Shard;
use crate::input::{InputFormat, InputSource};
use crate::report::{self, labels::Lang};
use crate::rules::ProviderRanges;
use crate::targets::SchemePolicy;

/// Everything a scan needs, frozen before work starts.
#[derive(Debug, Clone)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent flags of the command line, not states of one machine"
)]
pub struct ScanConfig {
    /// Where records come from.
    pub input: InputSource,
    /// Forced input format.
    pub input_format: Option<InputFormat>,
    /// `-o FILE`, or stdout.
    pub output: Option<PathBuf>,
    /// `--resume`.
    pub resume: bool,
    /// The most pages rendered at once (`--concurrency`); the scan adapts
    /// below it.
    pub concurrency: usize,
    /// The CPUs the worker may use (the cgroup's quota, when less than the
    /// cores).
    pub cpus: f64,
    /// Chromium processes.
    pub browsers: usize,
    /// `--recycle-pages`, `--recycle-memory`: when a browser is replaced.
    pub recycle: RecyclePolicy,
    /// The browser and its flags.
    pub chrome: ChromeConfig,
    /// `--allow-private`.
    pub allow_private: bool,
    /// `--scheme`.
    pub scheme: SchemePolicy,
    /// Budget of one target.
    pub timeout: Duration,
    /// `--fail-on`.
    pub fail_on: FailOn,
    /// Progress lines on stderr.
    pub progress: bool,
    /// `--rate`: page loads a second in all.
    pub rate: Option<std::num::NonZeroU32>,
    /// Which records this process scans.
    pub shard: Shard,
    /// `--grace`: how long in-flight targets may finish after a signal.
    pub grace: Duration,
    /// `--summary FILE`: the end-of-scan summary as JSON.
    pub summary: Option<PathBuf>,
    /// `--evidence DIR`, created and made absolute: screenshots of failing targets.
    pub evidence: Option<PathBuf>,
    /// `--log-format json`: every stderr line a JSON object.
    pub json_logs: bool,
    /// `--provider-ranges FILE`, read and checked.
    pub provider_ranges: Option<std::sync::Arc<ProviderRanges>>,
}

impl ScanConfig {
    /// Validate the flags and resolve every default.
    ///
    /// # Errors
    ///
    /// [`Error::Flag`] for a flag (or shard variable) that is out of range or
    /// malformed, or an `--evidence` directory that cannot be created;
    /// [`Error::Browser`] when no Chromium can be found.
    pub fn from_args(args: ScanArgs) -> Result<ScanConfig, Error> {
        let resolve = args
            .resolve
            .iter()
            .map(|r| parse_resolve(r))
            .collect::<Result<Vec<_>, _>>()?;
        let provider_ranges = args
            .provider_ranges
            .as_deref()
            .map(read_provider_ranges)
            .transpose()?
            .map(std::sync::Arc::new);
        if args.timeout == 0 {
            return Err(Error::Flag(
                "--timeout must be at least 1 second".to_owned(),
            ));
        }
        let executable = ChromeConfig::locate(args.chrome.as_deref())?;
        let machine = Machine::detect();
        let concurrency = match args.concurrency {
            Some(0) => return Err(Error::Flag("--concurrency must be at least 1".to_owned())),
            Some(n) => n,
            None => machine.default_concurrency(),
        };
        let browsers = match args.browsers {
            Some(0) => return Err(Error::Flag("--browsers must be at least 1".to_owned())),
            Some(n) => n,
            None => machine.default_browsers(),
        }
        .min(concurrency);
        let recycle = RecyclePolicy {
            after_pages: std::num::NonZeroU64::new(args.recycle_pages),
            memory_limit: match args.recycle_memory {
                Some(0) => None,
                Some(mib) => Some(mib.saturating_mul(1 << 20)),
                None => machine.default_recycle_memory(browsers),
            },
            sample_every: MEMORY_SAMPLE_INTERVAL,
        };
        let input = if args.input == Path::new("-") {
            InputSource::Stdin
        } else {
            InputSource::File(args.input)
        };
        Ok(ScanConfig {
            input,
            input_format: args.input_format.map(input_format),
            output: args.output,
            resume: args.resume,
            concurrency,
            cpus: machine.cpus,
            browsers,
            recycle,
            chrome: ChromeConfig {
                executable,
                extra_args: args.chrome_args,
                resolve,
                page_memory: match args.page_memory {
                    Some(0) => None,
                    Some(mib) => Some(mib.saturating_mul(1 << 20)),
                    None => machine.default_page_memory(),
                },
            },
            allow_private: args.allow_private,
            scheme: scheme(args.scheme),
            timeout: Duration::from_secs(args.timeout),
            fail_on: fail_on(args.fail_on),
            progress: !args.no_progress,
            rate: args.rate,
            shard: shard_from(args.shard.as_deref(), |k| std::env::var(k).ok())?,
            grace: Duration::from_secs(args.grace),
            summary: args.summary,
            evidence: args.evidence.as_deref().map(evidence_dir).transpose()?,
            json_logs: args.log_format == LogFormat::Json,
            provider_ranges,
        })
    }
}

/// `beian-audit report`'s settings.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// A scan's output; `-` for stdin.
    pub input: PathBuf,
    /// `-o FILE`, or stdout.
    pub output: Option<PathBuf>,
    /// `--format`.
    pub format: report::Format,
    /// `--lang`.
    pub lang: Lang,
    /// `--baseline OLD.ndjson`.
    pub baseline: Option<PathBuf>,
}

impl ReportConfig {
    /// The report's settings from its flags.
    #[must_use]
    pub fn from_args(args: ReportArgs) -> ReportConfig {
        ReportConfig {
            input: args.input,
            output: args.output,
            format: match args.format {
                cli::ReportFormat::Html => report::Format::Html,
                cli::ReportFormat::Csv => report::Format::Csv,
            },
            lang: match args.lang {
                cli::Lang::Zh => Lang::Zh,
                cli::Lang::En => Lang::En,
            },
            baseline: args.baseline,
        }
    }
}

/// `beian-audit diff`'s settings.
#[derive(Debug, Clone)]
pub struct DiffConfig {
    /// The earlier scan's output; `-` for stdin.
    pub old: PathBuf,
    /// The later scan's output; `-` for stdin.
    pub new: PathBuf,
    /// `-o FILE`, or stdout.
    pub output: Option<PathBuf>,
}

impl DiffConfig {
    /// The diff's settings from its flags.
    #[must_use]
    pub fn from_args(args: DiffArgs) -> DiffConfig {
        DiffConfig {
            old: args.old,
            new: args.new,
            output: args.output,
        }
    }
}

/// `--input-format`, as `input` reads it.
fn input_format(arg: cli::InputFormat) -> InputFormat {
    match arg {
        cli::InputFormat::Csv => InputFormat::Csv,
        cli::InputFormat::Ndjson => InputFormat::Ndjson,
        cli::InputFormat::Lines => InputFormat::Lines,
    }
}

/// `--scheme`, as a target is opened.
fn scheme(arg: cli::SchemePolicy) -> SchemePolicy {
    match arg {
        cli::SchemePolicy::Auto => SchemePolicy::Auto,
        cli::SchemePolicy::Https => SchemePolicy::Https,
        cli::SchemePolicy::Http => SchemePolicy::Http,
    }
}

/// `--fail-on`, as `exit` decides with it.
fn fail_on(arg: cli::FailOn) -> FailOn {
    match arg {
        cli::FailOn::Error => FailOn::Error,
        cli::FailOn::Warning => FailOn::Warning,
        cli::FailOn::Never => FailOn::Never,
    }
}

/// `--provider-ranges FILE`: read and parsed before anything starts, so a
/// bad line is a flag error (exit 2) that names it.
fn read_provider_ranges(path: &Path) -> Result<ProviderRanges, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Flag(format!(
            "--provider-ranges {}: cannot read the file: {e}",
            path.display()
        ))
    })?;
    ProviderRanges::parse(&text).map_err(|e| {
        let at = if e.line == 0 {
            e.reason.to_owned()
        } else {
            format!("line {}: {:?} {}", e.line, e.text, e.reason)
        };
        Error::Flag(format!(
            "--provider-ranges {}: {at}; write one address or CIDR range a line, like \
             203.0.113.0/24 (`#` starts a comment)",
            path.display()
        ))
    })
}

/// `--evidence DIR`: created if missing, absolute, so that the paths in
/// `evidence.screenshot` name the files from any working directory.
fn evidence_dir(dir: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::canonicalize(dir))
        .map_err(|e| {
            Error::Flag(format!(
                "--evidence {}: cannot create the directory: {e}",
                dir.display()
            ))
        })
}

/// `--shard I/N`, else `$JOB_COMPLETION_INDEX` of `$BEIAN_AUDIT_SHARDS` (both
/// or neither: a pod of an Indexed Job that does not say how many shards
/// there are must not scan everything).
fn shard_from(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Shard, Error> {
    if let Some(text) = flag {
        return Shard::parse(text).map_err(Error::Flag);
    }
    match (env("JOB_COMPLETION_INDEX"), env("BEIAN_AUDIT_SHARDS")) {
        (None, None) => Ok(Shard::ALL),
        (Some(_), None) => Err(Error::Flag(
            "JOB_COMPLETION_INDEX is set but BEIAN_AUDIT_SHARDS is not; set it to the Job's completions, or pass --shard I/N".to_owned(),
        )),
        (None, Some(n)) => Shard::parse(&format!("0/{n}")).map_err(|e| Error::Flag(format!("BEIAN_AUDIT_SHARDS: {e}"))),
        (Some(i), Some(n)) => Shard::parse(&format!("{i}/{n}")).map_err(|e| Error::Flag(format!("JOB_COMPLETION_INDEX/BEIAN_AUDIT_SHARDS: {e}"))),
    }
}

/// Parse `HOST=ADDR:PORT` (`*` for every host; `[v6]:port` for IPv6).
fn parse_resolve(text: &str) -> Result<ResolveRule, Error> {
    let bad = |why: &str| {
        Error::Flag(format!("--resolve {text:?}: {why}; write it like 'example.cn=127.0.0.1:8080' or '*=127.0.0.1:8080'"))
    };
    let (host, addr) = text.split_once('=').ok_or_else(|| bad("no `=`"))?;
    let addr: SocketAddr = addr.trim().parse().map_err(|_| bad("not an ADDR:PORT"))?;
    let host = host.trim();
    let host = if host == "*" {
        host.to_owned()
    } else {
        to_ascii_host(host).map_err(|why| bad(&why))?
    };
    Ok(ResolveRule { host, addr })
}

/// What the machine (or the container's cgroup) offers.
struct Machine {
    /// CPUs this process may use: the cores it can run on, or the cgroup
    /// CPU quota when that is less (0.2 for a fifth of a CPU).
    cpus: f64,
    memory_bytes: Option<u64>,
}

impl Machine {
    fn detect() -> Machine {
        // `available_parallelism` honours the quota too, but rounds it up
        // (0.2 CPU reads as one core), so the quota is read as a fraction.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Machine {
            cpus: usable_cpus(cores, cgroup::cpu_quota()),
            memory_bytes: cgroup::memory_limit().or_else(crate::load::mem_available),
        }
    }

    /// Pages at once: sixteen per CPU — a page spends most of its life
    /// waiting (the network, its timers, settling; a record's tab also
    /// between its renders), so fewer leave the cores idle even with no
    /// added latency (README "Benchmark": 32 pages beat 16 on 2 cores in
    /// both regimes) — but only eight per CPU below one CPU, where the
    /// renderer is starved and more pages only queue behind it, and no
    /// more than memory allows at [`PAGE_MEMORY`] a page.
    fn default_concurrency(&self) -> usize {
        let per_cpu = if self.cpus < 1.0 { 8.0 } else { 16.0 };
        let by_cpu = whole(per_cpu * self.cpus).max(1);
        let by_memory = self.memory_bytes.map_or(usize::MAX, |m| {
            usize::try_from(m / PAGE_MEMORY).unwrap_or(usize::MAX)
        });
        by_cpu.min(by_memory).clamp(1, 64)
    }

    /// One browser per two CPUs (a part CPU counts as one): each Chromium
    /// already spreads its renderers over the cores.
    fn default_browsers(&self) -> usize {
        whole(self.cpus.ceil()).div_ceil(2).clamp(1, 8)
    }

    /// The memory past which a browser is recycled: 3/4 of its share of the
    /// machine's memory, leaving room for its replacement to start and for
    /// the worker itself; at least 512 MiB, below which Chromium with a
    /// page or two would be recycled over and over. `None` (no limit) when
    /// the memory is unknown.
    fn default_recycle_memory(&self, browsers: usize) -> Option<u64> {
        let browsers = u64::try_from(browsers.max(1)).unwrap_or(u64::MAX);
        self.memory_bytes
            .map(|m| (m / browsers / 4 * 3).max(512 << 20))
    }

    /// What one page's renderer may hold: a quarter of the memory, so that
    /// one page can never take the worker down with it (in a 2 GiB pod a
    /// page gets 512 MiB; a heavy real homepage takes 100–300 MiB), at
    /// least 256 MiB and at most 2 GiB (a 20 MB homepage takes about 1 GiB).
    /// `None` (no limit) when the memory is unknown.
    fn default_page_memory(&self) -> Option<u64> {
        self.memory_bytes.map(|m| (m / 4).clamp(256 << 20, 2 << 30))
    }
}

/// The CPUs a process may use: its `cores`, or the cgroup `quota` (in CPUs)
/// when that is less.
fn usable_cpus(cores: usize, quota: Option<f64>) -> f64 {
    let cores = f64::from(u32::try_from(cores).unwrap_or(u32::MAX));
    quota.map_or(cores, |q| q.min(cores))
}

/// `x` rounded to the nearest whole number, within `0..=1024` (more than
/// any default needs; a NaN is 0).
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to 0..=1024 first"
)]
pub(crate) fn whole(x: f64) -> usize {
    x.round().clamp(0.0, 1024.0) as usize
}

/// Memory budgeted per page at once when the default concurrency is
/// derived: the whole Chromium tree measured ~700 MiB PSS at 16 pages and
/// ~1 GiB at 32 on the benchmark farm (≈ 25 MiB a page over a ~250 MiB
/// base; images and fonts are skipped); real homepages weigh several times
/// more, so 128 MiB a page keeps 16 pages inside a 2 GiB pod with room to
/// spare.
const PAGE_MEMORY: u64 = 128 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::wildcard("*=127.0.0.1:8080", "*", "127.0.0.1:8080")]
    #[case::host("Example.CN=10.0.0.1:443", "example.cn", "10.0.0.1:443")]
    #[case::idn("例子.中国=127.0.0.1:80", "xn--fsqu00a.xn--fiqs8s", "127.0.0.1:80")]
    #[case::ipv6("a.cn=[::1]:8080", "a.cn", "[::1]:8080")]
    fn resolve_rules_parse(#[case] text: &str, #[case] host: &str, #[case] addr: &str) {
        let rule = parse_resolve(text).unwrap();
        assert_eq!(rule.host, host);
        assert_eq!(rule.addr.to_string(), addr);
    }

    #[rstest]
    #[case::flag_wins(Some("1/3"), Some("0"), Some("2"), Some((1, 3)))]
    #[case::from_job_env(None, Some("2"), Some("4"), Some((2, 4)))]
    #[case::nothing(None, None, None, Some((0, 1)))]
    #[case::index_without_count(None, Some("2"), None, None)]
    #[case::index_out_of_range(None, Some("4"), Some("4"), None)]
    fn shard_defaults(
        #[case] flag: Option<&str>,
        #[case] index: Option<&str>,
        #[case] count: Option<&str>,
        #[case] want: Option<(u64, u64)>,
    ) {
        let env = |k: &str| match k {
            "JOB_COMPLETION_INDEX" => index.map(str::to_owned),
            "BEIAN_AUDIT_SHARDS" => count.map(str::to_owned),
            _ => None,
        };
        assert_eq!(shard_from(flag, env).ok().map(|s| (s.index, s.count)), want);
    }

    #[rstest]
    #[case::no_equals("127.0.0.1:8080")]
    #[case::no_port("a.cn=127.0.0.1")]
    #[case::bad_host("a b=127.0.0.1:1")]
    fn bad_resolve_rules_are_flag_errors(#[case] text: &str) {
        assert!(matches!(parse_resolve(text), Err(Error::Flag(_))));
    }

    #[rstest]
    #[case::bad_line("203.0.113.0/24\n\n# office\n10.0.0.300\n", "line 4: \"10.0.0.300\"")]
    #[case::empty("# nothing yet\n", "holds no address range")]
    fn bad_provider_ranges_are_flag_errors_naming_the_line(#[case] text: &str, #[case] says: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ranges.txt");
        std::fs::write(&path, text).unwrap();
        let Err(Error::Flag(message)) = read_provider_ranges(&path) else {
            panic!("not a flag error");
        };
        assert!(message.contains(says), "{message}");
        assert!(message.contains("--provider-ranges"), "{message}");
    }

    #[test]
    fn provider_ranges_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ranges.txt");
        std::fs::write(&path, "# ours\n203.0.113.0/24\n2001:db8::/32 # v6\n").unwrap();
        assert_eq!(read_provider_ranges(&path).unwrap().len(), 2);
        assert!(matches!(
            read_provider_ranges(&dir.path().join("missing")),
            Err(Error::Flag(_))
        ));
    }

    #[rstest]
    #[case::cgroup_2g_one_browser(Some(2 << 30), 1, Some(1536))]
    #[case::four_browsers(Some(8 << 30), 4, Some(1536))]
    #[case::small_share_floor(Some(1 << 30), 4, Some(512))]
    #[case::unknown(None, 2, None)]
    fn recycle_memory_defaults(
        #[case] memory_bytes: Option<u64>,
        #[case] browsers: usize,
        #[case] mib: Option<u64>,
    ) {
        let m = Machine {
            cpus: 2.0,
            memory_bytes,
        };
        assert_eq!(m.default_recycle_memory(browsers), mib.map(|x| x << 20));
    }

    #[rstest]
    #[case::machine_24g(Some(24 << 30), Some(2048))]
    #[case::pod_2g(Some(2 << 30), Some(512))]
    #[case::pod_512m_floor(Some(512 << 20), Some(256))]
    #[case::unknown(None, None)]
    fn page_memory_defaults(#[case] memory_bytes: Option<u64>, #[case] mib: Option<u64>) {
        let m = Machine {
            cpus: 2.0,
            memory_bytes,
        };
        assert_eq!(m.default_page_memory(), mib.map(|x| x << 20));
    }

    #[rstest]
    #[case::two_cores_plenty(2.0, Some(24 << 30), 32, 1)]
    #[case::two_cores_two_gib(2.0, Some(2 << 30), 16, 1)]
    #[case::two_cores_one_gib(2.0, Some(1 << 30), 8, 1)]
    #[case::tiny(1.0, Some(100 << 20), 1, 1)]
    #[case::eight_cores(8.0, None, 64, 4)]
    #[case::one_cpu(1.0, None, 16, 1)]
    #[case::one_and_a_half(1.5, None, 24, 1)]
    #[case::two_and_a_half(2.5, None, 40, 2)]
    // Below one CPU, eight pages a CPU.
    #[case::fifth_of_a_cpu(0.2, None, 2, 1)]
    #[case::half_a_cpu(0.5, None, 4, 1)]
    #[case::tenth_of_a_cpu(0.1, None, 1, 1)]
    #[case::hundredth_of_a_cpu(0.01, None, 1, 1)]
    #[case::just_under_one(0.9, None, 7, 1)]
    #[case::fifth_memory_bound(0.2, Some(128 << 20), 1, 1)]
    fn machine_defaults(
        #[case] cpus: f64,
        #[case] memory_bytes: Option<u64>,
        #[case] pages: usize,
        #[case] browsers: usize,
    ) {
        let m = Machine { cpus, memory_bytes };
        assert_eq!(
            (m.default_concurrency(), m.default_browsers()),
            (pages, browsers)
        );
    }

    #[rstest]
    #[case::no_quota(2, None, 2.0)]
    #[case::fifth(2, Some(0.2), 0.2)]
    #[case::one_and_a_half(2, Some(1.5), 1.5)]
    #[case::quota_above_cores(2, Some(4.0), 2.0)]
    #[case::rounded_up_core(1, Some(0.2), 0.2)]
    fn usable_cpu_cases(#[case] cores: usize, #[case] quota: Option<f64>, #[case] cpus: f64) {
        let got = usable_cpus(cores, quota);
        assert!((got - cpus).abs() < f64::EPSILON, "{got} CPUs, want {cpus}");
    }
}
