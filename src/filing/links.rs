//! Classifying `href`s: the MIIT filing homepage, wrong addresses, and the
//! MPS (公安) filing sites.
//!
//! Owns what counts as a link and which addresses are the filing sites.
//! An `href` is read the way a browser reads it: white space around it is
//! trimmed and tabs and line breaks inside it are dropped (WHATWG URL).
//! Judgement calls where SPEC is silent:
//!
//! - A scheme-relative `//beian.miit.gov.cn/` is the homepage: the browser
//!   resolves it with the page's scheme, and both http and https are
//!   accepted.
//! - `#/` is accepted beside `#/Integrated/index` (the MIIT site's router
//!   shows its index for both); so are an empty `#` and an empty `?`.
//! - A trailing dot on the host (`beian.miit.gov.cn.`) is the same host.
//! - `https:beian.miit.gov.cn` (no `//`) and relative references such as
//!   `beian.miit.gov.cn` resolve against the page itself: `Other`.
//! - The MIIT's own other hosts (`miit.gov.cn`, `www.miit.gov.cn`,
//!   `*.miit.gov.cn`) are `Other`, not `LookAlike`: they are real ministry
//!   sites, only not the filing homepage.

use url::Url;

/// The MIIT filing system's host.
const MIIT_HOST: &str = "beian.miit.gov.cn";

/// The dead host that once served the MIIT filing system.
const DEAD_HOST: &str = "www.beian.miit.gov.cn";

/// Old MIIT filing hosts.
const OLD_HOSTS: [&str; 4] = [
    "www.miitbeian.gov.cn",
    "miitbeian.gov.cn",
    "www.miibeian.gov.cn",
    "miibeian.gov.cn",
];

/// Public-security filing hosts, as a wrong address for the ICP link.
const PUBLIC_SECURITY_HOSTS: [&str; 3] = ["beian.mps.gov.cn", "www.beian.gov.cn", "beian.gov.cn"];

/// Hosts SPEC names as the MPS filing site for the 公安 link.
const MPS_HOSTS: [&str; 2] = ["beian.mps.gov.cn", "www.beian.gov.cn"];

/// Fragments of the MIIT homepage (`None` is no fragment at all).
const HOME_FRAGMENTS: [&str; 3] = ["", "/", "/Integrated/index"];

/// Digits in a 公安备案号 code.
const CODE_DIGITS: usize = 14;

/// What an `href` is, measured against the MIIT filing homepage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiitLink {
    /// `https://beian.miit.gov.cn/` (http or https, with or without the
    /// trailing slash, with or without `#/Integrated/index`).
    Homepage,
    /// A real link, to somewhere else.
    Wrong(WrongAddress),
}

/// Why a link is not the MIIT homepage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongAddress {
    /// The dead `www.beian.miit.gov.cn`.
    DeadHost,
    /// The old `www.miitbeian.gov.cn` / `www.miibeian.gov.cn` (and bare forms).
    OldHost,
    /// The right host, but a deep page (`#/Integrated/recordQuery`, `/publish/…`),
    /// a query, or a port other than the default.
    DeepPage,
    /// A public-security filing site (`beian.mps.gov.cn`, `www.beian.gov.cn`).
    PublicSecuritySite,
    /// A host that only looks like the MIIT one (`beian.miit.gov.cn.example.com`,
    /// `beian-miit-gov.cn`, credentials before the host).
    LookAlike,
    /// Anything else (lookup sites, redirectors, the site itself…).
    Other,
}

