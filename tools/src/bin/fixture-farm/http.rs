//! The farm's HTTP/1.1: one connection's requests read, parsed and
//! answered with the plan a [`Responder`] gives. The subset is hand-written
//! but strict: heads are read up to the blank line (64 KiB at most, with
//! the project's one head reader, `beian_audit::http1`), request bodies
//! are read by `Content-Length` and discarded, `Connection: close`/`keep-alive` and the
//! HTTP/1.0 default are honoured, `HEAD` gets the headers of `GET`, and
//! malformed requests get 400 and a closed connection.

use std::time::{Duration, Instant};

use beian_audit::http1;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest request body accepted (it is read and discarded).
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// How long an idle keep-alive connection is kept open.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest a drip route spends dripping before sending the rest at once.
const DRIP_MAX: Duration = Duration::from_secs(60);

/// One parsed request head.
#[derive(Debug)]
pub(crate) struct Request {
    /// `GET`, `HEAD` …
    pub(crate) method: String,
    /// The request target as sent.
    pub(crate) target: String,
    /// Whether the request line said `HTTP/1.0`.
    pub(crate) http10: bool,
    /// Header fields in order, names as sent.
    pub(crate) headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client wants the connection kept after this exchange.
    pub(crate) fn keep_alive(&self) -> bool {
        let tokens = || {
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
                .flat_map(|(_, v)| v.split(','))
                .map(str::trim)
        };
        if tokens().any(|t| t.eq_ignore_ascii_case("close")) {
            false
        } else if self.http10 {
            tokens().any(|t| t.eq_ignore_ascii_case("keep-alive"))
        } else {
            true
        }
    }
}

/// Why a request head could not be used; answered with `status`, then close.
#[derive(Debug)]
struct BadRequest {
    /// 400, 413, 431, 501 or 505.
    status: u16,
    /// Said in the body.
    why: &'static str,
}

/// What a server built on this module answers: decides (and logs) the
/// plan for one request that arrived over `scheme` (`http` or `https`).
pub(crate) trait Responder {
    /// The plan for `request`.
    fn respond(&self, request: &Request, scheme: &str) -> Plan;
}

/// Serve requests on one connection until either side closes it; `scheme`
/// (`http` or `https`) goes to the responder with each request.
pub(crate) async fn serve_connection<S>(
    responder: &impl Responder,
    mut stream: S,
    scheme: &str,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(4096);
    loop {
        let head = match tokio::time::timeout(IDLE_TIMEOUT, next_head(&mut stream, &mut buf)).await
        {
            Err(_) | Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(head))) => head,
            Ok(Err(err)) => return Err(err),
        };
        let request = match parse_head(&head) {
            Ok(request) => request,
            Err(bad) => return send_bad(&mut stream, &bad).await,
        };
        match request_body_length(&request) {
            Ok(length) => discard_body(&mut stream, &mut buf, length).await?,
            Err(bad) => return send_bad(&mut stream, &bad).await,
        }
        let keep_alive = request.keep_alive();
        match responder.respond(&request, scheme) {
            Plan::Hang => {
                // Hold the socket until the client goes away.
                let mut sink = [0u8; 4096];
                while stream.read(&mut sink).await? > 0 {}
                return Ok(());
            }
            Plan::Respond(response) => {
                if !response.delay.is_zero() {
                    tokio::time::sleep(response.delay).await;
                }
                let head_only = request.method == "HEAD";
                send(&mut stream, &response, head_only, keep_alive).await?;
                if !keep_alive {
                    stream.shutdown().await?;
                    return Ok(());
                }
            }
        }
    }
}

/// Read the next request head from `buf` and the socket (with the
/// project's one head reader, [`beian_audit::http1::read_head`]), without
/// the empty lines a client may send before it (RFC 9112 §2.2) and without
/// its blank line. `None` when the connection ended, or the head would be
/// longer than [`beian_audit::http1::MAX_HEAD`]. Bytes after the head stay
/// in `buf`.
async fn next_head(
    stream: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        let Some(len) = http1::read_head(stream, buf).await? else {
            return Ok(None);
        };
        let head: Vec<u8> = buf.drain(..len).collect();
        let blank = head
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        let head = &head[blank..];
        if head.is_empty() {
            continue;
        }
        let end = if head.ends_with(b"\r\n\r\n") {
            4
        } else if head.ends_with(b"\n\r\n") {
            3
        } else {
            2
        };
        return Ok(Some(head[..head.len() - end].to_vec()));
    }
}

