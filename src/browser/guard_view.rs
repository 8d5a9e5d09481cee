//! What the network guard saw of one render, folded into its result.
//!
//! Every connection of a render's browser context goes through its own
//! [`Session`] of the guard's proxy, so Chromium reports the proxy
//! (127.0.0.1) as every response's remote address and cannot tell a
//! refused host from a broken one. The session can: this module takes the
//! real upstream addresses of the main document and its redirect hops from
//! it, counts the requests it refused, and turns a failed navigation into
//! [`RenderError::Refused`] when the guard refused the host the main frame
//! failed on, or into the `net::ERR_…` failure the guard met upstream.

use chromiumoxide::cdp::browser_protocol::fetch::{
    EnableParams as FetchEnableParams, RequestPattern, RequestStage,
};
use chromiumoxide::cdp::browser_protocol::network::{
    BlockPattern, ResourceType, SetBlockedUrLsParams,
};
use url::Url;

use super::RenderError;
use crate::fault::{classify, http_status, DocumentOutcome};
use crate::guard::Session;
use crate::page::{PageSnapshot, Unreachable};

/// Schemes that reach the crawler's own machine or browser, never the
/// network: blocked for every request of a page, and a page that ends on
/// one is not judged. The guard's proxy never sees these.
const LOCAL_SCHEMES: &[&str] = &[
    "file",
    "filesystem",
    "chrome",
    "chrome-untrusted",
    "chrome-extension",
    "devtools",
    "view-source",
];

/// `Network.setBlockedURLs` for [`LOCAL_SCHEMES`] (belt and braces: Blink
/// already refuses web pages these URLs).
pub(crate) fn block_local_schemes() -> SetBlockedUrLsParams {
    SetBlockedUrLsParams {
        url_patterns: Some(
            LOCAL_SCHEMES
                .iter()
                .map(|scheme| BlockPattern::new(format!("{scheme}:*"), true))
                .collect(),
        ),
    }
}

/// Resource types a render never loads. The footer's text, links, layout
/// and visibility do not depend on them, and on image- and font-heavy pages
/// they are most of the bytes and much of the renderer's work (decoding).
/// Images keep the box their markup or CSS gives them; one sized only by
/// its pixels collapses, which can only move what follows it up, never out
/// of the footer.
const SKIPPED_TYPES: &[ResourceType] =
    &[ResourceType::Image, ResourceType::Media, ResourceType::Font];

/// `Fetch.enable` pausing every request of a [`SKIPPED_TYPES`] type before
/// it is sent; the tracker's pump fails each one as blocked by the client.
/// By type, not by URL: `/logo?id=3` is an image too. With `join_at`, a
/// document request for exactly that URL is paused too: the page another
/// render already has (see `RenderJob::join_at`), never requested twice.
pub(crate) fn pause_requests(join_at: Option<&str>) -> FetchEnableParams {
    let mut patterns: Vec<RequestPattern> = SKIPPED_TYPES
        .iter()
        .map(|kind| RequestPattern {
            url_pattern: Some("*".to_owned()),
            resource_type: Some(kind.clone()),
            request_stage: Some(RequestStage::Request),
        })
        .collect();
    if let Some(url) = join_at {
        patterns.push(RequestPattern {
            url_pattern: Some(exact_pattern(url)),
            resource_type: Some(ResourceType::Document),
            request_stage: Some(RequestStage::Request),
        });
    }
    FetchEnableParams {
        patterns: Some(patterns),
        handle_auth_requests: None,
    }
}

