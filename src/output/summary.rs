//! The scan's tally, its progress display and its end-of-scan summary, all
//! to stderr (stdout is data).
//!
//! [`Summary`] counts every written [`RecordReport`] (records by verdict,
//! findings by code, targets, the slowest targets); it decides nothing
//! (the exit status is `exit`'s). While the scan runs it shows progress: an
//! `indicatif` bar when stderr is a terminal (and logs are text), else an
//! `info` log line every [`LOG_EVERY`]; `--no-progress` turns both off. At
//! the end it writes a short table to stderr (text logs) or one `info`
//! event (JSON logs), and the same numbers as JSON to `--summary FILE`.
//!
//! Log lines and the bar share the terminal: [`LogWriter`] (the tracing
//! writer `main` installs) suspends the bar while a line is written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IsTerminal as _, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::wire::millis;
use super::writer::escape_line_separators;
use super::RecordReport;
use crate::error::Error;
use crate::rules::{FindingCode, Verdict};

/// How often a progress line is logged when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(5);
/// How many of the slowest targets the summary lists.
const SLOWEST: usize = 10;

/// How the scan shows progress and its summary.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Progress on (not `--no-progress`).
    pub progress: bool,
    /// Logs are JSON (`--log-format json`): no bar, no table; every stderr
    /// line stays a JSON object.
    pub json_logs: bool,
    /// Records this scan will write, when known (file input, pre-read).
    pub total: Option<u64>,
}

/// Records by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    /// Records with no error finding.
    pub pass: u64,
    /// Records with an error finding other than `crawler-error`.
    pub fail: u64,
    /// Records with only `crawler-error` errors.
    pub error: u64,
}

/// One of the slowest targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowTarget {
    /// The target as findings name it: URL plus `#desktop` / `#mobile`.
    pub url: String,
    /// Time spent on it.
    pub elapsed_ms: u64,
}

/// The end-of-scan summary, as `--summary FILE` writes it (one JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryReport {
    /// Records written.
    pub records: u64,
    /// Records the scan set out to write, when known (file input).
    pub total: Option<u64>,
    /// Records by verdict.
    pub verdicts: VerdictCounts,
    /// Findings by code, in SPEC order; codes never seen are left out.
    pub findings: BTreeMap<FindingCode, u64>,
    /// Targets rendered (or refused, or unreachable).
    pub targets: u64,
    /// Wall time of the scan, from its start to the summary.
    pub elapsed_ms: u64,
    /// `targets / elapsed`.
    pub targets_per_s: f64,
    /// The slowest targets, slowest first, at most 10.
    pub slowest: Vec<SlowTarget>,
    /// Whether a signal stopped the scan before every record was written.
    pub interrupted: bool,
    /// Beyond the contract: the most memory the worker process itself
    /// (not its browsers) held at once, in bytes (`VmHWM`); absent where
    /// the system does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_peak_rss_bytes: Option<u64>,
}

/// The worker process's peak resident memory (`VmHWM` of
/// `/proc/self/status`), in bytes.
fn worker_peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Counters the progress display reads while the scan writes.
#[derive(Debug, Default)]
struct Live {
    /// Records the scan will write, plus one; 0 while unknown (the scan
    /// learns it from a pre-read that runs beside the first renders).
    total_plus_one: AtomicU64,
    records: AtomicU64,
    targets: AtomicU64,
    pass: AtomicU64,
    fail: AtomicU64,
    error: AtomicU64,
    /// The pages the scan may have open now (its adapted level); 0 until
    /// set.
    pages: Arc<AtomicU64>,
}

/// The scan's tally; see the module docs.
pub struct Summary {
    options: SummaryOptions,
    started: Instant,
    live: Arc<Live>,
    findings: BTreeMap<FindingCode, u64>,
    slowest: Vec<SlowTarget>,
    /// `--summary FILE`, opened at the start, and its name.
    file: Option<(File, String)>,
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

/// The active progress bar, for [`LogWriter`]. Global because the tracing
/// subscriber is installed before any scan exists; only `Summary` sets it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

impl Summary {
    /// The page level the progress shows, for the scan to keep current.
    #[must_use]
    pub fn pages_shown(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.live.pages)
    }

