//! The network guard with a real Chromium behind it: a filed domain can
//! never steer the crawler into its own network, whether by resolving to an
//! internal address, redirecting there, or loading sub-resources from
//! there. The fixture farm plays the internal service; its request log is
//! the proof that nothing reached it except what the guard let through.
//!
//! The DNS-rebinding tests run the guard's proxy at the library level with
//! a scripted resolver: the binary's resolver cannot be swapped.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use beian_audit::guard::{Outcome, Policy, Proxy, ProxyConfig, Resolver};
use beian_audit::output::RecordReport;
use beian_audit::rules::FindingCode::{AddressRefused, IpNotFiled, SiteUnreachable};
use futures::future::BoxFuture;
use pretty_assertions::assert_eq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{
    assert_findings, describe_targets, findings, records, report, serve_at, FarmRequest,
    FixtureFarm, On, Route, Scan, Server,
};

/// Hosts `--resolve` sends to the farm; everything else (`localhost`,
/// `127.0.0.1`) is resolved and judged by the guard.
const MAPPED: &[&str] = &[
    "guard-sub.test",
    "www.guard-sub.test",
    "guard-hop.test",
    "www.guard-hop.test",
    "guard-jsredirect.test",
    "www.guard-jsredirect.test",
    "guard-ip.test",
    "www.guard-ip.test",
];

/// The one scan of `fixtures/records/guard.csv` the end-to-end tests share.
struct GuardScan {
    reports: Vec<RecordReport>,
    stderr: String,
    requests: Vec<FarmRequest>,
    port: u16,
}

fn guard_scan() -> &'static GuardScan {
    static SCAN: OnceLock<Result<GuardScan, String>> = OnceLock::new();
    let scan = SCAN.get_or_init(|| {
        let farm = FixtureFarm::start();
        let output = Scan::new(&farm)
            .resolve_only(&farm, MAPPED)
            .input_file(records("guard.csv"))
            .deadline(Duration::from_secs(400))
            .run();
        if output.status != Some(1) {
            return Err(format!(
                "guard.csv scan exited {:?}; stderr:\n{}",
                output.status, output.stderr
            ));
        }
        Ok(GuardScan {
            reports: output.reports(),
            stderr: output.stderr,
            requests: farm.requests(),
            port: farm.port(),
        })
    });
    match scan {
        Ok(scan) => scan,
        Err(why) => panic!("{why}"),
    }
}

/// The report of the record with this `id`.
fn by_id<'r>(reports: &'r [RecordReport], id: &str) -> &'r RecordReport {
    let found: Vec<_> = reports
        .iter()
        .filter(|r| r.id.as_ref().and_then(|v| v.as_str()) == Some(id))
        .collect();
    assert_eq!(found.len(), 1, "one report with id {id}");
    found[0]
}

/// Farm requests whose path starts with `/secret`: each one is a request
/// that reached the internal service directly.
fn secrets(requests: &[FarmRequest]) -> Vec<&FarmRequest> {
    requests
        .iter()
        .filter(|r| r.path.starts_with("/secret"))
        .collect()
}

#[test]
fn a_host_resolving_to_loopback_is_refused_without_resolve_or_allow_private() {
    let scan = guard_scan();
    let refused = report(&scan.reports, "localhost");
    for target in refused.targets.iter().filter(|t| t.host == "localhost") {
        assert!(target.final_url.is_none(), "{target:?}");
    }
    let mut apex = 0;
    for finding in &refused.findings {
        let target = finding.target.as_deref().unwrap_or_default();
        if target.starts_with("http://localhost/") {
            assert_eq!(finding.code, AddressRefused, "{target}");
            assert_eq!(finding.evidence.domain.as_deref(), Some("localhost"));
            let address: IpAddr = finding
                .evidence
                .address
                .as_deref()
                .unwrap_or_default()
                .parse()
                .unwrap();
            assert!(address.is_loopback(), "{address}");
            apex += 1;
        } else {
            // glibc does not resolve www.localhost: unreachable, not refused.
            assert!(
                matches!(finding.code, AddressRefused | SiteUnreachable),
                "{finding:?}"
            );
        }
    }
    assert_eq!(apex, 2, "both localhost targets refused");
}

#[test]
fn a_redirect_hop_to_an_internal_address_is_refused() {
    let scan = guard_scan();
    let hop = report(&scan.reports, "guard-hop.test");
    assert_findings(hop, &[(AddressRefused, On::All)]);
    for finding in &hop.findings {
        assert_eq!(
            finding.evidence.domain.as_deref(),
            Some("127.0.0.1"),
            "{finding:?}"
        );
        assert_eq!(
            finding.evidence.address.as_deref(),
            Some("127.0.0.1"),
            "{finding:?}"
        );
    }
    // The hop itself was asked of the farm by name, through the guard.
    assert!(
        scan.requests
            .iter()
            .any(|r| r.host == "guard-hop.test" && r.path == "/"),
        "{:?}",
        scan.requests
    );
}