impl MiitLink {
    /// Classify a real link's `href` (callers first check [`is_link`]).
    #[must_use]
    pub fn classify(href: &str) -> MiitLink {
        let Some(url) = web_url(href) else {
            return MiitLink::Wrong(WrongAddress::Other);
        };
        let host = host_of(&url);
        let looks_like_miit = |s: &str| s.contains("miit") || s.contains("miibeian");
        if !url.username().is_empty() || url.password().is_some() {
            // `https://beian.miit.gov.cn@evil.example/` goes to evil.example.
            let userinfo = format!("{}:{}", url.username(), url.password().unwrap_or(""));
            return MiitLink::Wrong(if looks_like_miit(&host) || looks_like_miit(&userinfo) {
                WrongAddress::LookAlike
            } else {
                WrongAddress::Other
            });
        }
        let wrong = match host.as_str() {
            MIIT_HOST if is_homepage(&url) => return MiitLink::Homepage,
            MIIT_HOST => WrongAddress::DeepPage,
            DEAD_HOST => WrongAddress::DeadHost,
            h if OLD_HOSTS.contains(&h) => WrongAddress::OldHost,
            h if PUBLIC_SECURITY_HOSTS.contains(&h) => WrongAddress::PublicSecuritySite,
            h if h == "miit.gov.cn" || h.ends_with(".miit.gov.cn") => WrongAddress::Other,
            h if looks_like_miit(h) => WrongAddress::LookAlike,
            _ => WrongAddress::Other,
        };
        MiitLink::Wrong(wrong)
    }
}

/// Whether an `href` makes its element a link: present, not empty after
/// trimming, not `#`, not a `javascript:` URL.
///
/// `#section` is a link (to the page itself); [`MiitLink::classify`] calls
/// it `Other`.
#[must_use]
pub fn is_link(href: Option<&str>) -> bool {
    let Some(href) = href else {
        return false;
    };
    let href = clean(href);
    let is_script = href
        .get(..11)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("javascript:"));
    !href.is_empty() && href != "#" && !is_script
}

/// A link to an MPS (公安) filing site: `beian.mps.gov.cn` or
/// `www.beian.gov.cn`, any path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpsLink {
    /// The 14-digit code the link queries (`code=` / `recordcode=`), if any.
    pub code: Option<String>,
}

impl MpsLink {
    /// `Some` when `href` is a link to an MPS filing site.
    ///
    /// The code is read from the query or from a query inside the fragment
    /// (`https://beian.mps.gov.cn/#/query/webSearch?code=11010502030143`);
    /// parameter names are case-insensitive; a value that is not 14 digits
    /// is no code.
    pub fn parse(href: &str) -> Option<MpsLink> {
        let url = web_url(href)?;
        if !MPS_HOSTS.contains(&host_of(&url).as_str()) {
            return None;
        }
        let in_fragment = url.fragment().map(|fragment| {
            fragment
                .split_once('?')
                .map_or(fragment, |(_, query)| query)
        });
        let code = [url.query(), in_fragment]
            .into_iter()
            .flatten()
            .find_map(code_in);
        Some(MpsLink { code })
    }
}

/// `href` as a browser reads it: tabs and line breaks dropped, white space
/// and control characters around it trimmed.
fn clean(href: &str) -> String {
    href.chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .trim_matches(|c: char| c.is_whitespace() || c.is_control())
        .to_owned()
}

/// `href` as an absolute http(s) URL, if it is one. A scheme-relative
/// `//host/…` takes https: either scheme is accepted alike.
fn web_url(href: &str) -> Option<Url> {
    let href = clean(href);
    let absolute = if href.starts_with("//") || href.starts_with(r"\\") {
        format!("https:{href}")
    } else {
        let (scheme, rest) = href.split_once(':')?;
        let is_web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
        // `https:host` without slashes is relative to an https page.
        let has_authority = rest.starts_with("//") || rest.starts_with(r"\\");
        if !is_web || !has_authority {
            return None;
        }
        href
    };
    Url::parse(&absolute).ok()
}

/// The URL's host, lower case, without a trailing dot (empty if none).
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// Whether a URL on the MIIT host is its homepage.
fn is_homepage(url: &Url) -> bool {
    url.port().is_none()
        && url.path() == "/"
        && url.query().is_none_or(str::is_empty)
        && url.fragment().is_none_or(|f| HOME_FRAGMENTS.contains(&f))
}

