//! `DoneSet`: the records an earlier run already wrote to `--output`, so a
//! killed scan restarted with `--resume` loses nothing and repeats nothing.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

/// Input line numbers whose result is already in the output file.
#[derive(Debug, Clone, Default)]
pub struct DoneSet {
    lines: HashSet<u64>,
}

impl DoneSet {
    /// Read `path` (a missing file is an empty set). A torn last line — a
    /// hard kill in the middle of a write — is cut off the file, so that
    /// appending goes on from whole lines; its record is scanned again.
    ///
    /// # Errors
    ///
    /// The I/O error when the file exists but cannot be read or truncated.
    pub fn load(path: &Path) -> io::Result<DoneSet> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DoneSet::default()),
            Err(e) => return Err(e),
        };
        let mut done = DoneSet::default();
        let mut reader = BufReader::new(&file);
        let mut buf = Vec::new();
        let mut whole_bytes = 0u64;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            if buf.last() != Some(&b'\n') {
                tracing::warn!(bytes = n, "dropping a torn last line from the output");
                break;
            }
            whole_bytes += n as u64;
            match serde_json::from_slice::<serde_json::Value>(&buf) {
                Ok(v) => {
                    if let Some(line) = v.get("line").and_then(serde_json::Value::as_u64) {
                        done.lines.insert(line);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "ignoring an unreadable line in the output"),
            }
        }
        drop(reader);
        if file.metadata()?.len() > whole_bytes {
            file.set_len(whole_bytes)?;
        }
        let mut file = file;
        file.seek(SeekFrom::End(0))?;
        Ok(done)
    }

    /// Whether input line `line` is done.
    #[must_use]
    pub fn contains(&self, line: u64) -> bool {
        self.lines.contains(&line)
    }

    /// How many records are done.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether nothing is done yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_done_lines_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        std::fs::write(
            &path,
            "{\"line\":2,\"domain\":\"a\"}\n{\"line\":5,\"domain\":\"b\"}\n{\"line\":7,\"dom",
        )
        .unwrap();
        let done = DoneSet::load(&path).unwrap();
        assert!(done.contains(2) && done.contains(5));
        assert!(!done.contains(7));
        assert_eq!(done.len(), 2);
        let left = std::fs::read_to_string(&path).unwrap();
        assert!(left.ends_with("\"b\"}\n"), "{left:?}");
    }

    #[test]
    fn a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DoneSet::load(&dir.path().join("nope")).unwrap().is_empty());
    }
}
