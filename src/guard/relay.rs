//! The HTTP side of the guard's proxy: what goes over the wire once the
//! proxy has decided and connected (see `proxy` for the decisions). A
//! request head read and rewritten in origin form ([`Request`]), its body
//! forwarded as its own head delimits it and not a byte more ([`Body`],
//! `send_body`), the answer relayed with its head rewritten
//! (`relay_answer`, `rewrite_answer_head`), a `CONNECT` tunnel, and the
//! guard's own short answers with Chromium's names for what failed.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::normalise;
use crate::http1::{self, read_head, MAX_HEAD};

/// Header naming the refused host and address on a `403` of the guard.
pub const REFUSED_HEADER: &str = "X-Beian-Audit-Refused";
/// Header naming the address a relayed plain-HTTP answer came from.
pub const UPSTREAM_HEADER: &str = "X-Beian-Audit-Upstream";
/// Header naming why the guard could not reach a host (`net::ERR_…`).
pub const ERROR_HEADER: &str = "X-Beian-Audit-Error";
/// What the guard's own headers start with (lower case). Only the guard
/// says them: a site's or a page's are dropped.
pub(super) const GUARD_HEADER_PREFIX: &str = "x-beian-audit-";

/// The most headers one head may have.
pub(super) const MAX_HEADERS: usize = 128;
/// How long a client may keep its connection open once its answer is
/// complete and the proxy has said it is done.
pub(super) const LINGER: Duration = Duration::from_secs(1);

/// Chromium's names for the ways an upstream connection fails, so that
/// `fault::classify` reads them like its own.
pub(super) mod net_error {
    pub(crate) const NAME_NOT_RESOLVED: &str = "net::ERR_NAME_NOT_RESOLVED";
    pub(crate) const CONNECTION_REFUSED: &str = "net::ERR_CONNECTION_REFUSED";
    pub(crate) const CONNECTION_TIMED_OUT: &str = "net::ERR_CONNECTION_TIMED_OUT";
    pub(crate) const CONNECTION_RESET: &str = "net::ERR_CONNECTION_RESET";
    pub(crate) const ADDRESS_UNREACHABLE: &str = "net::ERR_ADDRESS_UNREACHABLE";
    pub(crate) const CONNECTION_FAILED: &str = "net::ERR_CONNECTION_FAILED";
    pub(crate) const INVALID_HTTP_RESPONSE: &str = "net::ERR_INVALID_HTTP_RESPONSE";
    pub(crate) const RESPONSE_HEADERS_TOO_BIG: &str = "net::ERR_RESPONSE_HEADERS_TOO_BIG";
}

/// A short plain-text answer that closes the connection.
pub(super) fn answer(
    status: u16,
    reason: &str,
    header: Option<(&str, &str)>,
    body: &str,
) -> Vec<u8> {
    let extra = header
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 {status} {reason}\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}\n",
        body.len() + 1
    )
    .into_bytes()
}

