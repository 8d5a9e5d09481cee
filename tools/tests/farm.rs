//! The `fixture-farm` binary as its users start it (the integration tests,
//! `scripts/`): it announces its port, serves a fixture site by `Host`,
//! and says so when a site is unknown. No browser.
//!
//! Besides checking the farm, this test makes cargo build the farm binary
//! whenever the workspace's tests are built, before any test runs: the
//! product's integration tests start it from the same directory.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// A farm over the repository's fixture sites, killed on drop.
struct Farm {
    child: Child,
    port: u16,
}

impl Drop for Farm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Farm {
    let sites = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/sites");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixture-farm"))
        .args(["--root", sites, "--exit-on-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn fixture-farm");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("farm stdout"))
        .read_line(&mut line)
        .expect("the farm's first line");
    let port = line
        .trim_end()
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("not a port announcement: {line:?}"));
    Farm { child, port }
}

/// Send `request` on a fresh connection and read the answer to its end.
fn ask(farm: &Farm, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", farm.port)).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer
}

#[test]
fn the_farm_serves_a_site_by_its_host_and_knows_no_other() {
    let farm = start();
    let page = ask(
        &farm,
        "GET / HTTP/1.1\r\nHost: www.icp-ok.test\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("京ICP备18012345号-1"), "{page}");
    // Empty lines before a request line are ignored (RFC 9112 §2.2).
    let again = ask(
        &farm,
        "\r\nHEAD / HTTP/1.1\r\nHost: icp-ok.test\r\nConnection: close\r\n\r\n",
    );
    assert!(again.starts_with("HTTP/1.1 200 OK\r\n"), "{again}");
    let unknown = ask(
        &farm,
        "GET / HTTP/1.1\r\nHost: nowhere.test\r\nConnection: close\r\n\r\n",
    );
    assert!(unknown.starts_with("HTTP/1.1 404 "), "{unknown}");
    assert!(unknown.contains("no such site"), "{unknown}");
    let bad = ask(&farm, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
}
