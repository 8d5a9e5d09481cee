//! `report --format csv`: the findings as a spreadsheet for the people who
//! fix sites (compliance teams hand them over in Excel).
//!
//! UTF-8 with a byte-order mark (so Excel reads the Chinese right), CRLF
//! line ends, a header row in `--lang`'s words, then one row per finding:
//! the record (domain, id, verdict; its change with `--baseline`), the
//! target, code, severity, both messages, and the evidence's text, href and
//! fix. A record without findings is one row with those cells empty.
//!
//! Site strings are data, never formulas: a cell that would start with
//! `=`, `+`, `-`, `@`, a tab or a carriage return is written with a leading
//! `'` (OWASP's advice against CSV injection), which Excel shows as text.

use crate::diff::Change;
use crate::output::RecordReport;
use crate::report::labels::Lang;

/// The whole CSV: BOM, header row, one row per finding (or per passing
/// record). `changes`, when given, holds each record's change since the
/// baseline, in `reports`' order, and adds that column.
#[must_use]
pub fn render(reports: &[RecordReport], lang: Lang, changes: Option<&[Change]>) -> Vec<u8> {
    let l = lang.labels();
    let mut header = vec![l.domain, l.id, l.verdict];
    if changes.is_some() {
        header.push(l.change);
    }
    header.extend([
        l.target,
        l.code,
        l.severity,
        l.message_zh,
        l.message_en,
        l.evidence_text,
        l.evidence_href,
        l.evidence_fix,
    ]);
    let mut out = "\u{feff}".as_bytes().to_vec();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(&mut out);
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for (i, report) in reports.iter().enumerate() {
        let id = match &report.id {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let mut record = vec![
            report.domain.clone(),
            id,
            lang.verdict(report.verdict).to_owned(),
        ];
        if let Some(changes) = changes {
            let change = changes.get(i).copied();
            record.push(
                change
                    .map(|c| lang.change(c).to_owned())
                    .unwrap_or_default(),
            );
        }
        if report.findings.is_empty() {
            let mut row = record.clone();
            row.resize(record.len() + 8, String::new());
            rows.push(row);
        }
        for f in &report.findings {
            let mut row = record.clone();
            row.extend([
                f.target.clone().unwrap_or_default(),
                f.code.as_str().to_owned(),
                lang.severity(f.severity).to_owned(),
                f.message_zh.clone(),
                f.message.clone(),
                f.evidence.text.clone().unwrap_or_default(),
                f.evidence.href.clone().flatten().unwrap_or_default(),
                f.evidence.fix.clone().unwrap_or_default(),
            ]);
            rows.push(row);
        }
    }
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(row.iter().map(|cell| as_text(cell).into_owned()));
    }
    let _ = writer.flush();
    drop(writer);
    out
}

/// `cell` made safe from spreadsheet formulas (see the module doc).
fn as_text(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::rules::{Evidence, Finding, FindingCode, Verdict};

    fn report(domain: &str, findings: Vec<Finding>) -> RecordReport {
        RecordReport {
            domain: domain.to_owned(),
            id: Some(serde_json::json!(7)),
            line: 2,
            verdict: Verdict::of(&findings),
            findings,
            targets: Vec::new(),
            elapsed_ms: 1,
        }
    }

    fn unlinked() -> Finding {
        Finding::new(
            FindingCode::IcpNotLinked,
            Some("http://a.cn/#desktop".to_owned()),
            Evidence {
                text: Some("京ICP备12345678号-1".to_owned()),
                href: Some(None),
                expected: Some("京ICP备12345678号-1".to_owned()),
                fix: Some("<a href=\"https://beian.miit.gov.cn/\" target=\"_blank\">京ICP备12345678号-1</a>".to_owned()),
                ..Evidence::default()
            },
        )
    }

    fn rows(bytes: &[u8]) -> Vec<Vec<String>> {
        assert!(bytes.starts_with("\u{feff}".as_bytes()), "a BOM first");
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert!(text.contains("\r\n"), "CRLF line ends");
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn one_row_per_finding_and_per_passing_record() {
        let reports = [
            report("a.cn", vec![unlinked(), unlinked()]),
            report("b.cn", Vec::new()),
        ];
        let rows = rows(&render(&reports, Lang::En, None));
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[0],
            [
                "domain",
                "id",
                "verdict",
                "target",
                "code",
                "severity",
                "message (Chinese)",
                "message",
                "text",
                "href",
                "fix (HTML to paste at the bottom of the homepage)"
            ]
        );
        assert_eq!(
            rows[1][..6],
            [
                "a.cn",
                "7",
                "fail",
                "http://a.cn/#desktop",
                "icp-not-linked",
                "error"
            ]
        );
        assert!(rows[1][6].contains("未添加链接"), "{}", rows[1][6]);
        assert!(rows[1][7].contains("not a link"), "{}", rows[1][7]);
        assert_eq!(rows[1][8], "京ICP备12345678号-1");
        assert_eq!(rows[1][9], "");
        assert!(rows[1][10].starts_with("<a href=\"https://beian.miit.gov.cn/\""));
        assert_eq!(rows[3][..3], ["b.cn", "7", "pass"]);
        assert!(rows[3][3..].iter().all(String::is_empty));
        assert_eq!(rows[3].len(), rows[0].len());
    }

    #[test]
    fn chinese_headers_and_a_change_column() {
        let reports = [report("b.cn", Vec::new())];
        let rows = rows(&render(&reports, Lang::Zh, Some(&[Change::Fixed])));
        assert_eq!(rows[0][..5], ["域名", "ID", "结论", "变化", "检测对象"]);
        assert_eq!(rows[1][..4], ["b.cn", "7", "通过", "已整改"]);
        assert_eq!(rows[1].len(), rows[0].len());
    }

    #[rstest]
    #[case::formula("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")")]
    #[case::plus("+1", "'+1")]
    #[case::minus("-1", "'-1")]
    #[case::at("@SUM(A1)", "'@SUM(A1)")]
    #[case::tab("\tx", "'\tx")]
    #[case::plain("京ICP备12345678号-1", "京ICP备12345678号-1")]
    #[case::html("<a href=\"x\">y</a>", "<a href=\"x\">y</a>")]
    fn cells_are_never_formulas(#[case] cell: &str, #[case] want: &str) {
        assert_eq!(as_text(cell), want);
    }

    #[test]
    fn a_site_title_cannot_become_a_formula() {
        let mut f = unlinked();
        f.evidence.text = Some("=cmd|' /C calc'!A0".to_owned());
        let rows = rows(&render(&[report("a.cn", vec![f])], Lang::En, None));
        assert_eq!(rows[1][8], "'=cmd|' /C calc'!A0");
    }
}
