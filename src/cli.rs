//! The command line, as clap derive types. Doc comments are the `--help`
//! text. Nothing outside `config` (and `main`) sees these raw values:
//! `config` turns them into the settings and domain types the subcommands
//! read (`ScanConfig`, `ReportConfig`, `DiffConfig`; `exit::FailOn`,
//! `targets::SchemePolicy`, `input::InputFormat`, `report::Format`,
//! `report::labels::Lang`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Audit China ICP filing (备案) display rules on filed websites, with a
/// real headless Chromium.
///
/// Reads filed records, renders each filed apex and www. host on desktop and
/// on a phone, and writes one JSON line of findings per record to stdout.
#[derive(Debug, Parser)]
#[command(name = "beian-audit", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once, never moved around")]
pub enum Command {
    /// Scan filed records and write JSON findings.
    Scan(ScanArgs),
    /// Turn a scan's JSON lines into a report for people: one HTML page, or a CSV.
    Report(ReportArgs),
    /// Compare two scans of the same list: what changed for each record.
    Diff(DiffArgs),
}

/// `beian-audit diff` arguments (SPEC §6).
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier scan's output (JSON lines); `-` for stdin.
    #[arg(value_name = "OLD.ndjson")]
    pub old: PathBuf,

    /// The later scan's output (JSON lines); `-` for stdin. Read as a stream.
    #[arg(value_name = "NEW.ndjson")]
    pub new: PathBuf,

    /// Write the change lines to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML page.
    Html,
    /// A spreadsheet: UTF-8 CSV with a byte-order mark, one row per finding.
    Csv,
}

/// `beian-audit report` flags (SPEC §5).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A scan's output (JSON lines); `-` for stdin.
    #[arg(value_name = "FILE.ndjson")]
    pub input: PathBuf,

    /// Write the HTML page (or the CSV) to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// What to write: the HTML page, or a CSV spreadsheet.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,

    /// The language of headings, labels and column names.
    #[arg(long, value_enum, default_value_t = Lang::Zh)]
    pub lang: Lang,

    /// An earlier scan's output: mark each record's change since then.
    #[arg(long, value_name = "OLD.ndjson")]
    pub baseline: Option<PathBuf>,
}

/// `beian-audit scan` flags (SPEC §5).
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Records to scan: CSV, NDJSON or a plain list of domains; `-` for stdin.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: PathBuf,

    /// Write the JSON lines to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Skip records whose result is already in --output; append the rest.
    #[arg(long, requires = "output")]
    pub resume: bool,

    /// The most pages rendered at once, across all browsers [default: from the machine].
    ///
    /// A ceiling: the scan starts with a few pages a CPU and adds pages while
    /// the CPU and memory have room, gives them back when memory nears its
    /// budget.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Chromium processes in the pool [default: from the machine].
    #[arg(long, value_name = "N")]
    pub browsers: Option<usize>,

    /// Replace each browser after it has rendered N pages (0: never).
    ///
    /// The replacement starts first; the old browser finishes the pages it
    /// has in flight, then closes.
    #[arg(long, value_name = "N", default_value_t = crate::browser::recycle::DEFAULT_RECYCLE_PAGES)]
    pub recycle_pages: u64,

    /// Replace a browser whose processes hold more than MIB MiB (0: never)
    /// [default: 3/4 of each browser's share of the memory].
    ///
    /// Memory is the proportional set size of the browser and all its
    /// helpers, sampled every 5 seconds; the share is the cgroup limit (else
    /// the available memory) divided by --browsers.
    #[arg(long, value_name = "MIB")]
    pub recycle_memory: Option<u64>,

    /// Stop a page whose renderer holds more than MIB MiB (0: never) and
    /// report it `site-unreachable` (`out-of-memory`) [default: a quarter
    /// of the memory, at least 256 and at most 2048].
    ///
    /// The memory is the cgroup limit, else the available memory. Page
    /// scripts get the same limit as V8's heap.
    #[arg(long, value_name = "MIB")]
    pub page_memory: Option<u64>,

    /// The browser to drive [default: chromium-headless-shell, chromium, … on PATH].
    #[arg(long, value_name = "PATH", env = "CHROME")]
    pub chrome: Option<PathBuf>,

    /// An extra flag for every Chromium started (repeatable).
    #[arg(long = "chrome-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub chrome_args: Vec<String>,

    /// Send connections for HOST (`*` for all) to ADDR:PORT instead of DNS (repeatable).
    #[arg(long, value_name = "HOST=ADDR:PORT")]
    pub resolve: Vec<String>,

    /// Visit hosts that resolve to private, loopback or link-local addresses.
    #[arg(long)]
    pub allow_private: bool,

    /// Which scheme to open: `auto` tries https first, then http.
    #[arg(long, value_enum, default_value_t = SchemePolicy::Auto)]
    pub scheme: SchemePolicy,

    /// The budget for one target, navigation and settling included.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,

    /// Which findings make the exit status 1.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// The input's format [default: from the file name or content].
    #[arg(long, value_enum)]
    pub input_format: Option<InputFormat>,

    /// At most N page loads a second in all (never more than 2 at once on one site).
    #[arg(long, value_name = "N")]
    pub rate: Option<std::num::NonZeroU32>,

    /// Scan only the records whose domain hashes to shard I of N [default:
    /// `$JOB_COMPLETION_INDEX` / `$BEIAN_AUDIT_SHARDS` when set].
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    /// On SIGTERM/SIGINT, how long in-flight targets may finish before exit.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub grace: u64,

    /// Also write the end-of-scan summary (records by verdict, findings by
    /// code, targets/s, slowest targets) to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Save a PNG of the bottom of each failing target's page in DIR,
    /// referenced from its findings' `evidence.screenshot`.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,

    /// No progress bar (on a terminal) or progress lines (otherwise) on stderr.
    #[arg(long)]
    pub no_progress: bool,

    /// The stderr log format (`json` for cluster log pipelines).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// The hosting provider's own address ranges: a target served from
    /// outside all of them gets `ip-not-provider`.
    ///
    /// FILE holds one IP address or CIDR range a line; `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub provider_ranges: Option<PathBuf>,
}

/// `--input-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// CSV with a header row (English or Chinese column names).
    Csv,
    /// One JSON object a line.
    Ndjson,
    /// One domain a line.
    Lines,
}

/// `report --lang`: the language of headings, labels and column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// 简体中文 (the default: most readers are compliance staff in China).
    Zh,
    /// English.
    En,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// `--scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemePolicy {
    /// https first, then http when https cannot connect.
    Auto,
    /// https only.
    Https,
    /// http only.
    Http,
}

/// `--fail-on`: which findings make the exit status 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any error-severity finding.
    Error,
    /// Any finding at all, warnings included.
    Warning,
    /// Never: exit 0 whenever the scan ran.
    Never,
}