/// Parse a request line and header fields.
fn parse_head(head: &[u8]) -> Result<Request, BadRequest> {
    let bad = |why| BadRequest { status: 400, why };
    let text = std::str::from_utf8(head).map_err(|_| bad("request head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) || target.is_empty() {
        return Err(bad("malformed request line"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => {
            return Err(BadRequest {
                status: 505,
                why: "only HTTP/1.0 and HTTP/1.1 are spoken here",
            })
        }
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return Err(bad("obsolete header line folding"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("header without a colon"))?;
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(bad("malformed header name"));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http10,
        headers,
    };
    if !http10 && request.header("host").is_none() && !request.target.contains("://") {
        return Err(bad("HTTP/1.1 request without Host"));
    }
    Ok(request)
}

/// The request body's length from `Content-Length` (0 when absent).
fn request_body_length(request: &Request) -> Result<u64, BadRequest> {
    if request.header("transfer-encoding").is_some() {
        return Err(BadRequest {
            status: 501,
            why: "request bodies with Transfer-Encoding are not supported",
        });
    }
    let lengths = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_bytes());
    let why = match http1::content_length(lengths) {
        Ok(length) => return within_limit(length.unwrap_or(0)),
        Err(http1::LengthError::Malformed) => "malformed Content-Length",
        Err(http1::LengthError::Conflicting) => "conflicting Content-Length values",
    };
    Err(BadRequest { status: 400, why })
}

/// `length`, unless it is over [`MAX_BODY`].
fn within_limit(length: u64) -> Result<u64, BadRequest> {
    if length > MAX_BODY {
        return Err(BadRequest {
            status: 413,
            why: "request body too large",
        });
    }
    Ok(length)
}

/// Read and drop `length` body bytes (some may already be in `buf`).
async fn discard_body(
    stream: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    length: u64,
) -> std::io::Result<()> {
    let buffered = usize::try_from(length).map_or(buf.len(), |n| n.min(buf.len()));
    buf.drain(..buffered);
    let mut left = length - buffered as u64;
    let mut sink = [0u8; 8192];
    while left > 0 {
        let want = usize::try_from(left).map_or(sink.len(), |n| n.min(sink.len()));
        let n = stream.read(&mut sink[..want]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        left -= n as u64;
    }
    Ok(())
}

/// Answer a malformed request and close the connection.
async fn send_bad(stream: &mut (impl AsyncWrite + Unpin), bad: &BadRequest) -> std::io::Result<()> {
    let response = Response::page(bad.status, bad.why);
    send(stream, &response, false, false).await?;
    stream.shutdown().await
}

/// Respond, or never respond.
pub(crate) enum Plan {
    /// Send this response.
    Respond(Response),
    /// Hold the connection open without answering.
    Hang,
}

/// A response ready to send.
pub(crate) struct Response {
    /// Status code.
    pub(crate) status: u16,
    /// Header fields (without Content-Length and Connection).
    pub(crate) headers: Vec<(String, String)>,
    /// The body (also measured for `HEAD`).
    pub(crate) body: Vec<u8>,
    /// Wait this long before sending.
    pub(crate) delay: Duration,
    /// Send the body in pieces.
    pub(crate) drip: Option<DripSpec>,
}

impl Response {
    /// A small HTML page saying `message`, with status `status`.
    pub(crate) fn page(status: u16, message: &str) -> Response {
        let body = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{status} {reason}</title></head>\n<body><h1>{status} {reason}</h1>\
             <p>{message}</p></body></html>\n",
            reason = reason(status),
            message = html_escape(message),
        );
        Response {
            status,
            headers: default_headers("text/html; charset=utf-8"),
            body: body.into_bytes(),
            delay: Duration::ZERO,
            drip: None,
        }
    }
}

/// How a drip route sends its body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DripSpec {
    /// Bytes per piece.
    pub(crate) bytes: usize,
    /// Pause between pieces.
    pub(crate) interval: Duration,
}

/// Headers every response carries.
pub(crate) fn default_headers(content_type: &str) -> Vec<(String, String)> {
    vec![
        ("Server".into(), "fixture-farm".into()),
        ("Content-Type".into(), content_type.into()),
        // The same URL differs by device; never let a cache mix them up.
        ("Cache-Control".into(), "no-store".into()),
        ("Vary".into(), "User-Agent".into()),
    ]
}

/// Replace header `name` (case-insensitive) or add it.
pub(crate) fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value.to_owned()));
}

