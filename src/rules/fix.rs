//! `evidence.fix`: the HTML a site owner pastes at the bottom of the
//! homepage to fix a number or link finding (SPEC §6, "The fix, ready to
//! paste"), in the form of SPEC's own samples:
//!
//! ```html
//! <a href="https://beian.miit.gov.cn/" target="_blank">京ICP备12345678号-1</a>
//! <a href="https://beian.mps.gov.cn/#/query/webSearch?code=11010502030143" target="_blank">京公网安备11010502030143号</a>
//! ```
//!
//! Findings of the number and link axes carry it: `icp-number-missing`,
//! `icp-number-wrong`, `icp-subject-number-only`, `icp-not-linked`,
//! `icp-link-wrong-url`, `gongan-number-missing`, `gongan-number-wrong` and
//! `gongan-not-linked`, when the number is known. The ICP number is the one
//! the finding expected (`evidence.expected`: the record's, or that of the
//! scan's record a redirect lands on); the 公安 number is the record's, its
//! 14 digits the query's `code`. Every character that came from the record
//! is HTML-escaped. `icp-hidden` and `icp-not-in-footer` carry none: their
//! number is already shown and linked, only where and how it shows is wrong.

use crate::filing::IcpNumber;
use crate::input::Record;
use crate::rules::{Evidence, Finding, FindingCode};

/// The MIIT filing system's homepage, as the pasted link names it.
const MIIT_HOME: &str = "https://beian.miit.gov.cn/";
/// The MPS filing site's query page, to which a 公安 number's digits are added.
const MPS_QUERY: &str = "https://beian.mps.gov.cn/#/query/webSearch?code=";

/// The HTML that fixes a `code` finding with `evidence` on a site of
/// `record`, or `None` when the code has no fix or the number is unknown.
pub(crate) fn fix_html(code: FindingCode, record: &Record, evidence: &Evidence) -> Option<String> {
    match code {
        FindingCode::IcpNumberMissing
        | FindingCode::IcpNumberWrong
        | FindingCode::IcpSubjectNumberOnly
        | FindingCode::IcpNotLinked
        | FindingCode::IcpLinkWrongUrl => {
            let number = IcpNumber::parse(evidence.expected.as_deref()?).ok()?;
            Some(format!(
                "<a href=\"{MIIT_HOME}\" target=\"_blank\">{}</a>",
                escape(&number.to_string())
            ))
        }
        FindingCode::GonganNumberMissing
        | FindingCode::GonganNumberWrong
        | FindingCode::GonganNotLinked => {
            let number = record.gongan_number.as_ref()?;
            Some(format!(
                "<a href=\"{MPS_QUERY}{}\" target=\"_blank\">{}</a>",
                escape(number.digits()),
                escape(&number.to_string())
            ))
        }
        _ => None,
    }
}

/// Set `evidence.fix` on every finding of `record` that has one.
pub(crate) fn attach(record: &Record, findings: &mut [Finding]) {
    for finding in findings {
        finding.evidence.fix = fix_html(finding.code, record, &finding.evidence);
    }
}

