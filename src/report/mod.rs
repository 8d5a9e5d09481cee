//! `beian-audit report`: a scan's JSON lines → one self-contained HTML page
//! for people (or, `--format csv`, a spreadsheet: `csv`).
//!
//! Owns reading scan output back (through [`RecordReport`], the contract
//! type), the page (`html`, from `template.html`; the findings' evidence,
//! fixes and screenshots on it, `evidence`), the CSV, their words in both
//! languages (`labels`, `--lang`) and the marks of each record's change
//! since an earlier scan (`baseline`, `--baseline`, with `diff`'s
//! classifier). It never renders a page of a scanned site and never lets
//! one of their strings become markup or script: every string from the
//! NDJSON is HTML-escaped, only `http(s)` URLs become links, and the page's
//! Content-Security-Policy admits nothing but our own inline style and
//! script (by hash) and `data:` images.

pub mod baseline;
pub mod csv;
mod evidence;
mod html;
pub mod labels;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use crate::config::ReportConfig;
use crate::exit::ExitStatus;
use crate::output::RecordReport;
use baseline::Baseline;

pub use html::{render, Page};

/// `report --format`: what to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One self-contained HTML page.
    Html,
    /// A spreadsheet: UTF-8 CSV with a byte-order mark, one row per finding.
    Csv,
}

/// Why no report could be written (exit status 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The scan output cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file (or `<stdin>`).
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The baseline cannot be read.
    #[error(transparent)]
    Baseline(#[from] crate::diff::DiffError),
    /// The HTML cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file (or `<stdout>`).
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The records read from a scan's output, and what could not be read.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// Every line that parsed as a [`RecordReport`], in file order.
    pub reports: Vec<RecordReport>,
    /// Non-empty lines that did not parse.
    pub skipped: u64,
    /// The first unparseable line: its number and why.
    pub first_skipped: Option<(u64, String)>,
}

/// Read scan output: one [`RecordReport`] a line. Blank lines are ignored;
/// a line that is not a report (a torn last line of a killed scan, a log
/// line that strayed into the file) is counted and skipped.
///
/// # Errors
///
/// The I/O error of reading (a line that is not a report is skipped,
/// not an error).
pub fn read_reports(reader: impl BufRead) -> io::Result<ScanOutput> {
    let mut out = ScanOutput::default();
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RecordReport>(&line) {
            Ok(report) => out.reports.push(report),
            Err(e) => {
                out.skipped += 1;
                out.first_skipped
                    .get_or_insert((index as u64 + 1, e.to_string()));
            }
        }
    }
    Ok(out)
}

/// Run `beian-audit report`: read `config.input`, write the page (or the
/// CSV) to `config.output` (or stdout).
///
/// # Errors
///
/// [`ReportError::Read`] when the scan output (or the baseline) cannot be
/// read, [`ReportError::Write`] when the page cannot be written.
pub fn run(config: &ReportConfig) -> Result<ExitStatus, ReportError> {
    let stdin = config.input == Path::new("-");
    let source = if stdin {
        "<stdin>".to_owned()
    } else {
        config.input.display().to_string()
    };
    let read_err = |source_err: io::Error| ReportError::Read {
        path: source.clone(),
        source: source_err,
    };
    let scan = if stdin {
        read_reports(io::stdin().lock()).map_err(read_err)?
    } else {
        let file = File::open(&config.input).map_err(read_err)?;
        read_reports(BufReader::new(file)).map_err(read_err)?
    };
    if let Some((line, why)) = &scan.first_skipped {
        tracing::warn!(
            skipped = scan.skipped,
            first_line = line,
            first_error = %why,
            "skipped {} line(s) of {source} that are not scan records",
            scan.skipped
        );
    }
    // Relative screenshot paths are tried against the NDJSON's folder too.
    let base = if stdin {
        None
    } else {
        config.input.parent().map(Path::to_path_buf)
    };
    let baseline = config
        .baseline
        .as_deref()
        .map(|path| read_baseline(path, &scan.reports))
        .transpose()?;
    let bytes = match config.format {
        Format::Html => {
            let page = Page {
                source: &source,
                skipped: scan.skipped,
                evidence_base: base.as_deref(),
                lang: config.lang,
                baseline: baseline.as_ref(),
            };
            render(&scan.reports, &page).into_bytes()
        }
        Format::Csv => {
            let changes: Option<Vec<_>> = baseline
                .as_ref()
                .map(|b| b.changes.iter().map(|c| c.change).collect());
            csv::render(&scan.reports, config.lang, changes.as_deref())
        }
    };
    let (name, result) = if let Some(path) = &config.output {
        (path.display().to_string(), write_file(path, &bytes))
    } else {
        let mut out = io::stdout().lock();
        (
            "<stdout>".to_owned(),
            out.write_all(&bytes).and_then(|()| out.flush()),
        )
    };
    result.map_err(|source| ReportError::Write {
        path: name.clone(),
        source,
    })?;
    tracing::info!(records = scan.reports.len(), output = %name, "report written");
    Ok(ExitStatus::Passed)
}

/// `--baseline OLD.ndjson`: each record's change since that scan.
fn read_baseline(path: &Path, reports: &[RecordReport]) -> Result<Baseline, ReportError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| ReportError::Read {
        path: name.clone(),
        source,
    })?;
    let old = crate::diff::load_old(BufReader::new(file), &name)?;
    Ok(Baseline::compare(&name, reports, old))
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparseable_lines_are_counted_and_skipped() {
        let good = r#"{"domain":"a.cn","id":null,"line":2,"verdict":"pass","findings":[],"targets":[],"elapsed_ms":1}"#;
        let text = format!("{good}\n\nnot json\n{{\"domain\":1}}\n{good}\n{{\"dom");
        let out = read_reports(text.as_bytes()).unwrap();
        assert_eq!(out.reports.len(), 2);
        assert_eq!(out.skipped, 3);
        assert_eq!(out.first_skipped.map(|(line, _)| line), Some(3));
    }
}
