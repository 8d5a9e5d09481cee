//! Rule `beian-link` (未悬挂备案号 / 备案号悬挂错误 / 未链接至工信部备案官网首页
//! / 链接地址错误): the homepage's bottom shows the filed ICP number, visibly,
//! inside a link to `https://beian.miit.gov.cn/`.
//!
//! Two axes per reachable target, at most one finding each:
//!
//! * **Number** — which number the page must show. Normally the record's
//!   `icp_number`. A target that landed off-site (`redirect::offsite_domain`)
//!   must show the landing domain's filed number when the scan has a record
//!   for it, and otherwise any well-formed ICP number passes. A plain-list
//!   record (no `icp_number`) likewise accepts any number. Occurrences are
//!   counted hidden or not: no ICP number at all is `icp-number-missing`; a
//!   filed number only hidden is found, and then `icp-hidden`. Accepted:
//!   the filed number; a service number of it when the record files a bare
//!   subject number; its subject number in 粤 or on a page shared by another
//!   record of the subject (`ScanFacts::subject_shares_page`). A subject
//!   number shown without either exception is `icp-subject-number-only`
//!   (the display axis is then judged on it); anything else is
//!   `icp-number-wrong`, with no display finding.
//! * **Display** — judged on the accepted occurrences, reporting the one
//!   closest to correct, ranked
//!   hidden < visible but unlinked < linked elsewhere < linked to the MIIT
//!   homepage but not at the bottom < correct;
//!   ties go to an occurrence at the bottom, then to the first in reading
//!   order. The ranks give `icp-hidden`, `icp-not-linked`,
//!   `icp-link-wrong-url` and `icp-not-in-footer`; a correct one passes.

use crate::filing::{IcpNumber, MiitLink};
use crate::input::Record;
use crate::page::PageSnapshot;
use crate::rules::finding::wrong_address_reason;
use crate::rules::{
    offsite_domain, reachable, Evidence, Finding, FindingCode, Occurrence, ScanFacts, TargetOutcome,
};

/// The beian-link findings of every reachable target, in target order.
pub(crate) fn check(
    record: &Record,
    outcomes: &[TargetOutcome],
    facts: &dyn ScanFacts,
) -> Vec<Finding> {
    reachable(outcomes)
        .flat_map(|(outcome, page)| check_target(record, outcome, page, facts))
        .collect()
}

/// How an occurrence is displayed, worst first; the order is the ranking
/// used to pick the occurrence closest to correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Display {
    Hidden,
    NotLinked,
    WrongUrl,
    NotInFooter,
    Correct,
}

fn display(occurrence: &Occurrence<IcpNumber>) -> Display {
    match (&occurrence.href, occurrence.visible) {
        (_, false) => Display::Hidden,
        (None, true) => Display::NotLinked,
        (Some(href), true) => match MiitLink::classify(href) {
            MiitLink::Wrong(_) => Display::WrongUrl,
            MiitLink::Homepage if occurrence.in_footer => Display::Correct,
            MiitLink::Homepage => Display::NotInFooter,
        },
    }
}

/// The occurrence closest to correct (see the module doc), if any.
fn best<'a, I>(occurrences: I) -> Option<&'a Occurrence<IcpNumber>>
where
    I: IntoIterator<Item = &'a Occurrence<IcpNumber>>,
{
    let mut best: Option<(&Occurrence<IcpNumber>, (Display, bool))> = None;
    for occurrence in occurrences {
        let key = (display(occurrence), occurrence.in_footer);
        if best.is_none_or(|(_, best_key)| key > best_key) {
            best = Some((occurrence, key));
        }
    }
    best.map(|(occurrence, _)| occurrence)
}

