//! Rule `gongan` (公安备案号): where the record files a public-security
//! number, each reachable page shows it, visibly, inside a link to an MPS
//! filing site (`beian.mps.gov.cn` or `www.beian.gov.cn`, any path).
//!
//! Numbers are compared by their 14 digits. A hidden number is not shown.
//! Any MPS link passes, whatever code it queries; when the number is not
//! linked but the page links to an MPS site elsewhere (an icon beside the
//! text), the `gongan-not-linked` evidence says so and whether that link's
//! code matches (`keyword`: `code-matches`, `code-differs`, `no-code`).

use crate::filing::{GonganNumber, MpsLink};
use crate::input::Record;
use crate::page::PageSnapshot;
use crate::rules::{
    reachable, Evidence, Finding, FindingCode, Occurrence, ScanFacts, TargetOutcome,
};

/// The gongan findings of every reachable target, in target order.
pub(crate) fn check(
    record: &Record,
    outcomes: &[TargetOutcome],
    _facts: &dyn ScanFacts,
) -> Vec<Finding> {
    let Some(filed) = &record.gongan_number else {
        return Vec::new();
    };
    reachable(outcomes)
        .filter_map(|(outcome, page)| {
            let (code, evidence) = check_page(filed, page, &outcome.shown.gongan)?;
            Some(Finding::new(code, Some(outcome.label()), evidence))
        })
        .collect()
}

/// The finding of one page, given the 公安 numbers it shows.
fn check_page(
    filed: &GonganNumber,
    page: &PageSnapshot,
    shown: &[Occurrence<GonganNumber>],
) -> Option<(FindingCode, Evidence)> {
    let shown: Vec<Occurrence<GonganNumber>> =
        shown.iter().filter(|o| o.visible).cloned().collect();
    let mut evidence = Evidence {
        expected: Some(filed.digits().to_owned()),
        ..Evidence::default()
    };
    let quote = |evidence: &mut Evidence, o: &Occurrence<GonganNumber>| {
        evidence.text = Some(o.text.clone());
        evidence.number = Some(o.number.digits().to_owned());
        evidence.href = Some(o.href.clone());
    };
    let Some(any) = pick(&shown, |_| true) else {
        return Some((FindingCode::GonganNumberMissing, evidence));
    };
    let Some(equal) = pick(&shown, |o| o.number == *filed) else {
        quote(&mut evidence, any);
        return Some((FindingCode::GonganNumberWrong, evidence));
    };
    let mps = |o: &Occurrence<GonganNumber>| o.href.as_deref().and_then(MpsLink::parse);
    if shown.iter().any(|o| o.number == *filed && mps(o).is_some()) {
        return None;
    }
    quote(&mut evidence, equal);
    if let Some((href, link)) = page
        .links
        .iter()
        .find_map(|l| MpsLink::parse(&l.href).map(|m| (&l.href, m)))
    {
        let keyword = match link.code.as_deref() {
            Some(code) if code == filed.digits() => "code-matches",
            Some(_) => "code-differs",
            None => "no-code",
        };
        evidence.keyword = Some(keyword.to_owned());
        evidence.reason = Some(format!("the page links to {href} elsewhere"));
    }
    Some((FindingCode::GonganNotLinked, evidence))
}

