//! Input: bytes → `Record`s, as a stream. Owns format detection and the
//! three readers (CSV, NDJSON, plain domain lists); shares one validation
//! path (`RawRecord::validate`) so every format rejects the same things the
//! same way. A broken row is an `InputError` item of the stream, never the
//! end of it.

mod csv;
mod lines;
mod ndjson;
pub mod record;
pub mod shard;

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

pub use record::{InputError, RawRecord, Record};

/// How the input is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// CSV with a header row (English or Chinese column names).
    Csv,
    /// One JSON object a line.
    Ndjson,
    /// One domain a line.
    Lines,
}

/// Where the records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

/// One item of the record stream.
pub type RecordResult = Result<Record, InputError>;

/// A fatal input problem: the input as a whole cannot be read (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputFatal {
    /// The file could not be opened or read.
    #[error("cannot read input {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The CSV has no usable header.
    #[error("{path}: {reason}")]
    Header {
        /// The file.
        path: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

impl InputSource {
    /// A name for messages: the path, or `<stdin>`.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            InputSource::Stdin => "<stdin>".to_owned(),
            InputSource::File(p) => p.display().to_string(),
        }
    }

    fn open(&self) -> Result<Box<dyn BufRead + Send>, InputFatal> {
        match self {
            InputSource::Stdin => Ok(Box::new(BufReader::new(io::stdin()))),
            InputSource::File(path) => {
                let file = File::open(path).map_err(|source| InputFatal::Io {
                    path: self.name(),
                    source,
                })?;
                Ok(Box::new(BufReader::with_capacity(64 * 1024, file)))
            }
        }
    }
}

/// Guess the format from the file name, else from the first non-empty line.
fn detect(path: Option<&Path>, first_line: &str) -> InputFormat {
    let ext = path
        .and_then(Path::extension)
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => return InputFormat::Csv,
        Some("ndjson" | "jsonl" | "json") => return InputFormat::Ndjson,
        Some("txt" | "lst" | "list") => return InputFormat::Lines,
        _ => {}
    }
    let line = first_line.trim_start_matches('\u{feff}').trim();
    if line.starts_with('{') {
        InputFormat::Ndjson
    } else if line.contains(',') {
        InputFormat::Csv
    } else {
        InputFormat::Lines
    }
}

/// Open `source` and return the stream of records, lazily read: a
/// million-line file starts yielding at once and is never held whole.
///
/// # Errors
///
/// [`InputFatal`] when the input cannot be opened or read, or a CSV has
/// no usable header (a broken row is an item of the stream instead).
pub fn read_records(
    source: &InputSource,
    forced: Option<InputFormat>,
) -> Result<Box<dyn Iterator<Item = RecordResult> + Send>, InputFatal> {
    let mut reader = source.open()?;
    let format = if let Some(f) = forced {
        f
    } else {
        let first = peek_first_line(&mut reader).map_err(|source_err| InputFatal::Io {
            path: source.name(),
            source: source_err,
        })?;
        let path = match source {
            InputSource::File(p) => Some(p.as_path()),
            InputSource::Stdin => None,
        };
        detect(path, &first)
    };
    tracing::debug!(?format, input = %source.name(), "reading records");
    Ok(match format {
        InputFormat::Csv => Box::new(csv::CsvRecords::new(reader, &source.name())?),
        InputFormat::Ndjson => Box::new(ndjson::NdjsonRecords::new(reader)),
        InputFormat::Lines => Box::new(lines::LineRecords::new(reader)),
    })
}

/// The first non-empty line of `reader`, without consuming anything.
fn peek_first_line(reader: &mut Box<dyn BufRead + Send>) -> io::Result<String> {
    // fill_buf shows at most one buffer (64 KiB for files): enough to see a
    // header or first record; a longer first line is guessed from its start.
    let buf = reader.fill_buf()?;
    let text = String::from_utf8_lossy(buf);
    Ok(text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_owned())
}

/// Read a whole line as bytes (for the line-based formats), `None` at end.
fn read_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<Option<()>> {
    buf.clear();
    let n = reader.read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::csv_ext(Some("a.csv"), "x", InputFormat::Csv)]
    #[case::ndjson_ext(Some("a.ndjson"), "x", InputFormat::Ndjson)]
    #[case::jsonl_ext(Some("a.jsonl"), "x", InputFormat::Ndjson)]
    #[case::txt_ext(Some("a.txt"), "a,b", InputFormat::Lines)]
    #[case::content_json(None, "{\"domain\":\"a.cn\"}", InputFormat::Ndjson)]
    #[case::content_csv(None, "domain,service_name", InputFormat::Csv)]
    #[case::content_csv_bom(None, "\u{feff}域名,服务名称", InputFormat::Csv)]
    #[case::content_lines(None, "example.cn", InputFormat::Lines)]
    #[case::unknown_ext_content(Some("records.dat"), "{}", InputFormat::Ndjson)]
    fn detects_format(#[case] path: Option<&str>, #[case] first: &str, #[case] want: InputFormat) {
        assert_eq!(detect(path.map(Path::new), first), want);
    }
}