/// HTML-escape text for element content and quoted attributes (also the
/// HTML report's escaping).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::rules::test_support::{filed, filed_gongan, record};
    use FindingCode::{
        GonganNotLinked, GonganNumberMissing, GonganNumberWrong, IcpHidden, IcpLinkWrongUrl,
        IcpNotInFooter, IcpNotLinked, IcpNumberMissing, IcpNumberWrong, IcpSubjectNumberOnly,
        IpNotFiled, TitleMismatch,
    };

    const ICP_FIX: &str =
        "<a href=\"https://beian.miit.gov.cn/\" target=\"_blank\">京ICP备12345678号-1</a>";
    const GONGAN_FIX: &str = "<a href=\"https://beian.mps.gov.cn/#/query/webSearch?code=11010502030143\" target=\"_blank\">京公网安备11010502030143号</a>";

    fn expecting(number: Option<&str>) -> Evidence {
        Evidence {
            expected: number.map(str::to_owned),
            ..Evidence::default()
        }
    }

    #[rstest]
    #[case::missing(IcpNumberMissing, Some("京ICP备12345678号-1"), Some(ICP_FIX))]
    #[case::wrong(IcpNumberWrong, Some("京ICP备12345678号-1"), Some(ICP_FIX))]
    #[case::subject_only(IcpSubjectNumberOnly, Some("京ICP备12345678号-1"), Some(ICP_FIX))]
    #[case::not_linked(IcpNotLinked, Some("京ICP备12345678号-1"), Some(ICP_FIX))]
    #[case::wrong_url(IcpLinkWrongUrl, Some("京ICP备12345678号-1"), Some(ICP_FIX))]
    #[case::canonical_form(IcpNotLinked, Some("京 ICP 备 12345678 号 - 1"), Some(ICP_FIX))]
    #[case::licence(
        IcpNotLinked,
        Some("粤B2-20090059-5"),
        Some("<a href=\"https://beian.miit.gov.cn/\" target=\"_blank\">粤B2-20090059-5</a>")
    )]
    #[case::number_unknown(IcpNumberMissing, None, None)]
    #[case::hidden_has_none(IcpHidden, Some("京ICP备12345678号-1"), None)]
    #[case::not_in_footer_has_none(IcpNotInFooter, Some("京ICP备12345678号-1"), None)]
    #[case::other_rule_has_none(TitleMismatch, Some("京ICP备12345678号-1"), None)]
    fn icp_fixes(
        #[case] code: FindingCode,
        #[case] expected: Option<&str>,
        #[case] fix: Option<&str>,
    ) {
        let rec = filed("example.cn", "京ICP备12345678号-1");
        assert_eq!(fix_html(code, &rec, &expecting(expected)).as_deref(), fix);
    }

    #[test]
    fn the_expected_number_wins_over_the_records() {
        // A target that lands on another record of the scan must show that
        // record's number: the fix pastes it.
        let rec = filed("example.cn", "京ICP备12345678号-1");
        let fix = fix_html(
            IcpNumberWrong,
            &rec,
            &expecting(Some("浙ICP备2022247890号-1")),
        );
        assert_eq!(
            fix.as_deref(),
            Some("<a href=\"https://beian.miit.gov.cn/\" target=\"_blank\">浙ICP备2022247890号-1</a>")
        );
    }

    #[rstest]
    #[case::missing(GonganNumberMissing, "京公网安备 11010502030143号", Some(GONGAN_FIX))]
    #[case::wrong(GonganNumberWrong, "京公网安备11010502030143号", Some(GONGAN_FIX))]
    #[case::not_linked(
        GonganNotLinked,
        "京公网安备　１１０１０５０２０３０１４３号",
        Some(GONGAN_FIX)
    )]
    #[case::other_province(
        GonganNotLinked,
        "川公网安备 51010502030143号",
        Some("<a href=\"https://beian.mps.gov.cn/#/query/webSearch?code=51010502030143\" target=\"_blank\">川公网安备51010502030143号</a>")
    )]
    #[case::icp_finding_has_no_gongan_fix(IpNotFiled, "京公网安备11010502030143号", None)]
    fn gongan_fixes(#[case] code: FindingCode, #[case] filed: &str, #[case] fix: Option<&str>) {
        let rec = filed_gongan("example.cn", filed);
        assert_eq!(fix_html(code, &rec, &Evidence::default()).as_deref(), fix);
    }

    #[test]
    fn no_gongan_number_no_fix() {
        assert_eq!(
            fix_html(
                GonganNumberMissing,
                &record("example.cn"),
                &Evidence::default()
            ),
            None
        );
    }

    #[rstest]
    #[case::markup("<b>&\"'", "&lt;b&gt;&amp;&quot;&#39;")]
    #[case::chinese("京ICP备12345678号-1", "京ICP备12345678号-1")]
    fn escapes(#[case] text: &str, #[case] want: &str) {
        assert_eq!(escape(text), want);
    }

    #[test]
    fn attach_fills_only_the_findings_with_a_fix() {
        let rec = filed("example.cn", "京ICP备12345678号-1");
        let mut findings = vec![
            Finding::new(IcpNotLinked, None, expecting(Some("京ICP备12345678号-1"))),
            Finding::new(IcpHidden, None, expecting(Some("京ICP备12345678号-1"))),
        ];
        attach(&rec, &mut findings);
        assert_eq!(findings[0].evidence.fix.as_deref(), Some(ICP_FIX));
        assert_eq!(findings[1].evidence.fix, None);
    }
}
