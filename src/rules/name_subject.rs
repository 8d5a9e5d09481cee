//! Rule `site-name`, code `name-subject-mismatch`: a name must fit the kind
//! of subject that filed it (主办单位性质, SPEC §6). With the record's
//! `subject_type` given, the filed service name and each reachable target's
//! title are read (after NFKC) for three word lists:
//!
//! - an individual's (个人) site may not name an organisation or an official
//!   voice: 公司, 有限公司, 集团, 企业, 工作室, 协会, 学会, 研究院, 研究所, 官方,
//!   官网;
//! - only government bodies (政府机关) and public institutions (事业单位) may
//!   use public-affairs words: 人民政府, 政府, 监察, 检察院, 法院, 公安, 税务,
//!   海关;
//! - any name starting with 中国, 中华, 全国 or 国家 is advice for every kind
//!   (only a national-level unit may, which the scan cannot know).
//!
//! One warning per word and place (the service name with `target` null,
//! then each title), like `name-restricted-keyword`. A word inside a longer
//! word of the same list is not reported again (有限公司 is one word, not
//! 有限公司 and 公司).

use crate::filing::{normalize, SubjectType};
use crate::input::Record;
use crate::rules::{reachable, Evidence, Finding, FindingCode, ScanFacts, TargetOutcome};

/// The three naming rules of SPEC §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamingRule {
    /// 个人: no organisation or official words.
    IndividualOrganisation,
    /// Public-affairs words only for 政府机关 and 事业单位.
    PublicAffairs,
    /// A 中国/中华/全国/国家 prefix only for national-level units.
    NationalPrefix,
}

/// Each rule's words, in the order they are reported.
const RULES: [(NamingRule, &[&str]); 3] = [
    (
        NamingRule::IndividualOrganisation,
        &[
            "有限公司",
            "公司",
            "集团",
            "企业",
            "工作室",
            "协会",
            "学会",
            "研究院",
            "研究所",
            "官方",
            "官网",
        ],
    ),
    (
        NamingRule::PublicAffairs,
        &[
            "人民政府",
            "政府",
            "监察",
            "检察院",
            "法院",
            "公安",
            "税务",
            "海关",
        ],
    ),
    (
        NamingRule::NationalPrefix,
        &["中国", "中华", "全国", "国家"],
    ),
];

impl NamingRule {
    /// Whether the rule binds a subject of this kind.
    fn binds(self, subject: SubjectType) -> bool {
        match self {
            NamingRule::IndividualOrganisation => subject == SubjectType::Individual,
            NamingRule::PublicAffairs => !subject.is_public_body(),
            NamingRule::NationalPrefix => true,
        }
    }

    /// The rule in words, for `evidence.reason`.
    fn describe(self) -> &'static str {
        match self {
            NamingRule::IndividualOrganisation => {
                "an individual's (个人) site may not be named as an organisation or an official voice"
            }
            NamingRule::PublicAffairs => {
                "public-affairs words are for government bodies (政府机关) and public institutions (事业单位)"
            }
            NamingRule::NationalPrefix => {
                "a name may start with 中国, 中华, 全国 or 国家 only for a national-level unit"
            }
        }
    }

    /// The rule a reported word belongs to (the lists share no word).
    fn of_word(word: &str) -> Option<NamingRule> {
        RULES
            .iter()
            .find(|(_, words)| words.contains(&word))
            .map(|(rule, _)| *rule)
    }
}

/// The words of `text` that do not fit `subject`, with their rule, in rule
/// order, each once.
pub(crate) fn mismatches(subject: SubjectType, text: &str) -> Vec<(NamingRule, &'static str)> {
    let text = normalize(text);
    let mut found = Vec::new();
    for (rule, words) in RULES {
        if !rule.binds(subject) {
            continue;
        }
        let hits: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| match rule {
                NamingRule::NationalPrefix => text.starts_with(*w),
                _ => text.contains(*w),
            })
            .collect();
        found.extend(
            hits.iter()
                .filter(|w| {
                    !hits
                        .iter()
                        .any(|longer| longer != *w && longer.contains(**w))
                })
                .map(|w| (rule, *w)),
        );
    }
    found
}

/// One warning per misfitting word and place: the service name, then each
/// reachable target's title.
pub(crate) fn check(
    record: &Record,
    outcomes: &[TargetOutcome],
    _facts: &dyn ScanFacts,
) -> Vec<Finding> {
    let Some(subject) = record.subject_type else {
        return Vec::new();
    };
    let places = record
        .service_name
        .iter()
        .map(|name| (None, name.as_str()))
        .chain(reachable(outcomes).map(|(o, page)| (Some(o.label()), page.title.as_str())));
    places
        .flat_map(|(target, text)| {
            mismatches(subject, text)
                .into_iter()
                .map(move |(rule, word)| {
                    let evidence = Evidence {
                        text: Some(text.to_owned()),
                        keyword: Some(word.to_owned()),
                        expected: Some(subject.name_zh().to_owned()),
                        reason: Some(rule.describe().to_owned()),
                        ..Evidence::default()
                    };
                    Finding::new(FindingCode::NameSubjectMismatch, target.clone(), evidence)
                })
        })
        .collect()
}

