//! The words of the reports, in one place: every heading, label and column
//! name of the HTML page and of the CSV, in Chinese and in English
//! (`--lang`). Codes, rules and verdicts keep their wire names in data
//! attributes and in the CSV's code column; only what people read changes.

use crate::diff::Change;
use crate::rules::{Severity, Verdict};

/// `report --lang`: the language of headings, labels and column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文 (the default: most readers are compliance staff in China).
    Zh,
    /// English.
    En,
}

/// The words of one language. `{n}`, `{shown}` and `{total}` are filled in
/// where a phrase holds a number.
#[derive(Debug)]
pub struct Labels {
    /// The page's `lang` attribute.
    pub html_lang: &'static str,
    /// The page title and top heading.
    pub title: &'static str,
    /// "Source" before the NDJSON file's name.
    pub source: &'static str,
    /// "Baseline" before the baseline file's name.
    pub baseline: &'static str,
    /// Lines of the input that were not records: `{n}`.
    pub skipped: &'static str,
    /// The records totals heading.
    pub records_heading: &'static str,
    /// "records" (a count's label).
    pub records: &'static str,
    /// "targets" (a count's label).
    pub targets: &'static str,
    /// The findings-by-code heading.
    pub findings_heading: &'static str,
    /// The changes heading (with a baseline).
    pub changes_heading: &'static str,
    /// Column: finding code.
    pub code: &'static str,
    /// Column: rule.
    pub rule: &'static str,
    /// Column: severity.
    pub severity: &'static str,
    /// Column: findings (a count).
    pub findings: &'static str,
    /// "no findings".
    pub no_findings: &'static str,
    /// "all" (the totals row, and the button).
    pub all: &'static str,
    /// "none" (the button).
    pub none: &'static str,
    /// "Codes:" before the buttons.
    pub codes: &'static str,
    /// The shown-rows sentence: `{shown}` (the live counter) of `{total}`.
    pub showing: &'static str,
    /// Column: domain.
    pub domain: &'static str,
    /// Column: id.
    pub id: &'static str,
    /// Column: input line.
    pub line: &'static str,
    /// Column: verdict.
    pub verdict: &'static str,
    /// Column: change since the baseline.
    pub change: &'static str,
    /// "on:" before a finding's targets.
    pub on: &'static str,
    /// A record-level finding's place.
    pub the_record: &'static str,
    /// Evidence: the page text.
    pub evidence_text: &'static str,
    /// Evidence: the link address.
    pub evidence_href: &'static str,
    /// Evidence: not linked.
    pub not_linked: &'static str,
    /// Evidence: the number read.
    pub evidence_number: &'static str,
    /// Evidence: what the record files.
    pub evidence_expected: &'static str,
    /// Evidence: the other domain.
    pub evidence_domain: &'static str,
    /// Evidence: the address.
    pub evidence_address: &'static str,
    /// Evidence: the word.
    pub evidence_keyword: &'static str,
    /// Evidence: why.
    pub evidence_reason: &'static str,
    /// Evidence: the final URL.
    pub evidence_final_url: &'static str,
    /// Evidence: the HTML to paste.
    pub evidence_fix: &'static str,
    /// The copy button.
    pub copy: &'static str,
    /// A screenshot's alt text, before the target.
    pub shot_alt: &'static str,
    /// The folded targets table: `{n}` targets.
    pub targets_summary: &'static str,
    /// Column: target.
    pub target: &'static str,
    /// Column: HTTP status.
    pub status: &'static str,
    /// Column: final URL.
    pub final_url: &'static str,
    /// Column: page title.
    pub page_title: &'static str,
    /// Column: ICP numbers shown.
    pub icp_numbers: &'static str,
    /// Column: 公安 numbers shown.
    pub gongan_numbers: &'static str,
    /// Column: error and notes.
    pub notes: &'static str,
    /// Column: milliseconds.
    pub ms: &'static str,
    /// Note: why https failed.
    pub https_failed: &'static str,
    /// Note: whose render is shared.
    pub shared_render: &'static str,
    /// Records of the baseline missing here.
    pub gone_heading: &'static str,
    /// Column: message in Chinese.
    pub message_zh: &'static str,
    /// Column: message in English.
    pub message_en: &'static str,
    /// Column: the previous verdict.
    pub was: &'static str,
}

const ZH: Labels = Labels {
    html_lang: "zh-CN",
    title: "beian-audit 备案检测报告",
    source: "数据来源",
    baseline: "对比基准",
    skipped: "{n} 行不是检测记录，已跳过",
    records_heading: "记录",
    records: "记录数",
    targets: "检测对象数",
    findings_heading: "问题（按代码）",
    changes_heading: "变化（与基准相比）",
    code: "代码",
    rule: "规则",
    severity: "级别",
    findings: "问题数",
    no_findings: "未发现问题",
    all: "全部",
    none: "全不选",
    codes: "问题代码：",
    showing: "显示 {shown} / {total} 条记录。",
    domain: "域名",
    id: "ID",
    line: "行号",
    verdict: "结论",
    change: "变化",
    on: "检测对象：",
    the_record: "备案信息本身",
    evidence_text: "页面文字",
    evidence_href: "链接地址",
    not_linked: "未添加链接",
    evidence_number: "识别的编号",
    evidence_expected: "备案信息",
    evidence_domain: "跳转域名",
    evidence_address: "IP 地址",
    evidence_keyword: "关键词",
    evidence_reason: "原因",
    evidence_final_url: "最终地址",
    evidence_fix: "修改建议（粘贴到首页底部的 HTML）",
    copy: "复制",
    shot_alt: "页面底部截图：",
    targets_summary: "{n} 个检测对象",
    target: "检测对象",
    status: "状态码",
    final_url: "最终地址",
    page_title: "网站标题",
    icp_numbers: "ICP 备案号",
    gongan_numbers: "公安备案号",
    notes: "错误 / 说明",
    ms: "毫秒",
    https_failed: "https 失败：",
    shared_render: "沿用渲染结果：",
    gone_heading: "基准中有、本次没有的记录",
    message_zh: "问题说明（中文）",
    message_en: "问题说明（英文）",
    was: "基准结论",
};

