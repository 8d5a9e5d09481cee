//! Our fault ([`BrowserError`]) vs the site's fault
//! ([`crate::page::Unreachable`]), and the one classifier between them
//! (`classify`): every `net::ERR_*` string and HTTP status the browser
//! reports for a main document is mapped here and nowhere else.

use crate::page::Unreachable;

/// The crawler's own failure: retried, then a `crawler-error` finding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// Chromium could not be found or started.
    #[error("cannot start Chromium at {path}: {reason}")]
    Launch {
        /// The executable.
        path: String,
        /// Why.
        reason: String,
    },
    /// The browser process died or its connection broke.
    #[error("browser crashed: {reason}")]
    Crashed {
        /// What was seen.
        reason: String,
    },
    /// A `DevTools` protocol command failed or timed out.
    #[error("devtools protocol error: {reason}")]
    Protocol {
        /// What was seen.
        reason: String,
    },
    /// The pool was closed.
    #[error("browser pool closed")]
    PoolClosed,
}

impl BrowserError {
    /// A [`BrowserError::Protocol`] naming the step that failed.
    pub(crate) fn protocol(step: &str, err: impl std::fmt::Display) -> Self {
        BrowserError::Protocol {
            reason: format!("{step}: {err}"),
        }
    }
}

/// Why rendering one target produced no page.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The site's fault.
    #[error(transparent)]
    Site(#[from] Unreachable),
    /// Ours.
    #[error(transparent)]
    Crawler(#[from] BrowserError),
    /// The network guard refused the address the main document's host (or
    /// a redirect hop's) resolves to: neither the site's failure nor ours.
    #[error("{host} resolves to internal address {address}; refused")]
    Refused {
        /// The host the main frame tried to reach.
        host: String,
        /// The internal address the guard refused.
        address: String,
    },
}

/// What the browser reported about a main-document load, as raw facts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DocumentOutcome<'a> {
    /// The network error text (`net::ERR_…`), when the load failed.
    pub error: Option<&'a str>,
    /// The HTTP status of the (last) response, when one arrived.
    pub status: Option<u16>,
    /// The response was an attachment, or a type the browser will not display.
    pub download: bool,
}

