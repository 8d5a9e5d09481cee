//! Findings: stable codes (SPEC §2), their rule and severity, evidence, and
//! the human messages (English and Chinese) built from code plus evidence.

use serde::{Deserialize, Serialize};

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

/// English and Chinese messages for a code with its evidence.
fn messages(code: FindingCode, evidence: &Evidence) -> (String, String) {
    // rules helper: replace with messages that name what was seen and what to change.
    let _ = evidence;
    (code.as_str().to_owned(), code.as_str().to_owned())
}
