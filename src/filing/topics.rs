//! 前置审批 topics: the kinds of content a site may carry only with a
//! pre-approval from the matching authority (SPEC §6), the words that hint
//! at each, and the names the input's `approvals` field accepts.
//!
//! [`TOPICS`] is the one table of topics and words. A word is a hint, not
//! proof (the rule that reads it only warns), so the words are chosen to be
//! hints a demanding reader would accept on a homepage's name, title and
//! `h1`/`h2` headings, and common Chinese words that mostly mean something
//! else are left out:
//!
//! - 新闻 alone is not a word: nearly every company homepage has a heading
//!   新闻中心, 公司新闻 or 新闻动态 about itself; a news service names
//!   itself 新闻网, a 新闻门户 or carries 时政.
//! - 文化 alone is not a word: 文化传媒有限公司 and the heading 企业文化 are
//!   everywhere; 网络文化 activities are named by 动漫, 网络音乐, 直播 ….
//! - 教育 alone is not a word: schools, 安全教育 and 继续教育 pages are not
//!   online education services; 在线教育, 网校, 网络课程 are.
//! - 医疗 alone is not a word (医疗器械 belongs to drugs and devices, 医疗
//!   设备 sellers to neither); 资讯 and 社区 are not words (industry news and
//!   housing estates); 电视 and 广播 alone are not (TV sets, broadcast
//!   equipment): 电视剧, 电视台, 网络电台 are.
//!
//! Each word is tested by a named case (`tests`), and so is each exclusion.

use std::fmt;

use super::normalize;

/// A pre-approval topic (前置审批 项目), named as `approvals` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Topic {
    /// 新闻: internet news information services.
    News,
    /// 出版: online publishing.
    Publishing,
    /// 教育: online education.
    Education,
    /// 医疗保健: medical and health care information.
    HealthCare,
    /// 药品和医疗器械: drugs and medical devices.
    DrugsAndDevices,
    /// 文化: internet culture (music, performance, animation, art).
    Culture,
    /// 广播电影电视: audio-visual programmes.
    Broadcasting,
    /// 网络游戏: online games.
    OnlineGames,
    /// 网络文学 (小说): online literature.
    OnlineLiterature,
    /// 校外培训: off-campus tutoring.
    Tutoring,
    /// 电子公告: bulletin boards (论坛).
    BulletinBoard,
}

/// One topic's row of [`TOPICS`].
#[derive(Debug)]
pub struct TopicWords {
    /// The topic.
    pub topic: Topic,
    /// Its name, as `approvals` writes it and messages show it.
    pub name: &'static str,
    /// Other names `approvals` accepts for it (English ones included).
    pub aliases: &'static [&'static str],
    /// Words in a name, title or heading that hint at the topic, the more
    /// specific first (the first one found is the one reported). Matched
    /// after NFKC, Latin letters ignoring case.
    pub words: &'static [&'static str],
}

/// The one table of topics and their words (see the module doc for what
/// is left out, and why).
pub const TOPICS: &[TopicWords] = &[
    TopicWords {
        topic: Topic::News,
        name: "新闻",
        aliases: &["news"],
        words: &["新闻网", "新闻门户", "新闻客户端", "时政", "时事"],
    },
    TopicWords {
        topic: Topic::Publishing,
        name: "出版",
        aliases: &["网络出版", "publishing"],
        words: &["网络出版", "数字出版", "出版社", "电子书", "期刊", "杂志"],
    },
    TopicWords {
        topic: Topic::Education,
        name: "教育",
        aliases: &["education"],
        words: &[
            "在线教育",
            "网络教育",
            "远程教育",
            "网校",
            "在线课程",
            "网络课程",
            "题库",
        ],
    },
    TopicWords {
        topic: Topic::HealthCare,
        name: "医疗保健",
        aliases: &["health-care", "healthcare", "medical"],
        words: &[
            "医疗保健",
            "医院",
            "诊所",
            "门诊",
            "问诊",
            "预约挂号",
            "健康咨询",
        ],
    },
    TopicWords {
        topic: Topic::DrugsAndDevices,
        name: "药品和医疗器械",
        aliases: &[
            "药品",
            "医疗器械",
            "drugs",
            "medical-devices",
            "drugs-and-medical-devices",
        ],
        words: &["医疗器械", "处方药", "药品", "药店", "药房", "医药", "药业"],
    },
    TopicWords {
        topic: Topic::Culture,
        name: "文化",
        aliases: &["网络文化", "culture"],
        words: &[
            "网络文化",
            "网络表演",
            "网络音乐",
            "在线音乐",
            "动漫",
            "直播",
            "艺术品",
        ],
    },
    TopicWords {
        topic: Topic::Broadcasting,
        name: "广播电影电视",
        aliases: &["网络视听", "广电", "broadcasting", "radio-film-tv"],
        words: &[
            "网络视听",
            "在线视频",
            "视频网",
            "在线观看",
            "影视",
            "电影",
            "电视剧",
            "电视台",
            "网络电台",
            "综艺",
        ],
    },
    TopicWords {
        topic: Topic::OnlineGames,
        name: "网络游戏",
        aliases: &["游戏", "games", "online-games"],
        words: &["网络游戏", "游戏", "手游", "页游", "网游"],
    },
    TopicWords {
        topic: Topic::OnlineLiterature,
        name: "网络文学",
        aliases: &["小说", "online-literature", "literature"],
        words: &["网络文学", "小说", "网文"],
    },
    TopicWords {
        topic: Topic::Tutoring,
        name: "校外培训",
        aliases: &["培训", "tutoring", "off-campus-training"],
        words: &["培训", "辅导", "家教", "补习"],
    },
    TopicWords {
        topic: Topic::BulletinBoard,
        name: "电子公告",
        aliases: &["论坛", "bbs", "bulletin-board"],
        words: &["电子公告", "论坛", "贴吧", "bbs"],
    },
];