#[test]
fn a_script_sending_the_page_to_an_internal_address_is_refused() {
    let scan = guard_scan();
    let jump = report(&scan.reports, "guard-jsredirect.test");
    assert_findings(jump, &[(AddressRefused, On::All)]);
    for finding in &jump.findings {
        assert_eq!(
            finding.evidence.domain.as_deref(),
            Some("127.0.0.1"),
            "{finding:?}"
        );
    }
    assert!(
        !scan.requests.iter().any(|r| r.path == "/secret-jump.html"),
        "the internal page was reached: {:?}",
        secrets(&scan.requests)
    );
}

#[test]
fn sub_resources_never_reach_an_internal_address() {
    let scan = guard_scan();
    let page = report(&scan.reports, "guard-sub.test");
    assert_findings(page, &[]);
    let done = format!("守望云盘 done {}", scan.port);
    for target in &page.targets {
        // The page learnt the farm's port and made every attempt.
        assert_eq!(
            target.title.as_deref(),
            Some(done.as_str()),
            "{}",
            describe_targets(page)
        );
        // At least: the fetch, the frame, the WebSocket, the prefetch and
        // the beacon (images never leave the browser: the scan skips them).
        assert!(
            target.refused_subresources >= 5,
            "{}#{}: {} refused",
            target.url,
            target.device,
            target.refused_subresources
        );
        assert_eq!(target.addresses, vec!["127.0.0.1".to_owned()]);
    }
    let reached = secrets(&scan.requests);
    assert!(reached.is_empty(), "internal paths reached: {reached:?}");
}

#[test]
fn nothing_reaches_the_farm_except_through_the_guard_by_a_mapped_name() {
    let scan = guard_scan();
    let strays: Vec<&FarmRequest> = scan
        .requests
        .iter()
        .filter(|r| !MAPPED.contains(&r.host.as_str()))
        .collect();
    assert!(
        strays.is_empty(),
        "requests by other names: {strays:?}\nstderr:\n{}",
        scan.stderr
    );
    assert!(!scan.requests.is_empty());
}

#[test]
fn ip_not_filed_is_judged_on_the_address_the_guard_connected_to() {
    let scan = guard_scan();
    for id in ["ip-v4-filed", "ip-cidr-filed", "ip-v6-and-v4"] {
        let record = by_id(&scan.reports, id);
        assert_eq!(
            findings(record),
            vec![],
            "{id}:\n{}",
            describe_targets(record)
        );
    }
    for (id, expected) in [
        ("ip-v4-outside", "10.0.0.0/8 203.0.113.7/32"),
        ("ip-v6-only", "::1/128"),
    ] {
        let record = by_id(&scan.reports, id);
        assert_findings(record, &[(IpNotFiled, On::All)]);
        for finding in &record.findings {
            assert_eq!(
                finding.evidence.address.as_deref(),
                Some("127.0.0.1"),
                "{id}"
            );
            assert_eq!(finding.evidence.expected.as_deref(), Some(expected), "{id}");
        }
        for target in &record.targets {
            assert_eq!(target.addresses, vec!["127.0.0.1".to_owned()], "{id}");
        }
    }
}

// ---------------------------------------------------------------------------
// The proxy alone, with a resolver whose answer changes between look-ups.

/// Answers look-ups from a script, one answer per call (the last one
/// repeats), and counts the calls.
struct Rebinding {
    answers: Mutex<VecDeque<Vec<IpAddr>>>,
    calls: AtomicUsize,
}

impl Rebinding {
    fn new(answers: &[&[&str]]) -> Arc<Rebinding> {
        Arc::new(Rebinding {
            answers: Mutex::new(
                answers
                    .iter()
                    .map(|a| {
                        a.iter()
                            .map(|ip| ip.parse().expect("test address"))
                            .collect()
                    })
                    .collect(),
            ),
            calls: AtomicUsize::new(0),
        })
    }
}

impl Resolver for Rebinding {
    fn lookup<'a>(&'a self, _host: &'a str, _port: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().expect("resolver script");
        let answer = if answers.len() > 1 {
            answers.pop_front().unwrap_or_default()
        } else {
            answers.front().cloned().unwrap_or_default()
        };
        Box::pin(async move { Ok(answer) })
    }
}

