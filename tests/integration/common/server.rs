//! The one in-process loopback HTTP server of the tests: inline pages by
//! path, for the tests that drive the library directly (the browser layer,
//! the guard's proxy). It reads request heads with the project's own head
//! reader (`beian_audit::http1`), logs every request, counts connections,
//! and answers one request a connection (`Connection: close`). Scans of the
//! `beian-audit` binary use the fixture farm instead (`farm.rs`): a process
//! of its own, playing `fixtures/sites`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// One response the server gives for a path.
#[derive(Clone)]
pub(crate) struct Route {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    /// Never answer (a resource that never finishes).
    hang: bool,
}

impl Route {
    /// A 200 HTML page.
    pub(crate) fn html(body: &str) -> Route {
        Route::typed("text/html; charset=utf-8", body)
    }

    /// A 200 plain-text answer.
    pub(crate) fn text(body: &str) -> Route {
        Route::typed("text/plain; charset=utf-8", body)
    }

    fn typed(content_type: &str, body: &str) -> Route {
        Route {
            status: 200,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.to_owned(),
            hang: false,
        }
    }

    /// The same answer with another status.
    pub(crate) fn status(mut self, status: u16) -> Route {
        self.status = status;
        self
    }

    /// The same answer with header `name` set (replaced if present).
    pub(crate) fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// No answer at all: the connection is held open.
    pub(crate) fn hang() -> Route {
        Route {
            hang: true,
            ..Route::html("")
        }
    }

    /// The whole answer: status line, headers, `Content-Length`,
    /// `Connection: close`, body.
    fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            302 => "Found",
            404 => "Not Found",
            _ => "Status",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(
            head,
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        );
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The request line: method, target, version.
    pub(crate) line: String,
    /// The request target (path with query).
    pub(crate) path: String,
    /// Header fields, names lower-cased.
    pub(crate) headers: HashMap<String, String>,
}

/// A running server; stops when dropped.
pub(crate) struct Server {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The requests whose target starts with `prefix`.
    pub(crate) fn seen(&self, prefix: &str) -> Vec<Seen> {
        let seen = self.seen.lock().expect("request log");
        seen.iter()
            .filter(|s| s.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// How many connections it has accepted.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Serve `routes` on 127.0.0.1 (a free port).
pub(crate) async fn serve(routes: &[(&str, Route)]) -> Server {
    serve_at("127.0.0.1:0".parse().expect("an address"), routes).await
}

/// Serve `routes` on `addr`. A request's path without its query picks the
/// route; `*` answers every path no other route names; anything else gets
/// a 404 page.
pub(crate) async fn serve_at(addr: SocketAddr, routes: &[(&str, Route)]) -> Server {
    let listener = TcpListener::bind(addr).await.expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let routes: Arc<HashMap<String, Route>> = Arc::new(
        routes
            .iter()
            .map(|(p, r)| ((*p).to_owned(), r.clone()))
            .collect(),
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (log, count) = (Arc::clone(&seen), Arc::clone(&accepted));
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let routes = Arc::clone(&routes);
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let Ok(Some(len)) = beian_audit::http1::read_head(&mut stream, &mut buf).await
                else {
                    return;
                };
                let head = String::from_utf8_lossy(&buf[..len]).into_owned();
                let mut lines = head.lines();
                let line = lines.next().unwrap_or_default().to_owned();
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                log.lock().expect("request log").push(Seen {
                    line,
                    path: path.clone(),
                    headers,
                });
                let key = path.split('?').next().unwrap_or("/");
                let route = routes
                    .get(key)
                    .or_else(|| routes.get("*"))
                    .cloned()
                    .unwrap_or_else(|| Route::html("<title>none</title>nothing here").status(404));
                if route.hang {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                let _ = stream.write_all(&route.to_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Server {
        addr,
        seen,
        accepted,
        task,
    }
}
