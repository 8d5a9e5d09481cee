//! `fixture-farm`: a small HTTP/1.1 server (plain and over TLS, on one port)
//! that plays many test websites at once, chosen by the `Host` header. The
//! integration tests, the README's demo and the benchmark point
//! `beian-audit scan --resolve '*=127.0.0.1:PORT'` at it.
//!
//! ```text
//! fixture-farm --root DIR [--port N] [--latency-ms N] [--log FILE] [--exit-on-eof]
//! ```
//!
//! On start it prints exactly one line, `listening on 127.0.0.1:PORT`, to
//! stdout (port 0, the default, picks a free port), then serves until killed.
//!
//! # How a connection is answered
//!
//! A connection whose first byte opens a TLS handshake (`0x16`) is https,
//! any other is plain HTTP; so `--resolve '*=127.0.0.1:PORT'` sends both
//! schemes to the one port. https presents a certificate the farm made for
//! the host the client names (SNI): right name and dates, but self-signed,
//! so a browser that checks certificates refuses it
//! (`net::ERR_CERT_AUTHORITY_INVALID`). A site whose `_site.json` has
//! `"tls": "none"` has no https: its handshakes are cut off (the connection
//! closes). Inside TLS, requests are answered as below. See the `tls`
//! module.
//!
//! # How a request is answered
//!
//! - **Site.** The `Host` header (port and trailing dot stripped, lower case)
//!   names the site directory `DIR/<host>`. A `www.X` host with no
//!   `DIR/www.X` is served from `DIR/X`; when both exist, `DIR/www.X` comes
//!   first and `DIR/X` fills in the files and routes it lacks. An unknown
//!   host gets a 404 page saying "no such site".
//! - **File.** `/` is `index.html`, and any path ending in `/` gets
//!   `index.html` appended. The content type comes from the extension
//!   (html with `charset=utf-8`, js, css, json, png, svg, woff2, txt …).
//! - **Phone variant.** When the `User-Agent` contains `Mobile` and
//!   `<site>/m/<path>` exists, that file is served instead (server-side UA
//!   sniffing, as many Chinese sites do).
//! - **Routes.** `<site>/_site.json` may change the answer for some paths:
//!
//! ```json
//! {
//!   "about": "what this site is for (ignored)",
//!   "tls": "self-signed",
//!   "routes": {
//!     "/": {"host": "x.test", "status": 301, "headers": {"Location": "http://www.x.test/"}},
//!     "/slow.png": {"hang": true},
//!     "/data.json": {"delay_ms": 300},
//!     "/drip.html": {"file": "page.html", "drip": {"bytes": 64, "interval_ms": 200}},
//!     "*": {"status": 500, "body": "<h1>oops</h1>"}
//!   }
//! }
//! ```
//!
//!   A route's key is the decoded path without its query, or `*` for every
//!   path no other key names. Its value is one route or an array of routes;
//!   the first whose `host` (when given) equals the request's host applies,
//!   which is how apex and `www.` differ inside one site directory. Fields,
//!   all optional:
//!   - `host`: apply only to requests for this host;
//!   - `status`: the status code (default 200);
//!   - `headers`: extra response headers (replacing defaults of the same name);
//!   - `body` (inline text) or `file` (a path in the site directory): the
//!     body; without either a 2xx route serves the requested file and any
//!     other status a short page naming the status;
//!   - `content_type`: overrides the type taken from the extension;
//!   - `delay_ms`: wait before answering;
//!   - `hang`: never answer; hold the connection until the client closes it;
//!   - `drip`: `true` or `{"bytes": N, "interval_ms": M}`: send the body N
//!     bytes at a time (default 64) with M ms between pieces (default 200),
//!     for at most 60 s, then the rest at once;
//!   - `repeat`: `{"text": S, "times": N, "at": M}`: S repeated N times, in
//!     place of the first M in the body, or appended without `at` (a 20 MB
//!     page without a 20 MB file).
//!
//! `tls` is `self-signed` (the default) or `none`, as above.
//!
//! `--latency-ms` delays every answer (the benchmark's simulated network).
//! `--log FILE` appends one JSON line per request: `{"t_ms", "scheme",
//! "method", "host", "path", "status", "ua", "sec_ch_ua_mobile"}` (`t_ms`
//! from start, `scheme` `http` or `https`, `status` null for a hanging
//! route). `--exit-on-eof` makes the farm exit when its stdin closes, so
//! that a test harness that dies takes it along.
//!
//! The HTTP/1.1 subset is hand-written but strict: headers are read up to
//! the blank line (64 KiB at most), request bodies are read by
//! `Content-Length` and discarded, `Connection: close`/`keep-alive` and the
//! HTTP/1.0 default are honoured, `HEAD` gets the headers of `GET`, and
//! malformed requests get 400 and a closed connection.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use beian_audit::output::writer::escape_line_separators;
use clap::Parser;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "fixture-farm/tls.rs"]
mod tls;