/// The English and Chinese messages: the word, the rule, and what to
/// change (the name, or the filing when the subject's kind is wrong).
pub(crate) fn messages(evidence: &Evidence) -> (String, String) {
    let text = evidence.text.as_deref().unwrap_or_default();
    let word = evidence.keyword.as_deref().unwrap_or_default();
    let subject = evidence.expected.as_deref().unwrap_or_default();
    match NamingRule::of_word(word) {
        Some(NamingRule::IndividualOrganisation) => (
            format!(
                "\"{text}\" uses \"{word}\", which names an organisation or an official voice, \
                 but the site is filed by an individual (个人); rename the site, or file it \
                 under the organisation it belongs to"
            ),
            format!(
                "名称“{text}”含有“{word}”，但主办单位性质为个人，个人网站不得使用单位或官方性质的名称；\
                 请修改网站名称，或以相应单位为主体重新备案"
            ),
        ),
        Some(NamingRule::PublicAffairs) => (
            format!(
                "\"{text}\" uses the public-affairs word \"{word}\", which only government \
                 bodies and public institutions may use, but the subject is {subject}; rename \
                 the site, or correct the filing's subject type if it is a public body's"
            ),
            format!(
                "名称“{text}”含有党政机关类词语“{word}”，仅政府机关、事业单位可以使用，\
                 而主办单位性质为{subject}；请修改网站名称，或如实变更备案的主办单位性质"
            ),
        ),
        Some(NamingRule::NationalPrefix) => (
            format!(
                "\"{text}\" starts with \"{word}\", which only a national-level unit may use \
                 (the subject is {subject}); rename the site unless its subject is a \
                 national-level unit"
            ),
            format!(
                "名称“{text}”以“{word}”开头，仅国家级单位可以使用（主办单位性质：{subject}）；\
                 如非国家级单位，请修改网站名称"
            ),
        ),
        None => (
            format!(
                "\"{text}\" does not fit the kind of subject that filed it ({subject}); \
                 rename the site, or correct the filing"
            ),
            format!("名称“{text}”与主办单位性质（{subject}）不符；请修改网站名称或变更备案信息"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::page::{TargetFailure, Unreachable};
    use crate::rules::test_support::{failed, page_with_footer, reached, record, Facts};
    use NamingRule::{IndividualOrganisation, NationalPrefix, PublicAffairs};
    use SubjectType::{Enterprise, Government, Individual, PublicInstitution, SocialOrganisation};

    #[rstest]
    // 个人: organisation and official words, the longer word once.
    #[case::individual_plain(Individual, "李明的摄影博客", &[])]
    #[case::individual_company(Individual, "明远科技有限公司", &[(IndividualOrganisation, "有限公司")])]
    #[case::individual_bare_company(Individual, "明远公司", &[(IndividualOrganisation, "公司")])]
    #[case::individual_group(Individual, "明远集团", &[(IndividualOrganisation, "集团")])]
    #[case::individual_enterprise(Individual, "明远企业", &[(IndividualOrganisation, "企业")])]
    #[case::individual_studio(Individual, "明远工作室", &[(IndividualOrganisation, "工作室")])]
    #[case::individual_association(Individual, "摄影协会", &[(IndividualOrganisation, "协会")])]
    #[case::individual_society(Individual, "摄影学会", &[(IndividualOrganisation, "学会")])]
    #[case::individual_academy(Individual, "明远研究院", &[(IndividualOrganisation, "研究院")])]
    #[case::individual_institute(Individual, "明远研究所", &[(IndividualOrganisation, "研究所")])]
    #[case::individual_official(Individual, "明远官方网站", &[(IndividualOrganisation, "官方")])]
    #[case::individual_official_site(Individual, "明远官网", &[(IndividualOrganisation, "官网")])]
    #[case::individual_two_words(Individual, "明远工作室官网", &[(IndividualOrganisation, "工作室"), (IndividualOrganisation, "官网")])]
    #[case::individual_full_width_space(Individual, "明远　有限公司", &[(IndividualOrganisation, "有限公司")])]
    #[case::company_may_say_company(Enterprise, "明远科技有限公司", &[])]
    // Public-affairs words: not for companies or individuals; fine for public bodies.
    #[case::company_government(Enterprise, "某市人民政府服务网", &[(PublicAffairs, "人民政府")])]
    #[case::company_bare_government(Enterprise, "政府采购信息", &[(PublicAffairs, "政府")])]
    #[case::company_supervision(Enterprise, "监察在线", &[(PublicAffairs, "监察")])]
    #[case::company_procuratorate(Enterprise, "检察院之窗", &[(PublicAffairs, "检察院")])]
    #[case::company_court(Enterprise, "法院公告", &[(PublicAffairs, "法院")])]
    #[case::company_police(Enterprise, "公安资讯", &[(PublicAffairs, "公安")])]
    #[case::company_tax(Enterprise, "税务服务", &[(PublicAffairs, "税务")])]
    #[case::company_customs(Enterprise, "海关查询", &[(PublicAffairs, "海关")])]
    #[case::social_government(SocialOrganisation, "政府事务协会", &[(PublicAffairs, "政府")])]
    #[case::individual_both(Individual, "公安工作室", &[(IndividualOrganisation, "工作室"), (PublicAffairs, "公安")])]
    #[case::government_may(Government, "示例市人民政府", &[])]
    #[case::institution_may(PublicInstitution, "示例市税务服务中心", &[])]
    // National prefixes: advice for every kind, only at the start.
    #[case::prefix_china(Enterprise, "中国例子网", &[(NationalPrefix, "中国")])]
    #[case::prefix_chinese(Individual, "中华诗词", &[(NationalPrefix, "中华")])]
    #[case::prefix_nationwide(PublicInstitution, "全国学会联盟", &[(NationalPrefix, "全国")])]
    #[case::prefix_state(Government, "国家某某局", &[(NationalPrefix, "国家")])]
    #[case::prefix_only_at_start(Enterprise, "例子中国网", &[])]
    #[case::prefix_after_space(Enterprise, "  中国例子网", &[(NationalPrefix, "中国")])]
    fn names_that_do_not_fit(
        #[case] subject: SubjectType,
        #[case] name: &str,
        #[case] want: &[(NamingRule, &str)],
    ) {
        assert_eq!(mismatches(subject, name), want);
    }

    #[test]
    fn no_subject_type_no_finding() {
        let rec = Record {
            service_name: Some("明远科技有限公司".to_owned()),
            ..record("example.cn")
        };
        assert_eq!(check(&rec, &[], &Facts::default()), []);
    }

    #[test]
    fn one_warning_per_word_and_place_with_word_and_rule() {
        let rec = Record {
            service_name: Some("李明个人博客".to_owned()),
            subject_type: Some(Individual),
            ..record("example.cn")
        };
        let mut page = page_with_footer("", None);
        page.title = "李明个人博客 - 明远科技有限公司".to_owned();
        let outcomes = [
            reached("example.cn", page),
            failed(
                "www.example.cn",
                TargetFailure::Unreachable(Unreachable::EmptyDocument),
            ),
        ];
        let findings = check(&rec, &outcomes, &Facts::default());
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.code, FindingCode::NameSubjectMismatch);
        assert_eq!(f.target.as_deref(), Some("https://example.cn/#desktop"));
        assert_eq!(f.evidence.keyword.as_deref(), Some("有限公司"));
        assert_eq!(f.evidence.expected.as_deref(), Some("个人"));
        assert_eq!(
            f.evidence.reason.as_deref(),
            Some(IndividualOrganisation.describe())
        );
        assert!(f.message.contains("有限公司") && f.message.contains("rename"));
        assert!(f.message_zh.contains("有限公司") && f.message_zh.contains("修改网站名称"));
    }

    #[rstest]
    #[case::individual("有限公司", "个人", "organisation", "重新备案")]
    #[case::public_affairs("法院", "企业", "public-affairs", "主办单位性质")]
    #[case::prefix("国家", "企业", "national-level", "国家级单位")]
    fn messages_name_the_word_and_what_to_change(
        #[case] word: &str,
        #[case] subject: &str,
        #[case] en: &str,
        #[case] zh: &str,
    ) {
        let evidence = Evidence {
            text: Some(format!("{word}例子网")),
            keyword: Some(word.to_owned()),
            expected: Some(subject.to_owned()),
            ..Evidence::default()
        };
        let (message, message_zh) = messages(&evidence);
        assert!(message.contains(word) && message.contains(en), "{message}");
        assert!(
            message_zh.contains(word) && message_zh.contains(zh),
            "{message_zh}"
        );
    }

    #[test]
    fn every_word_belongs_to_one_rule() {
        for (rule, words) in RULES {
            for word in words {
                assert_eq!(NamingRule::of_word(word), Some(rule), "{word}");
            }
        }
    }
}