/// Map a main-document outcome to the site's fault, or `None` when the
/// document arrived fine.
///
/// The one place where `net::ERR_*` names and HTTP statuses become
/// [`Unreachable`] variants; unknown names keep their text in
/// [`Unreachable::Other`].
pub(crate) fn classify(outcome: DocumentOutcome<'_>, budget_secs: u64) -> Option<Unreachable> {
    let error = outcome.error.map(str::trim).filter(|e| !e.is_empty());
    if outcome.download && error.is_none_or(|e| e.ends_with("ERR_ABORTED")) {
        return Some(Unreachable::Download);
    }
    if let Some(status) = outcome.status.filter(|s| *s >= 400) {
        return Some(Unreachable::HttpStatus { status });
    }
    let Some(error) = error else {
        // 204/205 never become a document: Chromium keeps the previous page.
        return matches!(outcome.status, Some(204 | 205)).then_some(Unreachable::EmptyDocument);
    };
    let name = error.strip_prefix("net::").unwrap_or(error);
    let detail = error.to_owned();
    Some(match name {
        "ERR_NAME_NOT_RESOLVED" | "ERR_NAME_RESOLUTION_FAILED" => Unreachable::Dns { detail },
        n if n.starts_with("ERR_DNS_") => Unreachable::Dns { detail },
        "ERR_CONNECTION_REFUSED" => Unreachable::Refused { detail },
        "ERR_CONNECTION_RESET"
        | "ERR_CONNECTION_CLOSED"
        | "ERR_CONNECTION_ABORTED"
        | "ERR_EMPTY_RESPONSE"
        | "ERR_SOCKET_NOT_CONNECTED" => Unreachable::Reset { detail },
        "ERR_TIMED_OUT" | "ERR_CONNECTION_TIMED_OUT" => Unreachable::Timeout {
            seconds: budget_secs,
        },
        "ERR_INSECURE_RESPONSE" | "ERR_BAD_SSL_CLIENT_AUTH_CERT" => Unreachable::Tls { detail },
        n if n.starts_with("ERR_CERT_") || n.starts_with("ERR_SSL_") => Unreachable::Tls { detail },
        n if n.starts_with("ERR_CERTIFICATE_") || n.starts_with("ERR_ECH_") => {
            Unreachable::Tls { detail }
        }
        _ => Unreachable::Other { detail },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn err(error: &str) -> DocumentOutcome<'_> {
        DocumentOutcome {
            error: Some(error),
            ..DocumentOutcome::default()
        }
    }

    fn d(text: &str) -> String {
        text.to_owned()
    }

    #[rstest]
    #[case::dns(err("net::ERR_NAME_NOT_RESOLVED"), Some(Unreachable::Dns { detail: d("net::ERR_NAME_NOT_RESOLVED") }))]
    #[case::dns_failed(err("net::ERR_NAME_RESOLUTION_FAILED"), Some(Unreachable::Dns { detail: d("net::ERR_NAME_RESOLUTION_FAILED") }))]
    #[case::refused(err("net::ERR_CONNECTION_REFUSED"), Some(Unreachable::Refused { detail: d("net::ERR_CONNECTION_REFUSED") }))]
    #[case::reset(err("net::ERR_CONNECTION_RESET"), Some(Unreachable::Reset { detail: d("net::ERR_CONNECTION_RESET") }))]
    #[case::closed(err("net::ERR_CONNECTION_CLOSED"), Some(Unreachable::Reset { detail: d("net::ERR_CONNECTION_CLOSED") }))]
    #[case::empty_response(err("net::ERR_EMPTY_RESPONSE"), Some(Unreachable::Reset { detail: d("net::ERR_EMPTY_RESPONSE") }))]
    #[case::cert(err("net::ERR_CERT_AUTHORITY_INVALID"), Some(Unreachable::Tls { detail: d("net::ERR_CERT_AUTHORITY_INVALID") }))]
    #[case::cert_date(err("net::ERR_CERT_DATE_INVALID"), Some(Unreachable::Tls { detail: d("net::ERR_CERT_DATE_INVALID") }))]
    #[case::ssl(err("net::ERR_SSL_PROTOCOL_ERROR"), Some(Unreachable::Tls { detail: d("net::ERR_SSL_PROTOCOL_ERROR") }))]
    #[case::timed_out(err("net::ERR_TIMED_OUT"), Some(Unreachable::Timeout { seconds: 30 }))]
    #[case::connect_timed_out(err("net::ERR_CONNECTION_TIMED_OUT"), Some(Unreachable::Timeout { seconds: 30 }))]
    #[case::unknown(err("net::ERR_TOO_MANY_REDIRECTS"), Some(Unreachable::Other { detail: d("net::ERR_TOO_MANY_REDIRECTS") }))]
    #[case::download(
        DocumentOutcome { error: Some("net::ERR_ABORTED"), status: Some(200), download: true },
        Some(Unreachable::Download)
    )]
    #[case::aborted_not_download(err("net::ERR_ABORTED"), Some(Unreachable::Other { detail: d("net::ERR_ABORTED") }))]
    #[case::not_found(DocumentOutcome { status: Some(404), ..DocumentOutcome::default() }, Some(Unreachable::HttpStatus { status: 404 }))]
    #[case::server_error_page(
        DocumentOutcome { error: Some("net::ERR_HTTP_RESPONSE_CODE_FAILURE"), status: Some(500), download: false },
        Some(Unreachable::HttpStatus { status: 500 })
    )]
    #[case::no_content(DocumentOutcome { status: Some(204), ..DocumentOutcome::default() }, Some(Unreachable::EmptyDocument))]
    #[case::ok(DocumentOutcome { status: Some(200), ..DocumentOutcome::default() }, None)]
    #[case::redirect_then_ok(DocumentOutcome { status: Some(301), ..DocumentOutcome::default() }, None)]
    #[case::nothing_known(DocumentOutcome::default(), None)]
    fn classifies(#[case] outcome: DocumentOutcome<'_>, #[case] expected: Option<Unreachable>) {
        assert_eq!(classify(outcome, 30), expected);
    }
}