use tls::TlsMode;

/// The longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body accepted (it is read and discarded).
const MAX_BODY: u64 = 16 * 1024 * 1024;
/// How long an idle keep-alive connection is kept open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest a drip route spends dripping before sending the rest at once.
const DRIP_MAX: Duration = Duration::from_secs(60);

/// A Host-header HTTP/1.1 server that plays the fixture websites.
#[derive(Debug, Parser)]
#[command(name = "fixture-farm", version, about)]
struct Args {
    /// The directory holding one sub-directory per site, named by host.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// The port to listen on, on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Extra delay before every answer, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Append one JSON line per request to this file.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Exit when stdin reaches end of file.
    #[arg(long)]
    exit_on_eof: bool,
}

/// What every connection task shares.
struct Farm {
    /// The sites' directory.
    root: PathBuf,
    /// Added before every answer.
    latency: Duration,
    /// When the farm started (`t_ms` in the log).
    start: Instant,
    /// The request log, when `--log` was given.
    log: Option<Mutex<std::fs::File>>,
    /// The self-signed certificates of https connections.
    issuer: tls::Issuer,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr().lock(), "fixture-farm: error: {err}");
            ExitCode::from(2)
        }
    }
}

/// Bind, announce the port, and serve until killed (or stdin closes).
async fn run(args: Args) -> Result<(), String> {
    if !args.root.is_dir() {
        return Err(format!("--root {} is not a directory", args.root.display()));
    }
    let log = match &args.log {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open --log {}: {e}", path.display()))?,
        )),
        None => None,
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on 127.0.0.1:{port}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    let farm = Arc::new(Farm {
        root: args.root,
        latency: Duration::from_millis(args.latency_ms),
        start: Instant::now(),
        log,
        issuer: tls::Issuer::new()?,
    });
    let serve = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let farm = Arc::clone(&farm);
                    tokio::spawn(async move {
                        // A connection's I/O errors end that connection only.
                        let _ = serve_socket(&farm, stream).await;
                    });
                }
                Err(err) => {
                    let _ = writeln!(std::io::stderr().lock(), "fixture-farm: accept: {err}");
                    // Out of descriptors or similar: give the system a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    if args.exit_on_eof {
        tokio::select! {
            () = serve => Ok(()),
            () = stdin_closed() => Ok(()),
        }
    } else {
        serve.await;
        Ok(())
    }
}

