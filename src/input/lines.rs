//! Plain domain lists: one domain a line; `#` starts a comment line.

use std::io::BufRead;

use super::record::RawRecord;
use super::{read_line, InputError, RecordResult};

/// Streams a plain list of domains as records with no filed values.
pub(super) struct LineRecords {
    reader: Box<dyn BufRead + Send>,
    line: u64,
    buf: Vec<u8>,
}

impl LineRecords {
    pub(super) fn new(reader: Box<dyn BufRead + Send>) -> Self {
        LineRecords {
            reader,
            line: 0,
            buf: Vec::new(),
        }
    }
}

impl Iterator for LineRecords {
    type Item = RecordResult;

    fn next(&mut self) -> Option<RecordResult> {
        loop {
            self.line += 1;
            let line = self.line;
            match read_line(self.reader.as_mut(), &mut self.buf) {
                Ok(None) => return None,
                Ok(Some(())) => {}
                Err(e) => {
                    return Some(Err(InputError {
                        line,
                        domain: None,
                        id: None,
                        reason: format!("cannot read the input: {e}"),
                    }))
                }
            }
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                return Some(Err(InputError {
                    line,
                    domain: None,
                    id: None,
                    reason: "the line is not valid UTF-8".to_owned(),
                }));
            };
            let text = text.trim_start_matches('\u{feff}').trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let raw = RawRecord {
                domain: Some(text.to_owned()),
                ..RawRecord::default()
            };
            return Some(raw.validate(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_blanks_and_comments_and_counts_lines() {
        let text = "# provider list\na.cn\n\n  b.cn  \nnot a domain\n";
        let rows: Vec<RecordResult> =
            LineRecords::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].as_ref().unwrap().line, 2);
        assert_eq!(rows[1].as_ref().unwrap().domain, "b.cn");
        assert_eq!(rows[2].as_ref().unwrap_err().line, 5);
    }
}