/// The tests' loopback server on `ip:port` (port 0: a free one), standing
/// for an internal service: it answers every path with a tiny page, and
/// counts the connections that reached it.
async fn victim(ip: &str, port: u16) -> Server {
    let ip: IpAddr = ip.parse().expect("victim address");
    serve_at(SocketAddr::new(ip, port), &[("*", Route::text("secret"))]).await
}

/// Send `request` to the proxy at `proxy` and read its answer to the end
/// (or its head, for a tunnel).
async fn ask(proxy: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(proxy)
        .await
        .expect("connect to the proxy");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send to the proxy");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.starts_with(b"HTTP/1.1 200 Connection Established") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn requests_for(host: &str, port: u16) -> [String; 2] {
    [
        format!("GET http://{host}:{port}/secret HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"),
        format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"),
    ]
}

/// A public address (no internet needed: the attempt may fail or time out).
const PUBLIC: &str = "8.8.8.8";

#[tokio::test]
async fn a_name_rebinding_to_an_internal_address_never_reaches_it() {
    let inside = victim("127.0.0.1", 0).await;
    let port = inside.addr.port();
    for request in requests_for("rebind.test", port) {
        for order in [[PUBLIC, "127.0.0.1"], ["127.0.0.1", PUBLIC]] {
            let resolver = Rebinding::new(&[&[order[0]], &[order[1]]]);
            let proxy = Proxy::start(ProxyConfig {
                resolver: resolver.clone(),
                connect_timeout: Duration::from_millis(300),
                ..ProxyConfig::new(Policy::default())
            })
            .await
            .unwrap();
            // Each page (session) looks the name up once: the first page
            // gets the first answer, the next page the second.
            for ip in order {
                let ip: IpAddr = ip.parse().unwrap();
                let session = proxy.session().await.unwrap();
                let answer = ask(session.addr(), &request).await;
                let exchanges = session.exchanges();
                assert_eq!(exchanges.len(), 1, "{exchanges:?}");
                let upstream = SocketAddr::new(ip, port);
                // What was checked is what was used.
                match &exchanges[0].outcome {
                    Outcome::Refused { address } => {
                        assert_eq!(*address, ip, "{order:?}");
                        assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
                        let header = format!("X-Beian-Audit-Refused: rebind.test {ip}\r\n");
                        assert!(answer.contains(&header), "{answer}");
                        assert_eq!(session.refusal("rebind.test", port), Some(ip));
                    }
                    Outcome::Failed { tried, .. } => {
                        assert_eq!(tried, &vec![upstream], "{order:?}");
                    }
                    Outcome::Connected { address } => assert_eq!(*address, upstream, "{order:?}"),
                }
                assert_eq!(
                    session.refused(),
                    usize::from(ip.is_loopback()),
                    "{order:?}: {exchanges:?}"
                );
            }
            assert_eq!(resolver.calls.load(Ordering::SeqCst), 2, "{order:?}");
        }
    }
    assert_eq!(inside.accepted(), 0, "the internal listener was reached");
}

#[tokio::test]
async fn the_proxy_connects_to_exactly_the_address_it_checked() {
    // Two internal listeners on the same port; --allow-private lets the
    // guard reach them, so only its choice decides which one answers.
    let first = victim("127.0.0.1", 0).await;
    let port = first.addr.port();
    // All of 127.0.0.0/8 is loopback on Linux.
    let second = victim("127.0.0.2", port).await;
    let resolver = Rebinding::new(&[&["127.0.0.1"], &["127.0.0.2"]]);
    let proxy = Proxy::start(ProxyConfig {
        resolver: resolver.clone(),
        ..ProxyConfig::new(Policy {
            resolve: Vec::new(),
            allow_private: true,
        })
    })
    .await
    .unwrap();
    let session = proxy.session().await.unwrap();
    let [get, _] = requests_for("rebind.test", port);
    // Two requests of one page: one look-up, both to the checked address.
    for _ in 0..2 {
        let answer = ask(session.addr(), &get).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        let upstream = format!("X-Beian-Audit-Upstream: 127.0.0.1:{port}\r\n");
        assert!(answer.contains(&upstream), "{answer}");
        assert!(answer.ends_with("secret"), "{answer}");
    }
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1);
    let accepted = |v: &Server| v.accepted();
    assert_eq!((accepted(&first), accepted(&second)), (2, 0));
    // The next page looks the name up again and goes where that answer says.
    let next = proxy.session().await.unwrap();
    let answer = ask(next.addr(), &get).await;
    assert!(
        answer.contains(&format!("X-Beian-Audit-Upstream: 127.0.0.2:{port}\r\n")),
        "{answer}"
    );
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 2);
    assert_eq!((accepted(&first), accepted(&second)), (2, 1));
    assert_eq!(
        session.upstream("rebind.test", port),
        vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
    );
}
