//! `beian-audit diff OLD.ndjson NEW.ndjson`: what changed between two scans
//! of the same list (SPEC §6, "Week over week").
//!
//! Owns reading two scan outputs back (only the fields it compares:
//! [`ScanLine`]), matching their records ([`OldIndex`]: by `id` where both
//! have one, else by ASCII domain), the change of each ([`Change`]) and the
//! change lines ([`RecordChange`]). OLD is read first into the compact
//! index; NEW is streamed, one line in memory at a time, and each of its
//! records is written as soon as it is compared; OLD's records no NEW
//! record took follow, as `gone`. Memory grows with OLD's record count
//! only.
//!
//! `report --baseline` uses the same index and classifier.

pub mod change;
pub mod index;
pub mod lines;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

pub use change::{Change, CodeTarget, RecordChange};
pub use index::OldIndex;
pub use lines::{Key, ScanLine, ScanLines};

use crate::config::DiffConfig;
use crate::exit::ExitStatus;
use crate::output::writer::escape_line_separators;

/// Why `diff` could not run (exit status 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// A scan output cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file (or `<stdin>`).
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The change lines cannot be written.
    #[error("cannot write {path}")]
    Write {
        /// The file (or `<stdout>`).
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Both files were given as `-`.
    #[error("OLD and NEW cannot both be standard input; give at least one as a file")]
    BothStdin,
}

/// Read OLD's records into the index (see [`OldIndex`]), saying on stderr
/// (through the log) what was left out.
///
/// # Errors
///
/// [`DiffError::Read`] when OLD cannot be read.
pub fn load_old(reader: impl BufRead, name: &str) -> Result<OldIndex, DiffError> {
    let mut lines = ScanLines::new(reader);
    let mut index = OldIndex::default();
    for line in lines.by_ref() {
        let line = line.map_err(|source| DiffError::Read {
            path: name.to_owned(),
            source,
        })?;
        index.push(&line);
    }
    index.finish();
    warn_left_out(&lines, name);
    if index.oversized > 0 {
        tracing::warn!(
            records = index.oversized,
            "{name}: left out records with a field longer than 65,535 bytes"
        );
    }
    tracing::debug!(
        records = index.len(),
        heap_bytes = index.heap_bytes(),
        "{name} indexed"
    );
    Ok(index)
}

/// Say what a read left out: lines that are not records, a torn last line.
fn warn_left_out<R>(lines: &ScanLines<R>, name: &str) {
    if let Some((line, why)) = &lines.first_skipped {
        tracing::warn!(
            skipped = lines.skipped,
            first_line = line,
            first_error = %why,
            "{name}: skipped {} line(s) that are not scan records",
            lines.skipped
        );
    }
    if lines.torn {
        tracing::warn!("{name}: left out a torn last line (a scan stopped while writing it)");
    }
}

/// The change line of NEW's record `new`, taking its match out of `old`.
pub fn compare_line(old: &mut OldIndex, new: &ScanLine) -> RecordChange {
    let matched = old.take(&new.key());
    let (was, old_findings) = match matched {
        Some(record) => (Some(record.verdict), record.findings),
        None => (None, Vec::new()),
    };
    let (added, removed) = change::compare(&old_findings, &new.findings);
    RecordChange {
        domain: new.domain.clone(),
        id: new.id.clone(),
        change: Change::classify(was, Some(new.verdict)),
        verdict: Some(new.verdict),
        was,
        added,
        removed,
    }
}

/// Records by change, for the summary and the exit status.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    counts: [u64; Change::ALL.len()],
}

impl Tally {
    /// Count one record.
    pub fn add(&mut self, change: Change) {
        if let Some(i) = Change::ALL.iter().position(|c| *c == change) {
            self.counts[i] += 1;
        }
    }

    /// How many records had `change`.
    #[must_use]
    pub fn count(&self, change: Change) -> u64 {
        Change::ALL
            .iter()
            .position(|c| *c == change)
            .map_or(0, |i| self.counts[i])
    }

    /// The one-line summary: `beian-audit diff: 1 new-fail, 2 fixed, …`.
    #[must_use]
    pub fn line(&self) -> String {
        let parts: Vec<String> = Change::ALL
            .iter()
            .map(|c| format!("{} {c}", self.count(*c)))
            .collect();
        format!("beian-audit diff: {}", parts.join(", "))
    }

    /// 1 when any record is `new-fail`, else 0 (SPEC §6).
    #[must_use]
    pub fn status(&self) -> ExitStatus {
        if self.count(Change::NewFail) > 0 {
            ExitStatus::Findings
        } else {
            ExitStatus::Passed
        }
    }
}

