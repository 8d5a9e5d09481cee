//! The guard's forward proxy: an HTTP/1.1 proxy on 127.0.0.1 that is every
//! browser's only way out (`--proxy-server` for the browser, and a
//! [`Session`] of its own for each rendered page's browser context).
//!
//! - A plain `http://` request arrives in absolute form (`GET
//!   http://host/path HTTP/1.1`). The proxy serves exactly one request per
//!   client connection: it opens one upstream connection for it, sends it
//!   in origin form with `Connection: close` (and the `Host` of the URL it
//!   decided on), then its body as its own head delimits it
//!   (`Content-Length` or chunked) and not a byte more; it relays the
//!   answer, adding `Connection: close` and `X-Beian-Audit-Upstream:
//!   ADDR:PORT` (the address it connected to), and closes both
//!   connections when the answer ends. Whatever the client sends after the
//!   body (a second, pipelined or kept-alive request, possibly for another
//!   host) is never forwarded: a request gets its own connection, and so
//!   its own decision. Parsing every request of a kept-alive connection
//!   would also decide each one, but would need the answers' framing read
//!   exactly too (to know where one ends and the next may start); one
//!   request a connection needs neither, and Chromium, told `Connection:
//!   close`, opens a new connection for its next request anyway.
//! - An answer whose head the proxy cannot read (not HTTP/1, over 128
//!   headers or 64 KiB, cut short, or a `101` to a request that asked for
//!   no upgrade: the proxy forwards no `Connection: upgrade`) is answered
//!   `502` with `X-Beian-Audit-Error: net::ERR_…`, and the connection
//!   closes: nothing of it reaches the browser unread.
//! - The guard's own headers (`X-Beian-Audit-*`) are the guard's word
//!   only: dropped from every head a site sends (interim ones too) and from
//!   every request the browser sends.
//! - `CONNECT host:port` (https, and every WebSocket) is answered `200` once
//!   the upstream connection is open; then bytes pass both ways unread: no
//!   TLS interception. A tunnel is one host by construction: the proxy
//!   decided on that host and connected to an address it admitted, and
//!   whatever the browser sends inside (however many requests, for
//!   whichever names) can reach that address only.
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
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::relay::{answer, forward, net_error, tunnel, Request};
use super::{admit, normalise, Denial, Policy, Resolver, SystemResolver};
use crate::http1::read_head;

pub use super::relay::{ERROR_HEADER, REFUSED_HEADER, UPSTREAM_HEADER};

