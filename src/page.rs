//! The facts of one rendered page, as plain data.
//!
//! `browser` produces these values and `rules` judges them; neither module
//! imports the other, so the rules build and test without Chromium. Nothing
//! here recognises an ICP number: that is `filing`'s job.

use serde::{Deserialize, Serialize};

/// What the browser saw on one target after navigation and settling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSnapshot {
    /// The URL the main frame ended on, after every redirect.
    pub final_url: String,
    /// HTTP status of the final main-document response, when there was one.
    pub status: Option<u16>,
    /// Addresses the main document and its redirect hops were served from
    /// (IP, no port), as the network guard connected to them.
    pub addresses: Vec<String>,
    /// Requests of the page (sub-resources, frames, later navigations) the
    /// network guard refused because they led to an internal address.
    #[serde(default)]
    pub refused_subresources: u32,
    /// URLs of the redirect hops before `final_url`, in order.
    pub redirects: Vec<String>,
    /// `document.title` after scripts ran, as the page set it (not normalised).
    pub title: String,
    /// Text blocks of the page in reading order that may carry a filing number.
    pub blocks: Vec<TextBlock>,
    /// Every `<a href>` whose address points at a MIIT or MPS filing host
    /// (or a look-alike of one), whatever its text.
    pub links: Vec<PageLink>,
    /// The texts of the `h1` and `h2` headings a visitor sees on the page,
    /// in document order, white space collapsed: what the homepage says it
    /// is about (`pre-approval-topic` reads them). Empty when the browser
    /// reported none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headings: Vec<String>,
    /// The navigation reached the URL another render had already landed on
    /// (`RenderOptions::join_at`) and stopped there, before rendering it
    /// again: only the redirect facts (`redirects`, `addresses`,
    /// `final_url`) are filled; the scan reports that render's page.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub joined: bool,
    /// Why the page was read before it settled (its budget ran out while
    /// it was still changing, or the renderer was starved); `None` when it
    /// settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsettled: Option<String>,
}

/// Whether two URLs name the same page (as parsed: `HTTP://A.cn` is
/// `http://a.cn/`; two texts that do not parse, when they are equal).
#[must_use]
pub fn same_url(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Text of one block-level container: its inline pieces in document order.
///
/// A number split over inline elements (`京ICP备<span>12345678号</span>-1`)
/// is whole once the segments' texts are concatenated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBlock {
    /// The inline pieces; concatenating their `text` gives the block's text.
    pub segments: Vec<TextSegment>,
    /// The URL of the frame the block is shown in; `None` for the top
    /// document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

impl TextBlock {
    /// The block's text: every segment's text, joined without separators.
    #[must_use]
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.as_str()).collect()
    }
}

/// One text node (or a run of adjacent text nodes sharing these facts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSegment {
    /// The text as the DOM holds it.
    pub text: String,
    /// The trimmed `href` attribute of the nearest enclosing `<a>`, if any.
    pub href: Option<String>,
    /// Whether a visitor can see it (style, size, opacity, clipping, position).
    pub visible: bool,
    /// Whether it sits in a footer-like container or in the bottom quarter.
    pub in_footer: bool,
}

/// An `<a href>` pointing at a filing authority's host (or something like it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageLink {
    /// The link's visible text, white space collapsed.
    pub text: String,
    /// The trimmed `href` attribute, as written.
    pub href: String,
    /// Whether a visitor can see it.
    pub visible: bool,
    /// Whether it sits in a footer-like container or in the bottom quarter.
    pub in_footer: bool,
    /// The URL of the frame the link is shown in; `None` for the top
    /// document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

/// Why a target never produced a page: the site's fault.
///
/// Each variant becomes a `site-unreachable` finding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Unreachable {
    /// The host name does not resolve.
    #[error("DNS lookup failed ({detail})")]
    Dns {
        /// The browser's error name, e.g. `net::ERR_NAME_NOT_RESOLVED`.
        detail: String,
    },
    /// The connection was refused.
    #[error("connection refused ({detail})")]
    Refused {
        /// The browser's error name.
        detail: String,
    },
    /// The connection was reset or closed before a response.
    #[error("connection reset ({detail})")]
    Reset {
        /// The browser's error name.
        detail: String,
    },
    /// TLS handshake or certificate failure.
    #[error("TLS failure ({detail})")]
    Tls {
        /// The browser's error name.
        detail: String,
    },
    /// The page did not arrive within the target's budget.
    #[error("timed out after {seconds} s")]
    Timeout {
        /// The budget that ran out.
        seconds: u64,
    },
    /// The server answered with an error status.
    #[error("HTTP status {status}")]
    HttpStatus {
        /// The status code, >= 400.
        status: u16,
    },
    /// The document arrived but is empty.
    #[error("empty document")]
    EmptyDocument,
    /// The homepage is a download, not a document.
    #[error("the homepage is a download")]
    Download,
    /// The page's renderer crashed (after one retry).
    #[error("the page crashed the renderer")]
    RendererCrashed,
    /// A page script never yielded, so nothing could be read.
    #[error("a page script never yields")]
    ScriptHung,
    /// The page's renderer held more memory than one page may (the
    /// `--page-memory` watch stopped it, or V8 ran out of its heap).
    #[error("the page used more than the {limit_mib} MiB one page may hold")]
    OutOfMemory {
        /// The limit, in MiB.
        limit_mib: u64,
    },
    /// The page answered but had not finished loading (and being read)
    /// when the budget ran out: a document too big or too heavy for it.
    #[error("{}", still_loading(*seconds, *bytes))]
    StillLoading {
        /// The seconds spent.
        seconds: u64,
        /// The size of the document, when known.
        bytes: Option<u64>,
    },
    /// Any other network failure the browser reported.
    #[error("{detail}")]
    Other {
        /// The browser's error name or description.
        detail: String,
    },
}

/// `StillLoading`'s message: what was known when the budget ran out.
fn still_loading(seconds: u64, bytes: Option<u64>) -> String {
    match bytes {
        #[expect(clippy::cast_precision_loss, reason = "a size in MB to one decimal")]
        Some(bytes) => format!(
            "still loading after {seconds} s: a {:.1} MB document, not read to its end in time",
            bytes as f64 / 1e6
        ),
        None => format!(
            "still loading after {seconds} s: the page answered but had not finished loading"
        ),
    }
}

/// Why a target has no page, whoever's fault it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TargetFailure {
    /// The site's fault: becomes `site-unreachable`.
    Unreachable(Unreachable),
    /// The crawler refused the address the host resolves to: becomes
    /// `address-refused`.
    AddressRefused {
        /// The host that was looked up.
        host: String,
        /// The internal address it resolved to.
        address: String,
    },
    /// Our fault, after retries: becomes `crawler-error`.
    Crawler {
        /// What went wrong, for people.
        reason: String,
    },
}

impl std::fmt::Display for TargetFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(u) => write!(f, "{u}"),
            Self::AddressRefused { host, address } => {
                write!(f, "{host} resolves to internal address {address}; refused")
            }
            Self::Crawler { reason } => write!(f, "crawler error: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::size_known(
        Some(20_000_380),
        "still loading after 20 s: a 20.0 MB document, not read to its end in time"
    )]
    #[case::size_unknown(
        None,
        "still loading after 20 s: the page answered but had not finished loading"
    )]
    fn a_page_still_loading_says_what_was_known(#[case] bytes: Option<u64>, #[case] want: &str) {
        let why = Unreachable::StillLoading { seconds: 20, bytes };
        assert_eq!(why.to_string(), want);
    }
}
