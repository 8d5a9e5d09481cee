//! `NdjsonWriter`: the sole owner of stdout (or `-o FILE`). One record, one
//! `write_all` of a whole line, then a flush, so a killed scan leaves whole
//! lines or none (a torn last line from a hard kill is dropped on resume).
//!
//! A line is one record for every reader: U+2028, U+2029 and U+0085, which
//! `serde_json` writes raw but readers that split on Unicode line breaks
//! (Python's `str.splitlines`, JavaScript line terminators) take for line
//! ends, are written as JSON escapes ([`escape_line_separators`]). Page
//! titles and link texts are where they come from.

use std::borrow::Cow;
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
    #[must_use]
    pub fn stdout() -> NdjsonWriter {
        NdjsonWriter {
            out: Box::new(io::stdout()),
            name: "<stdout>".to_owned(),
        }
    }

    /// A writer to `path`: truncated, or appended to when `append`.
    ///
    /// # Errors
    ///
    /// The I/O error when `path` cannot be opened for writing.
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
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Write `report` as one line and flush it.
    ///
    /// # Errors
    ///
    /// The I/O error of the write or the flush (a closed pipe included).
    pub fn write(&mut self, report: &RecordReport) -> io::Result<()> {
        let mut line = serde_json::to_vec(report).map_err(io::Error::other)?;
        if let Cow::Owned(escaped) = escape_line_separators(&line) {
            line = escaped;
        }
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()
    }
}

/// The characters besides `\n` that some readers end a line at and
/// `serde_json` leaves raw, each as UTF-8 bytes with the JSON escape it is
/// written as. (`serde_json` escapes the control characters below U+0020
/// itself.)
const LINE_SEPARATORS: [(&[u8], &[u8]); 3] = [
    ("\u{2028}".as_bytes(), b"\\u2028"),
    ("\u{2029}".as_bytes(), b"\\u2029"),
    ("\u{85}".as_bytes(), b"\\u0085"),
];

/// `json` (`serde_json` output, so UTF-8 whose strings hold every non-ASCII
/// character) with U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR and
/// U+0085 NEXT LINE written as `\u2028`, `\u2029`, `\u0085`: the same JSON
/// value, but one line for readers that split on Unicode line breaks.
/// Borrowed, with no copy, when there is none (nearly always).
///
/// Working on bytes is safe: in UTF-8 a character's bytes never occur inside
/// another's, and `serde_json` writes these characters only inside strings,
/// where the escape means the same character.
#[must_use]
pub fn escape_line_separators(json: &[u8]) -> Cow<'_, [u8]> {
    // Each starts with a lead byte, 0xE2 or 0xC2, which ASCII never has.
    let at = |i: usize| {
        matches!(json[i], 0xE2 | 0xC2)
            .then(|| {
                LINE_SEPARATORS
                    .iter()
                    .find(|(raw, _)| json[i..].starts_with(raw))
            })
            .flatten()
    };
    let Some(first) = (0..json.len()).find(|&i| at(i).is_some()) else {
        return Cow::Borrowed(json);
    };
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(&json[..first]);
    let mut i = first;
    while i < json.len() {
        if let Some((raw, escaped)) = at(i) {
            out.extend_from_slice(escaped);
            i += raw.len();
        } else {
            out.push(json[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    /// Where Python's `str.splitlines` ends lines: what a reader that
    /// splits on Unicode line breaks sees.
    fn python_splitlines(text: &str) -> Vec<&str> {
        text.split([
            '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
            '\u{2029}',
        ])
        .collect()
    }

    #[rstest]
    #[case::line_separator("a\u{2028}b", r#""a\u2028b""#)]
    #[case::paragraph_separator("a\u{2029}b", r#""a\u2029b""#)]
    #[case::next_line("a\u{85}b", r#""a\u0085b""#)]
    #[case::all_three_twice(
        "\u{2028}\u{2029}\u{85}标题\u{85}\u{2029}\u{2028}",
        r#""\u2028\u2029\u0085标题\u0085\u2029\u2028""#
    )]
    #[case::at_the_ends("\u{2028}x\u{85}", r#""\u2028x\u0085""#)]
    #[case::control_chars_serde_escapes("a\u{b}\u{c}\u{1c}\r\nb", r#""a\u000b\f\u001c\r\nb""#)]
    #[case::neighbours_kept("\u{2027}\u{202a}\u{84}\u{a0}…", "\"\u{2027}\u{202a}\u{84}\u{a0}…\"")]
    #[case::plain_cjk("京ICP备12345678号-1", r#""京ICP备12345678号-1""#)]
    fn line_separators_are_escaped(#[case] value: &str, #[case] line: &str) {
        let value = serde_json::json!({ "title": value });
        let json = serde_json::to_vec(&value).expect("serialises");
        let escaped = escape_line_separators(&json);
        let text = std::str::from_utf8(&escaped).expect("UTF-8");
        assert_eq!(text, format!(r#"{{"title":{line}}}"#));
        assert_eq!(python_splitlines(text), [text], "one line");
        let back: serde_json::Value = serde_json::from_str(text).expect("parses");
        assert_eq!(back, value);
    }

    #[test]
    fn nothing_to_escape_is_not_copied() {
        let json = r#"{"title":"\u00e9 é 京 \u2028"}"#;
        assert!(matches!(
            escape_line_separators(json.as_bytes()),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_report_with_separators_is_one_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("out.ndjson");
        let report = RecordReport {
            domain: "a\u{2028}b\u{2029}c\u{85}.test".to_owned(),
            id: Some(serde_json::json!("id\u{2028}1")),
            line: 2,
            verdict: crate::rules::Verdict::Pass,
            findings: Vec::new(),
            targets: Vec::new(),
            elapsed_ms: 1,
        };
        let mut writer = NdjsonWriter::file(&path, false).expect("opens");
        writer.write(&report).expect("writes");
        writer.write(&report).expect("writes");
        drop(writer);
        let text = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(python_splitlines(&text).len(), 3, "two lines and the end");
        for line in text.lines() {
            assert!(line.contains(r"a\u2028b\u2029c\u0085.test"), "{line}");
            let back: RecordReport = serde_json::from_str(line).expect("parses");
            assert_eq!(back, report);
        }
    }
}