    /// Start counting (and showing progress). `summary_file` is created now,
    /// so an unwritable `--summary FILE` fails the scan before it starts.
    ///
    /// # Errors
    ///
    /// The I/O error when `summary_file` cannot be created.
    pub fn new(options: SummaryOptions, summary_file: Option<&Path>) -> io::Result<Summary> {
        let file = match summary_file {
            Some(path) => Some((File::create(path)?, path.display().to_string())),
            None => None,
        };
        let live = Arc::new(Live::default());
        live.set_total(options.total);
        let use_bar = options.progress && !options.json_logs && io::stderr().is_terminal();
        let bar = use_bar.then(|| progress_bar(options.total));
        if let Some(bar) = &bar {
            *BAR.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.clone());
        }
        let started = Instant::now();
        let ticker = options
            .progress
            .then(|| tokio::runtime::Handle::try_current().ok())
            .flatten()
            .map(|rt| rt.spawn(show_progress(Arc::clone(&live), started, bar.clone())));
        Ok(Summary {
            options,
            started,
            live,
            findings: BTreeMap::new(),
            slowest: Vec::new(),
            file,
            bar,
            ticker,
        })
    }

    /// The number of records the scan will write, once known.
    pub fn set_total(&mut self, total: Option<u64>) {
        self.live.set_total(total);
        if let (Some(bar), Some(total)) = (&self.bar, total) {
            bar.set_length(total);
            if let Ok(style) = ProgressStyle::with_template(BAR_WITH_TOTAL) {
                bar.set_style(style);
            }
        }
    }

    /// Count one written report.
    pub fn add(&mut self, report: &RecordReport) {
        let live = &self.live;
        live.records.fetch_add(1, Ordering::Relaxed);
        live.targets
            .fetch_add(report.targets.len() as u64, Ordering::Relaxed);
        let verdict = match report.verdict {
            Verdict::Pass => &live.pass,
            Verdict::Fail => &live.fail,
            Verdict::Error => &live.error,
        };
        verdict.fetch_add(1, Ordering::Relaxed);
        for finding in &report.findings {
            *self.findings.entry(finding.code).or_default() += 1;
        }
        for target in &report.targets {
            self.slowest.push(SlowTarget {
                url: format!("{}#{}", target.url, target.device),
                elapsed_ms: target.elapsed_ms,
            });
        }
        self.slowest.sort_by(|a, b| {
            b.elapsed_ms
                .cmp(&a.elapsed_ms)
                .then_with(|| a.url.cmp(&b.url))
        });
        self.slowest.truncate(SLOWEST);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(progress_message(live, self.started.elapsed()));
        }
    }

    /// The numbers so far.
    #[must_use]
    pub fn report(&self, interrupted: bool) -> SummaryReport {
        let elapsed = self.started.elapsed();
        let targets = self.live.targets.load(Ordering::Relaxed);
        SummaryReport {
            records: self.live.records.load(Ordering::Relaxed),
            total: self.live.total(),
            verdicts: VerdictCounts {
                pass: self.live.pass.load(Ordering::Relaxed),
                fail: self.live.fail.load(Ordering::Relaxed),
                error: self.live.error.load(Ordering::Relaxed),
            },
            findings: self.findings.clone(),
            targets,
            elapsed_ms: millis(elapsed),
            targets_per_s: per_second(targets, elapsed),
            slowest: self.slowest.clone(),
            interrupted,
            worker_peak_rss_bytes: worker_peak_rss(),
        }
    }

    /// End the progress display, write the summary to stderr and to
    /// `--summary FILE`. Only the file can fail.
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when `--summary FILE` cannot be written.
    pub fn finish(mut self, interrupted: bool) -> Result<(), Error> {
        self.stop_progress();
        let summary = self.report(interrupted);
        tracing::info!(
            records = summary.records,
            pass = summary.verdicts.pass,
            fail = summary.verdicts.fail,
            error = summary.verdicts.error,
            targets = summary.targets,
            seconds = format!("{:.1}", secs(summary.elapsed_ms)),
            targets_per_s = format!("{:.2}", summary.targets_per_s),
            pages = self.live.pages.load(Ordering::Relaxed),
            interrupted,
            "scan finished"
        );
        if !self.options.json_logs {
            // A failed write to stderr has nowhere to be reported.
            let _ = io::stderr().lock().write_all(table(&summary).as_bytes());
        }
        if let Some((mut file, path)) = self.file.take() {
            let written = serde_json::to_vec_pretty(&summary)
                .map_err(io::Error::other)
                .and_then(|mut json| {
                    json.push(b'\n');
                    file.write_all(&json)?;
                    file.flush()
                });
            written.map_err(|source| Error::Output { path, source })?;
        }
        Ok(())
    }

    fn stop_progress(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            *BAR.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

impl Drop for Summary {
    fn drop(&mut self) {
        self.stop_progress();
    }
}

const BAR_WITH_TOTAL: &str = "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} records · {msg}";

impl Live {
    fn set_total(&self, total: Option<u64>) {
        let stored = total.map_or(0, |t| t.saturating_add(1));
        self.total_plus_one.store(stored, Ordering::Relaxed);
    }

    fn total(&self) -> Option<u64> {
        self.total_plus_one.load(Ordering::Relaxed).checked_sub(1)
    }
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (ProgressBar::new(total), BAR_WITH_TOTAL),
        None => (
            ProgressBar::no_length(),
            "{spinner} [{elapsed_precise}] {pos} records · {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_message("starting");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The bar's message: rate over the whole run (indicatif's own estimate
/// decays to nothing while a slow record holds the line), ETA, verdicts.
fn progress_message(live: &Live, elapsed: Duration) -> String {
    let total = live.total();
    let records = live.records.load(Ordering::Relaxed);
    let rate = per_second(records, elapsed);
    let eta = eta_secs(records, total, rate)
        .map(|s| format!(" · ETA {s:.0}s"))
        .unwrap_or_default();
    format!(
        "{rate:.2}/s{eta} · pass {} · fail {} · error {} · {} pages",
        live.pass.load(Ordering::Relaxed),
        live.fail.load(Ordering::Relaxed),
        live.error.load(Ordering::Relaxed),
        live.pages.load(Ordering::Relaxed)
    )
}

/// Seconds left at `rate`, when the total is known and the rate is not zero.
fn eta_secs(records: u64, total: Option<u64>, rate: f64) -> Option<f64> {
    total
        .filter(|_| rate > 0.0)
        .map(|t| to_f64(t.saturating_sub(records)) / rate)
}

/// Refresh the bar's rate and ETA every second; without a bar (stderr not a
/// terminal, or JSON logs) log one `info` line every [`LOG_EVERY`] instead.
async fn show_progress(live: Arc<Live>, started: Instant, bar: Option<ProgressBar>) {
    let period = if bar.is_some() {
        Duration::from_secs(1)
    } else {
        LOG_EVERY
    };
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        every.tick().await;
        let elapsed = started.elapsed();
        if let Some(bar) = &bar {
            bar.set_message(progress_message(&live, elapsed));
            continue;
        }
        let total = live.total();
        let records = live.records.load(Ordering::Relaxed);
        let targets = live.targets.load(Ordering::Relaxed);
        let records_per_s = per_second(records, elapsed);
        let eta_s = eta_secs(records, total, records_per_s).map(|s| format!("{s:.0}"));
        tracing::info!(
            records,
            total,
            pass = live.pass.load(Ordering::Relaxed),
            fail = live.fail.load(Ordering::Relaxed),
            error = live.error.load(Ordering::Relaxed),
            records_per_s = format!("{records_per_s:.2}"),
            targets_per_s = format!("{:.2}", per_second(targets, elapsed)),
            eta_s,
            pages = live.pages.load(Ordering::Relaxed),
            "progress"
        );
    }
}

/// The short human table of the summary.
fn table(s: &SummaryReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let of_total = s.total.map(|t| format!(" of {t}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "beian-audit: {}{} records{of_total}, {} targets in {:.1} s ({:.2} targets/s)",
        if s.interrupted {
            "interrupted after "
        } else {
            ""
        },
        s.records,
        s.targets,
        secs(s.elapsed_ms),
        s.targets_per_s
    );
    let v = s.verdicts;
    let _ = writeln!(
        out,
        "  verdict   pass {:>6}   fail {:>6}   error {:>6}",
        v.pass, v.fail, v.error
    );
    if !s.findings.is_empty() {
        let _ = writeln!(out, "  {:<26}{:>8}", "finding", "count");
        for (code, n) in &s.findings {
            let _ = writeln!(out, "  {:<26}{n:>8}", code.as_str());
        }
    }
    if !s.slowest.is_empty() {
        let _ = writeln!(out, "  slowest targets (ms)");
        for slow in &s.slowest {
            let _ = writeln!(out, "  {:>8}  {}", slow.elapsed_ms, slow.url);
        }
    }
    out
}

fn per_second(n: u64, elapsed: Duration) -> f64 {
    to_f64(n) / elapsed.as_secs_f64().max(0.001)
}

#[expect(clippy::cast_precision_loss, reason = "counts and rates for people")]
fn to_f64(n: u64) -> f64 {
    n as f64
}

fn secs(ms: u64) -> f64 {
    to_f64(ms) / 1000.0
}

/// The tracing writer: stderr, with the progress bar (if any) suspended
/// while a log line is written, so lines and bar never interleave. U+2028,
/// U+2029 and U+0085 (a page title quoted in a message) are written as
/// `\u2028`, `\u2029`, `\u0085`, so that a `--log-format json` event stays
/// one line for readers that split on Unicode line breaks, as output lines
/// do ([`escape_line_separators`]); tracing writes each event in one call.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let line = escape_line_separators(buf);
        let bar = BAR.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match bar {
            Some(bar) => bar.suspend(|| io::stderr().lock().write_all(&line))?,
            None => io::stderr().lock().write_all(&line)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().lock().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::TargetReport;
    use crate::rules::{Evidence, Finding};
    use crate::targets::Device;

    fn report(verdict: Verdict, codes: &[FindingCode], elapsed: &[u64]) -> RecordReport {
        RecordReport {
            domain: "a.test".to_owned(),
            id: None,
            line: 2,
            verdict,
            findings: codes
                .iter()
                .map(|c| Finding::new(*c, None, Evidence::default()))
                .collect(),
            targets: elapsed
                .iter()
                .enumerate()
                .map(|(i, ms)| TargetReport {
                    settled: Some(true),
                    elapsed_ms: *ms,
                    ..TargetReport::blank(
                        format!("http://h{i}.test/"),
                        format!("h{i}.test"),
                        Device::Mobile,
                    )
                })
                .collect(),
            elapsed_ms: 0,
        }
    }

    fn summary() -> Summary {
        let options = SummaryOptions {
            progress: false,
            json_logs: true,
            total: Some(3),
        };
        Summary::new(options, None).unwrap()
    }

    #[test]
    fn counts_verdicts_codes_targets_and_the_slowest() {
        let mut s = summary();
        s.add(&report(
            Verdict::Pass,
            &[FindingCode::IcpNotInFooter],
            &[5, 7],
        ));
        s.add(&report(
            Verdict::Fail,
            &[FindingCode::IcpNotLinked, FindingCode::IcpNotLinked],
            &(1..=12).collect::<Vec<u64>>(),
        ));
        s.add(&report(Verdict::Error, &[FindingCode::CrawlerError], &[3]));
        let r = s.report(false);
        assert_eq!((r.records, r.total, r.targets), (3, Some(3), 15));
        assert_eq!(
            r.verdicts,
            VerdictCounts {
                pass: 1,
                fail: 1,
                error: 1
            }
        );
        assert_eq!(
            r.findings,
            BTreeMap::from([
                (FindingCode::IcpNotLinked, 2),
                (FindingCode::IcpNotInFooter, 1),
                (FindingCode::CrawlerError, 1)
            ])
        );
        assert_eq!(r.slowest.len(), 10);
        assert!(r
            .slowest
            .windows(2)
            .all(|w| w[0].elapsed_ms >= w[1].elapsed_ms));
    }

    #[test]
    fn the_json_round_trips_with_codes_as_spec_strings() {
        let mut s = summary();
        s.add(&report(Verdict::Fail, &[FindingCode::TitleMismatch], &[9]));
        let r = s.report(false);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["findings"]["title-mismatch"], 1);
        assert_eq!(json["slowest"][0]["url"], "http://h0.test/#mobile");
        let back: SummaryReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        assert!(table(&r).contains("title-mismatch"));
    }
}