/// Resolves when stdin reaches end of file (or fails).
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// One parsed request head.
#[derive(Debug)]
struct Request {
    /// `GET`, `HEAD` …
    method: String,
    /// The request target as sent.
    target: String,
    /// Whether the request line said `HTTP/1.0`.
    http10: bool,
    /// Header fields in order, names as sent.
    headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client wants the connection kept after this exchange.
    fn keep_alive(&self) -> bool {
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

/// Serve one accepted connection: https when its first byte opens a TLS
/// handshake (see the `tls` module), plain HTTP otherwise.
async fn serve_socket(farm: &Farm, stream: TcpStream) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    match tokio::time::timeout(IDLE_TIMEOUT, stream.peek(&mut first)).await {
        Err(_) | Ok(Ok(0)) => Ok(()),
        Ok(Err(err)) => Err(err),
        Ok(Ok(_)) if first[0] == tls::HANDSHAKE => {
            let handshake = tls::accept(&farm.issuer, stream, |host| farm.tls_mode(host));
            match tokio::time::timeout(IDLE_TIMEOUT, handshake).await {
                Ok(Ok(Some(stream))) => serve_connection(farm, stream, "https").await,
                Err(_) | Ok(Ok(None)) => Ok(()),
                Ok(Err(err)) => Err(err),
            }
        }
        Ok(Ok(_)) => serve_connection(farm, stream, "http").await,
    }
}

/// Serve requests on one connection until either side closes it; `scheme`
/// (`http` or `https`) is logged with each request.
async fn serve_connection<S>(farm: &Farm, mut stream: S, scheme: &str) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(4096);
    loop {
        let head = match tokio::time::timeout(IDLE_TIMEOUT, read_head(&mut stream, &mut buf)).await
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
        let answer = farm.answer(&request);
        farm.log_request(&request, &answer, scheme);
        match answer.plan {
            Plan::Hang => {
                // Hold the socket until the client goes away.
                let mut sink = [0u8; 4096];
                while stream.read(&mut sink).await? > 0 {}
                return Ok(());
            }
            Plan::Respond(response) => {
                let delay = farm.latency + response.delay;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
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

/// Read one request head (up to and without the blank line) from `buf`
/// and the socket. `None` when the client closed the connection between
/// requests. Bytes after the head stay in `buf`.
async fn read_head(
    stream: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut chunk = [0u8; 8192];
    loop {
        // RFC 9112 §2.2: ignore empty lines before a request line.
        let blank = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        buf.drain(..blank);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = buf[..end].to_vec();
            buf.drain(..end + 4);
            return Ok(Some(head));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
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
    let mut length = None;
    for (_, value) in request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        for item in value.split(',').map(str::trim) {
            let parsed = item
                .parse::<u64>()
                .ok()
                .filter(|_| item.bytes().all(|b| b.is_ascii_digit()));
            match (parsed, length) {
                (None, _) => {
                    return Err(BadRequest {
                        status: 400,
                        why: "malformed Content-Length",
                    })
                }
                (Some(n), Some(m)) if n != m => {
                    return Err(BadRequest {
                        status: 400,
                        why: "conflicting Content-Length values",
                    })
                }
                (Some(n), _) => length = Some(n),
            }
        }
    }
    let length = length.unwrap_or(0);
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

/// What the farm will do with one request.
struct Answer {
    /// The host the request named, normalised (empty when absent).
    host: String,
    /// The decoded path, or the raw target when it could not be decoded.
    path: String,
    /// Respond or hang.
    plan: Plan,
}

/// Respond, or never respond.
enum Plan {
    /// Send this response.
    Respond(Response),
    /// Hold the connection open without answering.
    Hang,
}

/// A response ready to send.
struct Response {
    /// Status code.
    status: u16,
    /// Header fields (without Content-Length and Connection).
    headers: Vec<(String, String)>,
    /// The body (also measured for `HEAD`).
    body: Vec<u8>,
    /// Wait this long before sending.
    delay: Duration,
    /// Send the body in pieces.
    drip: Option<DripSpec>,
}

impl Response {
    /// A small HTML page saying `message`, with status `status`.
    fn page(status: u16, message: &str) -> Response {
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
struct DripSpec {
    /// Bytes per piece.
    bytes: usize,
    /// Pause between pieces.
    interval: Duration,
}

impl Farm {
    /// Decide the answer to `request`.
    fn answer(&self, request: &Request) -> Answer {
        let (host, raw_path) = split_target(request);
        let Some(path) = decode_path(&raw_path) else {
            return Answer {
                host,
                path: raw_path,
                plan: Plan::Respond(Response::page(400, "malformed request path")),
            };
        };
        let plan = if !matches!(request.method.as_str(), "GET" | "HEAD") {
            let mut response = Response::page(405, "only GET and HEAD are served here");
            response.headers.push(("Allow".into(), "GET, HEAD".into()));
            Plan::Respond(response)
        } else if let Some(layers) = self.site_layers(&host) {
            let mobile = request
                .header("user-agent")
                .is_some_and(|ua| ua.contains("Mobile"));
            site_answer(&layers, &host, &path, mobile).unwrap_or_else(|err| {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "fixture-farm: {host}{path}: {err}"
                );
                Plan::Respond(Response::page(500, &err))
            })
        } else {
            Plan::Respond(Response::page(404, "no such site"))
        };
        Answer { host, path, plan }
    }

    /// The site directories serving `host`, most specific first; `None`
    /// for an unknown host.
    fn site_layers(&self, host: &str) -> Option<Vec<PathBuf>> {
        let valid = !host.is_empty()
            && !host.starts_with('.')
            && !host.contains("..")
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return None;
        }
        let mut layers = Vec::new();
        let own = self.root.join(host);
        if own.is_dir() {
            layers.push(own);
        }
        if let Some(apex) = host.strip_prefix("www.") {
            let apex = self.root.join(apex);
            if apex.is_dir() {
                layers.push(apex);
            }
        }
        (!layers.is_empty()).then_some(layers)
    }

    /// How `host`'s site answers a TLS handshake (`_site.json` `tls`, most
    /// specific layer first); an unknown host or an unreadable
    /// `_site.json` gets the default.
    fn tls_mode(&self, host: &str) -> TlsMode {
        self.site_layers(host)
            .and_then(|layers| load_configs(&layers).ok())
            .and_then(|configs| configs.iter().find_map(|c| c.tls))
            .unwrap_or_default()
    }

    /// Append the request to `--log`, if any.
    fn log_request(&self, request: &Request, answer: &Answer, scheme: &str) {
        let Some(log) = &self.log else { return };
        let status = match &answer.plan {
            Plan::Respond(response) => Some(response.status),
            Plan::Hang => None,
        };
        let line = serde_json::json!({
            "t_ms": u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX),
            "scheme": scheme,
            "method": request.method,
            "host": answer.host,
            "path": answer.path,
            "status": status,
            "ua": request.header("user-agent"),
            "sec_ch_ua_mobile": request.header("sec-ch-ua-mobile"),
        });
        // A header may carry U+2028 and the like; escaped, the entry stays
        // one line for any reader, as the scan's own output does.
        let mut line = escape_line_separators(line.to_string().as_bytes()).into_owned();
        line.push(b'\n');
        // One write_all per line on an O_APPEND file keeps lines whole.
        if let Ok(mut file) = log.lock() {
            let _ = file.write_all(&line);
        }
    }
}

/// The request's host (normalised) and its path with query.
fn split_target(request: &Request) -> (String, String) {
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
fn decode_path(target: &str) -> Option<String> {
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

/// `_site.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteConfig {
    /// Free text for the reader; ignored.
    #[serde(default)]
    #[expect(dead_code, reason = "documentation field in fixture files")]
    about: Option<String>,
    /// Path (or `*`) → route(s).
    #[serde(default)]
    routes: BTreeMap<String, RouteEntry>,
    /// How the site answers https (default: a self-signed certificate).
    #[serde(default)]
    tls: Option<TlsMode>,
}

/// One route or several alternatives for one path.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RouteEntry {
    /// A single route.
    One(Route),
    /// Alternatives; the first whose `host` matches applies.
    Many(Vec<Route>),
}

/// How one path is answered; see the module docs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    /// Only for requests naming this host.
    host: Option<String>,
    /// Status code.
    status: Option<u16>,
    /// Extra headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Inline body.
    body: Option<String>,
    /// Body from this file of the site.
    file: Option<String>,
    /// Content type override.
    content_type: Option<String>,
    /// Wait before answering.
    #[serde(default)]
    delay_ms: u64,
    /// Never answer.
    #[serde(default)]
    hang: bool,
    /// Send the body slowly.
    drip: Option<Drip>,
    /// Padding appended to the body.
    repeat: Option<Repeat>,
}

/// `repeat: {"text": S, "times": N, "at": M}`: S N times in place of the
/// first M in the body, or appended to it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repeat {
    /// The text repeated.
    text: String,
    /// How many times.
    times: usize,
    /// Where: the padding replaces the first occurrence of this marker
    /// (a footer after 20 MB of content); appended when absent.
    #[serde(default)]
    at: Option<String>,
}

/// The largest body `repeat` may build.
const REPEAT_MAX: usize = 64 * 1024 * 1024;

impl Repeat {
    /// Append the padding to `body`, refusing bodies over `REPEAT_MAX`.
    fn apply(&self, body: &mut Vec<u8>) -> Result<(), String> {
        let size = self
            .text
            .len()
            .checked_mul(self.times)
            .and_then(|n| n.checked_add(body.len()))
            .filter(|&n| n <= REPEAT_MAX)
            .ok_or_else(|| format!("repeat makes a body over {REPEAT_MAX} bytes"))?;
        let (head, tail) = match &self.at {
            Some(marker) if marker.is_empty() => return Err("repeat: empty marker".into()),
            Some(marker) => {
                let at = body
                    .windows(marker.len())
                    .position(|w| w == marker.as_bytes())
                    .ok_or_else(|| format!("repeat: marker {marker:?} not in the body"))?;
                let tail = body.split_off(at);
                (at, tail[marker.len()..].to_vec())
            }
            None => (body.len(), Vec::new()),
        };
        body.reserve(size - head);
        for _ in 0..self.times {
            body.extend_from_slice(self.text.as_bytes());
        }
        body.extend_from_slice(&tail);
        Ok(())
    }
}

/// `drip: true` or `drip: {"bytes": N, "interval_ms": M}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Drip {
    /// `true` for the defaults, `false` for none.
    Flag(bool),
    /// Explicit sizes.
    Spec {
        /// Bytes per piece.
        #[serde(default = "default_drip_bytes")]
        bytes: usize,
        /// Pause between pieces.
        #[serde(default = "default_drip_interval")]
        interval_ms: u64,
    },
}

/// Default drip piece size.
fn default_drip_bytes() -> usize {
    64
}

/// Default drip pause.
fn default_drip_interval() -> u64 {
    200
}

impl Drip {
    /// The effective drip, if any.
    fn spec(&self) -> Option<DripSpec> {
        match *self {
            Drip::Flag(false) => None,
            Drip::Flag(true) => Some(DripSpec {
                bytes: default_drip_bytes(),
                interval: Duration::from_millis(default_drip_interval()),
            }),
            Drip::Spec { bytes, interval_ms } => Some(DripSpec {
                bytes: bytes.max(1),
                interval: Duration::from_millis(interval_ms),
            }),
        }
    }
}

/// Load `_site.json` of each layer (most specific first).
fn load_configs(layers: &[PathBuf]) -> Result<Vec<SiteConfig>, String> {
    layers
        .iter()
        .map(|dir| {
            let path = dir.join("_site.json");
            match std::fs::read(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| format!("bad {}: {e}", path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SiteConfig::default()),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            }
        })
        .collect()
}

/// The route for `path` on `host`: exact keys of every layer first, then `*`.
fn find_route<'c>(configs: &'c [SiteConfig], host: &str, path: &str) -> Option<&'c Route> {
    let applies = |route: &&Route| {
        route
            .host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(host))
    };
    [path, "*"].into_iter().find_map(|key| {
        configs
            .iter()
            .find_map(|config| match config.routes.get(key)? {
                RouteEntry::One(route) => Some(route).filter(applies),
                RouteEntry::Many(routes) => routes.iter().find(applies),
            })
    })
}