/// `CONNECT`: say yes, then pass bytes both ways until both sides are done.
pub(super) async fn tunnel(
    mut client: TcpStream,
    mut upstream: TcpStream,
    early: &[u8],
) -> io::Result<()> {
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    upstream.write_all(early).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// A plain request: send it in origin form with its body and nothing
/// after it, relay the answer with the guard's headers, and end when either
/// side does.
pub(super) async fn forward(
    mut client: TcpStream,
    mut upstream: TcpStream,
    request: &Request,
    early: Vec<u8>,
    address: SocketAddr,
) -> io::Result<()> {
    upstream.write_all(&request.origin_head).await?;
    let (mut client_rd, mut client_wr) = client.split();
    let (mut upstream_rd, mut upstream_wr) = upstream.split();
    let up = async {
        if send_body(&mut client_rd, &mut upstream_wr, early, request.body)
            .await
            .is_ok()
        {
            // What else the client sends would be another request, which
            // gets a connection of its own: read and dropped, never
            // forwarded. Chromium never half-closes, so the end of its
            // stream means it has given up on the answer.
            drain(&mut client_rd).await;
        }
    };
    let down = relay_answer(&mut upstream_rd, &mut client_wr, address);
    let result = tokio::select! {
        result = down => result,
        () = up => return Ok(()),
    };
    // The answer is out and the client told so (FIN). Closing with its
    // bytes unread would reset the connection, which can cost the client
    // the end of the answer; so wait a moment for it to close first.
    let _ = tokio::time::timeout(LINGER, drain(&mut client_rd)).await;
    result
}

/// Read and drop until the end of the stream.
pub(super) async fn drain<R: AsyncRead + Unpin>(stream: &mut R) {
    let mut rest = Vec::with_capacity(4096);
    while matches!(stream.read_buf(&mut rest).await, Ok(n) if n > 0) {
        rest.clear();
    }
}

/// Forward the request body `body` delimits, starting with `buf` (what
/// was read past the head), and not a byte after it. `Err` when the client
/// stops first or the chunked framing is broken.
pub(super) async fn send_body<R, W>(
    client: &mut R,
    upstream: &mut W,
    mut buf: Vec<u8>,
    body: Body,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match body {
        Body::None => Ok(()),
        Body::Length(len) => send_exactly(client, upstream, &mut buf, len).await,
        Body::Chunked => send_chunked(client, upstream, &mut buf).await,
    }
}

/// Forward `len` bytes: those in `buf` first (removed from it), then from
/// the client.
pub(super) async fn send_exactly<R, W>(
    client: &mut R,
    upstream: &mut W,
    buf: &mut Vec<u8>,
    len: u64,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let buffered = usize::try_from(len).map_or(buf.len(), |len| len.min(buf.len()));
    upstream.write_all(&buf[..buffered]).await?;
    buf.drain(..buffered);
    let rest = len - u64::try_from(buffered).unwrap_or(len);
    if rest > 0 && tokio::io::copy(&mut client.take(rest), upstream).await? < rest {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Forward a chunked body (RFC 9112 §7.1) up to the end of its trailer
/// section, as sent.
pub(super) async fn send_chunked<R, W>(
    client: &mut R,
    upstream: &mut W,
    buf: &mut Vec<u8>,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let (line, size) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete(sized)) if is_chunk_line(&buf[..sized.0]) => {
                    break sized;
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => fill(client, buf).await?,
                _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")),
            }
        };
        upstream.write_all(&buf[..line]).await?;
        buf.drain(..line);
        if size == 0 {
            break;
        }
        send_exactly(client, upstream, buf, size).await?;
        let end = line_end(client, buf).await?;
        if &buf[..end] != b"\r\n" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk longer than its size",
            ));
        }
        upstream.write_all(&buf[..end]).await?;
        buf.drain(..end);
    }
    // Trailer fields, then the empty line that ends the body.
    loop {
        let end = line_end(client, buf).await?;
        if !buf[..end].ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bare LF in trailers",
            ));
        }
        upstream.write_all(&buf[..end]).await?;
        let last = &buf[..end] == b"\r\n";
        buf.drain(..end);
        if last {
            return Ok(());
        }
    }
}

/// Whether a chunk-size line httparse accepted is one: httparse reads an
/// empty size as 0, and takes any byte in an extension, a bare LF too,
/// where a more lenient upstream could see the line end early.
pub(super) fn is_chunk_line(line: &[u8]) -> bool {
    line.first().is_some_and(u8::is_ascii_hexdigit)
        && line.iter().position(|&b| b == b'\n') == Some(line.len() - 1)
}

/// Read until `buf` holds a whole line; its length, `\n` included.
pub(super) async fn line_end<R: AsyncRead + Unpin>(
    client: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    loop {
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            return Ok(i + 1);
        }
        if buf.len() >= MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
        }
        fill(client, buf).await?;
    }
}