/// A `Fetch` URL pattern matching `url` alone (`*`, `?` and `\` escaped).
fn exact_pattern(url: &str) -> String {
    let mut pattern = String::with_capacity(url.len());
    for c in url.chars() {
        if matches!(c, '*' | '?' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// Fold what `session` saw into a render's `result`. `failed_url` is the
/// URL the main frame last tried to load (where a failed navigation
/// failed). An error page (status >= 400) that the guard itself answered —
/// a refusal, or an upstream it could not reach — is that failure, not the
/// site's status.
pub(crate) fn apply(
    result: Result<PageSnapshot, RenderError>,
    failed_url: &str,
    session: &Session,
    budget_secs: u64,
) -> Result<PageSnapshot, RenderError> {
    match result {
        Ok(mut page) => {
            if let Some(scheme) = local_scheme(&page.final_url) {
                return Err(Unreachable::Other {
                    detail: format!("the page navigated to a local {scheme}: URL"),
                }
                .into());
            }
            if http_status(page.status).is_some() {
                if let Some(failure) = guard_failure(&page.final_url, session, budget_secs) {
                    return Err(failure);
                }
            }
            page.addresses = served_from(&page, session);
            page.refused_subresources = u32::try_from(session.refused()).unwrap_or(u32::MAX);
            Ok(page)
        }
        Err(RenderError::Site(why)) => {
            Err(guard_failure(failed_url, session, budget_secs).unwrap_or(why.into()))
        }
        Err(other) => Err(other),
    }
}

/// Why the guard gave the main frame no page at `url`: it refused the
/// host, or could not reach it (read like Chromium's own `net::ERR_…`).
fn guard_failure(url: &str, session: &Session, budget_secs: u64) -> Option<RenderError> {
    let (host, port) = host_port(url)?;
    if let Some(address) = session.refusal(&host, port) {
        return Some(RenderError::Refused {
            host,
            address: address.to_string(),
        });
    }
    let error = session.failure(&host, port)?;
    let outcome = DocumentOutcome {
        error: Some(error),
        ..DocumentOutcome::default()
    };
    classify(outcome, budget_secs).map(RenderError::from)
}

/// The upstream addresses of the main document and every hop before it,
/// each once, in order.
fn served_from(page: &PageSnapshot, session: &Session) -> Vec<String> {
    let mut addresses: Vec<String> = Vec::new();
    for url in page
        .redirects
        .iter()
        .chain(std::iter::once(&page.final_url))
    {
        let Some((host, port)) = host_port(url) else {
            continue;
        };
        for ip in session.upstream(&host, port) {
            let ip = ip.to_string();
            if !addresses.contains(&ip) {
                addresses.push(ip);
            }
        }
    }
    addresses
}

/// The host and port a URL's connection is for (`http`/`https`/`ws`/`wss`).
fn host_port(url: &str) -> Option<(String, u16)> {
    let url = Url::parse(url).ok()?;
    let port = url.port_or_known_default()?;
    let host = match url.host()? {
        url::Host::Domain(d) => d.to_owned(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    Some((host, port))
}

/// The scheme of `url` when it is one of [`LOCAL_SCHEMES`].
fn local_scheme(url: &str) -> Option<&'static str> {
    let scheme = url.split(':').next()?.to_ascii_lowercase();
    LOCAL_SCHEMES.iter().copied().find(|s| *s == scheme)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use rstest::rstest;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::guard::{Policy, Proxy, ProxyConfig, ResolveRule, Resolver};

    /// `inside.test` is internal, `gone.test` does not resolve.
    struct Names;

    impl Resolver for Names {
        fn lookup<'a>(
            &'a self,
            host: &'a str,
            _: u16,
        ) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
            Box::pin(async move {
                match host {
                    "inside.test" => Ok(vec!["10.0.0.1".parse().unwrap()]),
                    _ => Err(std::io::Error::other("no such host")),
                }
            })
        }
    }

    /// A one-answer HTTP server; `site.test` is mapped to it.
    async fn guard_with_site() -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
            }
        });
        let policy = Policy {
            resolve: vec![ResolveRule {
                host: "site.test".to_owned(),
                addr: site,
            }],
            allow_private: false,
        };
        Proxy::start(ProxyConfig {
            resolver: Arc::new(Names),
            ..ProxyConfig::new(policy)
        })
        .await
        .unwrap()
    }

    async fn ask(session: &Session, request: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(session.addr())
            .await
            .unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer
    }

    fn page_on(final_url: &str, redirects: &[&str]) -> PageSnapshot {
        PageSnapshot {
            final_url: final_url.to_owned(),
            redirects: redirects.iter().map(|r| (*r).to_owned()).collect(),
            addresses: vec!["127.0.0.1".to_owned()],
            ..PageSnapshot::default()
        }
    }

    #[tokio::test]
    async fn a_page_gets_its_upstream_addresses_and_refusal_count() {
        let guard = guard_with_site().await;
        let session = guard.session().await.unwrap();
        let ok = ask(
            &session,
            "GET http://site.test/ HTTP/1.1\r\nHost: site.test\r\n\r\n",
        )
        .await;
        assert!(
            ok.starts_with("HTTP/1.1 200 OK\r\n") && ok.ends_with("ok"),
            "{ok}"
        );
        let refused = ask(
            &session,
            "GET http://inside.test/x.png HTTP/1.1\r\nHost: inside.test\r\n\r\n",
        )
        .await;
        assert!(refused.starts_with("HTTP/1.1 403 "), "{refused}");
        let page = apply(
            Ok(page_on("http://site.test/#top", &[])),
            "http://site.test/",
            &session,
            30,
        )
        .unwrap();
        assert_eq!(page.addresses, vec!["127.0.0.1"]);
        assert_eq!(page.refused_subresources, 1);
        // A host the guard never connected to has no address to report.
        let elsewhere = apply(Ok(page_on("http://other.test/", &[])), "", &session, 30).unwrap();
        assert_eq!(elsewhere.addresses, Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_refused_main_document_is_refused_not_unreachable() {
        let guard = guard_with_site().await;
        let session = guard.session().await.unwrap();
        let answer = ask(&session, "CONNECT inside.test:443 HTTP/1.1\r\n\r\n").await;
        assert!(
            answer.contains("X-Beian-Audit-Refused: inside.test 10.0.0.1\r\n"),
            "{answer}"
        );
        let tunnel_failed = Unreachable::Other {
            detail: "net::ERR_TUNNEL_CONNECTION_FAILED".to_owned(),
        };
        let result = apply(
            Err(tunnel_failed.clone().into()),
            "https://inside.test/",
            &session,
            30,
        );
        assert!(
            matches!(&result, Err(RenderError::Refused { host, address }) if host == "inside.test" && address == "10.0.0.1"),
            "{result:?}"
        );
        // The guard's 403 arriving as an error page is the same refusal.
        let mut forbidden = page_on("https://inside.test/", &[]);
        forbidden.status = Some(403);
        let result = apply(Ok(forbidden), "https://inside.test/", &session, 30);
        assert!(
            matches!(&result, Err(RenderError::Refused { .. })),
            "{result:?}"
        );
        // Another host's failure stays what the browser said.
        let result = apply(
            Err(tunnel_failed.into()),
            "https://site.test/",
            &session,
            30,
        );
        assert!(
            matches!(result, Err(RenderError::Site(Unreachable::Other { .. }))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn an_upstream_failure_reads_like_the_browsers_own() {
        let guard = guard_with_site().await;
        let session = guard.session().await.unwrap();
        let answer = ask(
            &session,
            "GET http://gone.test/ HTTP/1.1\r\nHost: gone.test\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 502 "), "{answer}");
        let result = apply(
            Err(Unreachable::HttpStatus { status: 502 }.into()),
            "http://gone.test/",
            &session,
            30,
        );
        assert!(
            matches!(&result, Err(RenderError::Site(Unreachable::Dns { detail })) if detail == "net::ERR_NAME_NOT_RESOLVED"),
            "{result:?}"
        );
        let mut bad_gateway = page_on("http://gone.test/", &[]);
        bad_gateway.status = Some(502);
        let result = apply(Ok(bad_gateway), "http://gone.test/", &session, 30);
        assert!(
            matches!(&result, Err(RenderError::Site(Unreachable::Dns { .. }))),
            "{result:?}"
        );
        // A site's own error page stays a page.
        let mut not_found = page_on("http://site.test/missing", &[]);
        not_found.status = Some(404);
        let page = apply(Ok(not_found), "http://site.test/missing", &session, 30).unwrap();
        assert_eq!(page.status, Some(404));
    }

    #[tokio::test]
    async fn a_page_that_ends_on_a_local_url_is_not_judged() {
        let guard = guard_with_site().await;
        let session = guard.session().await.unwrap();
        let result = apply(Ok(page_on("file:///etc/passwd", &[])), "", &session, 30);
        assert!(
            matches!(result, Err(RenderError::Site(Unreachable::Other { .. }))),
            "{result:?}"
        );
    }

    #[rstest]
    #[case::http("http://a.test/x", Some(("a.test", 80)))]
    #[case::https_port("https://A.test:8443/", Some(("a.test", 8443)))]
    #[case::ipv6("http://[::1]:81/", Some(("::1", 81)))]
    #[case::ipv4("https://127.0.0.1/", Some(("127.0.0.1", 443)))]
    #[case::file("file:///etc/passwd", None)]
    #[case::about("about:blank", None)]
    fn urls_name_the_connection_they_need(
        #[case] url: &str,
        #[case] expected: Option<(&str, u16)>,
    ) {
        assert_eq!(host_port(url), expected.map(|(h, p)| (h.to_owned(), p)));
    }

    #[rstest]
    #[case::file("file:///etc/passwd", Some("file"))]
    #[case::chrome_upper("CHROME://version/", Some("chrome"))]
    #[case::http("http://file.test/", None)]
    #[case::data("data:text/html,hi", None)]
    fn local_schemes_are_recognised(#[case] url: &str, #[case] expected: Option<&str>) {
        assert_eq!(local_scheme(url), expected);
    }
}