/// The answer for a known site.
fn site_answer(layers: &[PathBuf], host: &str, path: &str, mobile: bool) -> Result<Plan, String> {
    let configs = load_configs(layers)?;
    let Some(route) = find_route(&configs, host, path) else {
        return Ok(Plan::Respond(static_file(layers, path, mobile)?));
    };
    if route.hang {
        return Ok(Plan::Hang);
    }
    let status = route.status.unwrap_or(200);
    if !(100..=999).contains(&status) {
        return Err(format!("route status {status} is not a status code"));
    }
    let mut response = if let Some(body) = &route.body {
        let mut response = Response::page(status, "");
        response.body = body.clone().into_bytes();
        response
    } else if let Some(file) = &route.file {
        let path = format!("/{}", file.trim_start_matches('/'));
        let found = layers
            .iter()
            .map(|dir| dir.join(&path[1..]))
            .find(|p| p.is_file());
        let Some(found) = found else {
            return Err(format!("route file {file} not found"));
        };
        file_response(&found)?
    } else if (200..300).contains(&status) {
        static_file(layers, path, mobile)?
    } else {
        Response::page(status, reason(status))
    };
    response.status = status;
    if let Some(content_type) = &route.content_type {
        set_header(&mut response.headers, "Content-Type", content_type);
    }
    for (name, value) in &route.headers {
        set_header(&mut response.headers, name, value);
    }
    response.delay = Duration::from_millis(route.delay_ms);
    response.drip = route.drip.as_ref().and_then(Drip::spec);
    if let Some(repeat) = &route.repeat {
        repeat.apply(&mut response.body)?;
    }
    Ok(Plan::Respond(response))
}