/// Read more into `buf`; `Err` at the end of the stream.
pub(super) async fn fill<R: AsyncRead + Unpin>(
    client: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    buf.reserve(8192);
    if client.read_buf(buf).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Relay the upstream answer: interim (1xx) heads and the final head
/// rewritten (see [`rewrite_answer_head`]), then the body until the
/// upstream closes. A head the proxy cannot read gets the guard's `502`
/// instead, and the connection ends there; an upstream that closes
/// without a byte gets the closed connection it gave (Chromium's
/// `ERR_EMPTY_RESPONSE`, as without the proxy).
pub(super) async fn relay_answer<R, W>(
    upstream: &mut R,
    client: &mut W,
    address: SocketAddr,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(8192);
    loop {
        let head = match read_head(upstream, &mut buf).await? {
            Some(len) => rewrite_answer_head(&buf[..len], address).map(|head| (head, len)),
            None if buf.is_empty() => return client.shutdown().await,
            None if buf.len() >= MAX_HEAD => Err(net_error::RESPONSE_HEADERS_TOO_BIG),
            None => Err(net_error::INVALID_HTTP_RESPONSE),
        };
        match head {
            Ok(((head, interim), len)) => {
                client.write_all(&head).await?;
                buf.drain(..len);
                if !interim {
                    break;
                }
            }
            Err(error) => {
                tracing::debug!(%address, error, "network guard cannot read an answer");
                client
                    .write_all(&answer(
                        502,
                        "Bad Gateway",
                        Some((ERROR_HEADER, error)),
                        &format!("beian-audit cannot relay the answer of {address}: {error}"),
                    ))
                    .await?;
                return client.shutdown().await;
            }
        }
    }
    client.write_all(&buf).await?;
    tokio::io::copy(upstream, client).await?;
    client.shutdown().await
}

/// The answer head as the browser gets it, and whether it is an interim
/// (1xx) head; or, when the proxy will not relay it, Chromium's name for
/// why: not an HTTP/1 answer head, more than [`MAX_HEADERS`] headers, or a
/// `101 Switching Protocols` (the proxy asks for no upgrade: it forwards no
/// `Connection` header).
///
/// Every head loses the hop-by-hop `Connection`, `Keep-Alive` and
/// `Proxy-Connection` headers and any `X-Beian-Audit-*` header the site
/// sent; the final head gains `Connection: close` and
/// `X-Beian-Audit-Upstream`.
pub(super) fn rewrite_answer_head(
    head: &[u8],
    address: SocketAddr,
) -> Result<(Vec<u8>, bool), &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    // As lenient as Chromium where leniency cannot hide a header: a folded
    // line continues the header before it, and a space before the colon
    // is not part of the name.
    let parsed = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .parse_response(&mut response, head);
    match parsed {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(net_error::RESPONSE_HEADERS_TOO_BIG),
        _ => return Err(net_error::INVALID_HTTP_RESPONSE),
    }
    let code = response.code.ok_or(net_error::INVALID_HTTP_RESPONSE)?;
    if code == 101 {
        return Err(net_error::INVALID_HTTP_RESPONSE);
    }
    let interim = (100..200).contains(&code);
    let status_line_end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(net_error::INVALID_HTTP_RESPONSE)?;
    let status_line = head[..status_line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..status_line_end]);
    let mut out = Vec::with_capacity(head.len() + 96);
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"\r\n");
    for h in response.headers.iter() {
        let hop_by_hop = ["connection", "keep-alive", "proxy-connection"]
            .iter()
            .any(|name| h.name.eq_ignore_ascii_case(name));
        if hop_by_hop || is_guard_header(h.name) {
            continue;
        }
        push_header(&mut out, h.name, h.value);
    }
    if !interim {
        push_header(&mut out, "Connection", b"close");
        push_header(&mut out, UPSTREAM_HEADER, address.to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok((out, interim))
}

/// Whether `name` is one of the guard's own headers.
pub(super) fn is_guard_header(name: &str) -> bool {
    strip_prefix_ignore_case(name, GUARD_HEADER_PREFIX).is_some()
}

pub(super) fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// One request to the proxy, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Request {
    /// The host asked for, normalised.
    pub(super) host: String,
    /// The port asked for.
    pub(super) port: u16,
    /// `CONNECT`.
    pub(super) tunnel: bool,
    /// For a plain request: its head as the upstream gets it (origin form,
    /// no proxy headers, `Connection: close`). Empty for `CONNECT`.
    pub(super) origin_head: Vec<u8>,
    /// How its body ends ([`Body::None`] for `CONNECT`).
    pub(super) body: Body,
}