/// What the number axis concluded.
enum NumberVerdict<'a> {
    /// These occurrences show an accepted number.
    Accepted(Vec<&'a Occurrence<IcpNumber>>),
    /// Only the subject number is shown, and no exception applies.
    SubjectOnly(Vec<&'a Occurrence<IcpNumber>>),
    /// Numbers are shown, none accepted.
    Wrong,
}

fn judge_number<'a>(
    filed: &IcpNumber,
    shown: &'a [Occurrence<IcpNumber>],
    subject_accepted: impl FnOnce(&IcpNumber) -> bool,
) -> NumberVerdict<'a> {
    let subject = filed.subject();
    let is_filed = |o: &Occurrence<IcpNumber>| {
        // A record filing a bare subject number is satisfied by any service
        // number of that subject: the page is the more precise of the two.
        o.number == *filed || (!filed.is_service() && o.number.subject() == *filed)
    };
    let is_subject = |o: &Occurrence<IcpNumber>| filed.is_service() && o.number == subject;
    if !shown.iter().any(|o| is_filed(o) || is_subject(o)) {
        return NumberVerdict::Wrong;
    }
    let subject_ok = shown.iter().any(is_subject) && subject_accepted(&subject);
    let accepted: Vec<_> = shown
        .iter()
        .filter(|o| is_filed(o) || (subject_ok && is_subject(o)))
        .collect();
    if accepted.is_empty() {
        NumberVerdict::SubjectOnly(shown.iter().filter(|o| is_subject(o)).collect())
    } else {
        NumberVerdict::Accepted(accepted)
    }
}

