//! The guard's forward proxy: an HTTP/1.1 proxy on 127.0.0.1 that is every
//! browser's only way out (`--proxy-server` for the browser, and a
//! [`Session`] of its own for each rendered page's browser context).
//!
//! - A plain `http://` request arrives in absolute form (`GET
//!   http://host/path HTTP/1.1`). The proxy opens one upstream connection
//!   for that one request, sends it in origin form with `Connection: close`
//!   and relays the answer, adding `Connection: close` and
//!   `X-Beian-Audit-Upstream: ADDR:PORT` (the address it connected to).
//! - `CONNECT host:port` (https, and every WebSocket) is answered `200` once
//!   the upstream connection is open; then bytes pass both ways unread: no
//!   TLS interception.
//! - A refused host gets `403` with `X-Beian-Audit-Refused: HOST ADDR` (for
//!   `CONNECT`, before any tunnel exists); a host that cannot be reached
//!   gets `502` (or `504`) with `X-Beian-Audit-Error: net::ERR_…`.
//!
//! Every decision is [`super::admit`]'s, and the proxy connects only to the
//! addresses that decision returned: the name is resolved once for both, so
//! a DNS answer that changes between check and connect changes nothing. A
//! [`Session`] keeps its answers for the page's lifetime, as Chromium's own
//! host cache would; the default listener looks up every request.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::{admit, normalise, Denial, Policy, Resolver, SystemResolver};

/// Header naming the refused host and address on a `403` of the guard.
pub const REFUSED_HEADER: &str = "X-Beian-Audit-Refused";
/// Header naming the address a relayed plain-HTTP answer came from.
pub const UPSTREAM_HEADER: &str = "X-Beian-Audit-Upstream";
/// Header naming why the guard could not reach a host (`net::ERR_…`).
pub const ERROR_HEADER: &str = "X-Beian-Audit-Error";

/// The longest request or response head read (request line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// The most headers one head may have.
const MAX_HEADERS: usize = 128;
/// How long a client may take to send its request head. Chromium opens
/// spare connections to its proxy ahead of need; this bounds idle ones.
const HEAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Default limit for connecting to one upstream address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Chromium's names for the ways an upstream connection fails, so that
/// `browser::error::classify` reads them like its own.
mod net_error {
    pub(super) const NAME_NOT_RESOLVED: &str = "net::ERR_NAME_NOT_RESOLVED";
    pub(super) const CONNECTION_REFUSED: &str = "net::ERR_CONNECTION_REFUSED";
    pub(super) const CONNECTION_TIMED_OUT: &str = "net::ERR_CONNECTION_TIMED_OUT";
    pub(super) const CONNECTION_RESET: &str = "net::ERR_CONNECTION_RESET";
    pub(super) const ADDRESS_UNREACHABLE: &str = "net::ERR_ADDRESS_UNREACHABLE";
    pub(super) const CONNECTION_FAILED: &str = "net::ERR_CONNECTION_FAILED";
}

/// How the proxy decides and connects.
pub struct ProxyConfig {
    /// What is allowed (`--resolve`, `--allow-private`).
    pub policy: Policy,
    /// Where host names are looked up.
    pub resolver: Arc<dyn Resolver>,
    /// Limit for connecting to one upstream address.
    pub connect_timeout: Duration,
}