const EN: Labels = Labels {
    html_lang: "en",
    title: "beian-audit report",
    source: "Source",
    baseline: "Baseline",
    skipped: "{n} unreadable line(s) skipped",
    records_heading: "Records",
    records: "records",
    targets: "targets",
    findings_heading: "Findings by code",
    changes_heading: "Changes since the baseline",
    code: "code",
    rule: "rule",
    severity: "severity",
    findings: "findings",
    no_findings: "no findings",
    all: "all",
    none: "none",
    codes: "Codes:",
    showing: "Showing {shown} of {total} records.",
    domain: "domain",
    id: "id",
    line: "line",
    verdict: "verdict",
    change: "change",
    on: "on: ",
    the_record: "the record",
    evidence_text: "text",
    evidence_href: "href",
    not_linked: "not linked",
    evidence_number: "number",
    evidence_expected: "expected",
    evidence_domain: "domain",
    evidence_address: "address",
    evidence_keyword: "keyword",
    evidence_reason: "reason",
    evidence_final_url: "final URL",
    evidence_fix: "fix (HTML to paste at the bottom of the homepage)",
    copy: "copy",
    shot_alt: "bottom of the page: ",
    targets_summary: "{n} targets",
    target: "target",
    status: "status",
    final_url: "final URL",
    page_title: "title",
    icp_numbers: "ICP numbers",
    gongan_numbers: "公安 numbers",
    notes: "error / notes",
    ms: "ms",
    https_failed: "https failed: ",
    shared_render: "shared render of ",
    gone_heading: "Records of the baseline not in this scan",
    message_zh: "message (Chinese)",
    message_en: "message",
    was: "was",
};

impl Lang {
    /// The words of this language.
    #[must_use]
    pub fn labels(self) -> &'static Labels {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    /// How a verdict reads (its wire name stays in data attributes).
    #[must_use]
    pub fn verdict(self, verdict: Verdict) -> &'static str {
        match (self, verdict) {
            (Lang::Zh, Verdict::Pass) => "通过",
            (Lang::Zh, Verdict::Fail) => "不通过",
            (Lang::Zh, Verdict::Error) => "无法判定",
            (Lang::En, Verdict::Pass) => "pass",
            (Lang::En, Verdict::Fail) => "fail",
            (Lang::En, Verdict::Error) => "error",
        }
    }

    /// How a severity reads.
    #[must_use]
    pub fn severity(self, severity: Severity) -> &'static str {
        match (self, severity) {
            (Lang::Zh, Severity::Error) => "错误",
            (Lang::Zh, Severity::Warning) => "警告",
            (Lang::En, Severity::Error) => "error",
            (Lang::En, Severity::Warning) => "warning",
        }
    }

    /// How a change since the baseline reads.
    #[must_use]
    pub fn change(self, change: Change) -> &'static str {
        match (self, change) {
            (Lang::Zh, Change::NewFail) => "新增不合规",
            (Lang::Zh, Change::Fixed) => "已整改",
            (Lang::Zh, Change::StillFail) => "仍不合规",
            (Lang::Zh, Change::New) => "新增记录",
            (Lang::Zh, Change::Gone) => "已移除",
            (Lang::Zh, Change::Unchanged) => "无变化",
            (Lang::En, change) => change.as_str(),
        }
    }
}

/// `phrase` with `{name}` replaced by `value`.
pub(crate) fn fill(phrase: &str, name: &str, value: &str) -> String {
    phrase.replace(&format!("{{{name}}}"), value)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::zh(Lang::Zh)]
    #[case::en(Lang::En)]
    fn every_label_is_written(#[case] lang: Lang) {
        // Through Debug: every field, so a label left empty fails.
        let text = format!("{:?}", lang.labels());
        assert!(!text.contains(": \"\""), "an empty label in {text}");
        assert!(lang.labels().showing.contains("{shown}"));
        assert!(lang.labels().showing.contains("{total}"));
        assert!(lang.labels().skipped.contains("{n}"));
        assert!(lang.labels().targets_summary.contains("{n}"));
    }

    #[test]
    fn chinese_labels_are_chinese() {
        let zh = Lang::Zh.labels();
        for label in [
            zh.title,
            zh.records_heading,
            zh.domain,
            zh.verdict,
            zh.evidence_fix,
        ] {
            assert!(
                label
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{label}"
            );
        }
        assert_eq!(Lang::Zh.verdict(Verdict::Fail), "不通过");
        assert_eq!(Lang::En.change(Change::NewFail), "new-fail");
    }

    #[test]
    fn phrases_are_filled() {
        assert_eq!(fill(EN.targets_summary, "n", "4"), "4 targets");
        assert_eq!(fill(ZH.targets_summary, "n", "4"), "4 个检测对象");
    }
}