/// The first occurrence matching `pred` at the bottom of the page, else the
/// first anywhere: the copy to quote.
fn pick<T>(
    shown: &[Occurrence<T>],
    pred: impl Fn(&Occurrence<T>) -> bool,
) -> Option<&Occurrence<T>> {
    let mut matching = shown.iter().filter(|o| pred(o));
    let first = matching.next()?;
    Some(
        std::iter::once(first)
            .chain(matching)
            .find(|o| o.in_footer)
            .unwrap_or(first),
    )
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::page::{PageLink, TextSegment};
    use crate::rules::test_support::{
        block, codes, filed, filed_gongan, page_with_blocks, reached, record, seg, Facts, MPS,
    };
    use crate::rules::FindingCode::{GonganNotLinked, GonganNumberMissing, GonganNumberWrong};

    const FILED: &str = "京公网安备 11010502030143号";
    const OLD_MPS: &str =
        "http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=11010502030143";

    fn judge(segments: Vec<TextSegment>) -> Vec<Finding> {
        let page = page_with_blocks(vec![block(segments)]);
        check(
            &filed_gongan("example.cn", FILED),
            &[reached("example.cn", page)],
            &Facts::default(),
        )
    }

    #[rstest]
    #[case::linked_current(vec![seg(FILED, Some(MPS), true, true)], &[])]
    #[case::linked_old_site(vec![seg(FILED, Some(OLD_MPS), true, true)], &[])]
    #[case::other_province_same_digits(vec![seg("川公网安备11010502030143号", Some(MPS), true, true)], &[])]
    #[case::full_width_and_spaces(
        vec![seg("京公网安备　１１０１０５０２０３０１４３号", Some(MPS), true, true)], &[]
    )]
    #[case::any_mps_path_passes(vec![seg(FILED, Some("https://beian.mps.gov.cn/"), true, false)], &[])]
    #[case::none_shown(vec![seg("京ICP备12345678号-1", None, true, true)], &[GonganNumberMissing])]
    #[case::hidden_is_missing(vec![seg(FILED, Some(MPS), false, true)], &[GonganNumberMissing])]
    #[case::other_digits(vec![seg("京公网安备 11010502030144号", Some(MPS), true, true)], &[GonganNumberWrong])]
    #[case::not_linked(vec![seg(FILED, None, true, true)], &[GonganNotLinked])]
    #[case::linked_to_miit(vec![seg(FILED, Some("https://beian.miit.gov.cn/"), true, true)], &[GonganNotLinked])]
    #[case::wrong_and_right_linked_passes(
        vec![seg("京公网安备 11010502030144号 ", None, true, true), seg(FILED, Some(MPS), true, true)], &[]
    )]
    #[case::hidden_linked_and_visible_unlinked(
        vec![seg(FILED, Some(MPS), false, true), seg(" ", None, true, true), seg(FILED, None, true, true)],
        &[GonganNotLinked]
    )]
    fn filed_gongan_display(#[case] segments: Vec<TextSegment>, #[case] expected: &[FindingCode]) {
        assert_eq!(codes(&judge(segments)), expected);
    }

    #[test]
    fn no_filed_number_no_check() {
        let page = page_with_blocks(vec![block(vec![seg("", None, true, true)])]);
        let outcomes = [reached("example.cn", page)];
        assert_eq!(
            codes(&check(&record("example.cn"), &outcomes, &Facts::default())),
            []
        );
        let rec = filed("example.cn", "京ICP备12345678号-1");
        assert_eq!(codes(&check(&rec, &outcomes, &Facts::default())), []);
    }

    #[test]
    fn wrong_evidence_quotes_the_shown_number() {
        let findings = judge(vec![seg("京公网安备 11010502030144号", None, true, true)]);
        let evidence = &findings[0].evidence;
        assert_eq!(evidence.number.as_deref(), Some("11010502030144"));
        assert_eq!(evidence.expected.as_deref(), Some("11010502030143"));
    }

    #[rstest]
    #[case::code_matches(MPS, Some("code-matches"))]
    #[case::code_differs(
        "https://beian.mps.gov.cn/#/query/webSearch?code=11010502030199",
        Some("code-differs")
    )]
    #[case::no_code("https://beian.mps.gov.cn/", Some("no-code"))]
    #[case::no_mps_link("https://example.cn/about", None)]
    fn not_linked_notes_an_mps_link_elsewhere(#[case] href: &str, #[case] keyword: Option<&str>) {
        let mut page = page_with_blocks(vec![block(vec![seg(FILED, None, true, true)])]);
        page.links.push(PageLink {
            text: String::new(),
            href: href.to_owned(),
            visible: true,
            in_footer: true,
            frame: None,
        });
        let outcomes = [reached("example.cn", page)];
        let findings = check(
            &filed_gongan("example.cn", FILED),
            &outcomes,
            &Facts::default(),
        );
        assert_eq!(codes(&findings), [GonganNotLinked]);
        assert_eq!(findings[0].evidence.keyword.as_deref(), keyword);
        assert_eq!(findings[0].evidence.href, Some(None));
    }
}