impl ProxyConfig {
    /// `policy` with the system resolver and a 10 s connect limit.
    pub fn new(policy: Policy) -> ProxyConfig {
        ProxyConfig {
            policy,
            resolver: Arc::new(SystemResolver),
            connect_timeout: CONNECT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// One request through the guard: which host and port were asked for, and
/// what the guard did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The host asked for, normalised (lower case, no brackets).
    pub host: String,
    /// The port asked for.
    pub port: u16,
    /// `CONNECT` (https, WebSocket) rather than a plain HTTP request.
    pub tunnel: bool,
    /// What came of it.
    pub outcome: Outcome,
}

/// What the guard did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Connected to this address, one the policy admitted.
    Connected {
        /// The upstream address.
        address: SocketAddr,
    },
    /// Refused: the host is, or resolves to, this internal address.
    Refused {
        /// The internal address.
        address: IpAddr,
    },
    /// No connection could be made.
    Failed {
        /// Chromium's name for the failure (`net::ERR_…`).
        error: &'static str,
        /// The admitted addresses that were tried, in order.
        tried: Vec<SocketAddr>,
    },
}

type Log = Arc<Mutex<Vec<Exchange>>>;

fn lock(log: &Mutex<Vec<Exchange>>) -> MutexGuard<'_, Vec<Exchange>> {
    // A panic while holding the log leaves plain data behind; keep going.
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running proxy. Dropping it stops its listener and its connections.
#[derive(Debug)]
pub struct Proxy {
    config: Arc<ProxyConfig>,
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listen on 127.0.0.1 (a free port) and serve until dropped. Must be
    /// called inside a tokio runtime.
    pub async fn start(config: ProxyConfig) -> io::Result<Proxy> {
        let config = Arc::new(config);
        let shared = Listener {
            config: Arc::clone(&config),
            log: None,
            answers: None,
        };
        let (addr, accept) = listen(shared).await?;
        tracing::debug!(%addr, policy = ?config.policy, "network guard listening");
        Ok(Proxy {
            config,
            addr,
            accept,
        })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The policy it enforces.
    pub fn policy(&self) -> &Policy {
        &self.config.policy
    }

    /// A listener of its own for one render, with the same policy, that
    /// records every request it serves and looks each name up once (every
    /// use of the answer is checked). Give its [`Session::server`] to one
    /// browser context only.
    pub async fn session(&self) -> io::Result<Session> {
        let log: Log = Arc::default();
        let shared = Listener {
            config: Arc::clone(&self.config),
            log: Some(Arc::clone(&log)),
            answers: Some(Mutex::default()),
        };
        let (addr, accept) = listen(shared).await?;
        Ok(Session {
            addr,
            log,
            accept,
            render_start: 0,
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The proxy as one browser context sees it: a listener of its own and the
/// record of what it did. Dropping it stops the listener and cuts its
/// connections.
///
/// A context may serve several renders in a row (see
/// [`Session::begin_render`]): what was refused or failed is asked of the
/// current render's requests; where a host was served from, of all of them
/// (a connection kept from an earlier render is not asked for again).
#[derive(Debug)]
pub struct Session {
    addr: SocketAddr,
    log: Log,
    accept: JoinHandle<()>,
    /// Index in `log` of the current render's first request.
    render_start: usize,
}

impl Session {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its proxy-server value for Chromium: `http://127.0.0.1:PORT`.
    pub fn server(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request served so far, in the order they were decided.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.log).clone()
    }

    /// A new render starts: [`Session::refusal`], [`Session::failure`] and
    /// [`Session::refused`] look at its requests only from now on.
    pub fn begin_render(&mut self) {
        self.render_start = lock(&self.log).len();
    }

    /// The current render's requests.
    fn this_render<'a>(&self, log: &'a [Exchange]) -> &'a [Exchange] {
        &log[self.render_start.min(log.len())..]
    }

    /// The internal address `host:port` was refused for, if it was.
    pub fn refusal(&self, host: &str, port: u16) -> Option<IpAddr> {
        let host = normalise(host);
        let log = lock(&self.log);
        self.this_render(&log)
            .iter()
            .rev()
            .find_map(|e| match e.outcome {
                Outcome::Refused { address } if e.host == host && e.port == port => Some(address),
                _ => None,
            })
    }

    /// Why the latest request for `host:port` reached nothing, if it did not.
    pub fn failure(&self, host: &str, port: u16) -> Option<&'static str> {
        let host = normalise(host);
        let log = lock(&self.log);
        let last = self
            .this_render(&log)
            .iter()
            .rev()
            .find(|e| e.host == host && e.port == port)?;
        match last.outcome {
            Outcome::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The addresses requests for `host:port` were served from, each once,
    /// in first-seen order.
    pub fn upstream(&self, host: &str, port: u16) -> Vec<IpAddr> {
        let host = normalise(host);
        let mut ips = Vec::new();
        for e in lock(&self.log).iter() {
            if let Outcome::Connected { address } = e.outcome {
                if e.host == host && e.port == port && !ips.contains(&address.ip()) {
                    ips.push(address.ip());
                }
            }
        }
        ips
    }

    /// How many of the current render's requests were refused.
    pub fn refused(&self) -> usize {
        let log = lock(&self.log);
        self.this_render(&log)
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Refused { .. }))
            .count()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// What the connections of one listener share.
struct Listener {
    config: Arc<ProxyConfig>,
    /// A session's record of what it did.
    log: Option<Log>,
    /// A session's look-ups: each name is resolved once per page, as
    /// Chromium's own host cache would, and the answer is checked again on
    /// every use. Failed look-ups are not kept.
    answers: Option<Mutex<HashMap<String, Vec<IpAddr>>>>,
}

impl Resolver for Listener {
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let Some(answers) = &self.answers else {
                return self.config.resolver.lookup(host, port).await;
            };
            let known = answers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(host)
                .cloned();
            if let Some(ips) = known {
                return Ok(ips);
            }
            let ips = self.config.resolver.lookup(host, port).await?;
            answers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(host.to_owned(), ips.clone());
            Ok(ips)
        })
    }
}

/// Bind 127.0.0.1:0 and serve each connection on its own task. The
/// connections live in the accept task's `JoinSet`, so aborting that task
/// ends them all.
async fn listen(shared: Listener) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let shared = Arc::new(shared);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let accept = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(serve(Arc::clone(&shared), stream));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "network guard cannot accept; retrying");
                        // Out of descriptors or similar: give the system a moment.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok((addr, accept))
}

