//! Findings: stable codes (SPEC §2), their rule and severity, evidence, and
//! the human messages (English and Chinese) built from code plus evidence.
//!
//! Owned by the rules; `output` serialises these types as they are.

use serde::{Deserialize, Serialize};

use crate::filing::WrongAddress;

/// A rule of SPEC §1 (plus the two pseudo-rules `input` and `crawler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    /// 网站无法访问.
    SiteAccess,
    /// 网站标题与备案服务名称不一致.
    TitleMatch,
    /// 备案号悬挂.
    BeianLink,
    /// 公安备案号.
    Gongan,
    /// A 跳转 B.
    Redirect,
    /// 解析 IP 与备案 IP 不一致.
    Access,
    /// 网站名称 restricted words.
    SiteName,
    /// The input row itself.
    Input,
    /// The crawler's own failure.
    Crawler,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Advice: the rule is probably broken, or broken in a minor way.
    Warning,
    /// The rule is broken.
    Error,
}

macro_rules! finding_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $rule:ident, $severity:ident;)*) => {
        /// A finding code of SPEC §2; serialises to exactly SPEC's string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum FindingCode {
            $($(#[$doc])* #[serde(rename = $code)] $variant,)*
        }

        impl FindingCode {
            /// Every code, in SPEC §2's order.
            pub const ALL: &'static [FindingCode] = &[$(FindingCode::$variant),*];

            /// The SPEC string, e.g. `icp-not-linked`.
            pub fn as_str(self) -> &'static str {
                match self { $(FindingCode::$variant => $code,)* }
            }

            /// The rule this code belongs to.
            pub fn rule(self) -> RuleId {
                match self { $(FindingCode::$variant => RuleId::$rule,)* }
            }

            /// The severity SPEC gives this code.
            pub fn severity(self) -> Severity {
                match self { $(FindingCode::$variant => Severity::$severity,)* }
            }
        }
    };
}

finding_codes! {
    /// DNS, connection, TLS, timeout, status >= 400, or an empty document.
    SiteUnreachable = "site-unreachable", SiteAccess, Error;
    /// The rendered title is empty.
    TitleMissing = "title-missing", TitleMatch, Error;
    /// The rendered title neither equals nor contains the service name.
    TitleMismatch = "title-mismatch", TitleMatch, Error;
    /// No ICP number anywhere in the rendered page.
    IcpNumberMissing = "icp-number-missing", BeianLink, Error;
    /// ICP numbers are shown, none is the filed one (or its subject number).
    IcpNumberWrong = "icp-number-wrong", BeianLink, Error;
    /// Only the subject number is shown, outside 粤, with no exception.
    IcpSubjectNumberOnly = "icp-subject-number-only", BeianLink, Error;
    /// The filed number is shown but no `<a href>` holds it.
    IcpNotLinked = "icp-not-linked", BeianLink, Error;
    /// The filed number is linked, but not to the MIIT homepage.
    IcpLinkWrongUrl = "icp-link-wrong-url", BeianLink, Error;
    /// The filed number is in the page but not visible.
    IcpHidden = "icp-hidden", BeianLink, Error;
    /// The filed number is visible but not at the bottom of the page.
    IcpNotInFooter = "icp-not-in-footer", BeianLink, Warning;
    /// The record has a 公安备案号; the page shows none.
    GonganNumberMissing = "gongan-number-missing", Gongan, Error;
    /// A 公安备案号 is shown, not the filed one.
    GonganNumberWrong = "gongan-number-wrong", Gongan, Error;
    /// The filed 公安备案号 is shown but not linked to the MPS filing site.
    GonganNotLinked = "gongan-not-linked", Gongan, Warning;
    /// The target ends on another registrable domain.
    RedirectedOffsite = "redirected-offsite", Redirect, Warning;
    /// The target was served from an address outside the record's `ips`.
    IpNotFiled = "ip-not-filed", Access, Error;
    /// The host resolves to an internal address, which the crawler refuses.
    AddressRefused = "address-refused", Access, Error;
    /// The service name or title uses a restricted word.
    NameRestrictedKeyword = "name-restricted-keyword", SiteName, Warning;
    /// The service name or title does not fit the record's `subject_type`.
    NameSubjectMismatch = "name-subject-mismatch", SiteName, Warning;
    /// The name, title or headings name a topic needing an unlisted pre-approval.
    PreApprovalTopic = "pre-approval-topic", SiteName, Warning;
    /// The target was served from outside every `--provider-ranges` range.
    IpNotProvider = "ip-not-provider", Access, Error;
    /// The input row could not be read.
    InputInvalid = "input-invalid", Input, Error;
    /// The crawler itself failed on this target after its retries.
    CrawlerError = "crawler-error", Crawler, Error;
}

