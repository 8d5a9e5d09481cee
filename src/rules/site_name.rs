//! Rule `site-name` (网站名称): advice when the filed service name or a page
//! title uses a restricted word (SPEC §1 "Restricted words"): a name that
//! starts with 中国, 中华, 中共, 中央, 全国, 国家, 人民 or 人大, or contains
//! 反腐, 赌博, 廉政, 色情, 新闻网, 论坛, 人民政府, 监察, 纪检 or 信访.
//!
//! Text is normalised first. One `name-restricted-keyword` warning per word
//! and place: the service name (record-level, `target` null), then each
//! reachable target's title.
//!
//! A word is not restricted for a record that holds what it needs
//! ([`lifted`]): the public bodies' words (人民政府, 监察, 纪检, 信访) for a
//! `subject_type` of 政府机关 or 事业单位, 新闻网 with the 新闻 approval and
//! 论坛 with the 电子公告 one (`approvals`).

use crate::filing::topics::approval_for_restricted_word;
use crate::filing::{normalize, SubjectType};
use crate::input::Record;
use crate::rules::{reachable, Evidence, Finding, FindingCode, ScanFacts, TargetOutcome};

/// Words a name may not start with (national units only). 中共 is in SPEC's
/// rule table, though not in its word list.
const PREFIXES: &[&str] = &[
    "中国", "中华", "中共", "中央", "全国", "国家", "人民", "人大",
];

/// Words a name may not contain without approval or standing.
const INFIXES: &[&str] = &[
    "反腐",
    "赌博",
    "廉政",
    "色情",
    "新闻网",
    "论坛",
    "人民政府",
    "监察",
    "纪检",
    "信访",
];

/// Words SPEC §1 keeps for public bodies.
const PUBLIC_BODY_WORDS: &[&str] = &["人民政府", "监察", "纪检", "信访"];

/// Whether `record` may use the restricted `word`: a public body its
/// public-affairs words, a holder of the matching approval 新闻网 or 论坛.
fn lifted(record: &Record, word: &str) -> bool {
    (record.subject_type.is_some_and(SubjectType::is_public_body)
        && PUBLIC_BODY_WORDS.contains(&word))
        || approval_for_restricted_word(word).is_some_and(|t| record.approvals.contains(&t))
}

/// The restricted words `name` uses, prefixes first, each once.
pub(crate) fn restricted_words(name: &str) -> Vec<&'static str> {
    let name = normalize(name);
    PREFIXES
        .iter()
        .filter(|w| name.starts_with(*w))
        .chain(INFIXES.iter().filter(|w| name.contains(*w)))
        .copied()
        .collect()
}

/// Warnings for the service name, then for each reachable target's title.
pub(crate) fn check(
    record: &Record,
    outcomes: &[TargetOutcome],
    _facts: &dyn ScanFacts,
) -> Vec<Finding> {
    let places = record
        .service_name
        .iter()
        .map(|name| (None, name.as_str()))
        .chain(reachable(outcomes).map(|(o, page)| (Some(o.label()), page.title.as_str())));
    places
        .flat_map(|(target, text)| {
            let words = restricted_words(text);
            words
                .into_iter()
                .filter(move |w| !lifted(record, w))
                .map(move |word| {
                    let evidence = Evidence {
                        keyword: Some(word.to_owned()),
                        text: Some(text.to_owned()),
                        ..Evidence::default()
                    };
                    Finding::new(FindingCode::NameRestrictedKeyword, target.clone(), evidence)
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::filing::Topic;
    use crate::page::{TargetFailure, Unreachable};
    use crate::rules::test_support::{failed, page_with_footer, reached, record, Facts};

    #[rstest]
    #[case::plain("例子网", &[])]
    #[case::prefix("中国例子网", &["中国"])]
    #[case::prefix_after_white_space("  国家例子中心", &["国家"])]
    #[case::prefix_only_at_start("例子中国网", &[])]
    #[case::full_width_normalised("ＡＢＣ论坛", &["论坛"])]
    #[case::contains("例子反腐新闻网", &["反腐", "新闻网"])]
    #[case::prefix_and_infix("人民政府网", &["人民", "人民政府"])]
    #[case::government("某市信访监察纪检", &["监察", "纪检", "信访"])]
    fn restricted_words_found(#[case] name: &str, #[case] words: &[&str]) {
        assert_eq!(restricted_words(name), words);
    }

    #[rstest]
    #[case::government_may(Some(SubjectType::Government), &[], "示例市人民政府信访监察纪检", &[])]
    #[case::institution_may(Some(SubjectType::PublicInstitution), &[], "示例市纪检监察网", &[])]
    #[case::company_may_not(Some(SubjectType::Enterprise), &[], "示例市人民政府", &["人民政府"])]
    #[case::unknown_subject_may_not(None, &[], "示例信访网", &["信访"])]
    #[case::government_prefix_stays(Some(SubjectType::Government), &[], "国家信访局", &["国家"])]
    #[case::news_approval(None, &[Topic::News], "例子新闻网", &[])]
    #[case::bbs_approval(None, &[Topic::BulletinBoard], "例子论坛", &[])]
    #[case::other_approval_lifts_nothing(None, &[Topic::News], "例子论坛", &["论坛"])]
    #[case::approval_lifts_no_prefix(None, &[Topic::News], "中国新闻网", &["中国"])]
    fn words_lifted_by_subject_or_approval(
        #[case] subject_type: Option<SubjectType>,
        #[case] approvals: &[Topic],
        #[case] name: &str,
        #[case] words: &[&str],
    ) {
        let rec = Record {
            service_name: Some(name.to_owned()),
            subject_type,
            approvals: approvals.to_vec(),
            ..record("example.cn")
        };
        let findings = check(&rec, &[], &Facts::default());
        let got: Vec<_> = findings
            .iter()
            .map(|f| f.evidence.keyword.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(got, words);
    }

    #[test]
    fn one_warning_per_word_and_place() {
        let rec = Record {
            service_name: Some("中华论坛".to_owned()),
            ..record("example.cn")
        };
        let mut page = page_with_footer("", None);
        page.title = "中华论坛 - 首页".to_owned();
        let outcomes = [
            reached("example.cn", page),
            failed(
                "www.example.cn",
                TargetFailure::Unreachable(Unreachable::EmptyDocument),
            ),
        ];
        let findings = check(&rec, &outcomes, &Facts::default());
        let seen: Vec<_> = findings
            .iter()
            .map(|f| (f.target.as_deref(), f.evidence.keyword.as_deref().unwrap()))
            .collect();
        assert_eq!(
            seen,
            [
                (None, "中华"),
                (None, "论坛"),
                (Some("https://example.cn/#desktop"), "中华"),
                (Some("https://example.cn/#desktop"), "论坛"),
            ]
        );
        assert!(findings
            .iter()
            .all(|f| f.code == FindingCode::NameRestrictedKeyword));
        assert_eq!(
            findings[2].evidence.text.as_deref(),
            Some("中华论坛 - 首页")
        );
    }
}