impl Topic {
    /// The topic's row of [`TOPICS`].
    #[must_use]
    pub fn row(self) -> &'static TopicWords {
        TOPICS
            .iter()
            .find(|row| row.topic == self)
            .unwrap_or(&TOPICS[0])
    }

    /// Its name as `approvals` writes it (`网络游戏`).
    #[must_use]
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// Read one `approvals` item: a topic's name or alias, after NFKC,
    /// ignoring case, brackets (`网络文学 (小说)` gives two items, `网络文学`
    /// and `(小说)`; `网络文学（小说）` one, read as its name before the
    /// bracket) and a trailing 信息服务 or 服务 (the filing system's long
    /// names, `新闻信息服务`, `电子公告服务`).
    #[must_use]
    pub fn parse(text: &str) -> Option<Topic> {
        let key = normalize(text).to_lowercase().replace(['_', ' '], "-");
        let key = key
            .trim_start_matches(['(', '[', '【'])
            .trim_end_matches([')', ']', '】']);
        // `网络文学(小说)`: the name before its bracketed gloss.
        let key = key.split(['(', '[', '【']).next().unwrap_or(key);
        let lookup = |key: &str| {
            TOPICS
                .iter()
                .find(|row| row.name == key || row.aliases.contains(&key))
                .map(|row| row.topic)
        };
        lookup(key).or_else(|| {
            let short = key
                .strip_suffix("信息服务")
                .or_else(|| key.strip_suffix("服务"))?;
            lookup(short)
        })
    }

    /// The accepted topic names, for messages.
    #[must_use]
    pub fn accepted() -> String {
        TOPICS
            .iter()
            .map(|row| match row.aliases.iter().find(|a| a.is_ascii()) {
                Some(en) => format!("{} ({en})", row.name),
                None => row.name.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Read an `approvals` value: topics separated by white space, `;`, `,`,
/// `、` or `/` (full-width forms too), each once, in the order written.
///
/// # Errors
///
/// A message naming the unknown item and every accepted topic, for the
/// `input-invalid` finding.
pub fn parse_approvals(text: &str) -> Result<Vec<Topic>, String> {
    let text = normalize(text);
    let mut topics = Vec::new();
    for item in text
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | ',' | '、' | '/'))
        .filter(|item| !item.is_empty())
    {
        let topic = Topic::parse(item).ok_or_else(|| {
            format!(
                "approvals: {item:?} is not a pre-approval topic (前置审批); write some of {}, \
                 separated by spaces, `;` or `,`",
                Topic::accepted()
            )
        })?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    Ok(topics)
}

/// The approval that lets a name use one of SPEC §1's restricted words:
/// 新闻网 needs the news approval, 论坛 the bulletin-board one.
#[must_use]
pub fn approval_for_restricted_word(word: &str) -> Option<Topic> {
    match word {
        "新闻网" => Some(Topic::News),
        "论坛" => Some(Topic::BulletinBoard),
        _ => None,
    }
}

/// The topics whose words `text` holds, each once in table order, with the
/// word found (the first of the topic's words that `text` contains).
#[must_use]
pub fn topics_in(text: &str) -> Vec<(Topic, &'static str)> {
    let text = normalize(text).to_lowercase();
    TOPICS
        .iter()
        .filter_map(|row| {
            row.words
                .iter()
                .find(|word| text.contains(*word))
                .map(|word| (row.topic, *word))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    /// Every word of the table, with a text that holds it and the topic it
    /// must be read as: one named case per word.
    #[rstest]
    #[case::news_site("某某新闻网", Topic::News, "新闻网")]
    #[case::news_portal("城市新闻门户", Topic::News, "新闻门户")]
    #[case::news_app("下载新闻客户端", Topic::News, "新闻客户端")]
    #[case::politics("时政要闻", Topic::News, "时政")]
    #[case::current_affairs("时事评论", Topic::News, "时事")]
    #[case::online_publishing("网络出版平台", Topic::Publishing, "网络出版")]
    #[case::digital_publishing("数字出版基地", Topic::Publishing, "数字出版")]
    #[case::publisher("某某出版社", Topic::Publishing, "出版社")]
    #[case::ebooks("电子书下载", Topic::Publishing, "电子书")]
    #[case::journal("学术期刊", Topic::Publishing, "期刊")]
    #[case::magazine("时尚杂志", Topic::Publishing, "杂志")]
    #[case::online_education("某某在线教育", Topic::Education, "在线教育")]
    #[case::network_education("网络教育学院", Topic::Education, "网络教育")]
    #[case::distance_education("远程教育平台", Topic::Education, "远程教育")]
    #[case::online_school("某某网校", Topic::Education, "网校")]
    #[case::online_courses("精品在线课程", Topic::Education, "在线课程")]
    #[case::network_courses("网络课程中心", Topic::Education, "网络课程")]
    #[case::question_bank("考试题库", Topic::Education, "题库")]
    #[case::health_care("医疗保健资讯", Topic::HealthCare, "医疗保健")]
    #[case::hospital("某某人民医院", Topic::HealthCare, "医院")]
    #[case::clinic("口腔诊所", Topic::HealthCare, "诊所")]
    #[case::outpatient("门诊时间", Topic::HealthCare, "门诊")]
    #[case::consultation("在线问诊", Topic::HealthCare, "问诊")]
    #[case::appointments("预约挂号", Topic::HealthCare, "预约挂号")]
    #[case::health_advice("健康咨询热线", Topic::HealthCare, "健康咨询")]
    #[case::medical_devices("医疗器械商城", Topic::DrugsAndDevices, "医疗器械")]
    #[case::prescription("处方药说明", Topic::DrugsAndDevices, "处方药")]
    #[case::drugs("药品信息", Topic::DrugsAndDevices, "药品")]
    #[case::drugstore("网上药店", Topic::DrugsAndDevices, "药店")]
    #[case::pharmacy("大药房", Topic::DrugsAndDevices, "药房")]
    #[case::pharma("某某医药", Topic::DrugsAndDevices, "医药")]
    #[case::pharma_company("某某药业", Topic::DrugsAndDevices, "药业")]
    #[case::internet_culture("网络文化平台", Topic::Culture, "网络文化")]
    #[case::online_performance("网络表演", Topic::Culture, "网络表演")]
    #[case::online_music("网络音乐", Topic::Culture, "网络音乐")]
    #[case::streaming_music("在线音乐试听", Topic::Culture, "在线音乐")]
    #[case::animation("动漫世界", Topic::Culture, "动漫")]
    #[case::live_streaming("直播间", Topic::Culture, "直播")]
    #[case::artworks("艺术品拍卖", Topic::Culture, "艺术品")]
    #[case::audio_visual("网络视听节目", Topic::Broadcasting, "网络视听")]
    #[case::online_video("在线视频", Topic::Broadcasting, "在线视频")]
    #[case::video_site("某某视频网", Topic::Broadcasting, "视频网")]
    #[case::watch_online("免费在线观看", Topic::Broadcasting, "在线观看")]
    #[case::film_and_tv("影视大全", Topic::Broadcasting, "影视")]
    #[case::films("最新电影", Topic::Broadcasting, "电影")]
    #[case::tv_series("热播电视剧", Topic::Broadcasting, "电视剧")]
    #[case::tv_station("某某电视台", Topic::Broadcasting, "电视台")]
    #[case::internet_radio("网络电台", Topic::Broadcasting, "网络电台")]
    #[case::variety_shows("综艺节目", Topic::Broadcasting, "综艺")]
    #[case::online_games("精品网络游戏", Topic::OnlineGames, "网络游戏")]
    #[case::games("小游戏", Topic::OnlineGames, "游戏")]
    #[case::mobile_games("热门手游", Topic::OnlineGames, "手游")]
    #[case::web_games("页游开服表", Topic::OnlineGames, "页游")]
    #[case::net_games("网游", Topic::OnlineGames, "网游")]
    #[case::online_literature("网络文学", Topic::OnlineLiterature, "网络文学")]
    #[case::novels("小说阅读", Topic::OnlineLiterature, "小说")]
    #[case::web_novels("网文推荐", Topic::OnlineLiterature, "网文")]
    #[case::training("英语培训", Topic::Tutoring, "培训")]
    #[case::coaching("课外辅导", Topic::Tutoring, "辅导")]
    #[case::home_tutor("家教网", Topic::Tutoring, "家教")]
    #[case::cram("补习班", Topic::Tutoring, "补习")]
    #[case::bulletin("电子公告", Topic::BulletinBoard, "电子公告")]
    #[case::forum("摄影论坛", Topic::BulletinBoard, "论坛")]
    #[case::tieba("某某贴吧", Topic::BulletinBoard, "贴吧")]
    #[case::bbs_upper_full_width("校园ＢＢＳ", Topic::BulletinBoard, "bbs")]
    fn every_word_is_read_as_its_topic(
        #[case] text: &str,
        #[case] topic: Topic,
        #[case] word: &str,
    ) {
        assert_eq!(topics_in(text), [(topic, word)]);
        assert!(topic.row().words.contains(&word), "{word} is in the table");
    }

    #[test]
    fn the_cases_cover_every_word() {
        // Kept in step with the case table above by count: a word added to
        // TOPICS without a case fails here.
        let words: usize = TOPICS.iter().map(|row| row.words.len()).sum();
        assert_eq!(words, 65);
    }

    /// Common words that hold a topic's name but mean something else:
    /// none is read as a topic (see the module doc).
    #[rstest]
    #[case::news_centre("新闻中心")]
    #[case::company_news("公司新闻")]
    #[case::news_updates("新闻动态")]
    #[case::industry_info("行业资讯")]
    #[case::corporate_culture("企业文化")]
    #[case::culture_media_company("某某文化传媒有限公司")]
    #[case::education_tech_company("某某教育科技有限公司")]
    #[case::safety_education("安全教育")]
    #[case::medical_equipment_trade("医疗设备")]
    #[case::tv_sets("电视机")]
    #[case::broadcast_equipment("广播设备")]
    #[case::community("社区服务")]
    #[case::plain_company("例子科技有限公司 - 首页")]
    fn common_names_are_no_topic(#[case] text: &str) {
        assert_eq!(topics_in(text), []);
    }

    #[test]
    fn several_topics_each_once_in_table_order() {
        assert_eq!(
            topics_in("游戏直播论坛，网游与手游"),
            [
                (Topic::Culture, "直播"),
                (Topic::OnlineGames, "游戏"),
                (Topic::BulletinBoard, "论坛"),
            ]
        );
    }

    #[rstest]
    #[case::names("新闻 出版", &[Topic::News, Topic::Publishing])]
    #[case::semicolons("教育;医疗保健；药品和医疗器械", &[Topic::Education, Topic::HealthCare, Topic::DrugsAndDevices])]
    #[case::commas_and_enumeration_comma("文化,广播电影电视，网络游戏、校外培训", &[Topic::Culture, Topic::Broadcasting, Topic::OnlineGames, Topic::Tutoring])]
    #[case::literature_as_spec_writes_it("网络文学 (小说)", &[Topic::OnlineLiterature])]
    #[case::literature_full_width_brackets("网络文学（小说）", &[Topic::OnlineLiterature])]
    #[case::slash("电子公告/论坛", &[Topic::BulletinBoard])]
    #[case::english("news; online-games, BBS", &[Topic::News, Topic::OnlineGames, Topic::BulletinBoard])]
    #[case::long_names("新闻信息服务 电子公告服务", &[Topic::News, Topic::BulletinBoard])]
    #[case::duplicates_once("游戏 网络游戏", &[Topic::OnlineGames])]
    #[case::empty("", &[])]
    fn approvals_parse(#[case] text: &str, #[case] want: &[Topic]) {
        assert_eq!(parse_approvals(text).as_deref(), Ok(want));
    }

    #[rstest]
    #[case::unknown("新闻 彩票", "彩票")]
    #[case::bare_service("服务", "服务")]
    fn unknown_approvals_name_the_item_and_the_topics(#[case] text: &str, #[case] item: &str) {
        let err = parse_approvals(text).unwrap_err();
        assert!(err.contains(&format!("{item:?}")), "{err}");
        for name in ["新闻 (news)", "网络游戏 (games)", "电子公告 (bbs)"] {
            assert!(err.contains(name), "{err}");
        }
    }

    #[rstest]
    #[case::news_site("新闻网", Some(Topic::News))]
    #[case::forum("论坛", Some(Topic::BulletinBoard))]
    #[case::prefix("中国", None)]
    #[case::government_word("人民政府", None)]
    fn restricted_words_lifted_by_an_approval(#[case] word: &str, #[case] want: Option<Topic>) {
        assert_eq!(approval_for_restricted_word(word), want);
    }

    #[test]
    fn every_topic_parses_from_its_name_and_aliases() {
        for row in TOPICS {
            assert_eq!(Topic::parse(row.name), Some(row.topic));
            assert_eq!(row.topic.name(), row.name);
            for alias in row.aliases {
                assert_eq!(Topic::parse(alias), Some(row.topic), "{alias}");
            }
        }
    }
}