/// The 14-digit `code` or `recordcode` in a query string.
fn code_in(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| {
            key.eq_ignore_ascii_case("code") || key.eq_ignore_ascii_case("recordcode")
        })
        .map(|(_, value)| value.trim().to_owned())
        .find(|value| value.len() == CODE_DIGITS && value.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::homepage(Some("https://beian.miit.gov.cn/"), true)]
    #[case::relative(Some("/about"), true)]
    #[case::anchor(Some("#footer"), true)]
    #[case::padded(Some("  https://beian.miit.gov.cn/ \n"), true)]
    #[case::absent(None, false)]
    #[case::empty(Some(""), false)]
    #[case::blank(Some(" \t\n"), false)]
    #[case::hash(Some("#"), false)]
    #[case::padded_hash(Some(" # "), false)]
    #[case::javascript(Some("javascript:void(0)"), false)]
    #[case::javascript_upper(Some("JavaScript:window.open('https://beian.miit.gov.cn/')"), false)]
    #[case::javascript_padded(Some("  javascript:;"), false)]
    #[case::javascript_broken_by_newline(Some("java\nscript:void(0)"), false)]
    #[case::javascript_word_in_path(Some("/javascript:x"), true)]
    fn is_link_cases(#[case] href: Option<&str>, #[case] expected: bool) {
        assert_eq!(is_link(href), expected);
    }

    use MiitLink::{Homepage, Wrong};
    use WrongAddress::{DeadHost, DeepPage, LookAlike, OldHost, Other, PublicSecuritySite};

    #[rstest]
    #[case::https_slash("https://beian.miit.gov.cn/", Homepage)]
    #[case::https_bare("https://beian.miit.gov.cn", Homepage)]
    #[case::http_slash("http://beian.miit.gov.cn/", Homepage)]
    #[case::http_bare("http://beian.miit.gov.cn", Homepage)]
    #[case::integrated_index("https://beian.miit.gov.cn/#/Integrated/index", Homepage)]
    #[case::integrated_index_no_slash("http://beian.miit.gov.cn#/Integrated/index", Homepage)]
    #[case::router_root("https://beian.miit.gov.cn/#/", Homepage)]
    #[case::empty_fragment("https://beian.miit.gov.cn/#", Homepage)]
    #[case::empty_query("https://beian.miit.gov.cn/?", Homepage)]
    #[case::upper_case("HTTPS://BEIAN.MIIT.GOV.CN/", Homepage)]
    #[case::padded("  https://beian.miit.gov.cn/\n", Homepage)]
    #[case::default_port("https://beian.miit.gov.cn:443/", Homepage)]
    #[case::trailing_dot("https://beian.miit.gov.cn./", Homepage)]
    #[case::scheme_relative("//beian.miit.gov.cn/", Homepage)]
    #[case::dead_host("https://www.beian.miit.gov.cn/", Wrong(DeadHost))]
    #[case::old_miitbeian_www("http://www.miitbeian.gov.cn/", Wrong(OldHost))]
    #[case::old_miitbeian("http://miitbeian.gov.cn", Wrong(OldHost))]
    #[case::old_miibeian_www("http://www.miibeian.gov.cn/", Wrong(OldHost))]
    #[case::old_miibeian("http://miibeian.gov.cn/", Wrong(OldHost))]
    #[case::record_query("https://beian.miit.gov.cn/#/Integrated/recordQuery", Wrong(DeepPage))]
    #[case::publish(
        "https://beian.miit.gov.cn/publish/query/indexFirst.action",
        Wrong(DeepPage)
    )]
    #[case::query("https://beian.miit.gov.cn/?from=site", Wrong(DeepPage))]
    #[case::other_port("https://beian.miit.gov.cn:8443/", Wrong(DeepPage))]
    #[case::index_trailing_slash("https://beian.miit.gov.cn/#/Integrated/index/", Wrong(DeepPage))]
    #[case::mps(
        "https://beian.mps.gov.cn/#/query/webSearch?code=11010502030143",
        Wrong(PublicSecuritySite)
    )]
    #[case::beian_gov_www(
        "http://www.beian.gov.cn/portal/registerSystemInfo",
        Wrong(PublicSecuritySite)
    )]
    #[case::beian_gov_bare("http://beian.gov.cn/", Wrong(PublicSecuritySite))]
    #[case::suffix_look_alike("https://beian.miit.gov.cn.example.com/", Wrong(LookAlike))]
    #[case::dashed_look_alike("https://beian-miit-gov.cn/", Wrong(LookAlike))]
    #[case::miit_word("http://miit-beian.com/", Wrong(LookAlike))]
    #[case::miibeian_typo("http://www.miibeian.gov.cn.cn/", Wrong(LookAlike))]
    #[case::userinfo_trick("https://beian.miit.gov.cn@evil.example/", Wrong(LookAlike))]
    #[case::ministry_site("https://www.miit.gov.cn/", Wrong(Other))]
    #[case::lookup_site("https://icp.chinaz.com/example.cn", Wrong(Other))]
    #[case::redirector("https://example.cn/go?url=https://beian.miit.gov.cn/", Wrong(Other))]
    #[case::relative_host("beian.miit.gov.cn", Wrong(Other))]
    #[case::relative_path("/beian", Wrong(Other))]
    #[case::anchor("#footer", Wrong(Other))]
    #[case::no_slashes("https:beian.miit.gov.cn", Wrong(Other))]
    #[case::ftp("ftp://beian.miit.gov.cn/", Wrong(Other))]
    #[case::mailto("mailto:beian@miit.gov.cn", Wrong(Other))]
    #[case::ip_host("http://1.2.3.4/", Wrong(Other))]
    fn classify_cases(#[case] href: &str, #[case] expected: MiitLink) {
        assert_eq!(MiitLink::classify(href), expected);
    }

    /// What `MpsLink::parse` should give.
    enum Mps {
        Not,
        NoCode,
        Code(&'static str),
    }

    #[rstest]
    #[case::current_fragment_code(
        "https://beian.mps.gov.cn/#/query/webSearch?code=11010502030143",
        Mps::Code("11010502030143")
    )]
    #[case::old_recordcode(
        "http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=11010502030143",
        Mps::Code("11010502030143")
    )]
    #[case::recordcode_camel(
        "http://www.beian.gov.cn/portal/registerSystemInfo?recordCode=51010702001234",
        Mps::Code("51010702001234")
    )]
    #[case::code_in_query(
        "https://beian.mps.gov.cn/?code=11010502030143",
        Mps::Code("11010502030143")
    )]
    #[case::among_params(
        "https://beian.mps.gov.cn/#/query/webSearch?lang=zh&code=11010502030143",
        Mps::Code("11010502030143")
    )]
    #[case::scheme_relative(
        "//beian.mps.gov.cn/#/query/webSearch?code=11010502030143",
        Mps::Code("11010502030143")
    )]
    #[case::padded("  https://beian.mps.gov.cn/  ", Mps::NoCode)]
    #[case::homepage_no_code("https://beian.mps.gov.cn/", Mps::NoCode)]
    #[case::portal_no_code("http://www.beian.gov.cn/portal/index.do", Mps::NoCode)]
    #[case::short_code(
        "https://beian.mps.gov.cn/#/query/webSearch?code=1101050203014",
        Mps::NoCode
    )]
    #[case::code_not_digits("https://beian.mps.gov.cn/#/query/webSearch?code=abc", Mps::NoCode)]
    #[case::miit("https://beian.miit.gov.cn/", Mps::Not)]
    #[case::bare_beian_gov("http://beian.gov.cn/?recordcode=11010502030143", Mps::Not)]
    #[case::look_alike("https://beian.mps.gov.cn.example.com/?code=11010502030143", Mps::Not)]
    #[case::relative("/gongan?code=11010502030143", Mps::Not)]
    #[case::javascript("javascript:void(0)", Mps::Not)]
    fn mps_cases(#[case] href: &str, #[case] expected: Mps) {
        let expected = match expected {
            Mps::Not => None,
            Mps::NoCode => Some(MpsLink { code: None }),
            Mps::Code(code) => Some(MpsLink {
                code: Some(code.to_owned()),
            }),
        };
        assert_eq!(MpsLink::parse(href), expected);
    }
}
