//! Whose fault: the one classifier. Every raw fact that can end a target
//! without a page is mapped to the site's fault ([`Unreachable`]) or to a
//! [`TargetFailure`] here and nowhere else: the `net::ERR_*` names and
//! HTTP statuses the browser (or the guard, in Chromium's words) reports
//! for a main document (`classify`, [`http_status`]), and the guard's
//! denial of a host ([`denied`]). The browser, the guard and the scan
//! hand their facts to these functions.

use crate::guard::Denial;
use crate::page::{TargetFailure, Unreachable};

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
/// Every `net::ERR_*` name becomes an [`Unreachable`] variant here;
/// unknown names keep their text in [`Unreachable::Other`].
pub(crate) fn classify(outcome: DocumentOutcome<'_>, budget_secs: u64) -> Option<Unreachable> {
    let error = outcome.error.map(str::trim).filter(|e| !e.is_empty());
    if outcome.download && error.is_none_or(|e| e.ends_with("ERR_ABORTED")) {
        return Some(Unreachable::Download);
    }
    if let Some(status) = http_status(outcome.status) {
        return Some(status);
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

/// An HTTP status that makes the page the site's failure (SPEC §2: 400 and
/// above), as [`Unreachable::HttpStatus`]; `None` for any other status or
/// none.
#[must_use]
pub fn http_status(status: Option<u16>) -> Option<Unreachable> {
    let status = status.filter(|s| *s >= 400)?;
    Some(Unreachable::HttpStatus { status })
}

/// What the guard's refusal to let `host` be reached means for a target:
/// an internal address is `address-refused`; a host that does not resolve
/// is the site's DNS failure.
#[must_use]
pub fn denied(host: &str, denial: Denial) -> TargetFailure {
    match denial {
        Denial::Refused { address } => TargetFailure::AddressRefused {
            host: host.to_owned(),
            address: address.to_string(),
        },
        Denial::Unresolved { detail } => TargetFailure::Unreachable(Unreachable::Dns {
            detail: format!("{host}: {detail}"),
        }),
    }
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

    #[rstest]
    #[case::ok(Some(200), None)]
    #[case::redirect(Some(302), None)]
    #[case::not_found(Some(404), Some(404))]
    #[case::teapot_and_up(Some(418), Some(418))]
    #[case::none(None, None)]
    fn statuses_from_400_are_the_sites_failure(
        #[case] status: Option<u16>,
        #[case] failure: Option<u16>,
    ) {
        let expected = failure.map(|status| Unreachable::HttpStatus { status });
        assert_eq!(http_status(status), expected);
    }

    #[test]
    fn a_denied_host_is_refused_or_unresolved() {
        let refused = denied(
            "a.cn",
            Denial::Refused {
                address: "10.0.0.1".parse().unwrap(),
            },
        );
        assert_eq!(
            refused,
            TargetFailure::AddressRefused {
                host: "a.cn".to_owned(),
                address: "10.0.0.1".to_owned()
            }
        );
        let unresolved = denied(
            "a.cn",
            Denial::Unresolved {
                detail: "no addresses".to_owned(),
            },
        );
        assert_eq!(
            unresolved,
            TargetFailure::Unreachable(Unreachable::Dns {
                detail: "a.cn: no addresses".to_owned()
            })
        );
    }
}
