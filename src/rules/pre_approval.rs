//! Rule `site-name`, code `pre-approval-topic`: a service whose name or
//! homepage is about a topic that needs a pre-approval (前置审批, SPEC §6)
//! must hold it. The topics and their words are `filing::topics::TOPICS`
//! (one table, each word tested there); a word is a hint, so this is a
//! warning.
//!
//! Places read: the filed service name (one finding per topic, `target`
//! null), then each reachable target's title and its `h1`/`h2` headings
//! (one finding per topic and target, quoting the first place the topic
//! shows: the title, else the first heading). A topic the record lists in
//! `approvals` is never reported.

use crate::filing::topics::topics_in;
use crate::filing::Topic;
use crate::input::Record;
use crate::rules::{reachable, Evidence, Finding, FindingCode, ScanFacts, TargetOutcome};

/// Where a topic's word was read (`evidence.reason`).
const SERVICE_NAME: &str = "service name";
/// The rendered title.
const TITLE: &str = "title";
/// An `h1`/`h2` heading of the homepage.
const HEADING: &str = "heading";

/// The topics `texts` name that the record holds no approval for, each once,
/// with the word and the text (and its place) it was first read in.
fn unapproved<'t>(
    record: &Record,
    texts: impl IntoIterator<Item = (&'static str, &'t str)>,
) -> Vec<(Topic, &'static str, &'static str, &'t str)> {
    let mut found: Vec<(Topic, &'static str, &'static str, &'t str)> = Vec::new();
    for (place, text) in texts {
        for (topic, word) in topics_in(text) {
            if !record.approvals.contains(&topic) && !found.iter().any(|f| f.0 == topic) {
                found.push((topic, word, place, text));
            }
        }
    }
    found.sort_by_key(|f| f.0);
    found
}

/// Warnings for the service name, then for each reachable target.
pub(crate) fn check(
    record: &Record,
    outcomes: &[TargetOutcome],
    _facts: &dyn ScanFacts,
) -> Vec<Finding> {
    let name = record
        .service_name
        .iter()
        .map(|name| (None, vec![(SERVICE_NAME, name.as_str())]));
    let targets = reachable(outcomes).map(|(o, page)| {
        let texts = std::iter::once((TITLE, page.title.as_str()))
            .chain(page.headings.iter().map(|h| (HEADING, h.as_str())))
            .collect::<Vec<_>>();
        (Some(o.label()), texts)
    });
    name.chain(targets)
        .flat_map(|(target, texts)| {
            unapproved(record, texts)
                .into_iter()
                .map(move |(topic, word, place, text)| {
                    let evidence = Evidence {
                        text: Some(text.to_owned()),
                        keyword: Some(word.to_owned()),
                        expected: Some(topic.name().to_owned()),
                        reason: Some(place.to_owned()),
                        ..Evidence::default()
                    };
                    Finding::new(FindingCode::PreApprovalTopic, target.clone(), evidence)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The English and Chinese messages: the topic, the word and where it was
/// read, and what to do (file the approval and list it, or change the text).
pub(crate) fn messages(evidence: &Evidence) -> (String, String) {
    let text = evidence.text.as_deref().unwrap_or_default();
    let word = evidence.keyword.as_deref().unwrap_or_default();
    let topic = evidence.expected.as_deref().unwrap_or_default();
    let (place_en, place_zh) = match evidence.reason.as_deref() {
        Some(SERVICE_NAME) => ("the service name", "服务名称"),
        Some(HEADING) => ("a heading of the homepage", "首页标题（h1/h2）"),
        _ => ("the page title", "网站标题"),
    };
    (
        format!(
            "{place_en} \"{text}\" says \"{word}\": the service looks like {topic} content, \
             which needs a pre-approval (前置审批); obtain the {topic} approval and list it in \
             the record's approvals, or change the wording if the site offers no such service"
        ),
        format!(
            "{place_zh}“{text}”含有“{word}”，涉及需前置审批的“{topic}”类内容；\
             请取得相应前置审批并在备案信息（前置审批）中列明，如网站不提供此类服务，请修改相关文字"
        ),
    )
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::rules::test_support::{page_with_footer, reached, record, Facts};
    use Topic::{BulletinBoard, OnlineGames, Tutoring};

    /// A record named `name` holding `approvals`, and one target titled
    /// `title` with `headings`: the (target, topic, word) of each warning.
    fn judge(
        name: &str,
        approvals: &[Topic],
        title: &str,
        headings: &[&str],
    ) -> Vec<(bool, String, String, String)> {
        let rec = Record {
            service_name: Some(name.to_owned()),
            approvals: approvals.to_vec(),
            ..record("example.cn")
        };
        let mut page = page_with_footer("", None);
        page.title = title.to_owned();
        page.headings = headings.iter().map(|h| (*h).to_owned()).collect();
        check(&rec, &[reached("example.cn", page)], &Facts::default())
            .into_iter()
            .map(|f| {
                assert_eq!(f.code, FindingCode::PreApprovalTopic);
                let e = f.evidence;
                (
                    f.target.is_some(),
                    e.expected.unwrap_or_default(),
                    e.keyword.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                )
            })
            .collect()
    }

    fn w(on_target: bool, topic: &str, word: &str, place: &str) -> (bool, String, String, String) {
        (
            on_target,
            topic.to_owned(),
            word.to_owned(),
            place.to_owned(),
        )
    }

    #[rstest]
    #[case::nothing("星火互动", &[], "星火互动 - 首页", &["关于我们"], vec![])]
    #[case::in_the_name_and_title("星火游戏", &[], "星火游戏 - 首页", &[], vec![w(false, "网络游戏", "游戏", "service name"), w(true, "网络游戏", "游戏", "title")])]
    #[case::in_a_heading("星火互动", &[], "星火互动", &["关于我们", "星火互动：精品网络游戏"], vec![w(true, "网络游戏", "网络游戏", "heading")])]
    #[case::title_before_heading("星火互动", &[], "星火手游", &["网络游戏"], vec![w(true, "网络游戏", "手游", "title")])]
    #[case::silenced_by_approval("星火游戏", &[OnlineGames], "星火游戏", &["精品网络游戏"], vec![])]
    #[case::only_the_approved_topic_silenced("星火游戏论坛", &[OnlineGames], "星火", &[], vec![w(false, "电子公告", "论坛", "service name")])]
    #[case::two_topics_in_table_order("星火", &[], "星火", &["英语培训", "游戏论坛"], vec![w(true, "网络游戏", "游戏", "heading"), w(true, "校外培训", "培训", "heading"), w(true, "电子公告", "论坛", "heading")])]
    #[case::common_headings_are_no_topic("星火科技", &[], "星火科技有限公司", &["新闻中心", "企业文化", "联系我们"], vec![])]
    #[case::all_silenced("星火", &[Tutoring, BulletinBoard, OnlineGames], "星火", &["英语培训", "游戏论坛"], vec![])]
    fn topics_warned_unless_approved(
        #[case] name: &str,
        #[case] approvals: &[Topic],
        #[case] title: &str,
        #[case] headings: &[&str],
        #[case] want: Vec<(bool, String, String, String)>,
    ) {
        assert_eq!(judge(name, approvals, title, headings), want);
    }

    #[rstest]
    #[case::service_name(SERVICE_NAME, "服务名称", "service name")]
    #[case::title(TITLE, "网站标题", "page title")]
    #[case::heading(HEADING, "首页标题", "heading")]
    fn messages_say_where_what_and_what_to_do(
        #[case] place: &str,
        #[case] zh: &str,
        #[case] en: &str,
    ) {
        let evidence = Evidence {
            text: Some("星火网络游戏".to_owned()),
            keyword: Some("网络游戏".to_owned()),
            expected: Some("网络游戏".to_owned()),
            reason: Some(place.to_owned()),
            ..Evidence::default()
        };
        let (message, message_zh) = messages(&evidence);
        assert!(
            message.contains(en) && message.contains("approvals"),
            "{message}"
        );
        assert!(
            message_zh.contains(zh) && message_zh.contains("前置审批"),
            "{message_zh}"
        );
    }
}
