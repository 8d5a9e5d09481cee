//! CSV with a header row: English or Chinese column names, optional BOM.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

use super::record::{Field, RawRecord};
use super::{InputError, InputFatal, RecordResult};

/// Streams the rows of a CSV as records.
pub(super) struct CsvRecords {
    reader: csv::Reader<LineCounter>,
    /// Byte offsets of the newlines read but not yet passed by a row.
    newlines: Arc<Mutex<VecDeque<u64>>>,
    /// Lines before the last row's start.
    lines_before: u64,
    /// The field of each column (`None`: a column we do not use).
    columns: Vec<Option<Field>>,
    row: csv::ByteRecord,
}

impl CsvRecords {
    /// Read the header; fails when it has no domain column.
    pub(super) fn new(source: Box<dyn BufRead + Send>, name: &str) -> Result<Self, InputFatal> {
        let newlines = Arc::new(Mutex::new(VecDeque::new()));
        let counter = LineCounter {
            inner: source,
            offset: 0,
            newlines: Arc::clone(&newlines),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            // Rows of the wrong length are reported one by one, not fatal.
            .flexible(true)
            .from_reader(counter);
        let headers = reader.byte_headers().map_err(|e| InputFatal::Header {
            path: name.to_owned(),
            reason: format!("cannot read the CSV header: {e}"),
        })?;
        let columns: Vec<Option<Field>> = headers
            .iter()
            .map(|h| Field::from_header(&String::from_utf8_lossy(h)))
            .collect();
        if !columns.contains(&Some(Field::Domain)) {
            return Err(InputFatal::Header {
                path: name.to_owned(),
                reason: "the CSV header has no `domain` (域名) column; the first row must name the columns, e.g. domain,service_name,icp_number".to_owned(),
            });
        }
        Ok(CsvRecords {
            reader,
            newlines,
            lines_before: 0,
            columns,
            row: csv::ByteRecord::new(),
        })
    }
}

impl Iterator for CsvRecords {
    type Item = RecordResult;

    fn next(&mut self) -> Option<RecordResult> {
        loop {
            let line = self.line_at(self.reader.position().byte());
            match self.reader.read_byte_record(&mut self.row) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    // A syntax error (e.g. an unclosed quote) may swallow the
                    // rest of the file; csv reports it once, then we go on.
                    let line = e.position().map_or(line, |p| self.line_at(p.byte()));
                    if e.is_io_error() {
                        return Some(Err(InputError {
                            line,
                            domain: None,
                            id: None,
                            reason: format!("cannot read the input: {e}"),
                        }));
                    }
                    return Some(Err(InputError {
                        line,
                        domain: None,
                        id: None,
                        reason: format!("malformed CSV row: {e}"),
                    }));
                }
            }
            // csv's record position includes blank lines skipped before the
            // row; count back from the row's end instead.
            let end = self.reader.position().byte();
            let inner_newlines: u64 = self
                .row
                .iter()
                .map(|f| f.split(|b| *b == b'\n').count() as u64 - 1)
                .sum();
            let line = self
                .line_at(end.saturating_sub(1))
                .saturating_sub(inner_newlines)
                .max(line);
            if self
                .row
                .iter()
                .all(|f| f.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            return Some(self.parse_row(line));
        }
    }
}

impl CsvRecords {
    /// The 1-based line of byte offset `byte`. Rows come in order, so the
    /// newlines before it are counted once and forgotten: csv's own line
    /// numbers skip blank lines, and people look rows up by editor line.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut newlines = self
            .newlines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while newlines.front().is_some_and(|&n| n < byte) {
            newlines.pop_front();
            self.lines_before += 1;
        }
        self.lines_before + 1
    }

    fn parse_row(&self, line: u64) -> RecordResult {
        let mut raw = RawRecord::default();
        let mut bad_utf8 = false;
        for (field, value) in self.columns.iter().zip(self.row.iter()) {
            let Some(field) = field else { continue };
            match std::str::from_utf8(value) {
                Ok(v) => raw.set(*field, v),
                Err(_) => bad_utf8 = true,
            }
        }
        let reason = if bad_utf8 {
            Some("the row is not valid UTF-8; save the file as UTF-8".to_owned())
        } else if self.row.len() != self.columns.len() {
            Some(format!(
                "the row has {} fields, the header has {}; quote values that contain commas",
                self.row.len(),
                self.columns.len()
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(InputError {
                line,
                domain: raw.domain,
                id: raw.id,
                reason,
            }),
            None => raw.validate(line),
        }
    }
}

/// A reader that notes the offset of every newline passing through it.
struct LineCounter {
    inner: Box<dyn BufRead + Send>,
    offset: u64,
    newlines: Arc<Mutex<VecDeque<u64>>>,
}

impl Read for LineCounter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut newlines = self
            .newlines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n') {
            newlines.push_back(self.offset + i as u64);
        }
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<RecordResult> {
        let source: Box<dyn BufRead + Send> =
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        CsvRecords::new(source, "t.csv").unwrap().collect()
    }

    #[test]
    fn reads_english_headers_with_line_numbers() {
        let rows =
            read("domain,service_name,icp_number\na.cn,甲网,京ICP备12345678号-1\n\nb.cn,乙网,\n");
        let lines: Vec<u64> = rows.iter().map(|r| r.as_ref().unwrap().line).collect();
        assert_eq!(lines, vec![2, 4]);
        let b = rows[1].as_ref().unwrap();
        assert_eq!(b.service_name.as_deref(), Some("乙网"));
        assert!(b.icp_number.is_none());
    }

    #[test]
    fn reads_chinese_headers_and_bom() {
        let rows = read("\u{feff}域名,网站名称,备案IP\n例子.中国,例子网,203.0.113.7\n");
        let r = rows[0].as_ref().unwrap();
        assert_eq!(r.domain, "例子.中国");
        assert_eq!(r.ascii_domain, "xn--fsqu00a.xn--fiqs8s");
        assert_eq!(r.ips.len(), 1);
    }

    #[test]
    fn wrong_field_count_is_one_bad_row() {
        let rows = read("domain,service_name\na.cn,甲\nb.cn,乙,extra\nc.cn,丙\n");
        assert!(rows[0].is_ok());
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.reason.contains("3 fields"), "{}", err.reason);
        assert!(rows[2].is_ok());
    }

    #[test]
    fn header_without_domain_is_fatal() {
        let source: Box<dyn BufRead + Send> =
            Box::new(std::io::Cursor::new(b"name,number\nx,y\n".to_vec()));
        assert!(CsvRecords::new(source, "t.csv").is_err());
    }

    #[test]
    fn quoted_multiline_values_keep_the_row_start_line() {
        let rows = read("domain,service_name\n\"a.cn\",\"甲\n网\"\nb.cn,乙\n");
        assert_eq!(rows[0].as_ref().unwrap().line, 2);
        assert_eq!(rows[1].as_ref().unwrap().line, 4);
    }
}