impl std::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was seen that supports a finding. Every field is optional; absent
/// fields are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The page text the finding is about (the number as shown, the title…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The `href` of the link concerned; `null` when the text is not linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<Option<String>>,
    /// The number parsed from `text`, in canonical form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// What the record files (number, service name, addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// Where the target's navigation ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
    /// The other registrable domain a redirect landed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// A network address (served-from or refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A restricted word, or a machine-readable sub-reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Why, in words (unreachable reasons, input errors, link problems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The HTML to paste at the bottom of the homepage that fixes the
    /// finding (number and link findings of a record with the number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Path of a PNG of the page's bottom (`--evidence DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<String>,
}

/// One broken rule on one target (or on the record, when `target` is null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The stable code.
    pub code: FindingCode,
    /// The rule it belongs to.
    pub rule: RuleId,
    /// Error or warning.
    pub severity: Severity,
    /// The target's URL with `#desktop` or `#mobile`; null for record-level
    /// findings (input, service-name words).
    pub target: Option<String>,
    /// What is wrong and what to change, in English.
    pub message: String,
    /// The same, in Chinese.
    pub message_zh: String,
    /// What was seen.
    pub evidence: Evidence,
}

impl Finding {
    /// A finding of `code` on `target`, with rule, severity and messages
    /// derived from the code and the evidence.
    #[must_use]
    pub fn new(code: FindingCode, target: Option<String>, evidence: Evidence) -> Finding {
        let (message, message_zh) = messages(code, &evidence);
        Finding {
            code,
            rule: code.rule(),
            severity: code.severity(),
            target,
            message,
            message_zh,
            evidence,
        }
    }
}

/// Per-record outcome of SPEC §2's verdict rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No error finding.
    Pass,
    /// Some error finding other than `crawler-error`.
    Fail,
    /// Only `crawler-error` errors: the crawler could not judge.
    Error,
}

impl Verdict {
    /// The verdict of a record with these findings (SPEC §2).
    #[must_use]
    pub fn of(findings: &[Finding]) -> Verdict {
        let errors = || findings.iter().filter(|f| f.severity == Severity::Error);
        if errors().any(|f| f.code != FindingCode::CrawlerError) {
            Verdict::Fail
        } else if errors().next().is_some() {
            Verdict::Error
        } else {
            Verdict::Pass
        }
    }
}

/// The MIIT homepage, as messages tell site owners to link it.
const MIIT_HOME: &str = "https://beian.miit.gov.cn/";