/// Run `beian-audit diff`: index OLD, stream NEW, write a line per record
/// (NEW's order, then OLD-only ones), the summary to stderr.
///
/// # Errors
///
/// [`DiffError`] when both inputs are stdin, an input cannot be read or
/// the output cannot be written.
pub fn run(config: &DiffConfig) -> Result<ExitStatus, DiffError> {
    let stdin = |p: &Path| p == Path::new("-");
    if stdin(&config.old) && stdin(&config.new) {
        return Err(DiffError::BothStdin);
    }
    let (old_name, old_reader) = open(&config.old)?;
    let mut old = load_old(old_reader, &old_name)?;
    let (new_name, new_reader) = open(&config.new)?;
    let (out_name, out): (String, Box<dyn Write>) = match &config.output {
        Some(path) => {
            let file = File::create(path).map_err(|source| DiffError::Write {
                path: path.display().to_string(),
                source,
            })?;
            (path.display().to_string(), Box::new(file))
        }
        None => ("<stdout>".to_owned(), Box::new(io::stdout().lock())),
    };
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut tally = Tally::default();
    let mut new_lines = ScanLines::new(new_reader);
    let written = (|| -> Result<(), DiffError> {
        for line in new_lines.by_ref() {
            let line = line.map_err(|source| DiffError::Read {
                path: new_name.clone(),
                source,
            })?;
            let change = compare_line(&mut old, &line);
            tally.add(change.change);
            write_line(&mut out, &change).map_err(|source| DiffError::Write {
                path: out_name.clone(),
                source,
            })?;
        }
        for change in old.gone() {
            tally.add(change.change);
            write_line(&mut out, &change).map_err(|source| DiffError::Write {
                path: out_name.clone(),
                source,
            })?;
        }
        out.flush().map_err(|source| DiffError::Write {
            path: out_name.clone(),
            source,
        })
    })();
    warn_left_out(&new_lines, &new_name);
    match written {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(DiffError::Write { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    let _ = writeln!(io::stderr().lock(), "{}", tally.line());
    Ok(tally.status())
}

/// One change line: JSON, line separators escaped, a newline.
fn write_line(out: &mut impl Write, change: &RecordChange) -> io::Result<()> {
    let mut line = serde_json::to_vec(change).map_err(io::Error::other)?;
    if let std::borrow::Cow::Owned(escaped) = escape_line_separators(&line) {
        line = escaped;
    }
    line.push(b'\n');
    out.write_all(&line)
}

/// `path` opened for reading (`-`: standard input), with its name.
fn open(path: &Path) -> Result<(String, Box<dyn BufRead>), DiffError> {
    if path == Path::new("-") {
        return Ok(("<stdin>".to_owned(), Box::new(io::stdin().lock())));
    }
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| DiffError::Read {
        path: name.clone(),
        source,
    })?;
    Ok((name, Box::new(BufReader::with_capacity(64 * 1024, file))))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::rules::Verdict;
    use Verdict::{Fail, Pass};

    /// A scan output line of `domain` with `verdict` and findings
    /// `(code, host, device)` on `http://host/#device`.
    fn scan_line(
        domain: &str,
        id: Option<&str>,
        verdict: &str,
        findings: &[(&str, &str)],
    ) -> String {
        let findings: Vec<serde_json::Value> = findings
            .iter()
            .map(|(code, target)| {
                serde_json::json!({
                    "code": code, "rule": "beian-link", "severity": "error",
                    "target": format!("http://{target}"), "message": "m", "message_zh": "m",
                    "evidence": {}
                })
            })
            .collect();
        let line = serde_json::json!({
            "domain": domain, "id": id, "line": 2, "verdict": verdict,
            "findings": findings, "targets": [], "elapsed_ms": 5
        });
        format!("{line}\n")
    }

    fn run_on(old: &str, new: &str) -> (ExitStatus, Vec<RecordChange>) {
        let dir = tempfile::tempdir().unwrap();
        let (old_path, new_path, out_path) = (
            dir.path().join("old.ndjson"),
            dir.path().join("new.ndjson"),
            dir.path().join("diff.ndjson"),
        );
        std::fs::write(&old_path, old).unwrap();
        std::fs::write(&new_path, new).unwrap();
        let status = run(&DiffConfig {
            old: old_path,
            new: new_path,
            output: Some(out_path.clone()),
        })
        .unwrap();
        let text = std::fs::read_to_string(&out_path).unwrap();
        let changes = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (status, changes)
    }

    #[test]
    fn every_change_on_temp_files_in_new_order_then_gone() {
        let old = [
            scan_line("steady.cn", None, "pass", &[]),
            scan_line("breaks.cn", Some("2"), "pass", &[]),
            scan_line(
                "fixed.cn",
                None,
                "fail",
                &[("icp-not-linked", "fixed.cn/#desktop")],
            ),
            scan_line(
                "still.cn",
                None,
                "fail",
                &[("icp-not-linked", "still.cn/#desktop")],
            ),
            scan_line(
                "gone.cn",
                Some("9"),
                "fail",
                &[("icp-number-missing", "gone.cn/#mobile")],
            ),
            // A torn last line: left out, as --resume leaves it.
            "{\"domain\":\"torn.cn\",\"verd".to_owned(),
        ]
        .concat();
        let new = [
            scan_line(
                "新.中国",
                None,
                "fail",
                &[("icp-number-missing", "xn--1qqw23a.xn--fiqs8s/#desktop")],
            ),
            scan_line(
                "still.cn",
                None,
                "fail",
                &[("icp-link-wrong-url", "still.cn/#desktop")],
            ),
            "not a record\n".to_owned(),
            scan_line(
                "renamed.cn",
                Some("2"),
                "fail",
                &[("icp-not-linked", "renamed.cn/#desktop")],
            ),
            scan_line("fixed.cn", None, "pass", &[]),
            scan_line("steady.cn", None, "pass", &[]),
        ]
        .concat();
        let (status, changes) = run_on(&old, &new);
        let summary: Vec<(&str, Change, Option<Verdict>, Option<Verdict>)> = changes
            .iter()
            .map(|c| (c.domain.as_str(), c.change, c.verdict, c.was))
            .collect();
        assert_eq!(
            summary,
            [
                ("新.中国", Change::New, Some(Fail), None),
                ("still.cn", Change::StillFail, Some(Fail), Some(Fail)),
                ("renamed.cn", Change::NewFail, Some(Fail), Some(Pass)),
                ("fixed.cn", Change::Fixed, Some(Pass), Some(Fail)),
                ("steady.cn", Change::Unchanged, Some(Pass), Some(Pass)),
                ("gone.cn", Change::Gone, None, Some(Fail)),
            ]
        );
        assert_eq!(status, ExitStatus::Findings, "a new-fail exits 1");
        let still = &changes[1];
        assert_eq!(
            (still.added[0].code.as_str(), still.removed[0].code.as_str()),
            ("icp-link-wrong-url", "icp-not-linked")
        );
        assert_eq!(
            still.added[0].target.as_deref(),
            Some("http://still.cn/#desktop")
        );
        assert_eq!(changes[2].id, Some(serde_json::json!("2")));
        assert_eq!(changes[3].removed.len(), 1);
        assert_eq!(changes[5].id, Some(serde_json::json!("9")));
        assert_eq!(
            changes[5].removed[0].target.as_deref(),
            Some("http://gone.cn/#mobile")
        );
    }

    #[test]
    fn no_new_fail_exits_0() {
        let old = scan_line("a.cn", None, "fail", &[("icp-not-linked", "a.cn/#desktop")]);
        let new = scan_line("a.cn", None, "pass", &[]);
        let (status, changes) = run_on(&old, &new);
        assert_eq!(status, ExitStatus::Passed);
        assert_eq!(changes[0].change, Change::Fixed);
    }

    #[test]
    fn input_invalid_lines_are_records_matched_by_line_when_nameless() {
        let invalid = |line: u64| {
            format!(
                "{}\n",
                serde_json::json!({
                    "domain": "", "id": null, "line": line, "verdict": "fail",
                    "findings": [{"code": "input-invalid", "target": null}],
                    "targets": [], "elapsed_ms": 0
                })
            )
        };
        let (_, changes) = run_on(&invalid(7), &[invalid(7), invalid(9)].concat());
        let kinds: Vec<Change> = changes.iter().map(|c| c.change).collect();
        assert_eq!(kinds, [Change::StillFail, Change::New]);
    }

    #[test]
    fn unreadable_files_and_two_stdins_cannot_run() {
        let missing = run(&DiffConfig {
            old: PathBuf::from("/nonexistent/old.ndjson"),
            new: PathBuf::from("/nonexistent/new.ndjson"),
            output: None,
        });
        assert!(matches!(missing, Err(DiffError::Read { .. })));
        let both = run(&DiffConfig {
            old: PathBuf::from("-"),
            new: PathBuf::from("-"),
            output: None,
        });
        assert!(matches!(both, Err(DiffError::BothStdin)));
    }

    #[test]
    fn the_summary_counts_every_change() {
        let mut tally = Tally::default();
        for change in [Change::NewFail, Change::Fixed, Change::Fixed, Change::Gone] {
            tally.add(change);
        }
        assert_eq!(
            tally.line(),
            "beian-audit diff: 1 new-fail, 2 fixed, 0 still-fail, 0 new, 1 gone, 0 unchanged"
        );
        assert_eq!(tally.status(), ExitStatus::Findings);
        assert_eq!(Tally::default().status(), ExitStatus::Passed);
    }
}