/// The file for `path` through the layers (phone variant first), or 404.
fn static_file(layers: &[PathBuf], path: &str, mobile: bool) -> Result<Response, String> {
    let mut relative = path.trim_start_matches('/').to_owned();
    if relative.is_empty() || relative.ends_with('/') {
        relative.push_str("index.html");
    }
    if relative == "_site.json" {
        return Ok(Response::page(404, "not found"));
    }
    for dir in layers {
        let mut candidates = Vec::with_capacity(2);
        if mobile {
            candidates.push(dir.join("m").join(&relative));
        }
        candidates.push(dir.join(&relative));
        for candidate in candidates {
            if candidate.is_file() {
                return file_response(&candidate);
            }
            if candidate.is_dir() && candidate.join("index.html").is_file() {
                return file_response(&candidate.join("index.html"));
            }
        }
    }
    Ok(Response::page(404, "not found"))
}

/// A 200 response with the file's bytes and type.
fn file_response(path: &Path) -> Result<Response, String> {
    let body = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Response {
        status: 200,
        headers: default_headers(content_type(path)),
        body,
        delay: Duration::ZERO,
        drip: None,
    })
}

/// Headers every response carries.
fn default_headers(content_type: &str) -> Vec<(String, String)> {
    vec![
        ("Server".into(), "fixture-farm".into()),
        ("Content-Type".into(), content_type.into()),
        // The same URL differs by device; never let a cache mix them up.
        ("Cache-Control".into(), "no-store".into()),
        ("Vary".into(), "User-Agent".into()),
    ]
}