/// Serve one client connection: one request, or one tunnel.
async fn serve(shared: Arc<Listener>, mut client: TcpStream) {
    let _ = client.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    // Idle, closed, broken, or a head too long to be a request: drop it.
    let Ok(Ok(Some(head_len))) =
        tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client, &mut buf)).await
    else {
        return;
    };
    let request = match Request::parse(&buf[..head_len]) {
        Ok(request) => request,
        Err(why) => {
            let _ = client
                .write_all(&answer(400, "Bad Request", None, why))
                .await;
            return;
        }
    };
    let early = buf.split_off(head_len);
    let (outcome, upstream) = open(&shared, &request.host, request.port).await;
    match &outcome {
        Outcome::Refused { address } => {
            let range = super::refusal(*address).unwrap_or_default();
            tracing::debug!(host = %request.host, port = request.port, %address, range, "network guard refused a connection");
        }
        Outcome::Failed { error, .. } => {
            tracing::debug!(host = %request.host, port = request.port, error, "network guard could not connect");
        }
        Outcome::Connected { .. } => {}
    }
    let denial = upstream.is_none().then(|| denied(&request.host, &outcome));
    if let Some(log) = &shared.log {
        lock(log).push(Exchange {
            host: request.host.clone(),
            port: request.port,
            tunnel: request.tunnel,
            outcome,
        });
    }
    let Some((upstream, address)) = upstream else {
        if let Some(denial) = denial {
            let _ = client.write_all(&denial).await;
        }
        return;
    };
    let _ = upstream.set_nodelay(true);
    // Errors end this exchange only; the browser sees a closed connection.
    let _ = if request.tunnel {
        tunnel(client, upstream, &early).await
    } else {
        forward(client, upstream, &request.origin_head, &early, address).await
    };
}

/// Decide, then connect to the first admitted address that answers.
async fn open(
    shared: &Listener,
    host: &str,
    port: u16,
) -> (Outcome, Option<(TcpStream, SocketAddr)>) {
    let config = &shared.config;
    let addrs = match admit(&config.policy, shared, host, port).await {
        Ok(addrs) => addrs,
        Err(Denial::Refused { address }) => return (Outcome::Refused { address }, None),
        Err(Denial::Unresolved { detail }) => {
            tracing::debug!(host, %detail, "network guard cannot resolve");
            let failed = Outcome::Failed {
                error: net_error::NAME_NOT_RESOLVED,
                tried: Vec::new(),
            };
            return (failed, None);
        }
    };
    let mut tried = Vec::new();
    let mut error = net_error::CONNECTION_FAILED;
    for addr in addrs {
        tried.push(addr);
        match tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return (Outcome::Connected { address: addr }, Some((stream, addr))),
            Ok(Err(e)) => error = connect_error(&e),
            Err(_) => error = net_error::CONNECTION_TIMED_OUT,
        }
    }
    (Outcome::Failed { error, tried }, None)
}