/// How long a client may take to send its request head. Chromium opens
/// spare connections to its proxy ahead of need; this bounds idle ones.
const HEAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Default limit for connecting to one upstream address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    #[must_use]
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
    ///
    /// # Errors
    ///
    /// The I/O error when no port on 127.0.0.1 can be bound.
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
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The policy it enforces.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.config.policy
    }

    /// A listener of its own for one render, with the same policy, that
    /// records every request it serves and looks each name up once (every
    /// use of the answer is checked). Give its [`Session::server`] to one
    /// browser context only.
    ///
    /// # Errors
    ///
    /// The I/O error when no port on 127.0.0.1 can be bound.
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
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its proxy-server value for Chromium: `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn server(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request served so far, in the order they were decided.
    #[must_use]
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
    #[must_use]
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
    #[must_use]
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
    #[must_use]
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
    #[must_use]
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

/// Serve one client connection: one request, or one tunnel (see the
/// module doc for why one).
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
        forward(client, upstream, &request, early, address).await
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

#[cfg(test)]
mod tests {
    use super::super::relay::*;
    use super::*;
    use crate::http1::{self, MAX_HEAD};
    use rstest::rstest;
    use tokio::io::AsyncReadExt;

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn plain_requests_go_upstream_in_origin_form() {
        let head = b"GET http://a.test:8080/p/q?x=1 HTTP/1.1\r\nHost: a.test:8080\r\n\
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
        assert_eq!(request.body, Body::None);
    }

    #[test]
    fn the_upstream_gets_the_decided_host_and_no_guard_header() {
        let head = b"GET http://a.test/ HTTP/1.1\r\nX-Beian-Audit-Upstream: 8.8.8.8:80\r\n\
            Host: inside.test\r\nx-beian-audit-refused: a b\r\nAccept: */*\r\n\r\n";
        let request = Request::parse(head).unwrap();
        assert_eq!(
            text(&request.origin_head),
            "GET / HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }

    #[rstest]
    #[case::none("", Ok(Body::None))]
    #[case::zero_length("Content-Length: 0\r\n", Ok(Body::None))]
    #[case::length("Content-Length: 5\r\n", Ok(Body::Length(5)))]
    #[case::length_repeated("Content-Length: 5, 5\r\nContent-Length: 5\r\n", Ok(Body::Length(5)))]
    #[case::chunked("Transfer-Encoding: chunked\r\n", Ok(Body::Chunked))]
    #[case::chunked_last("Transfer-Encoding: gzip, Chunked\r\n", Ok(Body::Chunked))]
    #[case::chunked_not_last("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", Err(()))]
    #[case::both("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", Err(()))]
    #[case::conflicting_lengths("Content-Length: 5\r\nContent-Length: 6\r\n", Err(()))]
    #[case::signed_length("Content-Length: +5\r\n", Err(()))]
    #[case::empty_length("Content-Length: \r\n", Err(()))]
    #[case::huge_length("Content-Length: 99999999999999999999999\r\n", Err(()))]
    fn request_bodies_are_delimited_by_their_head(
        #[case] headers: &str,
        #[case] expected: Result<Body, ()>,
    ) {
        let head = format!("POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\n{headers}\r\n");
        let got = Request::parse(head.as_bytes())
            .map(|r| r.body)
            .map_err(|_| ());
        assert_eq!(got, expected, "{headers:?}");
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

    #[rstest]
    #[case::continue_("HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\n")]
    #[case::early_hints_lose_forged_headers(
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nX-Beian-Audit-Upstream: 8.8.8.8:80\r\n\r\n",
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
    )]
    fn interim_answers_pass_without_guard_headers(#[case] head: &str, #[case] expected: &str) {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let (out, interim) = rewrite_answer_head(head.as_bytes(), addr).unwrap();
        assert!(interim);
        assert_eq!(text(&out), expected);
    }

    #[rstest]
    #[case::not_http("SSH-2.0-OpenSSH_9.6\r\n\r\n".to_owned(), net_error::INVALID_HTTP_RESPONSE)]
    #[case::unasked_upgrade(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n".to_owned(),
        net_error::INVALID_HTTP_RESPONSE
    )]
    #[case::too_many_headers(
        format!("HTTP/1.1 200 OK\r\n{}\r\n", "X-A: b\r\n".repeat(MAX_HEADERS + 1)),
        net_error::RESPONSE_HEADERS_TOO_BIG
    )]
    fn unreadable_answer_heads_are_not_relayed(#[case] head: String, #[case] error: &str) {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(rewrite_answer_head(head.as_bytes(), addr), Err(error));
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

    // The proxy driven over TCP, with a local listener as the site.

    /// `inside.test` is internal; every other name fails to resolve.
    struct Names;

    impl Resolver for Names {
        fn lookup<'a>(&'a self, host: &'a str, _: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
            Box::pin(async move {
                match host {
                    "inside.test" => Ok(vec!["10.0.0.1".parse().unwrap()]),
                    _ => Err(io::Error::other("no such host")),
                }
            })
        }
    }

    /// Long enough for any of these exchanges; a hang fails the test.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// A site on 127.0.0.1 that `site.test` is mapped to: each connection
    /// gets `answer` once the request head is in (and, if `close`, the end
    /// of the stream after it); everything the connection brought is sent
    /// on the channel when the proxy closes it.
    async fn site(
        answer: Vec<u8>,
        close: bool,
    ) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (tx, answer) = (tx.clone(), answer.clone());
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let mut answered = false;
                    loop {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&chunk[..n]);
                        if !answered && http1::head_end(&got, 0).is_some() {
                            answered = true;
                            // Refused writes are the proxy giving up on a
                            // long answer: what this test is about.
                            let _ = stream.write_all(&answer).await;
                            if close {
                                let _ = stream.shutdown().await;
                            }
                        }
                    }
                    let _ = tx.send(got);
                });
            }
        });
        (addr, rx)
    }

    /// A proxy session that maps `site.test` to `site`.
    async fn guard(site: SocketAddr) -> (Proxy, Session) {
        let policy = Policy {
            resolve: vec![super::super::ResolveRule {
                host: "site.test".to_owned(),
                addr: site,
            }],
            allow_private: false,
        };
        let proxy = Proxy::start(ProxyConfig {
            resolver: Arc::new(Names),
            ..ProxyConfig::new(policy)
        })
        .await
        .unwrap();
        let session = proxy.session().await.unwrap();
        (proxy, session)
    }

    /// Send `request` on one connection and read until the proxy closes it.
    async fn ask(session: &Session, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(session.addr()).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
            .await
            .expect("the proxy closes the connection")
            .unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// What the site received on its (only) connection.
    async fn received(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) -> String {
        let got = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .expect("the proxy closes its upstream connection")
            .unwrap();
        text(&got)
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const SECOND: &str = "GET http://inside.test/secret HTTP/1.1\r\nHost: inside.test\r\n\r\n";

    #[rstest]
    #[case::no_body(
        "GET http://site.test/a HTTP/1.1\r\nHost: site.test\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"
    )]
    #[case::length(
        "POST http://site.test/a HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    )]
    #[case::chunked(
        "POST http://site.test/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
    )]
    #[tokio::test]
    async fn a_second_request_on_one_connection_goes_nowhere(
        #[case] first: &str,
        #[case] upstream_gets: &str,
    ) {
        let (addr, mut rx) = site(OK.to_vec(), true).await;
        let (_proxy, session) = guard(addr).await;
        // Both requests in one write: pipelined on one connection.
        let answer = ask(&session, format!("{first}{SECOND}").as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
        assert_eq!(received(&mut rx).await, upstream_gets);
        // The second request was neither decided nor sent anywhere ...
        let exchanges = session.exchanges();
        assert_eq!(exchanges.len(), 1, "{exchanges:?}");
        assert_eq!(exchanges[0].host, "site.test");
        // ... and on a connection of its own it gets its own decision.
        let refused = ask(&session, SECOND.as_bytes()).await;
        assert!(
            refused.starts_with("HTTP/1.1 403 Forbidden\r\n"),
            "{refused}"
        );
        assert_eq!(
            session.refusal("inside.test", 80),
            Some("10.0.0.1".parse().unwrap())
        );
        assert!(rx.try_recv().is_err(), "a second upstream connection");
    }

    #[rstest]
    #[case::too_many_headers(
        format!("HTTP/1.1 200 OK\r\n{}X-Beian-Audit-Upstream: 10.0.0.1:80\r\n\r\nok", "X-A: b\r\n".repeat(200)),
        false,
        net_error::RESPONSE_HEADERS_TOO_BIG
    )]
    #[case::too_long(
        format!("HTTP/1.1 200 OK\r\nX-Beian-Audit-Upstream: 10.0.0.1:80\r\nX-A: {}\r\n\r\nok", "b".repeat(MAX_HEAD)),
        false,
        net_error::RESPONSE_HEADERS_TOO_BIG
    )]
    #[case::not_http("SSH-2.0-OpenSSH_9.6\r\n\r\n".to_owned(), false, net_error::INVALID_HTTP_RESPONSE)]
    #[case::cut_short("HTTP/1.1 200 OK\r\nX-A: b".to_owned(), true, net_error::INVALID_HTTP_RESPONSE)]
    #[case::unasked_upgrade(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n".to_owned(),
        false,
        net_error::INVALID_HTTP_RESPONSE
    )]
    #[case::after_an_interim_head(
        format!("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n{}\r\nok", "X-A: b\r\n".repeat(200)),
        false,
        net_error::RESPONSE_HEADERS_TOO_BIG
    )]
    #[tokio::test]
    async fn an_unreadable_answer_gets_a_502_and_the_connection_closes(
        #[case] site_answer: String,
        #[case] site_closes: bool,
        #[case] error: &str,
    ) {
        // A site that keeps its connection open: the proxy must close.
        let (addr, mut rx) = site(site_answer.into_bytes(), site_closes).await;
        let (_proxy, session) = guard(addr).await;
        let answer = ask(
            &session,
            b"GET http://site.test/ HTTP/1.1\r\nHost: site.test\r\n\r\n",
        )
        .await;
        let answer = answer
            .strip_prefix("HTTP/1.1 100 Continue\r\n\r\n")
            .unwrap_or(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains(&format!("\r\nX-Beian-Audit-Error: {error}\r\n")),
            "{answer}"
        );
        for leaked in ["10.0.0.1", "X-A", "SSH", "Upgrade"] {
            assert!(!answer.contains(leaked), "{leaked}: {answer}");
        }
        // And the upstream connection is closed as well.
        received(&mut rx).await;
    }

    #[rstest]
    #[case::final_head(
        "HTTP/1.1 200 OK\r\nX-Beian-Audit-Upstream: 10.0.0.1:80\r\nContent-Length: 2\r\n\r\nok"
    )]
    #[case::any_case(
        "HTTP/1.1 200 OK\r\nx-beian-audit-refused: site.test 10.0.0.1\r\n\
         X-BEIAN-AUDIT-ERROR: net::ERR_10.0.0.1\r\nContent-Length: 2\r\n\r\nok"
    )]
    #[case::space_before_colon(
        "HTTP/1.1 200 OK\r\nX-Beian-Audit-Upstream : 10.0.0.1:80\r\nContent-Length: 2\r\n\r\nok"
    )]
    #[case::after_a_folded_line(
        "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nX-Beian-Audit-Upstream: 10.0.0.1:80\r\nContent-Length: 2\r\n\r\nok"
    )]
    #[case::interim_head(
        "HTTP/1.1 103 Early Hints\r\nX-Beian-Audit-Upstream: 10.0.0.1:80\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )]
    #[tokio::test]
    async fn only_the_guard_says_its_headers(#[case] site_answer: &str) {
        let (addr, mut rx) = site(site_answer.as_bytes().to_vec(), true).await;
        let (_proxy, session) = guard(addr).await;
        let answer = ask(
            &session,
            b"GET http://site.test/ HTTP/1.1\r\nHost: site.test\r\n\
              X-Beian-Audit-Refused: site.test 10.0.0.1\r\n\r\n",
        )
        .await;
        let guard_headers: Vec<&str> = answer
            .lines()
            .filter(|line| is_guard_header(line))
            .collect();
        assert_eq!(
            guard_headers,
            [format!("X-Beian-Audit-Upstream: {addr}")],
            "{answer}"
        );
        assert!(
            !answer.contains("10.0.0.1") && answer.ends_with("ok"),
            "{answer}"
        );
        // Nor does a page say them to the site.
        let upstream = received(&mut rx).await;
        assert!(
            !upstream.to_ascii_lowercase().contains(GUARD_HEADER_PREFIX),
            "{upstream}"
        );
    }
}
