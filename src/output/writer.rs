//! `NdjsonWriter`: the sole owner of stdout (or `-o FILE`). One record, one
//! `write_all` of a whole line, then a flush, so a killed scan leaves whole
//! lines or none (a torn last line from a hard kill is dropped on resume).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::RecordReport;

/// Writes one JSON line per record.
pub struct NdjsonWriter {
    out: Box<dyn Write + Send>,
    name: String,
}

impl NdjsonWriter {
    /// A writer to stdout.
    pub fn stdout() -> NdjsonWriter {
        NdjsonWriter {
            out: Box::new(io::stdout()),
            name: "<stdout>".to_owned(),
        }
    }

    /// A writer to `path`: truncated, or appended to when `append`.
    pub fn file(path: &Path, append: bool) -> io::Result<NdjsonWriter> {
        let file: File = if append {
            OpenOptions::new().create(true).append(true).open(path)?
        } else {
            File::create(path)?
        };
        Ok(NdjsonWriter {
            out: Box::new(file),
            name: path.display().to_string(),
        })
    }

    /// Where the lines go, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Write `report` as one line and flush it.
    pub fn write(&mut self, report: &RecordReport) -> io::Result<()> {
        let mut line = serde_json::to_vec(report).map_err(io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()
    }
}