/// The English and Chinese messages of a finding: what was seen (quoting the
/// evidence) and what the site owner should change. Pure string building
/// over the code and the evidence; absent evidence fields are left out.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per finding code, read as a table"
)]
#[must_use]
pub fn messages(code: FindingCode, evidence: &Evidence) -> (String, String) {
    let shown = evidence
        .text
        .as_deref()
        .or(evidence.number.as_deref())
        .unwrap_or_default();
    let expected = evidence.expected.as_deref().unwrap_or_default();
    let href = evidence.href.clone().flatten().unwrap_or_default();
    let reason = evidence.reason.as_deref().unwrap_or_default();
    let keyword = evidence.keyword.as_deref().unwrap_or_default();
    let address = evidence.address.as_deref().unwrap_or_default();
    let domain = evidence.domain.as_deref().unwrap_or_default();
    let text = evidence.text.as_deref().unwrap_or_default();
    // "filed number" clauses, left out when the record files none.
    let (want_en, want_zh) = if expected.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(" (filed: {expected})"),
            format!("（备案号：{expected}）"),
        )
    };
    match code {
        FindingCode::SiteUnreachable if keyword == "still-loading" => (
            format!(
                "the homepage cannot be opened in time: {reason}; make it lighter (a smaller \
                 document, the filing line early in the page's source) or raise --timeout"
            ),
            format!(
                "网站首页未能在时限内打开：{}（{reason}）；请减小首页体积（更小的文档，\
                 备案信息在源码中尽早出现），或调大 --timeout",
                unreachable_zh(keyword)
            ),
        ),
        FindingCode::SiteUnreachable if keyword == "out-of-memory" => (
            format!(
                "the homepage cannot be opened: {reason}; make it use less memory (fewer \
                 and smaller scripts, images and elements)"
            ),
            format!(
                "网站首页无法打开：{}（{reason}）；请减少首页占用的内存（更少、更小的脚本、图片和元素）",
                unreachable_zh(keyword)
            ),
        ),
        FindingCode::SiteUnreachable => (
            format!(
                "the homepage cannot be opened: {reason}; make it load with a 2xx status \
                 and a non-empty page (check DNS, the server and its certificate)"
            ),
            format!(
                "网站首页无法访问：{}（{reason}）；请确保首页能正常打开并返回 2xx 状态和非空页面\
                 （检查域名解析、服务器和证书）",
                unreachable_zh(keyword)
            ),
        ),
        FindingCode::TitleMissing => (
            format!("the page has no title; set the page title to the filed service name \"{expected}\""),
            format!("网站标题为空；请将网站标题设置为备案的服务名称“{expected}”"),
        ),
        FindingCode::TitleMismatch => (
            format!(
                "the page title \"{text}\" does not contain the filed service name \
                 \"{expected}\"; make the title contain it"
            ),
            format!("网站标题“{text}”与备案服务名称“{expected}”不一致；请在标题中使用备案的服务名称"),
        ),
        FindingCode::IcpNumberMissing => (
            format!(
                "no ICP filing number is shown on the page{want_en}; show it at the bottom \
                 of the homepage, linked to {MIIT_HOME}"
            ),
            format!("网站未悬挂 ICP 备案号{want_zh}；请在首页底部展示备案号并链接至 {MIIT_HOME}"),
        ),
        FindingCode::IcpNumberWrong => (
            format!(
                "the page shows ICP number \"{shown}\", not the filed number \"{expected}\"; \
                 show the filed number instead"
            ),
            format!("网站悬挂的备案号“{shown}”与备案号“{expected}”不一致；请改为悬挂正确的备案号"),
        ),
        FindingCode::IcpSubjectNumberOnly => (
            format!(
                "the page shows only the subject number \"{shown}\"; outside Guangdong the \
                 service number \"{expected}\" (with its -n suffix) must be shown"
            ),
            format!(
                "网站仅悬挂主体备案号“{shown}”；粤以外地区须悬挂带“-n”后缀的网站备案号“{expected}”"
            ),
        ),
        FindingCode::IcpNotLinked => (
            format!("the ICP number \"{shown}\" is not a link; link it to {MIIT_HOME}"),
            format!("备案号“{shown}”未添加链接；请将其链接至工信部备案系统首页 {MIIT_HOME}"),
        ),
        FindingCode::IcpLinkWrongUrl => (
            format!(
                "the ICP number \"{shown}\" links to \"{href}\" ({reason}); link it to {MIIT_HOME}"
            ),
            format!(
                "备案号“{shown}”的链接地址“{href}”错误（{}）；请改为链接至 {MIIT_HOME}",
                wrong_address_zh(keyword)
            ),
        ),
        FindingCode::IcpHidden => (
            format!(
                "the ICP number \"{shown}\" is in the page but not visible; display it visibly \
                 at the bottom of the homepage"
            ),
            format!("备案号“{shown}”存在于页面中但不可见；请在首页底部可见位置展示"),
        ),
        FindingCode::IcpNotInFooter => (
            format!(
                "the ICP number \"{shown}\" is visible but not at the bottom of the page; \
                 move it into the footer"
            ),
            format!("备案号“{shown}”未在页面底部展示；请将其放在网站首页底部"),
        ),
        FindingCode::GonganNumberMissing => (
            format!(
                "no public-security filing number is shown{want_en}; show it at the bottom \
                 of the homepage, linked to https://beian.mps.gov.cn/"
            ),
            format!("网站未展示公安备案号{want_zh}；请在首页底部展示并链接至 https://beian.mps.gov.cn/"),
        ),
        FindingCode::GonganNumberWrong => (
            format!(
                "the page shows public-security number \"{shown}\", not the filed one \
                 ({expected}); show the filed number"
            ),
            format!("网站展示的公安备案号“{shown}”与备案的公安备案号（{expected}）不一致；请改为正确的编号"),
        ),
        FindingCode::GonganNotLinked => (
            format!(
                "the public-security number \"{shown}\" is not linked to the MPS filing site{}; \
                 link it to https://beian.mps.gov.cn/#/query/webSearch?code={expected}",
                if reason.is_empty() { String::new() } else { format!(" ({reason})") }
            ),
            format!(
                "公安备案号“{shown}”未链接至公安备案网站{}；请将其链接至 \
                 https://beian.mps.gov.cn/#/query/webSearch?code={expected}",
                gongan_link_zh(keyword)
            ),
        ),
        FindingCode::RedirectedOffsite => {
            let (must_en, must_zh) = if expected.is_empty() {
                (
                    "it must show the filing number of that domain".to_owned(),
                    "须悬挂该域名的备案号".to_owned(),
                )
            } else {
                (format!("it must show {expected}"), format!("须悬挂其备案号 {expected}"))
            };
            let landing = evidence.final_url.as_deref().unwrap_or(domain);
            (
                format!("the site redirects to another domain, {domain} ({landing}); {must_en}"),
                format!("网站跳转至其他域名 {domain}（{landing}）；{must_zh}"),
            )
        }
        FindingCode::IpNotFiled => (
            format!(
                "the site is served from {address}, which is not a filed address ({expected}); \
                 update the filing or serve the site from a filed address"
            ),
            format!("网站解析 IP {address} 不在备案 IP（{expected}）之中；请变更备案信息或使用备案 IP"),
        ),
        FindingCode::AddressRefused => (
            format!(
                "{domain} resolves to the internal address {address}, which was not visited; \
                 point the domain at a public server"
            ),
            format!("{domain} 解析到内网地址 {address}，未予访问；请将域名解析至公网服务器"),
        ),
        FindingCode::NameRestrictedKeyword => (
            format!(
                "\"{text}\" uses the restricted word \"{keyword}\"; remove it unless the \
                 required approval is held"
            ),
            format!("名称“{text}”使用了限制性词语“{keyword}”；如无相应资质或批准，请删除"),
        ),
        FindingCode::NameSubjectMismatch => super::name_subject::messages(evidence),
        FindingCode::PreApprovalTopic => super::pre_approval::messages(evidence),
        FindingCode::IpNotProvider => super::provider::messages(evidence),
        FindingCode::InputInvalid => (
            format!("the input row could not be read: {reason}; fix the row and scan it again"),
            format!("输入行无法读取：{reason}；请修正后重新检测"),
        ),
        FindingCode::CrawlerError => (
            format!(
                "the crawler failed on this page ({reason}); this is not the site's fault, \
                 scan it again"
            ),
            format!("检测程序自身出错（{reason}），并非网站问题；请重新检测"),
        ),
    }
}