fn connect_error(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => net_error::CONNECTION_REFUSED,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            net_error::CONNECTION_RESET
        }
        io::ErrorKind::TimedOut => net_error::CONNECTION_TIMED_OUT,
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
            net_error::ADDRESS_UNREACHABLE
        }
        _ => net_error::CONNECTION_FAILED,
    }
}

/// The guard's own answer when no connection was made.
fn denied(host: &str, outcome: &Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Refused { address } => answer(
            403,
            "Forbidden",
            Some((REFUSED_HEADER, &format!("{host} {address}"))),
            &format!("beian-audit refused {host}: it resolves to internal address {address}"),
        ),
        Outcome::Failed { error, .. } => {
            let (status, reason) = if *error == net_error::CONNECTION_TIMED_OUT {
                (504, "Gateway Timeout")
            } else {
                (502, "Bad Gateway")
            };
            answer(
                status,
                reason,
                Some((ERROR_HEADER, error)),
                &format!("beian-audit cannot reach {host}: {error}"),
            )
        }
        Outcome::Connected { .. } => answer(502, "Bad Gateway", None, "no upstream connection"),
    }
}

/// A short plain-text answer that closes the connection.
fn answer(status: u16, reason: &str, header: Option<(&str, &str)>, body: &str) -> Vec<u8> {
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
async fn tunnel(mut client: TcpStream, mut upstream: TcpStream, early: &[u8]) -> io::Result<()> {
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    upstream.write_all(early).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// A plain request: send it in origin form, relay the answer with the
/// guard's headers, and end when either side does.
async fn forward(
    mut client: TcpStream,
    mut upstream: TcpStream,
    head: &[u8],
    early: &[u8],
    address: SocketAddr,
) -> io::Result<()> {
    upstream.write_all(head).await?;
    upstream.write_all(early).await?;
    let (mut client_rd, mut client_wr) = client.split();
    let (mut upstream_rd, mut upstream_wr) = upstream.split();
    // The request body, if any; Chromium never half-closes, so the end of
    // this copy means the browser has given up on the answer.
    let up = async {
        let _ = tokio::io::copy(&mut client_rd, &mut upstream_wr).await;
    };
    let down = relay_answer(&mut upstream_rd, &mut client_wr, address);
    tokio::select! {
        result = down => result,
        () = up => Ok(()),
    }
}

/// Relay the upstream answer: interim (1xx) heads as they are, the final
/// head rewritten (see [`rewrite_answer_head`]), then the body until the
/// upstream closes. An answer without a readable head passes unchanged.
async fn relay_answer<R, W>(upstream: &mut R, client: &mut W, address: SocketAddr) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(8192);
    loop {
        let Some(len) = read_head(upstream, &mut buf).await? else {
            break;
        };
        match rewrite_answer_head(&buf[..len], address) {
            Some((head, interim)) => {
                client.write_all(&head).await?;
                buf.drain(..len);
                if !interim {
                    break;
                }
            }
            None => break,
        }
    }
    client.write_all(&buf).await?;
    tokio::io::copy(upstream, client).await?;
    client.shutdown().await
}

/// The answer head as the browser gets it, and whether it is an interim
/// (1xx other than 101) head; `None` when it is not an HTTP/1 answer head.
///
/// The final head loses its hop-by-hop `Connection`, `Keep-Alive` and
/// `Proxy-Connection` headers and any `X-Beian-Audit-*` header the site
/// sent, and gains `Connection: close` and `X-Beian-Audit-Upstream`. A
/// `101 Switching Protocols` keeps its `Connection: upgrade`.
fn rewrite_answer_head(head: &[u8], address: SocketAddr) -> Option<(Vec<u8>, bool)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    if !matches!(response.parse(head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let code = response.code?;
    let interim = (100..200).contains(&code) && code != 101;
    if interim {
        return Some((head.to_vec(), true));
    }
    let status_line_end = head.iter().position(|&b| b == b'\n')?;
    let status_line = head[..status_line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..status_line_end]);
    let mut out = Vec::with_capacity(head.len() + 96);
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"\r\n");
    for h in response.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let hop_by_hop = matches!(
            name.as_str(),
            "connection" | "keep-alive" | "proxy-connection"
        );
        if (hop_by_hop && code != 101) || name.starts_with("x-beian-audit-") {
            continue;
        }
        push_header(&mut out, h.name, h.value);
    }
    if code != 101 {
        push_header(&mut out, "Connection", b"close");
    }
    push_header(&mut out, UPSTREAM_HEADER, address.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    Some((out, false))
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Read into `buf` until it holds a whole head (up to its blank line);
/// `Some(head length)`, or `None` when the stream ended first or the head
/// would pass [`MAX_HEAD`]. Bytes after the head stay in `buf`.
async fn read_head<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Option<usize>> {
    let mut scanned = 0;
    loop {
        if let Some(end) = head_end(buf, scanned) {
            return Ok(Some(end));
        }
        if buf.len() >= MAX_HEAD {
            return Ok(None);
        }
        scanned = buf.len().saturating_sub(3);
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Where the head in `buf` ends (just past `\r\n\r\n` or `\n\n`), looking
/// from `from` on.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// One request to the proxy, parsed.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    /// The host asked for, normalised.
    host: String,
    /// The port asked for.
    port: u16,
    /// `CONNECT`.
    tunnel: bool,
    /// For a plain request: its head as the upstream gets it (origin form,
    /// no proxy headers, `Connection: close`). Empty for `CONNECT`.
    origin_head: Vec<u8>,
}

impl Request {
    /// Parse a request head; the reason when it is not one the proxy serves.
    fn parse(head: &[u8]) -> Result<Request, &'static str> {
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
            });
        }
        let rest = strip_prefix_ignore_case(target, "http://")
            .ok_or("only http:// requests and CONNECT are proxied")?;
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = path.split('#').next().unwrap_or_default();
        let (host, port) = split_authority(authority, Some(80)).ok_or("bad host in request URL")?;
        let mut out = Vec::with_capacity(head.len());
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        if !path.starts_with('/') {
            out.push(b'/');
        }
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(format!(" HTTP/1.{version}\r\n").as_bytes());
        let mut has_host = false;
        for h in request.headers.iter() {
            let name = h.name.to_ascii_lowercase();
            if matches!(
                name.as_str(),
                "connection" | "keep-alive" | "proxy-connection" | "proxy-authorization"
            ) {
                continue;
            }
            has_host |= name == "host";
            push_header(&mut out, h.name, h.value);
        }
        if !has_host {
            let authority = authority.rsplit('@').next().unwrap_or(authority);
            push_header(&mut out, "Host", authority.as_bytes());
        }
        push_header(&mut out, "Connection", b"close");
        out.extend_from_slice(b"\r\n");
        Ok(Request {
            host,
            port,
            tunnel: false,
            origin_head: out,
        })
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `host[:port]`, `[v6][:port]`, with any `user@` dropped; the port falls
/// back to `default` (none for `CONNECT`).
fn split_authority(authority: &str, default: Option<u16>) -> Option<(String, u16)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn plain_requests_go_upstream_in_origin_form() {
        let head = b"GET http://A.test:8080/p/q?x=1 HTTP/1.1\r\nHost: a.test:8080\r\n\
            Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\n\
            Connection: keep-alive\r\nKeep-Alive: 5\r\nAccept: */*\r\n\r\n";
        let request = Request::parse(head).unwrap();
        assert_eq!(
            (request.host.as_str(), request.port, request.tunnel),
            ("a.test", 8080, false)
        );
        assert_eq!(
            text(&request.origin_head),
            "GET /p/q?x=1 HTTP/1.1\r\nHost: a.test:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn a_request_without_path_or_host_header_gets_both() {
        let request = Request::parse(b"GET http://a.test?q HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(request.port, 80);
        assert_eq!(
            text(&request.origin_head),
            "GET /?q HTTP/1.0\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        );
    }

    #[rstest]
    #[case::name(
        "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
        "a.test",
        443
    )]
    #[case::ipv6("CONNECT [::1]:8443 HTTP/1.1\r\n\r\n", "::1", 8443)]
    #[case::ipv4("CONNECT 127.0.0.1:80 HTTP/1.1\r\n\r\n", "127.0.0.1", 80)]
    fn connect_names_host_and_port(#[case] head: &str, #[case] host: &str, #[case] port: u16) {
        let request = Request::parse(head.as_bytes()).unwrap();
        assert_eq!(
            (request.host.as_str(), request.port, request.tunnel),
            (host, port, true)
        );
    }

    #[rstest]
    #[case::connect_without_port("CONNECT a.test HTTP/1.1\r\n\r\n")]
    #[case::origin_form("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")]
    #[case::https_absolute("GET https://a.test/ HTTP/1.1\r\n\r\n")]
    #[case::file("GET file:///etc/passwd HTTP/1.1\r\n\r\n")]
    #[case::bad_port("GET http://a.test:99999/ HTTP/1.1\r\n\r\n")]
    #[case::empty_host("GET http:///x HTTP/1.1\r\n\r\n")]
    #[case::garbage("\u{16}\u{3}\u{1}hello\r\n\r\n")]
    fn unserved_requests_are_refused_as_bad(#[case] head: &str) {
        assert!(Request::parse(head.as_bytes()).is_err(), "{head:?}");
    }

    #[rstest]
    #[case::user_info("user:pw@a.test:81", Some(80), Some(("a.test", 81)))]
    #[case::v6_default_port("[2400:3200::1]", Some(80), Some(("2400:3200::1", 80)))]
    #[case::trailing_dot("Localhost.:80", None, Some(("localhost", 80)))]
    #[case::missing_port_connect("a.test", None, None)]
    fn authorities_split(
        #[case] authority: &str,
        #[case] default: Option<u16>,
        #[case] expected: Option<(&str, u16)>,
    ) {
        let got = split_authority(authority, default);
        assert_eq!(got, expected.map(|(h, p)| (h.to_owned(), p)));
    }

    #[test]
    fn answers_lose_hop_by_hop_and_forged_headers_and_name_their_upstream() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\
            Keep-Alive: timeout=5\r\nX-Beian-Audit-Upstream: 8.8.8.8:80\r\n\
            X-Beian-Audit-Refused: a b\r\n\r\n";
        let (out, interim) = rewrite_answer_head(head, "203.0.113.9:80".parse().unwrap()).unwrap();
        assert!(!interim);
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\
             X-Beian-Audit-Upstream: 203.0.113.9:80\r\n\r\n"
        );
    }

    #[test]
    fn interim_answers_pass_and_upgrades_keep_their_connection_header() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let (out, interim) = rewrite_answer_head(b"HTTP/1.1 100 Continue\r\n\r\n", addr).unwrap();
        assert!(interim);
        assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
        let upgrade = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
        let (out, interim) = rewrite_answer_head(upgrade, addr).unwrap();
        assert!(!interim);
        assert!(text(&out).contains("Connection: Upgrade\r\n") && !text(&out).contains("close"));
        assert_eq!(rewrite_answer_head(b"SSH-2.0-OpenSSH\r\n\r\n", addr), None);
    }

    #[rstest]
    #[case::crlf(b"GET / HTTP/1.1\r\n\r\nbody", Some(18))]
    #[case::bare_lf(b"GET / HTTP/1.1\n\nbody", Some(16))]
    #[case::incomplete(b"GET / HTTP/1.1\r\nHost: a\r\n", None)]
    fn heads_end_at_the_blank_line(#[case] buf: &[u8], #[case] end: Option<usize>) {
        assert_eq!(head_end(buf, 0), end);
    }

    #[test]
    fn denials_carry_the_guard_headers() {
        let refused = text(&denied(
            "a.test",
            &Outcome::Refused {
                address: "10.0.0.1".parse().unwrap(),
            },
        ));
        assert!(
            refused.starts_with("HTTP/1.1 403 Forbidden\r\n"),
            "{refused}"
        );
        assert!(
            refused.contains("\r\nX-Beian-Audit-Refused: a.test 10.0.0.1\r\n"),
            "{refused}"
        );
        let timed_out = text(&denied(
            "a.test",
            &Outcome::Failed {
                error: net_error::CONNECTION_TIMED_OUT,
                tried: Vec::new(),
            },
        ));
        assert!(timed_out.starts_with("HTTP/1.1 504 "), "{timed_out}");
        assert!(timed_out.contains("\r\nX-Beian-Audit-Error: net::ERR_CONNECTION_TIMED_OUT\r\n"));
    }
}
