//! Classifying `href`s: the MIIT filing homepage, wrong addresses, and the
//! MPS (公安) filing sites.

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
    /// The right host, but a deep page (`#/Integrated/recordQuery`, `/publish/…`).
    DeepPage,
    /// A public-security filing site (`beian.mps.gov.cn`, `www.beian.gov.cn`).
    PublicSecuritySite,
    /// A host that only looks like the MIIT one (`beian.miit.gov.cn.example.com`).
    LookAlike,
    /// Anything else (lookup sites, redirectors, the site itself…).
    Other,
}

impl MiitLink {
    /// Classify a real link's `href` (callers first check [`is_link`]).
    pub fn classify(href: &str) -> MiitLink {
        todo!("{href}")
    }
}

/// Whether an `href` makes its element a link: present, not empty after
/// trimming, not `#`, not a `javascript:` URL.
pub fn is_link(href: Option<&str>) -> bool {
    todo!("{href:?}")
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
    pub fn parse(href: &str) -> Option<MpsLink> {
        todo!("{href}")
    }
}