fn check_target(
    record: &Record,
    outcome: &TargetOutcome,
    page: &PageSnapshot,
    facts: &dyn ScanFacts,
) -> Vec<Finding> {
    let expected = match offsite_domain(record, &outcome.target, &page.final_url) {
        Some(landing) => facts.filed_number(&landing),
        None => record.icp_number.clone(),
    };
    let expected_text = expected.as_ref().map(ToString::to_string);
    let finding = |code, occurrence: Option<&Occurrence<IcpNumber>>, mut evidence: Evidence| {
        if let Some(o) = occurrence {
            evidence.text = Some(o.text.clone());
            evidence.number = Some(o.number.to_string());
            evidence.href.get_or_insert_with(|| o.href.clone());
        }
        evidence.expected.clone_from(&expected_text);
        Finding::new(code, Some(outcome.label()), evidence)
    };

    let shown = &outcome.shown.icp;
    if shown.is_empty() {
        return vec![finding(
            FindingCode::IcpNumberMissing,
            None,
            Evidence::default(),
        )];
    }
    let mut findings = Vec::new();
    let accepted = match &expected {
        None => shown.iter().collect(),
        Some(filed) => {
            let subject_accepted = |subject: &IcpNumber| {
                filed.region() == "粤"
                    || facts.subject_shares_page(subject, &record.domain, &page.final_url)
            };
            match judge_number(filed, shown, subject_accepted) {
                NumberVerdict::Accepted(accepted) => accepted,
                NumberVerdict::SubjectOnly(subject) => {
                    let code = FindingCode::IcpSubjectNumberOnly;
                    findings.push(finding(
                        code,
                        best(subject.iter().copied()),
                        Evidence::default(),
                    ));
                    subject
                }
                NumberVerdict::Wrong => {
                    let code = FindingCode::IcpNumberWrong;
                    return vec![finding(code, best(shown), Evidence::default())];
                }
            }
        }
    };
    let Some(chosen) = best(accepted) else {
        return findings;
    };
    let (code, evidence) = match display(chosen) {
        Display::Correct => return findings,
        Display::Hidden => (FindingCode::IcpHidden, Evidence::default()),
        Display::NotLinked => (FindingCode::IcpNotLinked, Evidence::default()),
        Display::NotInFooter => (FindingCode::IcpNotInFooter, Evidence::default()),
        Display::WrongUrl => {
            let href = chosen.href.as_deref().unwrap_or_default();
            let (keyword, reason) = match MiitLink::classify(href) {
                MiitLink::Wrong(wrong) => wrong_address_reason(wrong),
                MiitLink::Homepage => ("", ""),
            };
            let evidence = Evidence {
                keyword: Some(keyword.to_owned()),
                reason: Some(reason.to_owned()),
                ..Evidence::default()
            };
            (FindingCode::IcpLinkWrongUrl, evidence)
        }
    };
    findings.push(finding(code, Some(chosen), evidence));
    findings
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::page::{TargetFailure, TextSegment, Unreachable};
    use crate::rules::test_support::{
        block, codes, failed, filed, icp, landing_on, page_with_blocks, page_with_footer, reached,
        record, seg, Facts, MIIT,
    };
    use crate::rules::FindingCode::{
        IcpHidden, IcpLinkWrongUrl, IcpNotInFooter, IcpNotLinked, IcpNumberMissing, IcpNumberWrong,
        IcpSubjectNumberOnly,
    };

    const FILED: &str = "京ICP备12345678号-1";

    fn footer(text: &str) -> TextSegment {
        seg(text, Some(MIIT), true, true)
    }

    /// Findings for a record of example.cn filed with `filed_number` on one
    /// page with these segments (one block), with `facts`.
    fn judge(
        filed_number: Option<&str>,
        segments: Vec<TextSegment>,
        facts: &Facts,
    ) -> Vec<Finding> {
        let rec = filed_number.map_or_else(|| record("example.cn"), |n| filed("example.cn", n));
        let page = page_with_blocks(vec![block(segments)]);
        check(&rec, &[reached("example.cn", page)], facts)
    }

    #[rstest]
    #[case::correct(FILED, vec![footer(FILED)], &[])]
    #[case::correct_with_tolerated_spelling(FILED, vec![footer("备案号：京 ＩＣＰ 备 12345678 号 － 1")], &[])]
    #[case::correct_split_over_spans(
        FILED, vec![footer("京ICP备"), footer("12345678号"), footer("-1")], &[]
    )]
    #[case::correct_with_fragment(
        FILED, vec![seg(FILED, Some("http://beian.miit.gov.cn/#/Integrated/index"), true, true)], &[]
    )]
    #[case::no_number(FILED, vec![footer("版权所有 © 例子网")], &[IcpNumberMissing])]
    #[case::look_alike_is_no_number(FILED, vec![footer("萌ICP备12345678号-1")], &[IcpNumberMissing])]
    #[case::other_number(FILED, vec![footer("京ICP备87654321号-1")], &[IcpNumberWrong])]
    #[case::other_service_suffix(FILED, vec![footer("京ICP备12345678号-2")], &[IcpNumberWrong])]
    #[case::other_licence_only(FILED, vec![footer("京ICP证030173号")], &[IcpNumberWrong])]
    #[case::chuan_is_not_shu("蜀ICP备12345678号-1", vec![footer("川ICP备12345678号-1")], &[IcpNumberWrong])]
    #[case::wrong_number_unlinked_gets_no_display_finding(
        FILED, vec![seg("京ICP备87654321号-1", None, false, false)], &[IcpNumberWrong]
    )]
    #[case::wrong_and_correct_passes(
        FILED, vec![footer("京ICP备87654321号-1 "), footer(FILED)], &[]
    )]
    #[case::subject_only(FILED, vec![footer("京ICP备12345678号")], &[IcpSubjectNumberOnly])]
    #[case::subject_only_unlinked_judged_on_both_axes(
        FILED, vec![seg("京ICP备12345678号", None, true, true)], &[IcpSubjectNumberOnly, IcpNotLinked]
    )]
    #[case::subject_only_guangdong("粤ICP备12345678号-1", vec![footer("粤ICP备12345678号")], &[])]
    #[case::subject_only_guangdong_licence("粤B2-20090059-5", vec![footer("粤B2-20090059")], &[])]
    #[case::guangdong_subject_hidden(
        "粤ICP备12345678号-1", vec![seg("粤ICP备12345678号", Some(MIIT), false, true)], &[IcpHidden]
    )]
    #[case::filed_subject_accepts_service_number("京ICP备12345678号", vec![footer(FILED)], &[])]
    #[case::licence_filed_and_shown("京ICP证030173号-1", vec![footer("京ICP证030173号-1")], &[])]
    #[case::hidden(FILED, vec![seg(FILED, Some(MIIT), false, true)], &[IcpHidden])]
    #[case::hidden_copy_and_visible_linked_copy_passes(
        FILED, vec![seg(FILED, None, false, false), seg(" ", None, true, true), footer(FILED)], &[]
    )]
    #[case::hidden_correct_and_visible_wrong(
        FILED, vec![seg(FILED, Some(MIIT), false, true), footer(" 京ICP备87654321号-1")], &[IcpHidden]
    )]
    #[case::not_linked(FILED, vec![seg(FILED, None, true, true)], &[IcpNotLinked])]
    #[case::empty_href_not_linked(FILED, vec![seg(FILED, Some(""), true, true)], &[IcpNotLinked])]
    #[case::script_href_not_linked(
        FILED, vec![seg(FILED, Some("javascript:void(0)"), true, true)], &[IcpNotLinked]
    )]
    #[case::dead_host(
        FILED, vec![seg(FILED, Some("https://www.beian.miit.gov.cn/"), true, true)], &[IcpLinkWrongUrl]
    )]
    #[case::deep_page(
        FILED,
        vec![seg(FILED, Some("https://beian.miit.gov.cn/#/Integrated/recordQuery"), true, true)],
        &[IcpLinkWrongUrl]
    )]
    #[case::wrong_url_beats_unlinked(
        FILED,
        vec![seg(FILED, None, true, true), seg(FILED, Some("http://www.miitbeian.gov.cn/"), true, true)],
        &[IcpLinkWrongUrl]
    )]
    #[case::not_in_footer(FILED, vec![seg(FILED, Some(MIIT), true, false)], &[IcpNotInFooter])]
    #[case::not_in_footer_beats_wrong_url_in_footer(
        FILED,
        vec![seg(FILED, Some(MIIT), true, false), seg(FILED, Some("https://icp.chinaz.com/"), true, true)],
        &[IcpNotInFooter]
    )]
    fn filed_number_display(
        #[case] filed_number: &str,
        #[case] segments: Vec<TextSegment>,
        #[case] expected: &[FindingCode],
    ) {
        let findings = judge(Some(filed_number), segments, &Facts::default());
        assert_eq!(codes(&findings), expected, "{findings:#?}");
    }

    #[rstest]
    #[case::shared_page_subject_accepted(true, &[])]
    #[case::unshared_page_subject_only(false, &[IcpSubjectNumberOnly])]
    fn subject_on_shared_page(#[case] shared_page: bool, #[case] expected: &[FindingCode]) {
        let facts = Facts {
            filed: Vec::new(),
            shared_page,
        };
        let findings = judge(Some(FILED), vec![footer("京ICP备12345678号")], &facts);
        assert_eq!(codes(&findings), expected);
    }

    #[rstest]
    #[case::plain_list_any_number_passes(vec![footer("沪ICP备87654321号-3")], &[])]
    #[case::plain_list_no_number(vec![footer("© 2024")], &[IcpNumberMissing])]
    #[case::plain_list_display_axis(vec![seg("沪ICP备87654321号-3", None, true, true)], &[IcpNotLinked])]
    #[case::plain_list_best_of_several(
        vec![seg("沪ICP备87654321号-3", None, true, true), footer(" 京ICP备12345678号")], &[]
    )]
    fn plain_list_records(#[case] segments: Vec<TextSegment>, #[case] expected: &[FindingCode]) {
        let findings = judge(None, segments, &Facts::default());
        assert_eq!(codes(&findings), expected);
    }

    /// A record of example.cn filed `FILED` whose target landed on other.cn
    /// showing `shown`, where the scan files `other` for other.cn (if any).
    fn judge_offsite(other: Option<&str>, shown: &str) -> Vec<Finding> {
        let facts = Facts {
            filed: other
                .map(|n| ("other.cn".to_owned(), icp(n)))
                .into_iter()
                .collect(),
            shared_page: false,
        };
        let page = landing_on(page_with_footer(shown, Some(MIIT)), "https://www.other.cn/");
        check(
            &filed("example.cn", FILED),
            &[reached("example.cn", page)],
            &facts,
        )
    }

    #[rstest]
    #[case::scan_record_number_shown(Some("沪ICP备87654321号-2"), "沪ICP备87654321号-2", &[])]
    #[case::own_number_on_scan_record_page(Some("沪ICP备87654321号-2"), FILED, &[IcpNumberWrong])]
    #[case::outside_scan_any_number(None, "沪ICP备11111111号-9", &[])]
    #[case::outside_scan_no_number(None, "Copyright", &[IcpNumberMissing])]
    fn offsite_targets(
        #[case] other: Option<&str>,
        #[case] shown: &str,
        #[case] expected: &[FindingCode],
    ) {
        assert_eq!(codes(&judge_offsite(other, shown)), expected);
    }

    #[test]
    fn offsite_wrong_number_expects_landing_record_number() {
        let findings = judge_offsite(Some("沪ICP备87654321号-2"), FILED);
        assert_eq!(
            findings[0].evidence.expected.as_deref(),
            Some("沪ICP备87654321号-2")
        );
        assert_eq!(findings[0].evidence.number.as_deref(), Some(FILED));
    }

    #[test]
    fn outside_scan_display_axis_still_applies() {
        let page = landing_on(
            page_with_footer("沪ICP备11111111号-9", None),
            "https://www.other.cn/",
        );
        let findings = check(
            &filed("example.cn", FILED),
            &[reached("example.cn", page)],
            &Facts::default(),
        );
        assert_eq!(codes(&findings), [IcpNotLinked]);
        assert_eq!(findings[0].evidence.expected, None);
    }

    #[test]
    fn unreachable_target_gets_nothing_here() {
        let outcomes = [failed(
            "example.cn",
            TargetFailure::Unreachable(Unreachable::Timeout { seconds: 30 }),
        )];
        assert_eq!(
            codes(&check(
                &filed("example.cn", FILED),
                &outcomes,
                &Facts::default()
            )),
            []
        );
    }

    #[test]
    fn not_linked_evidence_has_null_href() {
        let findings = judge(
            Some(FILED),
            vec![seg("京ICP备 12345678号-1", None, true, true)],
            &Facts::default(),
        );
        let evidence = &findings[0].evidence;
        assert_eq!(evidence.href, Some(None));
        assert_eq!(evidence.text.as_deref(), Some("京ICP备 12345678号-1"));
        assert_eq!(evidence.number.as_deref(), Some(FILED));
        assert_eq!(evidence.expected.as_deref(), Some(FILED));
        let json = serde_json::to_value(evidence).unwrap();
        assert!(
            json["href"].is_null() && json.get("href").is_some(),
            "{json}"
        );
    }

    #[test]
    fn wrong_url_evidence_names_href_and_why() {
        let href = "https://beian.miit.gov.cn/#/Integrated/recordQuery";
        let findings = judge(
            Some(FILED),
            vec![seg(FILED, Some(href), true, true)],
            &Facts::default(),
        );
        let evidence = &findings[0].evidence;
        assert_eq!(evidence.href, Some(Some(href.to_owned())));
        assert_eq!(evidence.keyword.as_deref(), Some("deep-page"));
        assert!(evidence.reason.as_deref().is_some_and(|r| !r.is_empty()));
    }

    #[test]
    fn wrong_number_evidence_prefers_the_displayed_copy() {
        let findings = judge(
            Some(FILED),
            vec![
                seg("京ICP备11111111号-1 ", None, false, false),
                footer("京ICP备22222222号-1"),
            ],
            &Facts::default(),
        );
        assert_eq!(
            findings[0].evidence.number.as_deref(),
            Some("京ICP备22222222号-1")
        );
        assert_eq!(findings[0].evidence.href, Some(Some(MIIT.to_owned())));
    }

    #[test]
    fn each_target_judged_alone() {
        let rec = filed("example.cn", FILED);
        let outcomes = [
            reached("example.cn", page_with_footer(FILED, Some(MIIT))),
            reached("www.example.cn", page_with_footer(FILED, None)),
        ];
        let findings = check(&rec, &outcomes, &Facts::default());
        assert_eq!(codes(&findings), [IcpNotLinked]);
        assert_eq!(
            findings[0].target.as_deref(),
            Some("https://www.example.cn/#desktop")
        );
    }
}