/// Where a request's body ends (RFC 9112 §6.3), so that the proxy
/// forwards that body and nothing after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`: up to the end of the trailers.
    Chunked,
}

impl Body {
    /// The framing a request head declares; the reason when it declares
    /// none the proxy can follow. `Transfer-Encoding` and `Content-Length`
    /// together are refused rather than resolved (RFC 9112 §6.1 allows
    /// either): an upstream resolving them otherwise would read a
    /// different request out of the same bytes.
    pub(super) fn of(headers: &[httparse::Header<'_>]) -> Result<Body, &'static str> {
        // Whether the last coding of the last `Transfer-Encoding` is
        // chunked, when there is one.
        let mut chunked: Option<bool> = None;
        let lengths = headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| h.value);
        let length = match http1::content_length(lengths) {
            Ok(length) => length,
            Err(http1::LengthError::Malformed) => return Err("bad Content-Length"),
            Err(http1::LengthError::Conflicting) => return Err("conflicting Content-Length"),
        };
        for h in headers {
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
                chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
        }
        match (chunked, length) {
            (Some(_), Some(_)) => Err("both Transfer-Encoding and Content-Length"),
            (Some(true), None) => Ok(Body::Chunked),
            (Some(false), None) => Err("request body of unknown length"),
            (None, None | Some(0)) => Ok(Body::None),
            (None, Some(len)) => Ok(Body::Length(len)),
        }
    }
}

impl Request {
    /// Parse a request head; the reason when it is not one the proxy serves.
    pub(super) fn parse(head: &[u8]) -> Result<Request, &'static str> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return Err("malformed request head"),
        }
        let (Some(method), Some(target), Some(version)) =
            (request.method, request.path, request.version)
        else {
            return Err("malformed request line");
        };
        if method.eq_ignore_ascii_case("CONNECT") {
            let (host, port) = split_authority(target, None).ok_or("CONNECT needs host:port")?;
            return Ok(Request {
                host,
                port,
                tunnel: true,
                origin_head: Vec::new(),
                body: Body::None,
            });
        }
        let rest = strip_prefix_ignore_case(target, "http://")
            .ok_or("only http:// requests and CONNECT are proxied")?;
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = path.split('#').next().unwrap_or_default();
        let (host, port) = split_authority(authority, Some(80)).ok_or("bad host in request URL")?;
        let body = Body::of(request.headers)?;
        let mut out = Vec::with_capacity(head.len());
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        if !path.starts_with('/') {
            out.push(b'/');
        }
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(format!(" HTTP/1.{version}\r\n").as_bytes());
        // The upstream is asked for the host the guard decided on: the
        // URL's, whatever `Host` the client sent (RFC 9112 §3.2.2).
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        push_header(&mut out, "Host", authority.as_bytes());
        for h in request.headers.iter() {
            let name = h.name.to_ascii_lowercase();
            if matches!(
                name.as_str(),
                "host" | "connection" | "keep-alive" | "proxy-connection" | "proxy-authorization"
            ) || is_guard_header(&name)
            {
                continue;
            }
            push_header(&mut out, h.name, h.value);
        }
        push_header(&mut out, "Connection", b"close");
        out.extend_from_slice(b"\r\n");
        Ok(Request {
            host,
            port,
            tunnel: false,
            origin_head: out,
            body,
        })
    }
}

pub(super) fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `host[:port]`, `[v6][:port]`, with any `user@` dropped; the port falls
/// back to `default` (none for `CONNECT`).
pub(super) fn split_authority(authority: &str, default: Option<u16>) -> Option<(String, u16)> {
    let authority = authority.rsplit('@').next()?;
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default?,
    };
    let host = normalise(host);
    if host.is_empty() || host.chars().any(|c| c.is_ascii_whitespace() || c == '/') {
        return None;
    }
    Some((host, port))
}