/// Replace header `name` (case-insensitive) or add it.
fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value.to_owned()));
}

/// The content type for a file name's extension.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        _ => "application/octet-stream",
    }
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
fn reason(status: u16) -> &'static str {
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
    fn repeat_appends_padding_and_refuses_huge_bodies() {
        let route: Route =
            serde_json::from_str(r#"{"body": "<p>x</p>", "repeat": {"text": "ab", "times": 3}}"#)
                .expect("parses");
        let mut body = b"<p>x</p>".to_vec();
        route
            .repeat
            .as_ref()
            .expect("repeat")
            .apply(&mut body)
            .expect("fits");
        assert_eq!(body, b"<p>x</p>ababab");
        let at = |marker: &str| Repeat {
            text: "ab".into(),
            times: 2,
            at: Some(marker.into()),
        };
        let mut body = b"<p>x</p><!--here--><b>end</b>".to_vec();
        at("<!--here-->").apply(&mut body).expect("fits");
        assert_eq!(body, b"<p>x</p>abab<b>end</b>", "in place of the marker");
        assert!(at("<!--absent-->")
            .apply(&mut b"<p>x</p>".to_vec())
            .is_err());
        assert!(at("").apply(&mut b"<p>x</p>".to_vec()).is_err());
        let huge = Repeat {
            text: "0123456789".into(),
            times: REPEAT_MAX,
            at: None,
        };
        assert!(huge.apply(&mut Vec::new()).is_err());
        assert!(serde_json::from_str::<Route>(r#"{"repeat": {"text": "a"}}"#).is_err());
    }

    #[test]
    fn site_answer_builds_a_repeated_body() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("_site.json"),
            r#"{"routes": {"/": {"body": "<b>head</b>", "repeat": {"text": "<!--pad-->", "times": 1000}}}}"#,
        )
        .expect("write _site.json");
        let Plan::Respond(response) =
            site_answer(&[dir.path().to_owned()], "x.test", "/", false).expect("answers")
        else {
            panic!("the route hangs");
        };
        assert_eq!(response.body.len(), "<b>head</b>".len() + 10 * 1000);
        assert!(response.body.starts_with(b"<b>head</b><!--pad-->"));
    }

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(normalise_host("Icp-OK.test."), "icp-ok.test");
        assert_eq!(normalise_host("[::1]:80"), "::1");
    }
}