/// The machine-readable name (`Evidence::keyword`) and an English
/// explanation (`Evidence::reason`) of a wrong MIIT link.
pub(crate) fn wrong_address_reason(wrong: WrongAddress) -> (&'static str, &'static str) {
    match wrong {
        WrongAddress::DeadHost => ("dead-host", "www.beian.miit.gov.cn no longer serves"),
        WrongAddress::OldHost => ("old-host", "the old MIIT filing address no longer serves"),
        WrongAddress::DeepPage => (
            "deep-page",
            "a page inside the filing system, not its homepage",
        ),
        WrongAddress::PublicSecuritySite => (
            "public-security-site",
            "the public-security filing site, not the MIIT one",
        ),
        WrongAddress::LookAlike => ("look-alike", "a host that only looks like the MIIT one"),
        WrongAddress::Other => ("other", "not the MIIT filing system"),
    }
}

fn wrong_address_zh(keyword: &str) -> &'static str {
    match keyword {
        "dead-host" => "www.beian.miit.gov.cn 已停用",
        "old-host" => "旧的工信部备案地址已停用",
        "deep-page" => "指向备案系统内页而非首页",
        "public-security-site" => "指向公安备案网站而非工信部备案系统",
        "look-alike" => "仿冒工信部的域名",
        _ => "不是工信部备案系统",
    }
}