/// Write the status line, headers and (unless `head_only`) the body.
async fn send(
    stream: &mut (impl AsyncWrite + Unpin),
    response: &Response,
    head_only: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    let bodiless = matches!(response.status, 100..=199 | 204 | 304);
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    if !bodiless {
        head.push_str("Content-Length: ");
        head.push_str(&response.body.len().to_string());
        head.push_str("\r\n");
    }
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    stream.write_all(head.as_bytes()).await?;
    if head_only || bodiless {
        return stream.flush().await;
    }
    match response.drip {
        None => stream.write_all(&response.body).await?,
        Some(drip) => {
            let started = Instant::now();
            let mut rest = response.body.as_slice();
            while !rest.is_empty() {
                let piece = if started.elapsed() < DRIP_MAX {
                    drip.bytes.min(rest.len())
                } else {
                    rest.len()
                };
                stream.write_all(&rest[..piece]).await?;
                stream.flush().await?;
                rest = &rest[piece..];
                if !rest.is_empty() && started.elapsed() < DRIP_MAX {
                    tokio::time::sleep(drip.interval).await;
                }
            }
        }
    }
    stream.flush().await
}

/// The reason phrase for a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// Escape text for an HTML body.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The request's host (normalised) and its path with query.
pub(crate) fn split_target(request: &Request) -> (String, String) {
    let (authority, path) = match request
        .target
        .strip_prefix("http://")
        .or_else(|| request.target.strip_prefix("https://"))
    {
        Some(rest) => match rest.find('/') {
            Some(i) => (Some(&rest[..i]), rest[i..].to_owned()),
            None => (Some(rest), "/".to_owned()),
        },
        None => (None, request.target.clone()),
    };
    let host = authority
        .or_else(|| request.header("host"))
        .unwrap_or_default();
    (normalise_host(host), path)
}

/// Lower case, without port, brackets or trailing dot.
fn normalise_host(host: &str) -> String {
    let host = host.trim();
    let host = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The percent-decoded path without query or fragment; `None` when it is
/// not a safe absolute path.
pub(crate) fn decode_path(target: &str) -> Option<String> {
    let raw = target.split(['?', '#']).next().unwrap_or_default();
    if !raw.starts_with('/') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(out).ok()?;
    let safe = path
        .split('/')
        .all(|seg| seg != ".." && seg != "." && !seg.contains(['\\', '\0']));
    safe.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_head() {
        let head = b"GET /a?b=1 HTTP/1.1\r\nHost: WWW.X.test:8080\r\nConnection: close";
        let request = parse_head(head).expect("parses");
        assert_eq!(request.method, "GET");
        assert!(!request.keep_alive());
        assert_eq!(
            split_target(&request),
            ("www.x.test".into(), "/a?b=1".into())
        );
    }

    #[test]
    fn http10_closes_unless_asked() {
        let request = parse_head(b"GET / HTTP/1.0").expect("parses");
        assert!(!request.keep_alive());
        let request = parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive").expect("parses");
        assert!(request.keep_alive());
    }

    #[test]
    fn rejects_malformed_heads() {
        assert!(parse_head(b"GET /").is_err());
        assert!(parse_head(b"GET / HTTP/1.1").is_err(), "no Host");
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost x").is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n folded").is_err());
    }

    #[test]
    fn paths_are_decoded_and_confined() {
        assert_eq!(decode_path("/a%20b?q").as_deref(), Some("/a b"));
        assert_eq!(decode_path("/../etc/passwd"), None);
        assert_eq!(decode_path("/%2e%2e/x"), None);
        assert_eq!(decode_path("x"), None);
    }

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(normalise_host("Icp-OK.test."), "icp-ok.test");
        assert_eq!(normalise_host("[::1]:80"), "::1");
    }
}
