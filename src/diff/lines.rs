//! Reading a scan's output for `diff`: one [`ScanLine`] a line, only the
//! fields a comparison needs, read as `--resume` reads its output file: a
//! torn last line (no newline: a scan killed mid-write, or still running)
//! is left out, and so is a line that is not a record (counted, with a
//! warning). `input-invalid` lines are records like any other.

use std::io::{self, BufRead};

use serde::Deserialize;

use super::change::CodeTarget;
use crate::input::record::to_ascii_host;
use crate::output::RecordReport;
use crate::rules::Verdict;

/// One record of a scan's output, as much of it as `diff` compares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScanLine {
    /// The domain as the input wrote it (empty for a row that had none).
    #[serde(default)]
    pub domain: String,
    /// The input's `id`, untouched.
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    /// The record's input line.
    #[serde(default)]
    pub line: Option<u64>,
    /// `pass`, `fail` or `error`.
    pub verdict: Verdict,
    /// Its findings, as (code, target).
    #[serde(default)]
    pub findings: Vec<CodeTarget>,
}

/// What records are matched on: the `id` where both scans have one, else
/// the ASCII domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The id as text (a string's content, a number's digits), when there
    /// is a non-empty one: `42` and `"42"` are the same record.
    pub id: Option<String>,
    /// The domain in ASCII (punycode) lower case; a domain that is not one
    /// (an `input-invalid` row's) as written, trimmed and lower-cased; a
    /// row with neither domain nor id is keyed by its input line
    /// (`\0line:N`), the only name it has.
    pub domain: String,
}

impl ScanLine {
    /// The comparison's view of a whole report.
    #[must_use]
    pub fn from_report(report: &RecordReport) -> ScanLine {
        ScanLine {
            domain: report.domain.clone(),
            id: report.id.clone(),
            line: Some(report.line),
            verdict: report.verdict,
            findings: report
                .findings
                .iter()
                .map(|f| CodeTarget {
                    code: f.code.as_str().to_owned(),
                    target: f.target.clone(),
                })
                .collect(),
        }
    }

    /// The record's matching key.
    #[must_use]
    pub fn key(&self) -> Key {
        let id = match &self.id {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
        .filter(|s| !s.is_empty());
        let domain =
            to_ascii_host(&self.domain).unwrap_or_else(|_| self.domain.trim().to_lowercase());
        let domain = if domain.is_empty() && id.is_none() {
            format!("\0line:{}", self.line.unwrap_or(0))
        } else {
            domain
        };
        Key { id, domain }
    }
}

/// The records of a scan's output, streamed.
pub struct ScanLines<R> {
    reader: R,
    buf: Vec<u8>,
    /// Lines read so far.
    line: u64,
    /// Non-empty lines that were not records.
    pub skipped: u64,
    /// The first of them: its line number and why.
    pub first_skipped: Option<(u64, String)>,
    /// Whether the last line was torn (no newline) and left out.
    pub torn: bool,
}

impl<R: BufRead> ScanLines<R> {
    /// Read records from `reader`.
    pub fn new(reader: R) -> ScanLines<R> {
        ScanLines {
            reader,
            buf: Vec::new(),
            line: 0,
            skipped: 0,
            first_skipped: None,
            torn: false,
        }
    }
}

impl<R: BufRead> Iterator for ScanLines<R> {
    type Item = io::Result<ScanLine>;

    fn next(&mut self) -> Option<io::Result<ScanLine>> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
            self.line += 1;
            if self.buf.last() != Some(&b'\n') {
                // As --resume does: a line without its newline was being
                // written when the scan stopped; its record is not whole.
                if !self.buf.iter().all(u8::is_ascii_whitespace) {
                    self.torn = true;
                }
                return None;
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<ScanLine>(&self.buf) {
                Ok(line) => return Some(Ok(line)),
                Err(e) => {
                    self.skipped += 1;
                    self.first_skipped.get_or_insert((self.line, e.to_string()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn read(text: &str) -> (Vec<ScanLine>, u64, bool) {
        let mut lines = ScanLines::new(text.as_bytes());
        let got = lines.by_ref().map(Result::unwrap).collect();
        (got, lines.skipped, lines.torn)
    }

    const A: &str = r#"{"domain":"a.cn","id":"1","line":2,"verdict":"fail","findings":[{"code":"icp-not-linked","rule":"beian-link","severity":"error","target":"http://a.cn/#desktop","message":"m","message_zh":"m","evidence":{}}],"targets":[{"url":"http://a.cn/"}],"elapsed_ms":3}"#;
    const INVALID: &str = r#"{"domain":"","id":null,"line":7,"verdict":"fail","findings":[{"code":"input-invalid","rule":"input","severity":"error","target":null,"message":"m","message_zh":"m","evidence":{"reason":"line 7: the domain is missing"}}],"targets":[],"elapsed_ms":0}"#;

    #[test]
    fn records_torn_tails_and_strays() {
        let text = format!("{A}\n\nnot json\n{INVALID}\n{{\"domain\":\"b.cn\",\"verd");
        let (lines, skipped, torn) = read(&text);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].findings[0].code, "icp-not-linked");
        assert_eq!(
            lines[0].findings[0].target.as_deref(),
            Some("http://a.cn/#desktop")
        );
        assert_eq!(lines[1].findings[0].target, None);
        assert_eq!((skipped, torn), (1, true));
    }

    #[test]
    fn a_whole_last_line_is_not_torn() {
        let (lines, skipped, torn) = read(&format!("{A}\n"));
        assert_eq!((lines.len(), skipped, torn), (1, 0, false));
    }

    fn line(domain: &str, id: Option<serde_json::Value>, at: u64) -> ScanLine {
        ScanLine {
            domain: domain.to_owned(),
            id,
            line: Some(at),
            verdict: Verdict::Pass,
            findings: Vec::new(),
        }
    }

    #[rstest]
    #[case::plain(line("a.cn", None, 2), None, "a.cn")]
    #[case::upper_and_dot(line("A.CN.", None, 2), None, "a.cn")]
    #[case::idn(line("例子.中国", None, 2), None, "xn--fsqu00a.xn--fiqs8s")]
    #[case::string_id(line("a.cn", Some(serde_json::json!("42")), 2), Some("42"), "a.cn")]
    #[case::number_id(line("a.cn", Some(serde_json::json!(42)), 2), Some("42"), "a.cn")]
    #[case::empty_id(line("a.cn", Some(serde_json::json!("")), 2), None, "a.cn")]
    #[case::null_id(line("a.cn", Some(serde_json::Value::Null), 2), None, "a.cn")]
    #[case::not_a_domain(line("https://A.cn/", None, 5), None, "https://a.cn/")]
    #[case::nothing_but_a_line(line("", None, 7), None, "\0line:7")]
    #[case::id_without_domain(line("", Some(serde_json::json!(9)), 7), Some("9"), "")]
    fn keys(#[case] line: ScanLine, #[case] id: Option<&str>, #[case] domain: &str) {
        assert_eq!(
            line.key(),
            Key {
                id: id.map(str::to_owned),
                domain: domain.to_owned()
            }
        );
    }
}