fn unreachable_zh(keyword: &str) -> &'static str {
    match keyword {
        "dns" => "域名无法解析",
        "refused" => "连接被拒绝",
        "reset" => "连接被重置",
        "tls" => "TLS 证书或握手失败",
        "timeout" => "加载超时",
        "http-status" => "服务器返回错误状态码",
        "empty-document" => "页面内容为空",
        "download" => "首页是文件下载而非网页",
        "renderer-crashed" => "页面导致浏览器崩溃",
        "script-hung" => "页面脚本无响应",
        "still-loading" => "页面在时限内未加载完成",
        "out-of-memory" => "页面占用内存超过上限",
        _ => "网络错误",
    }
}

fn gongan_link_zh(keyword: &str) -> &'static str {
    match keyword {
        "code-matches" => "（页面其他位置有公安备案网站链接，编号一致，但备案号文字本身未链接）",
        "code-differs" => "（页面其他位置有公安备案网站链接，但其编号与备案编号不一致）",
        "no-code" => "（页面其他位置有公安备案网站链接，但未带编号）",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn rich_evidence() -> Evidence {
        Evidence {
            text: Some("京ICP备12345678号-2".into()),
            href: Some(Some("https://www.beian.miit.gov.cn/".into())),
            number: Some("京ICP备12345678号-2".into()),
            expected: Some("京ICP备12345678号-1".into()),
            final_url: Some("https://www.other.cn/".into()),
            domain: Some("other.cn".into()),
            address: Some("198.51.100.1".into()),
            keyword: Some("dead-host".into()),
            reason: Some("www.beian.miit.gov.cn no longer serves".into()),
            fix: None,
            screenshot: None,
        }
    }

    #[test]
    fn every_code_has_distinct_messages_in_both_languages() {
        for evidence in [Evidence::default(), rich_evidence()] {
            let mut en = HashSet::new();
            let mut zh = HashSet::new();
            for &code in FindingCode::ALL {
                let (message, message_zh) = messages(code, &evidence);
                assert!(!message.trim().is_empty(), "{code}: empty English message");
                assert!(
                    !message_zh.trim().is_empty(),
                    "{code}: empty Chinese message"
                );
                assert!(
                    message_zh
                        .chars()
                        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                    "{code}: {message_zh}"
                );
                assert!(
                    en.insert(message),
                    "{code}: English message repeats another"
                );
                assert!(
                    zh.insert(message_zh),
                    "{code}: Chinese message repeats another"
                );
            }
        }
    }

    #[test]
    fn messages_quote_the_evidence() {
        let evidence = rich_evidence();
        let (en, zh) = messages(FindingCode::IcpLinkWrongUrl, &evidence);
        for needle in [
            "京ICP备12345678号-2",
            "https://www.beian.miit.gov.cn/",
            MIIT_HOME,
        ] {
            assert!(en.contains(needle), "{en}");
            assert!(zh.contains(needle), "{zh}");
        }
        assert!(zh.contains("已停用"), "{zh}");
        let (en, zh) = messages(FindingCode::IcpNumberWrong, &evidence);
        assert!(en.contains("京ICP备12345678号-1") && zh.contains("京ICP备12345678号-1"));
        let (en, zh) = messages(FindingCode::IpNotFiled, &evidence);
        assert!(en.contains("198.51.100.1") && zh.contains("198.51.100.1"));
    }

    #[test]
    fn finding_new_fills_rule_severity_and_messages() {
        let finding = Finding::new(FindingCode::IcpNotInFooter, None, rich_evidence());
        assert_eq!(finding.rule, RuleId::BeianLink);
        assert_eq!(finding.severity, Severity::Warning);
        assert_eq!(
            (finding.message.clone(), finding.message_zh.clone()),
            messages(FindingCode::IcpNotInFooter, &finding.evidence)
        );
    }

    #[test]
    fn codes_serialise_to_spec_strings() {
        for &code in FindingCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert_eq!(FindingCode::ALL.len(), 22);
    }
}
